"""MNIST: the four raw IDX files in ``<root>/MNIST/raw``, checked and read through torchvision.

The checksums are the md5 sums torchvision lists for the uncompressed files
(also in the shared data README). ``MNIST_FILES`` is the one table a test
may replace to accept tiny hand-made files.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from hippo_bench.data.integrity import verify_file
from hippo_bench.data.locate import Finding, missing_data_error, search_roots
from hippo_bench.errors import DataError

FETCH_COMMAND = "hippo-bench data download mnist"
LAYOUT = "MNIST/raw/ with the four IDX files"
MNIST_FILES = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


@dataclasses.dataclass
class MnistArrays:
    """The whole of MNIST as uint8 images ``(n, 28, 28)`` and int64 labels."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


def raw_folder(root: Path) -> Path:
    return Path(root) / "MNIST" / "raw"


def find_mnist(data_root: str | os.PathLike | None) -> Path:
    """The first data root whose ``MNIST/raw`` holds all four files; DataError naming every place otherwise."""
    looked = []
    for root in search_roots(data_root):
        folder = raw_folder(root)
        missing = [f for f in MNIST_FILES if not (folder / f).is_file()]
        if not missing:
            return root
        looked.append(f"{folder} (lacks {', '.join(missing)})")
    raise missing_data_error("MNIST", looked, FETCH_COMMAND, LAYOUT)


def verify_mnist(root: Path) -> dict[str, str]:
    """Check all four files against ``MNIST_FILES``; returns file name -> md5."""
    folder = raw_folder(root)
    return {name: verify_file(folder / name, md5, "md5", FETCH_COMMAND) for name, md5 in MNIST_FILES.items()}


def read_mnist(root: Path) -> MnistArrays:
    """Decode the (already verified) IDX files with ``torchvision.datasets.MNIST``."""
    from torchvision.datasets import MNIST

    try:
        train = MNIST(str(root), train=True, download=False)
        test = MNIST(str(root), train=False, download=False)
    except (RuntimeError, ValueError, AssertionError, OSError) as exc:
        raise DataError(f"cannot read MNIST in {raw_folder(root)}: {exc}") from None
    return MnistArrays(train.data.numpy(), train.targets.numpy().astype(np.int64),
                       test.data.numpy(), test.targets.numpy().astype(np.int64))


def check_mnist(root: Path) -> list[Finding]:
    """What ``hippo-bench data check`` reports for MNIST under one root."""
    folder = raw_folder(root)
    missing = [f for f in MNIST_FILES if not (folder / f).is_file()]
    if missing:
        return [Finding(folder, "missing", f"lacks {', '.join(missing)}")]
    try:
        verify_mnist(root)
    except DataError as exc:
        return [Finding(folder, "corrupt", str(exc))]
    return [Finding(folder, "ok", "4 IDX files, md5 match")]
