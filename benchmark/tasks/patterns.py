"""split-patterns: a small generated class-incremental stream that needs no data.

Each class is a prototype made of a few active "feature" blocks; samples are
the prototype with random block dropout, pixel flips and Gaussian noise, so
classes overlap and forgetting is real. It is the suite's offline smoke
benchmark and the tests' default.
"""

from __future__ import annotations

import dataclasses

import torch

from hippo_bench.params import param
from hippo_bench.tasks import register
from hippo_bench.tasks.base import CLASS_INCREMENTAL, Benchmark, BenchmarkInstance, tensor_stream_benchmark


@register("split-patterns")
class SplitPatterns(Benchmark):
    description = "Generated class-incremental stream of noisy structured patterns (no data needed)"
    acc_meaning = ("class-incremental accuracy on each experience's held-out generated patterns, one head over all "
                   "classes")
    references = ("hippo-bench embedded smoke benchmark",)
    kind = CLASS_INCREMENTAL

    @dataclasses.dataclass
    class Config:
        n_classes: int = param(10, "number of classes", min=2, max=1000)
        classes_per_exp: int = param(2, "classes per experience", min=1)
        dim: int = param(64, "input dimension", min=4, max=100000)
        train_per_class: int = param(100, "training samples per class", min=1)
        test_per_class: int = param(50, "test samples per class", min=1)
        noise: float = param(0.3, "Gaussian noise std on every input unit", min=0.0)

        def __post_init__(self):
            if self.n_classes % self.classes_per_exp:
                raise ValueError(
                    f"n_classes ({self.n_classes}) must be a multiple of classes_per_exp ({self.classes_per_exp})")

    def build(self, seed, data_root=None) -> BenchmarkInstance:
        c = self.config
        g = torch.Generator().manual_seed(10_007 + seed)
        n_blocks = 8
        block = max(1, c.dim // n_blocks)
        protos = torch.zeros(c.n_classes, c.dim)
        for k in range(c.n_classes):
            on = torch.randperm(n_blocks, generator=g)[:3]
            for b in on.tolist():
                protos[k, b * block:(b + 1) * block] = torch.rand(block, generator=g) * 0.5 + 0.5
            protos[k] += 0.5 * torch.rand(c.dim, generator=g) * (torch.rand(c.dim, generator=g) < 0.1)

        def sample(k: int, n: int) -> torch.Tensor:
            x = protos[k].expand(n, c.dim).clone()
            x = x * (torch.rand(n, c.dim, generator=g) > 0.1)
            return x + c.noise * torch.randn(n, c.dim, generator=g)

        order = torch.randperm(c.n_classes, generator=g).tolist()
        train, test = [], []
        for e in range(c.n_classes // c.classes_per_exp):
            classes = order[e * c.classes_per_exp:(e + 1) * c.classes_per_exp]
            for split, n, out in ((0, c.train_per_class, train), (1, c.test_per_class, test)):
                xs = torch.cat([sample(k, n) for k in classes])
                ys = torch.tensor([k for k in classes for _ in range(n)])
                out.append((xs, ys))
        return BenchmarkInstance(
            scenario=tensor_stream_benchmark(train, test),
            n_outputs=c.n_classes,
            input_shape=(c.dim,),
            kind=CLASS_INCREMENTAL,
            protocol=(f"{c.n_classes} classes in {c.n_classes // c.classes_per_exp} experiences of "
                      f"{c.classes_per_exp}; {c.train_per_class}/{c.test_per_class} train/test per class; dim {c.dim}"),
            default_batch_size=10,
            default_model="mlp",
        )
