"""Box coding round-trips; decoding stays finite on wild regression outputs."""

import torch

from mobilevision.heads.box_coder import decode_boxes, encode_boxes


def _random_boxes(count: int, generator: torch.Generator) -> torch.Tensor:
    top_left = torch.rand(count, 2, generator=generator) * 300
    size = torch.rand(count, 2, generator=generator) * 200 + 1
    return torch.cat([top_left, top_left + size], dim=1)


def test_encode_decode_round_trip():
    generator = torch.Generator().manual_seed(0)
    # Size ratios up to 1:60 either way: inside the exp clamp (1000 / 16), as any real match is.
    anchors = _random_boxes(500, generator)
    scale = torch.exp(torch.empty(500, 2).uniform_(-4, 4, generator=generator))
    top_left = anchors[:, :2] + (torch.rand(500, 2, generator=generator) - 0.5) * 100
    boxes = torch.cat([top_left, top_left + (anchors[:, 2:] - anchors[:, :2]) * scale], dim=1)
    deltas = encode_boxes(boxes, anchors)
    torch.testing.assert_close(decode_boxes(deltas, anchors), boxes, atol=1e-3, rtol=1e-5)


def test_weights_scale_the_offsets():
    anchor = torch.tensor([[0.0, 0.0, 10.0, 20.0]])
    box = torch.tensor([[1.0, 2.0, 11.0, 22.0]])  # shifted by 1/10 of the width and 1/10 of the height
    assert encode_boxes(box, anchor).tolist() == [[1.0, 1.0, 0.0, 0.0]]  # weights 10, 10, 5, 5


def test_decode_clamps_huge_sizes():
    anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    boxes = decode_boxes(torch.tensor([[0.0, 0.0, 1e4, 1e4]]), anchors)
    assert torch.isfinite(boxes).all()
