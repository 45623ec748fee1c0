"""`mobilevision bench`: params, multiply-adds, latency, throughput, memory and accuracy of the
models in every runtime (eager, optimised eager, ONNX Runtime fp32 and INT8), each timed in its
own fresh process, with torchvision's mobile models as anchors."""
