"""`mobilevision bench` on a tiny configuration writes its table, CSV, JSON and plots; `--paper`
prints the published numbers; the goal ratios compare the right rows."""

import contextlib
import csv
import io
import json

import pytest

from mobilevision.bench import paper
from mobilevision.bench.accuracy import dataset_class_names, evaluate_runtime
from mobilevision.bench.anchors import GOALS, goal_ratios
from mobilevision.bench.cases import fresh_case
from mobilevision.bench.report import COLUMNS
from mobilevision.cli import main
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.registry import load_checkpoint
from tests.tasks.classify.conftest import write_class_folders


def test_bench_writes_table_csv_json_and_plots(tmp_path):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["bench", "--models", "mobilenet_v2", "--widths", "0.35", "--imgsz", "64", "--iters", "2",
                     "--warmup", "1", "--batch", "2", "--batch-iters", "1", "--calib-images", "2", "--threads", "1",
                     "--memory-budget", "200KiB", "--project", str(tmp_path), "--name", "tiny"]) == 0
    folder = tmp_path / "bench" / "tiny"
    with open(folder / "results.csv", newline="") as file:
        reader = csv.DictReader(file)
        rows = list(reader)
    assert tuple(reader.fieldnames) == COLUMNS
    assert [row["runtime"] for row in rows] == ["eager", "optimized", "ort_fp32", "ort_int8", "eager_split",
                                                "optimized_split"]
    for row in rows:
        assert row["model"] == "mobilenet_v2" and row["imgsz"] == "64"
        assert float(row["median_ms"]) > 0 and float(row["p90_ms"]) >= float(row["median_ms"])
        assert float(row["images_per_s"]) > 0 and float(row["peak_rss_mib"]) >= 0
        assert int(row["params"]) > 0 and int(row["madds"]) > 0
        assert float(row["export_max_abs_diff"]) <= 1e-4
        assert float(row["act_analytic_kib"]) > 0
    by_runtime = {row["runtime"]: row for row in rows}
    # ONNX Runtime plans its own buffers: analytic only, INT8 at a quarter of fp32's bytes.
    assert by_runtime["ort_fp32"]["act_measured_kib"] == by_runtime["ort_int8"]["act_measured_kib"] == ""
    assert float(by_runtime["ort_int8"]["act_analytic_kib"]) == float(by_runtime["ort_fp32"]["act_analytic_kib"]) / 4
    for runtime in ("eager", "optimized"):
        normal, split = by_runtime[runtime], by_runtime[f"{runtime}_split"]
        assert float(split["act_measured_kib"]) < float(normal["act_measured_kib"])
        assert float(split["act_analytic_kib"]) <= 200 < float(normal["act_analytic_kib"])
        assert split["memory_plan"].startswith("budget 200.0 KiB: ") and normal["memory_plan"] == ""
        assert " of 17 blocks split (backbone.blocks." in split["memory_plan"]
    results = json.loads((folder / "results.json").read_text())
    assert len(results["rows"]) == 6 and "fresh process" in results["settings"]["note"]
    for plot in ("latency_vs_madds.png", "latency_vs_resolution.png", "v1_vs_v2.png"):
        assert (folder / plot).stat().st_size > 0
    text = printed.getvalue()
    assert "| model | width | imgsz |" in text and "ort_int8" in text and "fresh process" in text
    assert "act. KiB measured" in text and "mobilenet_v2-0.35-64 optimized_split: budget 200.0 KiB" in text


def test_bench_memory_budget_errors_are_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--memory-budget", "lots", "--project", str(tmp_path)])
    assert "argument --memory-budget: memory size 'lots'" in capsys.readouterr().err
    assert main(["bench", "--models", "mobilenet_v2", "--widths", "0.35", "--imgsz", "64", "--memory-budget", "10KiB",
                 "--runtimes", "eager", "--project", str(tmp_path), "--name", "small"]) == 2
    assert "too small for backbone.blocks.0 at 64 px" in capsys.readouterr().err


def test_paper_prints_the_published_numbers(monkeypatch):
    timed = []

    def one_call(fn, inputs, *, warmup, iters):  # each release's model runs once, no timing loop
        fn(inputs)
        timed.append(tuple(inputs.shape))
        return {"median_ms": 12.5}

    monkeypatch.setattr(paper, "time_calls", one_call)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["bench", "--paper", "--iters", "1", "--warmup", "0"]) == 0
    text = printed.getvalue()
    for published in ("3.40M", "300M", "4.20M", "575M", "6.90M", "585M", "3.47M", "4.30M", "800M", "5.10M",
                      "1,300M", "2.11M", "2,750M", "4.52M", "5,800M", "11.15M", "14,250M"):
        assert published in text
    assert "V2 paper Table 7" in text and "TF-slim" in text
    # each model TF's zoo released, with the release's name and its published top-1 (TF-slim's tables)
    assert "| 224 | 3.47M | 3.51M | 300M | 301M | `tf:mobilenet_v2_1.0_224` (top-1 71.8) |" in text
    assert "`tf:mobilenet_v1_1.0_224` (top-1 70.9)" in text and "`tf:mobilenet_v2_0.35_96` (top-1 45.5)" in text
    # every release with a row is timed once, at its own resolution, beside its published accuracy
    assert "| 300 | 6.80M | 6.82M | 1,200M | 1,237M | `tf:ssd_mobilenet_v1_coco` (mAP 21) | 12.5 |" in text
    assert "`tf:ssdlite_mobilenet_v2_coco` (mAP 22) | 12.5 |" in text and "(mIoU 75.32) | 12.5 |" in text
    assert "`tf:deeplabv3_mnv2_dm05_pascal_trainaug` (mIoU 70.19) | 12.5 |" in text
    assert len(timed) == 22 + 16 + 2 + 2 and (1, 3, 513, 513) in timed and (1, 3, 96, 96) in timed


