"""Tiny MNIST and Omniglot files, written by the tests themselves, in every layout the readers accept.

Each writer returns what it wrote, and the checksum tables the readers
verify against are pointed at the tiny files by the ``tiny_*`` fixtures, so
the real readers run unchanged on a few kilobytes of data.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from hippo_bench.data import mnist as mnist_data
from hippo_bench.data import omniglot as omniglot_data


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file (big-endian header: magic 0x0000080N, then each dimension) of uint8 data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">I", 0x0800 + array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_mnist(root: Path, n_train: int = 120, n_test: int = 40, seed: int = 0) -> dict[str, np.ndarray]:
    """Random 28x28 images with labels cycling through 0..9, in ``root/MNIST/raw``."""
    rng = np.random.default_rng(seed)
    arrays = {"train_x": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train_y": (np.arange(n_train) % 10).astype(np.uint8),
              "test_x": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "test_y": (np.arange(n_test) % 10).astype(np.uint8)}
    raw = root / "MNIST" / "raw"
    for name, key in (("train-images-idx3-ubyte", "train_x"), ("train-labels-idx1-ubyte", "train_y"),
                      ("t10k-images-idx3-ubyte", "test_x"), ("t10k-labels-idx1-ubyte", "test_y")):
        write_idx(raw / name, arrays[key])
    return arrays


def trust_mnist(monkeypatch, root: Path) -> None:
    """Make the MNIST checksum table accept the files now under ``root``."""
    raw = root / "MNIST" / "raw"
    monkeypatch.setattr(mnist_data, "MNIST_FILES", {name: md5(raw / name) for name in mnist_data.MNIST_FILES})


# Two alphabets per set; the background alphabet named "Zeta" holds the lower ids, so sorting
# folders by name would put the characters in the wrong order.
TINY_ALPHABETS = {
    "background": [("Zeta", 1, 2), ("Alpha", 3, 3)],
    "evaluation": [("Gamma", 6, 2), ("Beta", 8, 2)],
}
TINY_SIDE = 12


def tiny_omniglot_images(seed: int = 0) -> dict[str, np.ndarray]:
    """Bool images (C, 20, 12, 12) per set, True = paper, every drawing distinct."""
    rng = np.random.default_rng(seed)
    return {s: rng.random((sum(n for _, _, n in table), 20, TINY_SIDE, TINY_SIDE)) > 0.3
            for s, table in TINY_ALPHABETS.items()}


def write_omniglot_npz(root: Path, images: dict[str, np.ndarray]) -> Path:
    """The shared-copy layout: ``omniglot/images_<set>.npz`` and ``alphabets.json``."""
    folder = root / "omniglot"
    folder.mkdir(parents=True, exist_ok=True)
    table = {}
    for s, imgs in images.items():
        labels = np.repeat(np.arange(len(imgs))[:, None], 20, axis=1)
        np.savez_compressed(folder / f"images_{s}.npz", images=imgs, labels=labels)
        table[f"images_{s}.npz"] = [{"alphabet": a, "first_character_id": f, "n_characters": n}
                                    for a, f, n in TINY_ALPHABETS[s]]
    (folder / "alphabets.json").write_text(json.dumps(table))
    return folder


def trust_omniglot_npz(monkeypatch, root: Path) -> None:
    folder = root / "omniglot"
    monkeypatch.setattr(omniglot_data, "NPZ_SHA256", {n: sha256(folder / n) for n in omniglot_data.NPZ_SHA256})


def write_omniglot_tree(root: Path, images: dict[str, np.ndarray]) -> Path:
    """The official extracted layout: ``omniglot-py/images_<set>/<Alphabet>/characterNN/IIII_DD.png``."""
    from PIL import Image

    folder = root / "omniglot-py"
    for s, imgs in images.items():
        row = 0
        for alphabet, first, n in TINY_ALPHABETS[s]:
            for k in range(n):
                char_dir = folder / f"images_{s}" / alphabet / f"character{k + 1:02d}"
                char_dir.mkdir(parents=True, exist_ok=True)
                for d in range(20):
                    Image.fromarray(imgs[row, d]).convert("1").save(char_dir / f"{first + k:04d}_{d + 1:02d}.png")
                row += 1
    return folder


def stream_tensors(stream) -> list[tuple]:
    """Every experience of an Avalanche stream as stacked (x, y, t) tensors, in dataset order."""
    import torch

    out = []
    for exp in stream:
        items = [exp.dataset[i] for i in range(len(exp.dataset))]
        out.append(tuple(torch.stack([torch.as_tensor(item[k]) for item in items]) for k in range(3)))
    return out


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A private preprocessing cache for one test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("HIPPO_BENCH_CACHE", str(folder))
    return folder


@pytest.fixture
def tiny_mnist(tmp_path, monkeypatch, cache) -> tuple[Path, dict[str, np.ndarray]]:
    root = tmp_path / "data"
    arrays = write_mnist(root)
    trust_mnist(monkeypatch, root)
    return root, arrays


@pytest.fixture
def tiny_omniglot(tmp_path, monkeypatch, cache) -> tuple[Path, dict[str, np.ndarray]]:
    root = tmp_path / "data"
    images = tiny_omniglot_images()
    write_omniglot_npz(root, images)
    trust_omniglot_npz(monkeypatch, root)
    return root, images


def train_naive(name: str, instance, config):
    """Run Avalanche's naive fine-tuning over a built instance (no results file); returns the tidy rows."""
    from hippo_bench.models import models
    from hippo_bench.runner import RunSpec, execute
    from hippo_bench.strategies import strategies

    naive = strategies.get("naive")
    spec = RunSpec(benchmark=name, benchmark_config=config, strategy=naive, strategy_config=naive.Config(),
                   model="mlp", model_config=models.get("mlp").Config(hidden=[16]), seed=0,
                   train_mb_size=instance.default_batch_size)
    outcome = execute(spec, instance, None)
    assert outcome.status == "ok", outcome.error
    return outcome.table
