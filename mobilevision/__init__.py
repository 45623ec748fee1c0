"""mobilevision: MobileNetV2 and MobileNetV1 for classification, SSDLite detection and
Mobile DeepLabv3 segmentation."""

from mobilevision.errors import MobileVisionError

__version__ = "0.1.0"
__all__ = ["MobileVisionError", "__version__"]