def test_goal_ratios_are_ours_over_theirs():
    goal = GOALS[0]
    rows = [{"label": goal.ours[0], "runtime": goal.ours[1], "median_ms": 3.0, "min_ms": 2.0},
            {"label": goal.theirs[0], "runtime": goal.theirs[1], "median_ms": 6.0, "min_ms": 8.0}]
    (ratio,) = goal_ratios(rows)
    assert ratio["ratio"] == 0.5 and ratio["met"] is True and ratio["ratio_of_min"] == 0.25
    assert goal_ratios(rows[:1]) == []  # a goal whose anchor was not measured is left out


def test_accuracy_of_a_runtime_on_data(tmp_path):
    data = write_class_folders(tmp_path / "folders", train_per_class=1, val_per_class=3)
    names = dataset_class_names(str(data), task="classify")
    case = fresh_case("mobilenet_v2", width=0.35, imgsz=48, folder=tmp_path, class_names=names)
    model, checkpoint = load_checkpoint(case.checkpoint)
    metrics = evaluate_runtime(model, task="classify", data=str(data), imgsz=48, checkpoint=checkpoint, images=None)
    assert 0.0 <= metrics["top1"] <= 1.0
    other = fresh_case("mobilenet_v2", width=0.35, imgsz=48, folder=tmp_path / "other")
    model, checkpoint = load_checkpoint(other.checkpoint)
    with pytest.raises(MobileVisionError, match="not the 1000 classes"):
        evaluate_runtime(model, task="classify", data=str(data), imgsz=48, checkpoint=checkpoint, images=2)


def test_accuracy_of_a_multitask_runtime_is_its_score(tmp_path):
    from mobilevision.bench.cases import write_checkpoint
    from mobilevision.datasets import generate_dataset
    from mobilevision.tasks.registry import build_model

    data = generate_dataset(tmp_path / "synth", images=10, size=64, workers=1)
    names = dataset_class_names(str(data), task="multitask")
    assert set(names) == {"classify", "detect", "segment"}
    # Two heads of the three: the dataset may label more tasks than the model has.
    kwargs = {"width": 0.5, "imgsz": 64, "tasks": ["detect", "segment"],
              "num_classes": {"detect": len(names["detect"]) + 1, "segment": len(names["segment"])}}
    model = build_model("multitask_mobilenet_v2", **kwargs)
    path = write_checkpoint(model, tmp_path / "mt.pt", model_name="multitask_mobilenet_v2", model_kwargs=kwargs,
                            task="multitask", class_names={task: names[task] for task in kwargs["tasks"]}, imgsz=64)
    model, checkpoint = load_checkpoint(path)
    metrics = evaluate_runtime(model, task="multitask", data=str(data), imgsz=64, checkpoint=checkpoint, images=None)
    assert list(metrics) == ["score"] and 0.0 <= metrics["score"] <= 1.0


def test_fastest_rounds_keeps_each_rows_fastest_round_and_the_first_rounds_accuracy():
    from mobilevision.bench.run import fastest_rounds

    first = [{"label": "a", "runtime": "ort_fp32", "median_ms": 4.4, "p90_ms": 5.0, "mAP": 0.48, "metric_name": "mAP",
              "metric": 0.48},
             {"label": "tv", "runtime": "ort_fp32", "median_ms": 2.2, "p90_ms": 2.5}]
    second = [{"label": "a", "runtime": "ort_fp32", "median_ms": 2.3, "p90_ms": 2.6, "metric_name": "", "metric": ""},
              {"label": "tv", "runtime": "ort_fp32", "median_ms": 2.9, "p90_ms": 3.1}]
    rows = fastest_rounds([first, second])
    assert rows[0] == {"label": "a", "runtime": "ort_fp32", "median_ms": 2.3, "p90_ms": 2.6, "mAP": 0.48,
                       "metric_name": "mAP", "metric": 0.48, "median_ms_rounds": [4.4, 2.3]}
    assert rows[1] == {"label": "tv", "runtime": "ort_fp32", "median_ms": 2.2, "p90_ms": 2.5,
                       "median_ms_rounds": [2.2, 2.9]}
    with pytest.raises(ValueError):  # sweeps that measured different rows cannot be paired
        fastest_rounds([first, second[:1]])
