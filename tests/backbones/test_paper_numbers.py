"""Parameter and multiply-add counts against the published tables (shared/reference/numbers.md)."""

import math

import pytest
import torchvision

from mobilevision.analysis.complexity import count_madds, count_params
from mobilevision.tasks.classify.model import build_classifier

# TF-slim nets/mobilenet/README.md: width -> (params in M, {resolution: MAdds in M}), 1001 classes.
TF_SLIM_V2 = {
    1.4: (6.06, {224: 582}),
    1.3: (5.34, {224: 509}),
    1.0: (3.47, {224: 300, 192: 221, 160: 154, 128: 99, 96: 56}),
    0.75: (2.61, {224: 209, 192: 153, 160: 107, 128: 69, 96: 39}),
    0.5: (1.95, {224: 97, 192: 71, 160: 50, 128: 32, 96: 18}),
    0.35: (1.66, {224: 59, 192: 43, 160: 30, 128: 20, 96: 11}),
}


def test_mobilenet_v2_matches_torchvision_count_and_paper_madds():
    model = build_classifier(backbone="mobilenet_v2", width=1.0, num_classes=1000)
    assert count_params(model) == 3_504_872
    assert count_params(model) == count_params(torchvision.models.mobilenet_v2())
    assert count_madds(model, imgsz=224) == pytest.approx(300e6, rel=0.02)


@pytest.mark.parametrize("width", sorted(TF_SLIM_V2))
def test_mobilenet_v2_tf_slim_table(width):
    published_params, cells = TF_SLIM_V2[width]
    model = build_classifier(backbone="mobilenet_v2", width=width, num_classes=1001)
    assert count_params(model) / 1e6 == pytest.approx(published_params, rel=0.02)
    for resolution, published_madds in cells.items():
        madds = count_madds(model, imgsz=resolution) / 1e6
        # The table truncates to whole millions, so the count must floor to the published figure;
        # that is within 3% wherever a million is under 3% of the figure (every cell above 33M).
        assert math.floor(madds) == published_madds, (width, resolution, madds)
        if published_madds > 33:
            assert madds == pytest.approx(published_madds, rel=0.03)


def test_mobilenet_v1_matches_paper_and_tf_slim():
    model = build_classifier(backbone="mobilenet_v1", width=1.0, num_classes=1000)
    assert count_params(model) / 1e6 == pytest.approx(4.2, rel=0.02)
    assert count_madds(model, imgsz=224) / 1e6 == pytest.approx(569, rel=0.02)
    # TF-slim's docstring: the network without its classifier.
    assert count_params(model.backbone) == 3_185_088 + sum(  # + BatchNorm's affine parameters
        2 * m.num_features for m in model.backbone.modules() if m.__class__.__name__ == "BatchNorm2d"
    )
    assert count_madds(model, imgsz=224) - 1024 * 1000 == 567_716_352


@pytest.mark.parametrize(("width", "published"), [(0.75, 2.59), (0.5, 1.34), (0.25, 0.47)])
def test_mobilenet_v1_width_multipliers(width, published):
    model = build_classifier(backbone="mobilenet_v1", width=width, num_classes=1001)
    assert count_params(model) / 1e6 == pytest.approx(published, rel=0.02)
