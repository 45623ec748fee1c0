"""mobilevision: MobileNetV2 and MobileNetV1 for classification, SSDLite detection and Mobile
DeepLabv3 segmentation.

    import mobilevision as mv
    mv.list_models(); mv.create_model(name, **kwargs); mv.load(weights).predict(image); mv.benchmark(name)

The API (api.py) loads on first use, so `import mobilevision` stays light.
"""

from __future__ import annotations

from mobilevision.errors import MobileVisionError
from mobilevision.version import __version__

__all__ = ["MobileVisionError", "__version__", "benchmark", "create_model", "list_models", "load"]

_API = ("benchmark", "create_model", "list_models", "load")


def __getattr__(name: str):
    if name in _API:
        from mobilevision import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
