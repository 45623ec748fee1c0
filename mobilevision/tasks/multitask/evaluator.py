"""The multi-task model's metrics: each task's own evaluator on its part of the predictions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from mobilevision.engine.evaluation import Evaluator


class MultiTaskEvaluator:
    """Implements engine.Evaluator over one evaluator per task: update(predictions, targets) with
    the multi-task model's eval dict and the multi-task collate's targets, both keyed by task;
    compute() -> every task's metrics as "<task>/<name>" (classify/top1, detect/mAP, segment/miou,
    ...) and "score", the mean of the tasks' main metrics, which picks best.pt."""

    main_metric = "score"

    def __init__(self, evaluators: Mapping[str, Evaluator]) -> None:
        self.evaluators = dict(evaluators)

    def update(self, predictions: dict, targets: dict) -> None:
        for task, evaluator in self.evaluators.items():
            evaluator.update(predictions[task], targets[task])

    def compute(self) -> dict[str, float]:
        metrics = {}
        for task, evaluator in self.evaluators.items():
            metrics.update({f"{task}/{name}": value for name, value in evaluator.compute().items()})
        main = [metrics[f"{task}/{evaluator.main_metric}"] for task, evaluator in self.evaluators.items()]
        return {**metrics, "score": sum(main) / len(main)}

    def plot(self, folder: Path) -> None:
        """Each task's plots (confusion_matrix.png, PR_curve.png, per_class_iou.png) into `folder`."""
        for evaluator in self.evaluators.values():
            evaluator.plot(folder)


def evaluator_factory(data: str, class_names: Mapping[str, list[str]], *, imgsz: int,
                      split: str = "val") -> Callable[[], MultiTaskEvaluator]:
    """A maker of fresh evaluators (one per validation pass) for the tasks of `class_names`, each
    task's own evaluator (what a task reads of the data, it reads once, here)."""
    from mobilevision.tasks.registry import get_task

    makers = {task: get_task(task).make_evaluator(data, names, imgsz=imgsz, split=split)
              for task, names in class_names.items()}
    return lambda: MultiTaskEvaluator({task: make() for task, make in makers.items()})
