"""Published parameters and multiply-adds the bench's --paper table sets ours beside
(shared/reference/numbers.md). TF-slim and the paper count a 1001-way ImageNet classifier
(background class included), so those rows are built with 1001 classes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PublishedRow:
    source: str
    model_name: str
    width: float
    imgsz: int
    params: float
    madds: float | None  # None: the source gives none
    kwargs: dict = field(default_factory=dict)


_TF_SLIM_V2 = {  # width: (params, {resolution: MAdds})
    1.4: (6.06e6, {224: 582e6}),
    1.3: (5.34e6, {224: 509e6}),
    1.0: (3.47e6, {224: 300e6, 192: 221e6, 160: 154e6, 128: 99e6, 96: 56e6}),
    0.75: (2.61e6, {224: 209e6, 192: 153e6, 160: 107e6, 128: 69e6, 96: 39e6}),
    0.5: (1.95e6, {224: 97e6, 192: 71e6, 160: 50e6, 128: 32e6, 96: 18e6}),
    0.35: (1.66e6, {224: 59e6, 192: 43e6, 160: 30e6, 128: 20e6, 96: 11e6}),
}
# TF-slim's MobileNetV1 parameters by width (mobilenet_v1.md; the same at every resolution). Its
# multiply-adds are in numbers.md for 1.0 at 224 px only.
_TF_SLIM_V1_PARAMS = {1.0: 4.24e6, 0.75: 2.59e6, 0.5: 1.34e6, 0.25: 0.47e6}
_IMAGENET_1001 = {"num_classes": 1001}

PUBLISHED = (
    PublishedRow("V2 paper Table 4", "mobilenet_v1", 1.0, 224, 4.2e6, 575e6, _IMAGENET_1001),
    PublishedRow("V2 paper Table 4", "mobilenet_v2", 1.0, 224, 3.4e6, 300e6, _IMAGENET_1001),
    PublishedRow("V2 paper Table 4", "mobilenet_v2", 1.4, 224, 6.9e6, 585e6, _IMAGENET_1001),
    *(PublishedRow("TF-slim mobilenet_v1.md", "mobilenet_v1", width, imgsz, params,
                   569e6 if (width, imgsz) == (1.0, 224) else None, _IMAGENET_1001)
      for width, params in _TF_SLIM_V1_PARAMS.items() for imgsz in (224, 192, 160, 128)),
    *(PublishedRow("TF-slim mobilenet README", "mobilenet_v2", width, imgsz, params, madds, _IMAGENET_1001)
      for width, (params, by_size) in _TF_SLIM_V2.items() for imgsz, madds in by_size.items()),
    PublishedRow("V2 paper Table 6", "ssdlite_mobilenet_v2", 1.0, 300, 4.3e6, 0.8e9, {"num_classes": 91, "imgsz": 300}),
    PublishedRow("V2 paper Table 6", "ssdlite_mobilenet_v1", 1.0, 300, 5.1e6, 1.3e9, {"num_classes": 91, "imgsz": 300}),
    PublishedRow("V1 paper Table 13", "ssd_mobilenet_v1", 1.0, 300, 6.8e6, 1.2e9, {"num_classes": 91, "imgsz": 300}),
    PublishedRow("V2 paper Table 7", "deeplabv3_aspp_mobilenet_v1", 1.0, 513, 11.15e6, 14.25e9, {"num_classes": 21}),
    PublishedRow("V2 paper Table 7", "deeplabv3_aspp_mobilenet_v2", 1.0, 513, 4.52e6, 5.8e9, {"num_classes": 21}),
    PublishedRow("V2 paper Table 7", "deeplabv3_mobilenet_v2", 1.0, 513, 2.11e6, 2.75e9, {"num_classes": 21}),
)
