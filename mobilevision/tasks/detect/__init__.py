"""Object detection: SSDLite model, matching and loss, post-processing, COCO and VOC evaluation."""
