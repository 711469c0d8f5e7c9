"""Vectorised image transforms for the benchmark streams.

Rotation reproduces ``PIL.Image.rotate(angle)`` (nearest neighbour, no
expansion, fill 0), which GEM's rotated-MNIST generator calls once per
image, pixel for pixel: PIL maps every output pixel centre back through the
inverse rotation in 16.16 fixed point and takes the source pixel it lands
in. One index map per angle then rotates any number of images with a
single gather.
"""

from __future__ import annotations

import math

import numpy as np


def _fixed(v: float) -> int:
    return math.floor(v * 65536.0 + 0.5)


def rotation_index(angle: float, height: int, width: int) -> np.ndarray:
    """For each output pixel (row-major), the flat source pixel index, or -1 outside the image.

    The inverse affine matrix is built as PIL builds it for a rotation about
    the image centre (coefficients rounded to 15 decimals), then evaluated
    at pixel centres in PIL's fixed-point arithmetic.
    """
    a = -math.radians(angle % 360.0)
    m0, m1 = round(math.cos(a), 15), round(math.sin(a), 15)
    m3, m4 = round(-math.sin(a), 15), round(math.cos(a), 15)
    cx, cy = width / 2, height / 2
    m2 = m0 * -cx + m1 * -cy + cx
    m5 = m3 * -cx + m4 * -cy + cy
    a0, a1, a3, a4 = _fixed(m0), _fixed(m1), _fixed(m3), _fixed(m4)
    a2 = _fixed(m2 + m0 * 0.5 + m1 * 0.5)
    a5 = _fixed(m5 + m3 * 0.5 + m4 * 0.5)
    cols = np.arange(width, dtype=np.int64)[None, :]
    rows = np.arange(height, dtype=np.int64)[:, None]
    src_x = (a2 + cols * a0 + rows * a1) >> 16
    src_y = (a5 + cols * a3 + rows * a4) >> 16
    inside = (src_x >= 0) & (src_x < width) & (src_y >= 0) & (src_y < height)
    return np.where(inside, src_y * width + src_x, -1).reshape(-1)


def rotate_flat(images: np.ndarray, angle: float, height: int, width: int) -> np.ndarray:
    """Rotate flattened images ``(n, height*width)`` by ``angle`` degrees counter-clockwise."""
    index = rotation_index(angle, height, width)
    out = images[:, np.maximum(index, 0)]
    out[:, index < 0] = 0
    return out


def resize_uint8(images: np.ndarray, size: int, chunk: int = 512) -> np.ndarray:
    """Resize ``(n, H, W)`` images with values in [0, 1] to ``(n, size, size)`` uint8 in 0..255.

    Bilinear with antialiasing, close to PIL's ``resize`` that torchvision's
    ``Resize`` applies to images; processed in chunks so a 32,460-image set
    never needs a float copy of itself.
    """
    import torch
    import torch.nn.functional as F

    n, h, w = images.shape
    out = np.empty((n, size, size), dtype=np.uint8)
    for start in range(0, n, chunk):
        block = torch.from_numpy(np.asarray(images[start:start + chunk], dtype=np.float32))[:, None]
        if (h, w) != (size, size):
            block = F.interpolate(block, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[start:start + chunk] = (block[:, 0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return out
