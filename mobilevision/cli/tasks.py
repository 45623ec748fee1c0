"""`mobilevision <task> train|val|predict` for every task of the registry, all with the same shape:
train's flags are the task's config fields, val and predict take the same weights, runtime and
output options, and each mode runs the engine's one runner for it. `multitask assemble` is the
one mode of its own."""

from __future__ import annotations

import argparse
import json

from mobilevision.cli.flag_types import non_negative_int, output_file, positive_int, probability
from mobilevision.cli.options import (
    add_config_arguments,
    add_output_arguments,
    add_weights_arguments,
    explicit_options,
    print_results,
)
from mobilevision.tasks.base import Flag, SingleTask, Task
from mobilevision.tasks.registry import tasks


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    for task in tasks().values():
        group = subparsers.add_parser(task.name, help=task.title, description=task.description)
        modes = group.add_subparsers(dest="mode", required=True, metavar="MODE")
        _add_train(modes, task)
        _add_val(modes, task)
        _add_predict(modes, task)
        if not isinstance(task, SingleTask):  # the multi-task model: made of the others' heads
            _add_assemble(modes)


def _add_flags(parser: argparse.ArgumentParser, flags: tuple[Flag, ...]) -> None:
    for flag in flags:
        name = "--" + flag.name.replace("_", "-")
        if isinstance(flag.default, bool):
            parser.add_argument(name, action="store_true", help=flag.help)
        else:  # the tasks' number flags are counts (--topk)
            parser.add_argument(name, type=positive_int if isinstance(flag.default, int) else type(flag.default),
                                default=flag.default, help=f"{flag.help} (default: {flag.default})")


def _add_train(modes: argparse._SubParsersAction, task: Task) -> None:
    recipes = "; ".join(f"{recipe.name}: {recipe.source}" for recipe in task.recipes.values())
    train = modes.add_parser("train", help=f"train ({task.name}; torchrun-ready)",
                             description=f"Train: {task.description} Recipes: {recipes}.")
    add_config_arguments(train, task.config_class, recipes=task.recipes)
    train.add_argument("--json", action="store_true", help="print the final metrics as JSON on stdout")
    train.set_defaults(run=lambda args: run_train(args, task=task))


def _add_val(modes: argparse._SubParsersAction, task: Task) -> None:
    val = modes.add_parser("val", help=f"{task.main_metric} and every other metric of weights on a dataset split",
                           description=f"Evaluate weights on a split of {task.data_layouts}; the metrics on stdout, "
                           f"the plots in runs/{task.name}/val*.")
    add_weights_arguments(val, task=task.name)
    val.add_argument("--data", required=True, help=f"dataset folder or YAML: {task.data_layouts}")
    val.add_argument("--split", default="val", choices=("train", "val"), help="split to evaluate (default: val)")
    val.add_argument("--batch", type=positive_int, default=task.val_batch,
                     help=f"images per batch (default: {task.val_batch})")
    val.add_argument("--workers", type=non_negative_int, default=2,
                     help="data-loading worker processes; 0 loads in the main process (default: 2)")
    _add_flags(val, task.val_flags)
    add_output_arguments(val, task=task.name, folder="val")
    val.add_argument("--json", action="store_true", help="print only the metrics as JSON on stdout")
    val.set_defaults(run=lambda args: run_val(args, task=task))


def _add_predict(modes: argparse._SubParsersAction, task: Task) -> None:
    predict = modes.add_parser("predict", help="predictions on an image, a folder or a video, drawn and saved",
                               description=f"Run the model on each image or frame and save it drawn (a video becomes "
                               f"an annotated .mp4) with {task.predictions_file}, into runs/{task.name}/predict*.")
    predict.add_argument("source", help="an image file, a folder of images or a video file")
    add_weights_arguments(predict, task=task.name)
    predict.add_argument("--conf", type=probability, default=0.25,
                         help="lowest box score drawn and listed (default: 0.25)")
    _add_flags(predict, task.predict_flags)
    add_output_arguments(predict, task=task.name, folder="predict")
    predict.add_argument("--json", action="store_true", help="print a JSON list of the results on stdout")
    predict.set_defaults(run=lambda args: run_predict(args, task=task))


