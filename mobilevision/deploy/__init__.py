"""Deployment: BatchNorm folding, ONNX export and quantisation, the ONNX Runtime wrapper, timing."""
