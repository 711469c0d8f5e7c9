"""OML's meta-training objective and the cache of meta-trained representations.

The objective (Javed & White 2019, Algorithm 1; khurramjaved96/mrcl
``oml_omniglot.py``, ``model/meta_learner.py``, the 2020 version), one step:

1. draw ``traj_classes`` classes from the second half of the meta-training
   classes; re-initialise their rows of the head (Kaiming normal: "reset"
   keeps the head from memorising them); shuffle each class's drawings and
   take the first ``traj_steps`` as the trajectory, the next
   ``held_per_class`` for the meta-batch;
2. the meta-batch is those held drawings plus ``rand_batch`` drawings from
   the first half of the classes (the code's "complete iterator");
3. inner loop: one SGD step (``inner_lr``) on the head per trajectory image,
   in order, with the gradient kept in the graph (second order);
4. meta-loss: cross-entropy of the final fast head on the meta-batch; Adam
   (``meta_lr``) on the representation and the head's initial weights.

Only the head adapts in the inner loop, so the representation of every
image of a step is computed once and the inner loop runs on features.

The meta-trained representation is cached (:func:`hippo_bench.data.cache.cached_arrays`,
under ``$HIPPO_BENCH_CACHE/oml-representations/``) keyed by the network's
architecture, a fingerprint of the meta-training data and every setting
above, so meta-test runs over many N and seeds train it once; any change of
these is a different entry.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hippo_bench.data.cache import cached_arrays

PRETRAIN_VERSION = 1  # bump when the objective changes: cached representations are then retrained
CACHE_KIND = "oml-representations"
STATS = ("__steps", "__seconds", "__final_meta_loss")


@dataclasses.dataclass(frozen=True)
class MetaTrainSettings:
    """Everything that defines one meta-training run (and so its cache entry)."""

    steps: int
    meta_lr: float
    inner_lr: float
    traj_classes: int
    traj_steps: int
    held_per_class: int
    rand_batch: int
    seed: int


def data_fingerprint(x: Tensor, y: Tensor, n_classes: int) -> str:
    """sha256 over the meta-training images, labels and class count."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x.detach().cpu().numpy()).tobytes())
    h.update(np.ascontiguousarray(y.detach().cpu().numpy().astype(np.int64)).tobytes())
    h.update(str(n_classes).encode())
    return h.hexdigest()


def cache_key(representation: nn.Module, n_features: int, x: Tensor, y: Tensor, n_classes: int,
              settings: MetaTrainSettings) -> dict:
    return {"version": PRETRAIN_VERSION, "architecture": repr(representation), "n_features": n_features,
            "data": data_fingerprint(x, y, n_classes), "settings": dataclasses.asdict(settings)}


def meta_trained_representation(representation: nn.Module, n_features: int, x: Tensor, y: Tensor,
                                n_classes: int, settings: MetaTrainSettings) -> dict[str, float]:
    """Load the cached meta-trained weights into ``representation``, training them first on a miss.

    Returns the meta-training statistics (steps, seconds, final meta-loss)
    stored with the entry.
    """
    key = cache_key(representation, n_features, x, y, n_classes, settings)

    def compute() -> dict[str, np.ndarray]:
        t0 = time.perf_counter()
        final = meta_train(representation, n_features, x, y, n_classes, settings)
        state = {name: t.detach().cpu().numpy() for name, t in representation.state_dict().items()}
        return {**state, "__steps": np.array(settings.steps), "__seconds": np.array(time.perf_counter() - t0),
                "__final_meta_loss": np.array(final)}

    arrays = cached_arrays(CACHE_KIND, key, compute)
    state = {name: torch.from_numpy(np.array(a)) for name, a in arrays.items() if name not in STATS}
    representation.load_state_dict(state)
    return {name.strip("_"): float(arrays[name]) for name in STATS}


def meta_train(representation: nn.Module, n_features: int, x: Tensor, y: Tensor, n_classes: int,
               s: MetaTrainSettings) -> float:
    """Run OML's objective on ``representation`` in place; returns the mean meta-loss of the last 100 steps.

    All randomness comes from ``s.seed`` (the global torch RNG is restored
    afterwards), so the result does not depend on the run's seed.
    """
    y = y.long()
    by_class = [torch.nonzero(y == c).flatten() for c in range(n_classes)]
    half = n_classes // 2
    traj_pool = np.arange(half, n_classes)
    rand_pool = torch.cat(by_class[:half]).numpy()
    need = s.traj_steps + s.held_per_class
    if len(traj_pool) < s.traj_classes or min(len(by_class[c]) for c in traj_pool) < need:
        raise ValueError("too few meta-training classes or drawings for the trajectory settings")
    rng = np.random.default_rng(s.seed)
    recent: list[float] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(s.seed)
        head = nn.Linear(n_features, n_classes)
        for module in [*representation.modules(), head]:
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight)
                nn.init.zeros_(module.bias)
        opt = torch.optim.Adam([*representation.parameters(), *head.parameters()], lr=s.meta_lr)
        for _ in range(s.steps):
            classes = rng.choice(traj_pool, s.traj_classes, replace=False)
            traj, held = [], []
            with torch.no_grad():
                for c in classes:
                    nn.init.kaiming_normal_(head.weight[c:c + 1])
                    order = by_class[c][torch.from_numpy(rng.permutation(len(by_class[c])))]
                    traj.append(order[:s.traj_steps])
                    held.append(order[s.traj_steps:need])
            rand = torch.from_numpy(rng.choice(rand_pool, s.rand_batch, replace=False))
            idx = torch.cat([*traj, rand, *held])
            loss = oml_meta_loss(representation(x[idx]), y[idx], head.weight, head.bias,
                                 n_traj=len(classes) * s.traj_steps, inner_lr=s.inner_lr)
            opt.zero_grad()
            loss.backward()
            opt.step()
            recent = (recent + [loss.item()])[-100:]
    return float(np.mean(recent)) if recent else float("nan")


def oml_meta_loss(features: Tensor, labels: Tensor, weight: Tensor, bias: Tensor, n_traj: int,
                  inner_lr: float) -> Tensor:
    """Loss on the meta-batch (rows ``n_traj:``) after online SGD on the head over the trajectory (rows ``:n_traj``).

    Each inner step is ``W -= inner_lr * dL/dW`` for one trajectory row, with
    the gradient kept in the graph, so the meta-gradient reaches the features
    through every inner step.
    """
    w, b = weight, bias
    for k in range(n_traj):
        loss = F.cross_entropy(F.linear(features[k:k + 1], w, b), labels[k:k + 1])
        gw, gb = torch.autograd.grad(loss, (w, b), create_graph=True)
        w, b = w - inner_lr * gw, b - inner_lr * gb
    return F.cross_entropy(F.linear(features[n_traj:], w, b), labels[n_traj:])
