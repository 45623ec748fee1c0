"""The training engine every task shares: config and flags, device and mixed precision, torchrun,
optimizers and schedules, EMA, resumable sampling, checkpoints, run folders, plots, the evaluator
interface and the training loop `fit`."""

from mobilevision.engine.checkpoint import load_checkpoint, read_checkpoint
from mobilevision.engine.config import TrainConfig
from mobilevision.engine.evaluation import Evaluator, evaluate
from mobilevision.engine.loop import ModelSpec, TrainingDiverged, fit

__all__ = ["Evaluator", "ModelSpec", "TrainConfig", "TrainingDiverged", "evaluate", "fit", "load_checkpoint",
           "read_checkpoint"]
