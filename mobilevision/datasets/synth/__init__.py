"""The built-in dataset: generated scenes of shapes written as COCO, PASCAL VOC and class folders."""
