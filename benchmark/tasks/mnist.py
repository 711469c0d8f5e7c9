"""MNIST streams: rotated, permuted, many-permuted, split and dual MNIST.

Every stream follows the generators the compared papers used, with all
randomness drawn from the benchmark seed (``numpy.random.default_rng(seed)``):

- GEM (Lopez-Paz & Ranzato 2017, facebookresearch/GradientEpisodicMemory,
  ``data/mnist_rotations.py`` and ``data/mnist_permutations.py``) makes the
  rotated and permuted streams that MER (Riemer et al. 2019) and La-MAML
  (Gupta et al. 2020) reuse: inputs are flattened 784-vectors of pixels / 255
  (torchvision's ``ToTensor``); task t of T is rotated by one angle drawn
  uniformly in [max_rot t / T, max_rot (t+1) / T) with PIL's nearest-neighbour
  ``rotate`` (no expansion, fill 0), or has its own pixel permutation (every
  task, the first included). La-MAML's loader then keeps ``samples_per_task``
  random training images per task (1000 for rotated and permuted MNIST, 200
  for many-permuted; the seed's code uses 200 for rotated MNIST) and tests on
  the whole rotated or permuted test set; here each task tests on
  ``test_per_task`` random test images (the seed's code uses 500), drawn
  independently per task like the training images.
- Split MNIST (Zenke et al. 2017): 5 experiences of 2 digits, in digit order
  unless shuffled.
- Dual MNIST, the seed's dual task: rotated MNIST where every studied image
  is also its own item class; category and item memory are both tested on the
  studied images themselves.

Only the sampled images are rotated or permuted (one gather per task), and
the finished stream is cached as uint8, keyed by the MNIST checksums, the
protocol parameters and the seed.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, ClassVar

import numpy as np
import torch

from hippo_bench.data.cache import cached_arrays
from hippo_bench.data.images import rotate_flat
from hippo_bench.data.mnist import MnistArrays, find_mnist, read_mnist, verify_mnist
from hippo_bench.errors import UserError
from hippo_bench.params import as_dict, param
from hippo_bench.tasks import register
from hippo_bench.tasks.base import (CLASS_INCREMENTAL, DOMAIN_INCREMENTAL, TASK_INCREMENTAL, Benchmark,
                                    BenchmarkInstance, tensor_stream_benchmark)
from hippo_bench.tasks.heads import HeadCodec, HeadScore, MultiHeadCrossEntropy
from hippo_bench.tasks.probes import TensorSetAccuracy

SIDE = 28
PIXELS = SIDE * SIDE
N_TRAIN, N_TEST = 60_000, 10_000
STREAM_VERSION = 1  # bump when a generator changes: cached streams are then rebuilt
GEM = "Lopez-Paz & Ranzato 2017 (GEM; facebookresearch/GradientEpisodicMemory data/)"
MER = "Riemer et al. 2019 (MER)"
LAMAML = "Gupta et al. 2020 (La-MAML; montrealrobotics/La-MAML)"

Arrays = dict[str, np.ndarray]


def stream_arrays(stream: str, seed: int, config, data_root, generate: Callable[[MnistArrays, np.random.Generator], Arrays]) -> Arrays:
    """The stream's uint8 arrays from the cache, or generated from MNIST and cached."""
    root = find_mnist(data_root)
    key = {"stream": stream, "version": STREAM_VERSION, "seed": int(seed), "params": as_dict(config),
           "sources": verify_mnist(root)}
    return cached_arrays("mnist-streams", key, lambda: generate(read_mnist(root), np.random.default_rng(seed)))


def pack(parts: dict[str, list[np.ndarray]]) -> Arrays:
    """Per-experience lists -> concatenated arrays plus ``<name>_counts`` (what the cache stores)."""
    out: Arrays = {}
    for name, chunks in parts.items():
        out[name] = np.concatenate(chunks) if chunks else np.zeros((0,), dtype=np.uint8)
        out[f"{name}_counts"] = np.array([len(c) for c in chunks], dtype=np.int64)
    return out


def per_experience(arrays: Arrays, name: str) -> list[np.ndarray]:
    """A concatenated array split back into its experiences (sizes from ``<name>_counts``)."""
    return np.split(arrays[name], np.cumsum(arrays[f"{name}_counts"])[:-1])


