"""`mobilevision weights`: every published name, described as torchvision itself describes it, with
the hub-cache state, and each listed name loads. Nothing is downloaded (files are placed, as in
tests/published_files.py)."""

import json
import re
from pathlib import Path

import pytest
from torchvision.models import get_model_weights

from mobilevision.backbones.pretrained import catalogue as backbone_catalogue
from mobilevision.backbones.pretrained import lookup
from mobilevision.cli import main
from mobilevision.cli.weights import publisher_accuracy, shortest_name
from mobilevision.deploy.runtime import load_trained
from mobilevision.tasks.published import catalogue, published
from mobilevision.tasks.tf_releases import SLIM_V1_TOP1, SLIM_V2_TOP1, releases
from tests.published_files import SSDLITE, place

README = Path(__file__).resolve().parents[2] / "README.md"


def _listed(capsys) -> list[dict]:
    assert main(["weights", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _torchvision_weights(row: dict):
    """torchvision's own weights enum member of a listed torchvision name, looked up by its builder."""
    builder, _, member = row["name"].removeprefix("torchvision:").rpartition(".")
    return get_model_weights(builder or row["model"])[member]


def test_json_lists_every_name_as_torchvision_describes_it(capsys):
    rows = _listed(capsys)
    names = {row["name"] for row in rows} | {row["alias"] for row in rows if row["alias"]}
    assert names == set(catalogue()) | set(backbone_catalogue()) | set(releases())
    torchvision_rows = [row for row in rows if row["name"].startswith("torchvision:")]
    for builder in {row["model"] for row in torchvision_rows}:  # every weight torchvision has for it
        listed = {_torchvision_weights(row) for row in torchvision_rows if row["model"] == builder}
        assert listed == set(get_model_weights(builder))
    for row in rows:
        if row["name"].startswith("tf:deeplabv3_"):  # DeepLab's model zoo: VOC 2012 val mIoU at OS 16
            assert row["metric"] == "mIoU" and row["url"].startswith("http://download.tensorflow.org/models/")
            assert row["accuracy"] == {"tf:deeplabv3_mnv2_pascal_train_aug": 75.32,
                                       "tf:deeplabv3_mnv2_dm05_pascal_trainaug": 70.19}[row["name"]]
            continue
        if row["name"].startswith("tf:ssd"):  # the detection zoo's COCO detectors
            assert row["metric"] == "mAP" and row["url"].startswith("http://download.tensorflow.org/models/"
                                                                    "object_detection/")
            assert row["accuracy"] == {"tf:ssdlite_mobilenet_v2_coco": 22.0,
                                       "tf:ssd_mobilenet_v1_coco": 21.0}[row["name"]]
            continue
        if row["name"].startswith("tf:"):  # TF-slim's tables: a width x resolution cell each
            version, width, resolution = row["name"].removeprefix("tf:mobilenet_").split("_")
            table = SLIM_V2_TOP1 if version == "v2" else SLIM_V1_TOP1
            assert row["url"].endswith(f"/mobilenet_{version}_{width}_{resolution}.tgz")
            assert row["accuracy"] == table[float(width), int(resolution)] and row["metric"] == "top-1"
            continue
        if row not in torchvision_rows:  # timm's, on the Hugging Face hub
            assert row["sha256"] is None and row["params"] is None and row["url"].startswith("https://huggingface.co/")
            continue
        weights = _torchvision_weights(row)
        assert row["url"] == weights.url and row["params"] == weights.meta["num_params"]
        assert row["file_mib"] == weights.meta["_file_size"]
        assert row["accuracy"] == next(iter(weights.meta["_metrics"].values()))[row["metric"]]
        # torch.hub's convention: the file name ends in the first hex digits of its SHA-256.
        hash_prefix = re.search(r"-([0-9a-f]{8,})\.", Path(weights.url).name).group(1)
        if row["kind"] == "model":
            assert row["sha256"].startswith(hash_prefix)
            assert row["sha256_kind"] == ("full" if len(row["sha256"]) == 64 else "prefix")
        if row["file_bytes"] is not None:
            assert row["file_bytes"] / 2**20 == pytest.approx(weights.meta["_file_size"], abs=1e-3)


def test_cached_flips_when_the_file_is_placed_and_the_listed_name_loads(capsys, monkeypatch):
    row = next(row for row in _listed(capsys) if row["alias"] == SSDLITE)
    assert not row["cached"]
    place(monkeypatch, SSDLITE)
    row = next(row for row in _listed(capsys) if row["alias"] == SSDLITE)
    assert row["cached"] and Path(row["path"]).is_file()
    assert load_trained(row["name"], task="detect", log=lambda line: None).task == "detect"


def test_every_listed_name_resolves(capsys):
    for row in _listed(capsys):
        if row["kind"] == "model":
            assert published(row["name"]).name == row["name"]
            assert row["alias"] is None or published(row["alias"]).name == row["name"]
        else:
            assert lookup(row["name"]).backbone == row["model"]


def test_table_and_long_view_fit_and_name_everything(capsys):
    rows = _listed(capsys)
    assert main(["weights"]) == 0
    table = capsys.readouterr().out
    assert all(len(line) < 100 for line in table.splitlines())
    for row in rows:
        line = next(line for line in table.splitlines() if line.startswith(shortest_name(row) + " "))
        assert publisher_accuracy(row) in line and ("yes" if row["cached"] else "no") in line.split()[-1]
    assert main(["weights", "--long"]) == 0
    long = capsys.readouterr().out
    assert all(row["name"] in long and row["url"] in long for row in rows)


def test_readme_table_is_the_listing(capsys):
    section = README.read_text().split("## Published models", 1)[1].split("\n## ", 1)[0]
    for row in _listed(capsys):
        if row["name"].startswith("tf:mobilenet_"):  # one row per TF-slim table, with its range of top-1
            version = row["name"].removeprefix("tf:mobilenet_")[:2]
            table = SLIM_V2_TOP1 if version == "v2" else SLIM_V1_TOP1
            line = next(line for line in section.splitlines()
                        if line.startswith(f"| `tf:mobilenet_{version}_<width>_<res>` "))
            assert f"{min(table.values())} to {max(table.values())}" in line, line
            continue
        line = next(line for line in section.splitlines() if line.startswith(f"| `{shortest_name(row)}` "))
        assert publisher_accuracy(row) in line, line
