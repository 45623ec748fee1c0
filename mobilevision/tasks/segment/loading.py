"""Getting a segmenter: initial weights for training, and a trained model (a checkpoint of this
suite, or its ONNX export) to evaluate or run."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from mobilevision.backbones.key_mapping import load_strict
from mobilevision.backbones.pretrained import read_state_dict, resolve_weights
from mobilevision.errors import MobileVisionError
from mobilevision.engine.checkpoint import load_checkpoint
from mobilevision.engine.weights import load_backbone_weights

RUNTIMES = ("torch", "onnxruntime")


def load_initial_weights(model: nn.Module, *, weights: str | None, weights_backbone: str | None,
                         class_names: list[str]) -> None:
    """--weights: a whole segmenter (its classifier too when it has as many classes); else
    --weights-backbone: a classifier's backbone (ImageNet), the head keeps its initialisation.
    --weights wins over a recipe's --weights-backbone: it holds a backbone already."""
    if not weights:
        if weights_backbone:
            load_backbone_weights(model.backbone, weights_backbone)
        return
    path, _ = resolve_weights(weights)
    state_dict = read_state_dict(path)
    classifier = state_dict.get("head.classifier.weight")
    same_classes = classifier is not None and classifier.shape[0] == len(class_names)
    # The auxiliary head only shapes training gradients (and a file may lack it): it starts fresh.
    ignored = ("aux_head.",) if same_classes else ("aux_head.", "head.classifier.")
    load_strict(model, state_dict, source=str(path), ignore_prefixes=ignored)


def load_segmenter(weights: str, *, runtime: str = "torch") -> tuple[nn.Module, dict]:
    """(model in eval mode, info {"class_names", "preprocessing"}).

    runtime "torch": a checkpoint of `segment train`; "onnxruntime": its `mobilevision export`
    file (.onnx), run by ONNX Runtime behind the same raw_outputs / postprocess interface.
    """
    if runtime not in RUNTIMES:
        raise MobileVisionError(f"--runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    if runtime == "onnxruntime":
        if Path(weights).suffix != ".onnx":
            raise MobileVisionError(f"--runtime onnxruntime needs an exported .onnx file as --weights, got {weights}; "
                                    "create one with `mobilevision export`")
        from mobilevision.deploy.onnx_model import OnnxRuntimeModel

        network = OnnxRuntimeModel(weights)
        if network.metadata.get("task", "segment") != "segment":
            raise MobileVisionError(f"{weights}: a {network.metadata['task']} model; segment needs a segmenter")
        return network, {"class_names": network.class_names, "preprocessing": network.preprocessing}
    if Path(weights).suffix == ".onnx":
        raise MobileVisionError(f"--weights {weights} is an ONNX file; add --runtime onnxruntime")
    network, checkpoint = load_checkpoint(weights)
    if checkpoint["task"] != "segment":
        raise MobileVisionError(f"{weights}: a {checkpoint['task']} checkpoint; segment needs a segmenter "
                                "(runs/segment/<name>/weights/best.pt)")
    return network, {"class_names": checkpoint["class_names"], "preprocessing": checkpoint["preprocessing"]}
