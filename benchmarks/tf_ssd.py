"""TF object detection's SSD heads, anchors, box decoding and NMS, in TensorFlow ops, as the model
zoo's ssdlite_mobilenet_v2_coco_2018_05_09 and ssd_mobilenet_v1_coco_2018_01_28 build them (not
CI; tf_exactness.py runs this inside its TensorFlow venv). Each step follows the file of
tensorflow/models research/object_detection named at it, with the settings of the releases'
pipeline.config:

  feature_extractor  ssd_mobilenet_v2 (use_depthwise: true) / ssd_mobilenet_v1; depth_multiplier 1,
                     min_depth 16; batch_norm epsilon 0.001, activation RELU_6
  box_predictor      convolutional_box_predictor: kernel_size 3, use_depthwise (SSDLite) / kernel_size 1
                     (SSD); num_layers_before_predictor 0; box_code_size 4
  anchor_generator   ssd_anchor_generator: num_layers 6, min_scale 0.2, max_scale 0.95,
                     aspect_ratios 1.0, 2.0, 0.5, 3.0, 0.3333 (reduce_boxes_in_lowest_layer: true)
  box_coder          faster_rcnn_box_coder: y_scale 10, x_scale 10, height_scale 5, width_scale 5
  post_processing    batch_non_max_suppression: score_threshold 0.3, iou_threshold 0.6,
                     max_detections_per_class 100, max_total_detections 100; score_converter SIGMOID
"""

from __future__ import annotations

import itertools
import math

import tensorflow as tf

# models/ssd_mobilenet_v{1,2}_feature_extractor.py, feature_map_layout.
LAYOUTS = {
    "ssdlite": {"from_layer": ("layer_15/expansion_output", "layer_19"), "base": "layer_19", "depthwise": True},
    "ssd": {"from_layer": ("Conv2d_11_pointwise", "Conv2d_13_pointwise"), "base": "Conv2d_13_pointwise",
            "depthwise": False},
}
EXTRA_DEPTHS = (512, 256, 256, 128)  # layer_depth of the four generated maps
MIN_DEPTH = 16
ANCHOR = {"num_layers": 6, "min_scale": 0.2, "max_scale": 0.95, "aspect_ratios": (1.0, 2.0, 0.5, 3.0, 0.3333)}
BOX_SCALES = (10.0, 10.0, 5.0, 5.0)  # y, x, height, width
NMS = {"score_threshold": 0.3, "iou_threshold": 0.6, "per_class": 100, "total": 100}


def ssd_head(endpoints: dict, conv_bn, variable, *, head: str, scope: str, width: float, classes: int):
    """The extra maps and the predictors -> (box encodings (N, A, 4) in TF's (ty, tx, th, tw),
    class logits (N, A, classes), the six maps' (height, width))."""
    layout = LAYOUTS[head]
    maps = [endpoints[name] for name in layout["from_layer"]]
    depth = lambda d: max(int(d * width), MIN_DEPTH)  # feature_map_generators.get_depth_fn
    for index, layer_depth in enumerate(EXTRA_DEPTHS, start=2):
        stem = f"FeatureExtractor/{scope}/{layout['base']}"
        x = conv_bn(maps[-1], f"{stem}_1_Conv2d_{index}_1x1_{depth(layer_depth / 2)}", depth(layer_depth / 2))
        name = f"{stem}_2_Conv2d_{index}_3x3_s2_{depth(layer_depth)}"
        if layout["depthwise"]:
            x = conv_bn(x, f"{name}_depthwise", None, kernel=3, stride=2, depthwise=True)
            maps.append(conv_bn(x, name, depth(layer_depth)))
        else:
            maps.append(conv_bn(x, name, depth(layer_depth), kernel=3, stride=2))
    boxes, logits = [], []
    for level, (feature, anchors) in enumerate(zip(maps, [3, 6, 6, 6, 6, 6])):
        for predictor, values, out in (("BoxEncodingPredictor", 4, boxes), ("ClassPredictor", classes, logits)):
            name = f"BoxPredictor_{level}/{predictor}"
            x = conv_bn(feature, f"{name}_depthwise", None, kernel=3, depthwise=True) if layout["depthwise"] \
                else feature
            kernel = variable(f"{name}/weights", (1, 1, int(x.shape[-1]), anchors * values))
            x = tf.nn.conv2d(x, kernel, 1, "SAME") + variable(f"{name}/biases", (anchors * values,), kind="biases")
            out.append(tf.reshape(x, [tf.shape(x)[0], -1, values]))  # (N, H * W * k, values)
    sizes = [tuple(int(d) for d in feature.shape[1:3]) for feature in maps]
    return tf.concat(boxes, 1), tf.concat(logits, 1), sizes