def _add_assemble(modes: argparse._SubParsersAction) -> None:
    assemble = modes.add_parser("assemble", help="combine classify / detect / segment checkpoints into one model",
                                description="Combine single-task checkpoints whose heads were trained on one frozen "
                                "backbone (--freeze-backbone from the same --weights-backbone) into one multi-task "
                                "checkpoint, without training. Refuses checkpoints whose backbones differ.")
    assemble.add_argument("--weights", nargs="+", required=True, help="one checkpoint per task (classify, detect, "
                          "segment; any two or all three)")
    assemble.add_argument("--out", type=output_file, required=True, help="the multi-task checkpoint to write (.pt)")
    assemble.add_argument("--imgsz", type=positive_int, default=None, help="input size it records (default: the "
                          "largest of the checkpoints')")
    assemble.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    assemble.set_defaults(run=run_assemble)


def _flag_values(args: argparse.Namespace, flags: tuple[Flag, ...]) -> dict:
    return {flag.name: getattr(args, flag.name) for flag in flags}


def _trained(args: argparse.Namespace, *, task: Task):
    from mobilevision.deploy.runtime import load_trained

    return load_trained(args.weights, task=task.name, runtime=args.runtime, device=args.device, imgsz=args.imgsz,
                        model=args.model, width=args.width)


def run_train(args: argparse.Namespace, *, task: Task) -> int:
    from mobilevision.engine.checkpoint import is_checkpoint
    from mobilevision.engine.trainer import run_training
    from mobilevision.tasks.checkpoint_file import read_checkpoint

    options = explicit_options(args, task.config_class)
    # The engine reads these checkpoints as they are: a bad one is one line here, before any work.
    if options.get("resume"):
        read_checkpoint(options["resume"], resume=True)
    if is_checkpoint(options.get("weights_backbone") or ""):
        read_checkpoint(options["weights_backbone"])
    metrics = run_training(task, options)
    if args.json and metrics is not None:
        print(json.dumps(metrics))
    return 0


def run_val(args: argparse.Namespace, *, task: Task) -> int:
    from mobilevision.engine.distributed import on_every_rank
    from mobilevision.engine.validator import validate

    result = on_every_rank(args.device, lambda: validate(
        task, _trained(args, task=task), data=args.data, imgsz=args.imgsz, batch=args.batch, device=args.device,
        workers=args.workers, split=args.split, project=args.project, name=args.name, progress=not args.json,
        **_flag_values(args, task.val_flags)))
    if result is not None:
        print(json.dumps(result.metrics) if args.json else result.summary())
    return 0


def run_predict(args: argparse.Namespace, *, task: Task) -> int:
    from mobilevision.deploy.runtime import frame_predictor
    from mobilevision.engine.predictor import predict_source
    from mobilevision.engine.run_dir import new_run_dir

    predictor = frame_predictor(_trained(args, task=task), device=args.device, imgsz=args.imgsz, min_conf=args.conf)
    run_dir = new_run_dir(args.project, task.name, args.name, exist_ok=False)
    results = predict_source(task, predictor, source=args.source, run_dir=run_dir, conf=args.conf,
                             **_flag_values(args, task.predict_flags))
    return print_results(results, as_json=args.json, line=lambda result: f"{result['source']}: "
                         f"{task.headline_of(result)} -> {result['output']}")


def run_assemble(args: argparse.Namespace) -> int:
    from mobilevision.tasks.multitask.assemble import assemble

    result = assemble(args.weights, out=args.out, imgsz=args.imgsz)
    print(json.dumps(result) if args.json else f"{result['model_name']} ({', '.join(result['tasks'])}) -> "
          f"{result['out']}")
    return 0

