"""The callables a worker times: one runtime of one model, from the same seeded inputs (the runtimes
themselves load in deploy/runtime.py).

Classification and segmentation take a preprocessed (B, 3, S, S) float batch and return what the
task model returns in eval mode (logits; a class map). Detection is timed end to end from uint8
camera-sized images: resize + normalise, network, decoding and NMS, as torchvision's SSDLite does
inside its own forward.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from mobilevision.errors import MobileVisionError
from mobilevision.tasks.registry import get_task

# Detection inputs: VGA frames, the size of a typical COCO image and of a webcam.
CAMERA_SIZE = (480, 640)
# The torchvision models anchors are made of: (torchvision.models' sub-package, the builder's
# arguments its published weights are loaded with: COCO's 91 ids, VOC's 21 classes, and the
# auxiliary head DeepLab's file holds, which its forward runs in eval mode too).
TORCHVISION_BUILDERS = {
    "mobilenet_v2": ("classification", {}),
    "mobilenet_v3_large": ("classification", {}),
    "mobilenet_v3_small": ("classification", {}),
    "ssdlite320_mobilenet_v3_large": ("detection", {"weights_backbone": None, "num_classes": 91}),
    "deeplabv3_mobilenet_v3_large": ("segmentation", {"weights_backbone": None, "num_classes": 21, "aux_loss": True}),
    "lraspp_mobilenet_v3_large": ("segmentation", {"weights_backbone": None, "num_classes": 21}),
}


def make_inputs(*, task: str, imgsz: int, batch: int, seed: int):
    """(B, 3, S, S) standard-normal floats, or for a task timed from frames (detection) B uint8
    (480, 640, 3) images."""
    generator = np.random.default_rng(seed)
    if get_task(task).timed_from_frames:
        return [generator.integers(0, 256, size=(*CAMERA_SIZE, 3), dtype=np.uint8) for _ in range(batch)]
    return torch.from_numpy(generator.standard_normal((batch, 3, imgsz, imgsz), dtype=np.float32))


def ours_callable(model: torch.nn.Module, *, task: str, runtime: str, imgsz: int, preprocessing: dict) -> Callable:
    """inputs (see make_inputs) -> predictions, for the timing loop."""
    channels_last = torch.channels_last if runtime == "optimized" else torch.contiguous_format
    if not get_task(task).timed_from_frames:
        return lambda images: model(images.contiguous(memory_format=channels_last))
    from mobilevision.datasets.network_input import network_input

    def detect(images: list[np.ndarray]) -> list[dict]:
        batch = np.stack([network_input(image, size=imgsz, mean=preprocessing["mean"], std=preprocessing["std"])
                          for image in images])
        tensor = torch.from_numpy(batch).contiguous(memory_format=channels_last)
        return model(tensor, orig_sizes=[image.shape[:2] for image in images])

    return detect


def torchvision_model(name: str, *, state_dict: str | None = None) -> torch.nn.Module:
    """torchvision's `name` in eval mode, built as its builder builds it for its published weights
    (TORCHVISION_BUILDERS), with the tensors of the file `state_dict` loaded strictly, or random
    weights (weights=None, weights_backbone=None: never a download)."""
    import torchvision

    from mobilevision.backbones.pretrained import read_state_dict

    if name not in TORCHVISION_BUILDERS:
        raise MobileVisionError(f"unknown torchvision anchor {name!r}; known: {', '.join(TORCHVISION_BUILDERS)}")
    family, kwargs = TORCHVISION_BUILDERS[name]
    package = torchvision.models if family == "classification" else getattr(torchvision.models, family)
    model = getattr(package, name)(weights=None, **kwargs)
    if state_dict is not None:
        try:
            model.load_state_dict(read_state_dict(Path(state_dict)))
        except RuntimeError as error:  # torch lists every missing and unexpected key
            raise MobileVisionError(f"{state_dict} does not load into torchvision's {name}: "
                                    f"{str(error).splitlines()[0]}") from None
    return model.eval()


def torchvision_callable(*, name: str, runtime: str, onnx: str | None, threads: int,
                         state_dict: str | None = None) -> Callable:
    """A torchvision anchor (see torchvision_model) in one runtime, on make_inputs' inputs."""
    if runtime == "ort_fp32":
        from mobilevision.deploy.onnx_model import ort_session

        session = ort_session(Path(onnx), threads=threads)
        input_name = session.get_inputs()[0].name
        return lambda images: session.run(None, {input_name: images.numpy()})[0]
    model = torchvision_model(name, state_dict=state_dict)
    memory_format = torch.contiguous_format
    if runtime == "eager_channels_last":
        model, memory_format = model.to(memory_format=torch.channels_last), torch.channels_last
    elif runtime != "eager":
        raise MobileVisionError(f"torchvision anchors run eager, eager_channels_last or ort_fp32; not {runtime!r}")
    family = TORCHVISION_BUILDERS[name][0]
    if family == "detection":
        # Its own transform resizes to 320 and normalises; postprocess maps boxes back.
        return lambda images: model([torch.from_numpy(image).permute(2, 0, 1).float().div_(255) for image in images])
    if family == "segmentation":
        return lambda images: model(images)["out"].argmax(dim=1)
    return lambda images: model(images.contiguous(memory_format=memory_format))


def activation_memory(spec: dict, model: torch.nn.Module | None) -> dict:
    """A row's activation-memory columns (analysis/memory.py), KiB at batch 1 on one (1, 3, S, S) image.

    Analytic: from the PyTorch model the runtime runs (our ONNX rows: the BN-folded model they were
    exported from; anchors: a fresh copy), at 4 bytes per value, 1 for INT8. Measured: eager
    runtimes only; ONNX Runtime plans its own buffers, out of torch's sight. The network is counted
    as complexity.py counts it: `raw_outputs` for ours, a torchvision model's whole forward.
    """
    from mobilevision.analysis.memory import analytic_activation_memory, measured_activation_peak

    runtime = spec["runtime"]
    if spec["source"] == "ours":
        if runtime.startswith("ort"):
            from mobilevision.deploy.fold import fold_batchnorm
            from mobilevision.tasks.registry import load_checkpoint

            model = fold_batchnorm(load_checkpoint(spec["checkpoint"])[0])
        forward = model.raw_outputs
    else:
        model = torchvision_model(spec["name"])  # the architecture is what counts, not the weights
        detector = TORCHVISION_BUILDERS[spec["name"]][0] == "detection"
        forward = (lambda images: model(list(images))) if detector else model
    channels_last = runtime in ("optimized", "eager_channels_last")
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    images = make_inputs(task="classify", imgsz=spec["imgsz"], batch=1, seed=spec["seed"])
    images = images.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    analytic = analytic_activation_memory(model, imgsz=spec["imgsz"], forward=forward,
                                          bytes_per_element=1 if runtime == "ort_int8" else 4)
    measured = None if runtime.startswith("ort") else measured_activation_peak(model, images, forward=forward)
    return {"act_analytic_kib": analytic.peak_bytes / 2**10,
            "act_measured_kib": measured / 2**10 if measured is not None else None}