def anchors(sizes: list[tuple[int, int]], *, image_size: tuple[int, int]):
    """(A, 4) normalised [ymin, xmin, ymax, xmax] anchors, float32: anchor_generators/
    multiple_grid_anchor_generator.py create_ssd_anchors and _generate, grid_anchor_generator.py
    tile_anchors."""
    count = ANCHOR["num_layers"]
    scales = [ANCHOR["min_scale"] + (ANCHOR["max_scale"] - ANCHOR["min_scale"]) * i / (count - 1)
              for i in range(count)] + [1.0]
    shortest = min(image_size)
    base = (shortest / image_size[0], shortest / image_size[1])  # a ratio-1 anchor is square in pixels
    levels = []
    for layer, (scale, next_scale) in enumerate(itertools.pairwise(scales)):
        if layer == 0:  # reduce_boxes_in_lowest_layer
            specs = [(0.1, 1.0), (scale, 2.0), (scale, 0.5)]
        else:
            specs = [(scale, ratio) for ratio in ANCHOR["aspect_ratios"]] + [(math.sqrt(scale * next_scale), 1.0)]
        box_scales = tf.constant([s for s, _ in specs], tf.float32)
        ratio_roots = tf.sqrt(tf.constant([r for _, r in specs], tf.float32))
        heights = box_scales / ratio_roots * base[0]
        widths = box_scales * ratio_roots * base[1]
        grid_h, grid_w = sizes[layer]
        stride_y, stride_x = 1.0 / grid_h, 1.0 / grid_w
        ys = tf.range(grid_h, dtype=tf.float32) * stride_y + 0.5 * stride_y
        xs = tf.range(grid_w, dtype=tf.float32) * stride_x + 0.5 * stride_x
        x_centres, y_centres = tf.meshgrid(xs, ys)  # (grid_h, grid_w)
        centre = tf.stack([tf.broadcast_to(y_centres[..., None], [grid_h, grid_w, len(specs)]),
                           tf.broadcast_to(x_centres[..., None], [grid_h, grid_w, len(specs)])], axis=-1)
        size = tf.stack([tf.broadcast_to(heights, [grid_h, grid_w, len(specs)]),
                         tf.broadcast_to(widths, [grid_h, grid_w, len(specs)])], axis=-1)
        centre, size = tf.reshape(centre, [-1, 2]), tf.reshape(size, [-1, 2])
        levels.append(tf.concat([centre - 0.5 * size, centre + 0.5 * size], axis=1))
    return tf.concat(levels, 0)


def decode(encodings, anchor_boxes):
    """box_coders/faster_rcnn_box_coder.py _decode: (A, 4) (ty, tx, th, tw) on (A, 4) anchors ->
    [ymin, xmin, ymax, xmax]."""
    ymin, xmin, ymax, xmax = tf.unstack(anchor_boxes, axis=1)
    anchor_h, anchor_w = ymax - ymin, xmax - xmin
    anchor_y, anchor_x = ymin + 0.5 * anchor_h, xmin + 0.5 * anchor_w
    ty, tx, th, tw = tf.unstack(encodings, axis=1)
    ty, tx, th, tw = ty / BOX_SCALES[0], tx / BOX_SCALES[1], th / BOX_SCALES[2], tw / BOX_SCALES[3]
    h, w = tf.exp(th) * anchor_h, tf.exp(tw) * anchor_w
    y, x = ty * anchor_h + anchor_y, tx * anchor_w + anchor_x
    return tf.stack([y - h / 2, x - w / 2, y + h / 2, x + w / 2], axis=1)


def detections(encodings, logits, anchor_boxes) -> tuple:
    """One image's final detections, core/post_processing.py multiclass_non_max_suppression as
    ssd_meta_arch.py calls it: sigmoid scores without the background column, per class the boxes
    above the threshold clipped to the image [0, 0, 1, 1] (those left with no area dropped), NMS
    with at most `per_class` kept, then the `total` best of all classes. -> (boxes (D, 4)
    [ymin, xmin, ymax, xmax] normalised, scores (D,), classes (D,) 1-based), best first."""
    boxes = decode(encodings, anchor_boxes)
    scores = tf.sigmoid(logits)[:, 1:]
    kept_boxes, kept_scores, kept_classes = [], [], []
    for label in range(int(scores.shape[1])):
        class_scores = scores[:, label]
        above = class_scores > NMS["score_threshold"]
        clipped = tf.clip_by_value(tf.boolean_mask(boxes, above), 0.0, 1.0)
        class_scores = tf.boolean_mask(class_scores, above)
        area = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
        clipped, class_scores = tf.boolean_mask(clipped, area > 0), tf.boolean_mask(class_scores, area > 0)
        chosen = tf.image.non_max_suppression(clipped, class_scores, NMS["per_class"],
                                              iou_threshold=NMS["iou_threshold"])
        kept_boxes.append(tf.gather(clipped, chosen))
        kept_scores.append(tf.gather(class_scores, chosen))
        kept_classes.append(tf.fill(tf.shape(chosen), label + 1))
    all_scores = tf.concat(kept_scores, 0)
    best = tf.math.top_k(all_scores, k=tf.minimum(NMS["total"], tf.shape(all_scores)[0])).indices
    return tf.gather(tf.concat(kept_boxes, 0), best), tf.gather(all_scores, best), \
        tf.gather(tf.concat(kept_classes, 0), best)

