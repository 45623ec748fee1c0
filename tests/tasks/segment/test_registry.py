"""The registered DeepLabv3 models as `mobilevision info` builds and counts them."""

from mobilevision.cli.info import model_rows
from mobilevision.tasks.registry import MODELS


def test_segmentation_entries_are_registered():
    # The papers' models; torchvision's on MobileNetV3-Large are checked below.
    segment = {name for name, entry in MODELS.items() if entry.task == "segment" and name.startswith("deeplabv3")
               and entry.defaults["backbone"] != "mobilenet_v3_large"}
    assert segment == {
        "deeplabv3_mobilenet_v2", "deeplabv3_aspp_mobilenet_v2", "deeplabv3_mobilenet_v1", "deeplabv3_aspp_mobilenet_v1"
    }
    assert all(MODELS[name].imgsz == 513 and MODELS[name].num_classes == 21 for name in segment)
    # torchvision's LR-ASPP and DeepLabv3 beside them, at torchvision's 520 px; the DeepLabv3 with the
    # auxiliary head that its published weights carry.
    for name in ("lraspp_mobilenet_v3_large", "deeplabv3_mobilenet_v3_large"):
        assert MODELS[name].task == "segment" and MODELS[name].imgsz == 520 and MODELS[name].num_classes == 21
    assert MODELS["deeplabv3_mobilenet_v3_large"].defaults["deeplab"] == {"head": "torchvision", "aux": True}


def test_info_counts_the_mobile_deeplab_of_the_paper():
    rows = {row["width"]: row for row in model_rows(imgsz=None, names=["deeplabv3_mobilenet_v2"])}
    assert rows[1.0]["params"] == 2_113_557
    assert rows[1.0]["madds"] == 2_740_709_056
    assert rows[0.5]["params"] < rows[1.0]["params"]
