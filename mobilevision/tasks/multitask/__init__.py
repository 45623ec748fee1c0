"""The multi-task model: one backbone forward for classification, detection and segmentation."""
