"""The vectorised image transforms: rotation identical to PIL's, resizing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hippo_bench.data.images import resize_uint8, rotate_flat, rotation_index


@pytest.mark.parametrize("shape", [(28, 28), (9, 14)])
def test_rotation_matches_pil_rotate_pixel_for_pixel(shape):
    h, w = shape
    rng = np.random.default_rng(1)
    images = rng.integers(1, 256, (3, h, w), dtype=np.uint8)  # no zeros: the fill is visible
    angles = [0.0, 9.0, 45.0, 90.0, 135.0, 180.0, 270.0, *rng.uniform(0, 360, 60)]
    for angle in angles:
        ours = rotate_flat(images.reshape(3, h * w), angle, h, w).reshape(3, h, w)
        for img, out in zip(images, ours):
            np.testing.assert_array_equal(out, np.asarray(Image.fromarray(img, mode="L").rotate(angle)),
                                          err_msg=f"angle {angle}")


def test_rotation_index_by_hand():
    # 180 degrees maps pixel (r, c) to (h-1-r, w-1-c); 0 degrees is the identity
    np.testing.assert_array_equal(rotation_index(180, 2, 3), [5, 4, 3, 2, 1, 0])
    np.testing.assert_array_equal(rotation_index(0, 2, 3), np.arange(6))
    # 45 degrees on a 4x4 image leaves the corners outside: filled (-1)
    idx = rotation_index(45, 4, 4).reshape(4, 4)
    assert idx[0, 0] == -1 and idx[3, 3] == -1 and (idx[1:3, 1:3] >= 0).all()


def test_resize_keeps_flat_images_flat_and_scales_to_uint8():
    paper = np.ones((2, 105, 105), dtype=bool)
    out = resize_uint8(paper, 28)
    assert out.shape == (2, 28, 28) and out.dtype == np.uint8 and (out == 255).all()


@pytest.mark.parametrize("size", [28, 84])
def test_resize_agrees_with_pil_bilinear_within_one_level(size):
    # torchvision's Resize (what OML applies) is PIL's bilinear resize on PIL images
    rng = np.random.default_rng(0)
    images = rng.random((4, 105, 105)) > 0.5
    ours = resize_uint8(images, size).astype(int)
    pil = np.stack([np.asarray(Image.fromarray(i).convert("L").resize((size, size), Image.BILINEAR))
                    for i in images]).astype(int)
    assert np.abs(ours - pil).max() <= 1
    half = np.zeros((1, 10, 10))
    half[:, :, 5:] = 1.0
    np.testing.assert_array_equal(resize_uint8(half, 2)[0], [[35, 220], [35, 220]])  # PIL gives the same
