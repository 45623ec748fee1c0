"""network_input: the one resize + normalise that predict, the demos and bench share."""

import cv2
import numpy as np

from mobilevision.datasets.network_input import network_input

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def test_normalises_each_channel_with_its_own_mean_and_std():
    image = np.zeros((6, 10, 3), dtype=np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = 255, 0, 51  # 51 / 255 = 0.2
    out = network_input(image, size=4, mean=MEAN, std=STD)
    assert out.shape == (3, 4, 4) and out.dtype == np.float32
    expected = [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0.2 - 0.406) / 0.225]
    np.testing.assert_allclose(out[:, 0, 0], expected, rtol=1e-6)
    assert np.ptp(out, axis=(1, 2)).max() == 0  # a flat image stays flat


def test_equals_the_plain_formula_on_a_bilinear_resize():
    image = np.random.default_rng(0).integers(0, 256, size=(480, 640, 3), dtype=np.uint8)
    resized = cv2.resize(image, (320, 320), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255
    expected = ((resized - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)).transpose(2, 0, 1)
    np.testing.assert_allclose(network_input(image, size=320, mean=MEAN, std=STD), expected, atol=1e-5)


def test_a_large_photo_is_averaged_not_aliased():
    """A one-pixel black/white checkerboard shrunk 3x: bilinear's taps land on single pixel centres
    ((i + 0.5) * 3 - 0.5 = 3i + 1) and give back a full-contrast checkerboard; area averaging gives
    4/9 or 5/9 white: -0.11 or +0.11 after normalising with mean = std = 0.5."""
    checker = ((np.indices((3000, 3000)).sum(axis=0) % 2) * 255).astype(np.uint8)
    image = np.repeat(checker[..., None], 3, axis=2)
    out = network_input(image, size=1000, mean=(0.5,) * 3, std=(0.5,) * 3)
    np.testing.assert_allclose(np.abs(out), 1 / 9, atol=0.005)  # uint8 rounding: 142 / 127.5 - 1
    bilinear = cv2.resize(checker, (1000, 1000), interpolation=cv2.INTER_LINEAR)
    assert set(np.unique(bilinear)) == {0, 255}  # what the test guards against
