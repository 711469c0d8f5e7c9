"""Omniglot streams: OML's meta-test protocol and class-incremental split over alphabets.

``omniglot-oml`` follows OML (Javed & White 2019, khurramjaved96/mrcl:
``oml_omniglot.py``, ``evaluate_omniglot.py``, ``datasets/omniglot.py``):

- meta-training split: the background set (964 characters, all 20 drawings;
  OML's code keeps the first 963), exposed as ``BenchmarkInstance.meta_train``
  with labels = official character id - 1;
- meta-test stream: N evaluation characters drawn at random (OML draws from
  the first 650 of the 659; here from all 659, by the benchmark seed), the
  first 15 drawings of each studied, the last 5 held out; characters arrive
  one after another, one image per step (batch size 1), class-incremental,
  labels 0..N-1 in arrival order;
- seen and held-out accuracy: the accuracy matrix is on the held-out
  drawings; the probe ``train_accuracy`` scores the studied drawings (OML's
  "seen" accuracy, which its code reports when evaluating on the training set).

Deviations, for a 2-core CPU: images are resized to ``image_size`` (28 by
default; OML resizes to 84 with torchvision's ``Resize``, available here as
``--bench-image-size 84``) with antialiased bilinear interpolation, and the
characters are grouped ``classes_per_exp`` to an experience (10 by default)
so the whole test stream is not evaluated after every character. Within an
experience Avalanche shuffles the images unless the runner trains with
``shuffle=False`` (OML streams them sorted by character); use
``--bench-classes-per-exp 1`` for OML's exact order. Pixels are in [0, 1]
with paper = 1 and ink = 0, as torchvision's ``ToTensor`` gives OML; ``--bench-ink 1``
inverts them (white strokes on black, as MNIST): a network learning from
scratch without a convolutional front end stays near chance on paper = 1
(its first layer sees a large constant input) and learns measurably on ink = 1.

``split-omniglot`` streams the 50 alphabets (background then evaluation, by
character id, unless shuffled) as class-incremental experiences: each
character a class, 15 drawings studied and 5 tested. Avalanche's
``SplitOmniglot`` is not used (it is broken in Avalanche 0.6).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np
import torch

from hippo_bench.data.omniglot import DRAWERS, SETS, load_omniglot
from hippo_bench.errors import UserError
from hippo_bench.params import param
from hippo_bench.tasks import register
from hippo_bench.tasks.base import (CLASS_INCREMENTAL, Benchmark, BenchmarkInstance, argmax_correct,
                                    tensor_stream_benchmark)
from hippo_bench.tasks.probes import TensorSetAccuracy

OML = "Javed & White 2019 (OML; khurramjaved96/mrcl)"
LAKE = "Lake et al. 2015 (Omniglot; brendenlake/omniglot)"


@dataclasses.dataclass
class MetaTrainSplit:
    """Images for meta-training before the stream: ``x (n, 1, s, s)`` in [0, 1], ``y`` class ids 0..n_classes-1."""

    x: torch.Tensor
    y: torch.Tensor
    n_classes: int


def pixels(images: np.ndarray, ink: int = 0) -> torch.Tensor:
    """uint8 images ``(..., s, s)`` (paper 255, ink 0) -> float tensor ``(n, 1, s, s)`` in [0, 1], strokes at ``ink``."""
    s = images.shape[-1]
    x = torch.from_numpy(images.reshape(-1, 1, s, s).astype(np.float32) / 255.0)
    return 1.0 - x if ink else x


def character_split(images: np.ndarray, labels: np.ndarray, train_per_class: int, ink: int = 0):
    """Drawings [0, k) of each character for training, the rest for testing, labels repeated."""
    k = train_per_class
    y_train = torch.from_numpy(np.repeat(labels, k).astype(np.int64))
    y_test = torch.from_numpy(np.repeat(labels, DRAWERS - k).astype(np.int64))
    return (pixels(images[:, :k], ink), y_train), (pixels(images[:, k:], ink), y_test)


@dataclasses.dataclass
class DrawingsConfig:
    """Protocol parameters both Omniglot streams share."""

    train_per_class: int = param(15, "drawings studied per character; the rest of the 20 are tested (OML: 15)",
                                 min=1, max=DRAWERS - 1)
    image_size: int = param(28, "side of the resized images (OML: 84)", min=8, max=105)
    ink: int = param(0, "pixel value of the strokes: 0 = black on white paper, as torchvision gives OML; "
                        "1 = white on black, as MNIST", min=0, max=1)


@register("omniglot-oml")
class OmniglotOML(Benchmark):
    description = ("Omniglot, OML protocol: meta-train on the 964 background characters, then stream N "
                   "evaluation characters one image at a time (15 studied / 5 held out each)")
    acc_meaning = ("class-incremental accuracy over all characters streamed so far, on the held-out drawings of each "
                   "character (the last 5 of its 20; OML's meta-test accuracy), while the studied drawings give the "
                   "separate seen_acc")
    references = (OML, LAKE)
    kind = CLASS_INCREMENTAL
    needs_data = True

    @dataclasses.dataclass
    class Config(DrawingsConfig):
        n_classes: int = param(200, "evaluation characters streamed (OML reports 10, 50, 100, 200, 600)",
                               min=1, max=659)
        classes_per_exp: int = param(10, "characters per experience (1 = OML's order exactly)", min=1, max=659)

    def build(self, seed, data_root=None) -> BenchmarkInstance:
        c = self.config
        sets = load_omniglot(data_root, c.image_size)
        ev, bg = sets["evaluation"], sets["background"]
        if c.n_classes > len(ev.char_ids):
            raise UserError(f"--bench-n-classes: {c.n_classes} exceeds the {len(ev.char_ids)} evaluation characters")
        chosen = np.random.default_rng(seed).choice(len(ev.char_ids), c.n_classes, replace=False)
        train, test = [], []
        for start in range(0, c.n_classes, c.classes_per_exp):
            rows = chosen[start:start + c.classes_per_exp]
            tr, te = character_split(ev.images[rows], np.arange(start, start + len(rows)), c.train_per_class, c.ink)
            train.append(tr)
            test.append(te)
        meta = MetaTrainSplit(pixels(bg.images, c.ink), torch.from_numpy(np.repeat(bg.char_ids - 1, DRAWERS)),
                              n_classes=len(bg.char_ids))
        s = c.image_size
        return BenchmarkInstance(
            scenario=tensor_stream_benchmark(train, test), n_outputs=c.n_classes, input_shape=(1, s, s),
            kind=CLASS_INCREMENTAL,
            protocol=(f"{c.n_classes} evaluation characters in {len(train)} experiences, {c.train_per_class} "
                      f"studied / {DRAWERS - c.train_per_class} held out each, {s}x{s}, ink = {c.ink}; meta-train: "
                      f"{len(bg.char_ids)} background characters"),
            default_batch_size=1, default_model="mlp", meta_train=meta,
            probes=[TensorSetAccuracy("train_accuracy", train, argmax_correct)],
            extra={"character_ids": ev.char_ids[chosen].tolist()})


@register("split-omniglot")
class SplitOmniglot(Benchmark):
    description = "Split Omniglot: the 50 alphabets as class-incremental experiences (15 train / 5 test per character)"
    acc_meaning = ("class-incremental accuracy on the held-out drawings of each character of each alphabet, one head "
                   "over all characters")
    references = (LAKE, "Schwarz et al. 2018 (Progress & Compress: alphabets as tasks)")
    kind = CLASS_INCREMENTAL
    needs_data = True

    @dataclasses.dataclass
    class Config(DrawingsConfig):
        n_alphabets: int = param(50, "alphabets streamed, one per experience", min=1, max=50)
        alphabet_order: Literal["official", "random"] = param(
            "official", "official (background then evaluation, by character id) or drawn from the seed")

    def build(self, seed, data_root=None) -> BenchmarkInstance:
        c = self.config
        sets = load_omniglot(data_root, c.image_size)
        alphabets = []  # (set name, alphabet, first row in that set)
        for s in SETS:
            row = 0
            for a in sets[s].alphabets:
                alphabets.append((s, a, row))
                row += a.n_characters
        if c.n_alphabets > len(alphabets):
            raise UserError(f"--bench-n-alphabets: {c.n_alphabets} exceeds the {len(alphabets)} alphabets")
        order = np.arange(len(alphabets))
        if c.alphabet_order == "random":
            order = np.random.default_rng(seed).permutation(len(alphabets))
        order = order[:c.n_alphabets]
        train, test, names, next_label = [], [], [], 0
        for i in order:
            s, a, row = alphabets[i]
            labels = np.arange(next_label, next_label + a.n_characters)
            tr, te = character_split(sets[s].images[row:row + a.n_characters], labels, c.train_per_class, c.ink)
            train.append(tr)
            test.append(te)
            names.append(a.name)
            next_label += a.n_characters
        size = c.image_size
        return BenchmarkInstance(
            scenario=tensor_stream_benchmark(train, test), n_outputs=next_label, input_shape=(1, size, size),
            kind=CLASS_INCREMENTAL,
            protocol=(f"{len(order)} alphabets ({c.alphabet_order} order), {next_label} characters, "
                      f"{c.train_per_class} train / {DRAWERS - c.train_per_class} test each, {size}x{size}"),
            default_batch_size=10, default_model="mlp", extra={"alphabets": names})
