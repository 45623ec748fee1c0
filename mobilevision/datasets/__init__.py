"""Dataset readers (COCO, PASCAL VOC, image folders), the built-in synthetic dataset and augmentation."""
