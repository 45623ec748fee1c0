"""Semantic segmentation: Mobile DeepLabv3 (MobileNetV2 paper, section 6.4), its loss, metrics
and multi-scale inference."""