def unpack(arrays: Arrays, x: str, y: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Concatenated uint8 images and labels -> one (float pixels / 255, long labels) pair per experience."""
    return [(torch.from_numpy(xi.astype(np.float32) / 255.0), torch.from_numpy(yi.astype(np.int64)))
            for xi, yi in zip(per_experience(arrays, x), per_experience(arrays, y))]


def source_indices(arrays: Arrays) -> dict[str, list[np.ndarray]]:
    """Which MNIST images each experience drew (``BenchmarkInstance.extra``), for provenance and tests."""
    return {f"{split}_indices": per_experience(arrays, f"{split}_i") for split in ("train", "test")
            if len(arrays.get(f"{split}_i_counts", ()))}


def flat(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), PIXELS)


def draw(rng: np.random.Generator, pool: int, n: int, flag: str, what: str) -> np.ndarray:
    """``n`` distinct indices below ``pool``; a UserError naming the flag when there are too few."""
    if n > pool:
        raise UserError(f"{flag}: {n} exceeds the {pool} {what} available")
    return rng.choice(pool, n, replace=False)


def rotated_tasks(m: MnistArrays, rng: np.random.Generator, n_tasks: int, train_per_task: int,
                  test_per_task: int, max_rotation: float) -> Arrays:
    """GEM's rotated stream: one angle per equal-width bin of [0, max_rotation), increasing."""
    width = max_rotation / n_tasks
    angles = np.array([rng.uniform(width * t, width * (t + 1)) for t in range(n_tasks)])
    parts: dict[str, list[np.ndarray]] = {"train_x": [], "train_y": [], "train_i": [],
                                          "test_x": [], "test_y": [], "test_i": []}
    for angle in angles:
        tr = draw(rng, len(m.train_x), train_per_task, "--bench-samples-per-task", "MNIST training images")
        parts["train_x"].append(rotate_flat(flat(m.train_x[tr]), angle, SIDE, SIDE))
        parts["train_y"].append(m.train_y[tr])
        parts["train_i"].append(tr)
        if test_per_task:
            te = draw(rng, len(m.test_x), test_per_task, "--bench-test-per-task", "MNIST test images")
            parts["test_x"].append(rotate_flat(flat(m.test_x[te]), angle, SIDE, SIDE))
            parts["test_y"].append(m.test_y[te])
            parts["test_i"].append(te)
    return {**pack(parts), "angles": angles}


def permuted_tasks(m: MnistArrays, rng: np.random.Generator, n_tasks: int, train_per_task: int,
                   test_per_task: int) -> Arrays:
    """GEM's permuted stream: a fixed random pixel permutation per task, the first task too."""
    perms = np.stack([rng.permutation(PIXELS) for _ in range(n_tasks)])
    parts: dict[str, list[np.ndarray]] = {"train_x": [], "train_y": [], "train_i": [],
                                          "test_x": [], "test_y": [], "test_i": []}
    for perm in perms:
        tr = draw(rng, len(m.train_x), train_per_task, "--bench-samples-per-task", "MNIST training images")
        te = draw(rng, len(m.test_x), test_per_task, "--bench-test-per-task", "MNIST test images")
        for split, images, labels, idx in (("train", m.train_x, m.train_y, tr), ("test", m.test_x, m.test_y, te)):
            parts[f"{split}_x"].append(flat(images[idx])[:, perm])
            parts[f"{split}_y"].append(labels[idx])
            parts[f"{split}_i"].append(idx)
    return {**pack(parts), "permutations": perms}


def _instance(train, test, kind: str, protocol: str, task_labels=None, extra=None) -> BenchmarkInstance:
    return BenchmarkInstance(scenario=tensor_stream_benchmark(train, test, task_labels), n_outputs=10,
                             input_shape=(PIXELS,), kind=kind, protocol=protocol, default_batch_size=10,
                             default_model="mlp", extra=extra or {})


@dataclasses.dataclass
class TaskStreamConfig:
    """Protocol parameters of the rotated and permuted streams (La-MAML's defaults)."""

    n_tasks: int = param(20, "number of tasks", min=1, max=1000)
    samples_per_task: int = param(1000, "random training images per task (La-MAML/MER 1000; the seed's "
                                  "rotated-MNIST code 200)", min=1, max=N_TRAIN)
    test_per_task: int = param(1000, "random test images per task (the seed's code 500; GEM all 10000)",
                               min=1, max=N_TEST)


@register("rotated-mnist")
class RotatedMNIST(Benchmark):
    description = ("Rotated MNIST (GEM/MER/La-MAML): 20 tasks, one rotation each in [9t, 9t+9) degrees, "
                   "10-way shared head, 1000 train / 1000 test images per task")
    acc_meaning = ("10-way digit accuracy on each task's held-out MNIST test images (bench.test_per_task of them; "
                   "one shared head, domain-incremental)")
    references = (GEM, MER, LAMAML)
    kind = DOMAIN_INCREMENTAL
    needs_data = True

    @dataclasses.dataclass
    class Config(TaskStreamConfig):
        max_rotation: float = param(180.0, "angles span [0, max_rotation) degrees in equal bins", min=0.0, max=360.0)

    def build(self, seed, data_root=None) -> BenchmarkInstance:
        c = self.config
        a = stream_arrays(self.name, seed, c, data_root, lambda m, rng: rotated_tasks(
            m, rng, c.n_tasks, c.samples_per_task, c.test_per_task, c.max_rotation))
        angles = [float(v) for v in a["angles"]]
        return _instance(unpack(a, "train_x", "train_y"), unpack(a, "test_x", "test_y"), DOMAIN_INCREMENTAL,
                         f"{c.n_tasks} rotations in [0, {c.max_rotation:g}) degrees, {c.samples_per_task} train / "
                         f"{c.test_per_task} test images per task, 10-way shared head",
                         extra={"angles": angles, **source_indices(a)})


@register("permuted-mnist")
class PermutedMNIST(Benchmark):
    description = ("Permuted MNIST (GEM/MER/La-MAML): 20 tasks, a fixed pixel permutation each, "
                   "1000 train / 1000 test images per task")
    acc_meaning = ("10-way digit accuracy on each task's held-out MNIST test images (bench.test_per_task of them; "
                   "one shared head, domain-incremental)")
    references = (GEM, MER, LAMAML)
    kind = DOMAIN_INCREMENTAL
    needs_data = True

    @dataclasses.dataclass
    class Config(TaskStreamConfig):
        pass

    def build(self, seed, data_root=None) -> BenchmarkInstance:
        c = self.config
        a = stream_arrays(self.name, seed, c, data_root, lambda m, rng: permuted_tasks(
            m, rng, c.n_tasks, c.samples_per_task, c.test_per_task))
        return _instance(unpack(a, "train_x", "train_y"), unpack(a, "test_x", "test_y"), DOMAIN_INCREMENTAL,
                         f"{c.n_tasks} pixel permutations, {c.samples_per_task} train / {c.test_per_task} "
                         "test images per task, 10-way shared head",
                         extra={"permutations": a["permutations"], **source_indices(a)})


@register("many-permuted-mnist")
class ManyPermutedMNIST(PermutedMNIST):
    description = ("Many permutations (MER/La-MAML): 100 permuted-MNIST tasks of 200 training images, "
                   "200 test images per task")
    acc_meaning = ("10-way digit accuracy on each task's held-out MNIST test images (bench.test_per_task of them; "
                   "one shared head, domain-incremental)")
    references = (MER, LAMAML)

    @dataclasses.dataclass
    class Config(TaskStreamConfig):
        n_tasks: int = param(100, "number of tasks", min=1, max=1000)
        samples_per_task: int = param(200, "random training images per task", min=1, max=N_TRAIN)
        test_per_task: int = param(200, "random test images per task (kept small: 100 tasks are "
                                   "evaluated after every task)", min=1, max=N_TEST)


@register("split-mnist")
class SplitMNIST(Benchmark):
    description = "Split MNIST: 5 experiences of 2 digits, class-incremental, one 10-way head"
    acc_meaning = ("class-incremental accuracy on the MNIST test images of each experience's two digits, one 10-way "
                   "head, no task label at test")
    references = ("Zenke et al. 2017", "van de Ven & Tolias 2019 (three scenarios)")
    kind = CLASS_INCREMENTAL
    needs_data = True
    task_incremental: ClassVar[bool] = False

    @dataclasses.dataclass
    class Config:
        train_per_class: int | None = param(None, "training images per digit (default: all)", min=1, max=N_TRAIN)
        test_per_class: int | None = param(None, "test images per digit (default: all)", min=1, max=N_TEST)
        shuffle_classes: bool = param(False, "draw the digit order from the benchmark seed (default: 0/1, 2/3, ...)")

    def build(self, seed, data_root=None) -> BenchmarkInstance:
        c = self.config
        a = stream_arrays("split-mnist", seed, c, data_root, functools.partial(self._generate, c))
        kind = TASK_INCREMENTAL if self.task_incremental else CLASS_INCREMENTAL
        order = [int(v) for v in a["order"]]
        pairs = [order[i:i + 2] for i in range(0, 10, 2)]
        return _instance(unpack(a, "train_x", "train_y"), unpack(a, "test_x", "test_y"), kind,
                         f"digits {pairs}, one experience each"
                         + (", task label = experience" if self.task_incremental else ", no task labels"),
                         task_labels=list(range(5)) if self.task_incremental else None, extra={"order": order})

    @staticmethod
    def _generate(c, m: MnistArrays, rng: np.random.Generator) -> Arrays:
        order = rng.permutation(10) if c.shuffle_classes else np.arange(10)
        parts: dict[str, list[np.ndarray]] = {"train_x": [], "train_y": [], "test_x": [], "test_y": []}
        for e in range(5):
            for split, images, labels, n, flag in (("train", m.train_x, m.train_y, c.train_per_class, "train-per-class"),
                                                   ("test", m.test_x, m.test_y, c.test_per_class, "test-per-class")):
                idx = []
                for digit in order[2 * e:2 * e + 2]:
                    pool = np.flatnonzero(labels == digit)
                    if n is not None and n > len(pool):
                        raise UserError(f"--bench-{flag}: {n} exceeds the {len(pool)} {split} images of digit {digit}")
                    idx.append(pool if n is None else rng.choice(pool, n, replace=False))
                idx = np.concatenate(idx)
                parts[f"{split}_x"].append(flat(images[idx]))
                parts[f"{split}_y"].append(labels[idx])
        return {**pack(parts), "order": order}


@register("split-mnist-task")
class SplitMNISTTask(SplitMNIST):
    description = "Split MNIST, task-incremental: 5 experiences of 2 digits, task label = experience id"
    acc_meaning = ("task-incremental split MNIST: each experience's two digits carry a task label, but the models "
                   "score one shared 10-way head (none reads the label yet), so ACC here is class-incremental "
                   "accuracy on the MNIST test images of each experience's two digits")
    kind = TASK_INCREMENTAL
    task_incremental = True


@register("dual-mnist")
class DualMNIST(Benchmark):
    description = ("Dual MNIST (the seed's dual task): rotated MNIST, 20 x 100 studied images, each with "
                   "its digit and its own item label; memory tested on the studied images")
    acc_meaning = ("digit (category head) accuracy on the studied images themselves, a memory test, not "
                   "generalisation to new images; the item head's accuracy is the separate item_accuracy")
    references = ("hippo-bench seed poster and code (dual task)", GEM)
    kind = DOMAIN_INCREMENTAL
    needs_data = True

    @dataclasses.dataclass
    class Config:
        n_tasks: int = param(20, "number of tasks (rotations)", min=1, max=1000)
        samples_per_task: int = param(100, "studied images per task, each its own item class", min=1, max=N_TRAIN)
        max_rotation: float = param(180.0, "angles span [0, max_rotation) degrees in equal bins", min=0.0, max=360.0)

    def build(self, seed, data_root=None) -> BenchmarkInstance:
        c = self.config
        a = stream_arrays(self.name, seed, c, data_root, lambda m, rng: rotated_tasks(
            m, rng, c.n_tasks, c.samples_per_task, 0, c.max_rotation))
        n_items = c.n_tasks * c.samples_per_task
        heads = {"category": 10, "item": n_items}
        codec = HeadCodec(heads)
        studied = []
        for t, (x, digit) in enumerate(unpack(a, "train_x", "train_y")):
            item = torch.arange(t * c.samples_per_task, (t + 1) * c.samples_per_task)
            studied.append((x, codec.encode(category=digit, item=item)))
        return BenchmarkInstance(
            scenario=tensor_stream_benchmark(studied, studied), n_outputs=10 + n_items, input_shape=(PIXELS,),
            kind=DOMAIN_INCREMENTAL,
            protocol=(f"{c.n_tasks} rotations in [0, {c.max_rotation:g}) degrees, {c.samples_per_task} studied "
                      f"images per task; heads category (10) + item ({n_items}); tested on the studied images"),
            criterion_factory=functools.partial(MultiHeadCrossEntropy, heads),
            score=HeadScore(heads, "category"),
            probes=[TensorSetAccuracy("item_accuracy", studied, HeadScore(heads, "item"))],
            heads=heads, default_batch_size=10, default_model="mlp",
            extra={"angles": [float(v) for v in a["angles"]], **source_indices(a)})
