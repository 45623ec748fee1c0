"""Drawing: detections, class maps and text panels on images (OpenCV), and the PNG plots of runs."""
