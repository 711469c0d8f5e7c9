"""The online meta-learning loop of the La-MAML family, written once.

meta-hippo, La-MAML and sparse-MAML share this loop (DESIGN.md section 4;
Gupta et al. 2020, Algorithm 1; the seed's ``model/lamaml.py``):

for every incoming batch of B samples,
1. draw a meta-batch: the batch plus up to ``replay_batch`` samples from a
   reservoir buffer (drawn before the batch is pushed);
2. inner loop, one sample at a time, first order:
   ``fast_{j+1} = fast_j - step * grad L(fast_j; x_j)`` with the inner
   gradient treated as a constant;
3. meta-loss = mean over j of L(fast_{j+1}; meta-batch);
4. clip the gradient norms of each group (weights, step sizes,
   inhibition) separately, SGD on the step-size and inhibition
   meta-parameters, then update the weights with the *new* step sizes
   (asynchronous update: ``W -= step_new * dmeta/dW``) or with a fixed
   learning rate (``sync``).

How a step size is parametrised is a :class:`StepSizes` object (relu(alpha)
per projection or per parameter; a binary mask for sparse-MAML), so each
strategy only chooses its parts.

Two equivalent computations of steps 2-3:
- ``LowRankPath`` for :class:`~hippo_bench.models.hippo_net.HippoNet` with
  one step size per projection: a single-sample gradient of a bias-free
  linear map is rank one (delta h^T), so the inner loop only records each
  step's (h, delta) per projection (updating its working fast weights with
  in-place rank-one updates), and every fast weight is the slow weight minus
  a sum of rank-one terms: all B meta-losses are then one batched pass with
  a hand-written backward and no weight copies (the "closed-form structure"
  of the first-order loop);
- ``MaterialisedPath`` for any model via ``torch.func.functional_call``:
  fast weights are built explicitly (per-parameter step sizes, biases,
  arbitrary modules).
"""

from __future__ import annotations

import functools
import math
import random
from typing import Callable, Literal

import torch
import torch.nn.functional as F
from avalanche.training.templates import SupervisedMetaLearningTemplate
from torch import Tensor, nn
from torch.func import functional_call

from hippo_bench.errors import MetaLossError
from hippo_bench.tensor_batches import TensorBatches, collate_all


# ------------------------------------------------------------------ replay
class ReservoirBuffer:
    """Reservoir sampling over every sample seen (Vitter's algorithm R), as in La-MAML/MER."""

    def __init__(self, capacity: int, seed: int = 0):
        self.capacity = capacity
        self.rng = random.Random(seed)
        self.seen = 0
        self.x: Tensor | None = None
        self.y: Tensor | None = None
        self.t: Tensor | None = None
        self.size = 0

    def push(self, x: Tensor, y: Tensor, t: Tensor) -> None:
        """Offer a batch of samples, one at a time, to the reservoir."""
        if self.capacity == 0:
            return
        if self.x is None:
            self.x = x.new_empty((self.capacity, *x.shape[1:]))
            self.y = y.new_empty((self.capacity, *y.shape[1:]))
            self.t = t.new_empty((self.capacity,))
        slots: dict[int, int] = {}  # buffer slot -> sample index (a later sample wins a shared slot)
        for i in range(x.shape[0]):
            if self.size < self.capacity:
                slots[self.size] = i
                self.size += 1
            else:
                slot = self.rng.randint(0, self.seen)  # inclusive: keeps with prob capacity/(seen+1)
                if slot < self.capacity:
                    slots[slot] = i
            self.seen += 1
        if slots:
            where = torch.tensor(list(slots.keys()))
            which = torch.tensor(list(slots.values()))
            self.x[where], self.y[where], self.t[where] = x[which], y[which], t[which]

    def sample(self, n: int) -> tuple[Tensor, Tensor, Tensor] | None:
        if self.size == 0 or n <= 0:
            return None
        idx = torch.tensor(self.rng.sample(range(self.size), min(n, self.size)))
        return self.x[idx], self.y[idx], self.t[idx]


# -------------------------------------------------------------- step sizes
class StepSizes(nn.Module):
    """Inner-loop step size per fast parameter; ``step(name)`` broadcasts to it."""

    learned: bool = False

    def step(self, name: str) -> Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def scalar(self) -> bool:
        """True when every step is one number per parameter tensor (enables the low-rank path)."""
        return False

    def backward(self, grads: dict[str, Tensor]) -> None:
        """Accumulate d(meta-loss)/d(step) of each named step into the step parameters' ``.grad``."""
        names = [n for n in grads]
        with torch.enable_grad():
            steps = [self.step(n) for n in names]
        used = [(s, grads[n]) for s, n in zip(steps, names) if s.requires_grad]
        if used:
            torch.autograd.backward([s for s, _ in used], [g for _, g in used])

    def values(self) -> dict[str, float]:
        """Mean effective step per parameter tensor (for recording)."""
        with torch.no_grad():
            return {name: float(self.step(name).mean()) for name in self.names}

    def raw_values(self) -> dict[str, float]:
        """Mean raw parameter behind each step (before any relu), where the parametrisation has one."""
        return {}


class ReluAlpha(StepSizes):
    """relu(alpha): one learned scalar per parameter tensor (per projection) or per entry (La-MAML)."""

    def __init__(self, params: dict[str, Tensor], init: float, per_parameter: bool, learned: bool,
                 use_relu: bool = True):
        super().__init__()
        self.names = list(params)
        self.per_parameter = per_parameter
        self.learned = learned
        self.use_relu = use_relu
        self.alpha = nn.ParameterDict({
            _key(n): nn.Parameter(torch.full(p.shape if per_parameter else (), float(init)), requires_grad=learned)
            for n, p in params.items()})

    @property
    def scalar(self) -> bool:
        return not self.per_parameter

    def step(self, name: str) -> Tensor:
        a = self.alpha[_key(name)]
        return F.relu(a) if self.use_relu else a

    def raw_values(self) -> dict[str, float]:
        """Mean alpha per parameter tensor: below zero, relu(alpha) = 0 and the projection no longer learns."""
        with torch.no_grad():
            return {name: float(self.alpha[_key(name)].mean()) for name in self.names}

    def backward(self, grads: dict[str, Tensor]) -> None:
        """relu'(alpha) in closed form: the hot path of the low-rank loop skips autograd here."""
        with torch.no_grad():
            for name, g in grads.items():
                a = self.alpha[_key(name)]
                if not a.requires_grad:
                    continue
                d = g * (a > 0) if self.use_relu else g
                a.grad = d.to(a.dtype) if a.grad is None else a.grad + d


def _key(name: str) -> str:
    return name.replace(".", "__")


# ----------------------------------------------------------- fast weights
class MaterialisedPath:
    """Fast weights built explicitly; works for any model through functional_call."""

    def __init__(self, model: nn.Module, criterion: Callable, steps: StepSizes, extra: Callable[[], dict]):
        self.model, self.criterion, self.steps, self.extra = model, criterion, steps, extra
        self.names = steps.names
        self.grads: list[dict[str, Tensor]] = []

    def reset(self) -> None:
        self.grads = []

    def _fast(self, upto: int, graph: bool) -> dict[str, Tensor]:
        params = dict(self.model.named_parameters())
        out = {}
        for n in self.names:
            g = sum(gr[n] for gr in self.grads[:upto]) if upto else None
            if g is None:
                out[n] = params[n] if graph else params[n].detach()
            else:
                step = self.steps.step(n)
                out[n] = params[n] - step * g if graph else (params[n] - step * g).detach()
        return out

    def inner_step(self, x: Tensor, y: Tensor, t: Tensor) -> Tensor:
        with torch.no_grad():
            fast = self._fast(len(self.grads), graph=False)
        leaves = {n: w.requires_grad_() for n, w in fast.items()}
        extra = {k: v.detach() for k, v in self.extra().items()}
        loss = self.criterion(_call(self.model, {**leaves, **extra}, x, t), y)
        g = torch.autograd.grad(loss, list(leaves.values()), allow_unused=True)
        self.grads.append({n: (gi if gi is not None else torch.zeros_like(leaves[n])) for n, gi in zip(leaves, g)})
        return loss.detach()

    def inner_loop(self, x: Tensor, y: Tensor, t: Tensor) -> None:
        for i in range(x.shape[0]):
            self.inner_step(x[i:i + 1], y[i:i + 1], t[i:i + 1])

    def meta_loss(self, x: Tensor, y: Tensor, t: Tensor) -> Tensor:
        extra = self.extra()
        total = 0.0
        for i in range(1, len(self.grads) + 1):
            total = total + self.criterion(_call(self.model, {**self._fast(i, graph=True), **extra}, x, t), y)
        return total / len(self.grads)

    def meta_backward(self, x: Tensor, y: Tensor, t: Tensor) -> Tensor:
        loss = self.meta_loss(x, y, t)
        if torch.isfinite(loss):
            loss.backward()
        return loss.detach()

    def state_activity(self, x: Tensor) -> dict[str, float]:
        """Share of active units per hidden layer on ``x``, with the fast weights after each inner step, averaged."""
        if not hasattr(self.model, "hidden_names"):
            return {}
        prefix = "weights."
        totals: dict[str, float] = {}
        with torch.no_grad():
            for i in range(1, len(self.grads) + 1):
                fast = {n[len(prefix):]: w for n, w in self._fast(i, graph=False).items() if n.startswith(prefix)}
                acts = self.model.run(x, weights={**dict(self.model.weights.items()), **fast})[1]
                for name in self.model.hidden_names:
                    totals[name] = totals.get(name, 0.0) + float((acts[name] > 0).float().mean())
        return {name: v / max(len(self.grads), 1) for name, v in totals.items()}


def _call(model: nn.Module, tensors: dict[str, Tensor], x: Tensor, t: Tensor) -> Tensor:
    from avalanche.models import MultiTaskModule

    args = (x, t) if isinstance(model, MultiTaskModule) else (x,)
    return functional_call(model, tensors, args, strict=False)


class LowRankPath:
    """All meta-losses in one batched pass from rank-one inner gradients (HippoNet only)."""

    def __init__(self, model, criterion: Callable, steps: StepSizes, extra: Callable[[], dict]):
        from hippo_bench.models.hippo_net import HippoNet

        if not isinstance(model, HippoNet) or not steps.scalar:
            raise TypeError("the low-rank path needs a HippoNet and one step size per projection")
        self.model, self.criterion, self.steps, self.extra = model, criterion, steps, extra
        self.keys = [p.key for p in model.spec.projections]
        self.dst = {p.key: p.dst for p in model.spec.projections}
        self.param_name = {p.key: f"weights.{p.key}" for p in model.spec.projections}
        self.H: dict[str, Tensor] = {}  # (rows, in) inputs of the inner steps so far, per projection
        self.D: dict[str, Tensor] = {}  # (rows, out) their errors
        self.n = 0
        self._mask: Tensor | None = None

    def reset(self) -> None:
        self.n = 0

    def _low_rank(self, coef: Callable[[str], Tensor]):
        from hippo_bench.models.hippo_net import LowRank

        n = self.n
        return {k: LowRank(self.H[k][:n], self.D[k][:n], coef(k)) for k in self.keys}

    def _store(self, inputs: dict[str, Tensor], errors: dict[str, Tensor]) -> None:
        """Row n of each projection's H and D (buffers grow when a batch is larger than before)."""
        n = self.n
        for k in self.keys:
            h, d = inputs[k].reshape(-1), errors[self.dst[k]].reshape(-1)
            if k not in self.H or self.H[k].shape[0] <= n:
                rows = max(2 * n, 8)
                H, D = h.new_zeros(rows, h.numel()), d.new_zeros(rows, d.numel())
                if k in self.H:
                    H[:n], D[:n] = self.H[k][:n], self.D[k][:n]
                self.H[k], self.D[k] = H, D
            self.H[k][n] = h
            self.D[k][n] = d
        self.n = n + 1

    def inner_loop(self, x: Tensor, y: Tensor, t: Tensor) -> None:
        """The first-order inner steps on the samples of ``x``, one at a time.

        The fast weights are kept explicitly during the loop: after each
        step every projection takes its rank-one update in place
        (``W_fast -= c * delta h^T``), which costs less than re-applying all
        earlier steps' corrections to every single-sample pass.
        """
        B = x.shape[0]
        with torch.no_grad():
            steps = {k: float(self.steps.step(self.param_name[k])) for k in self.keys}
            fast = {k: w.detach().clone() for k, w in self.model.weights.items()}
        for i in range(B):
            loss_grad = functools.partial(_loss_and_grad, self.criterion, y[i:i + 1])
            loss, inputs, errors = self.model.sample_errors(x[i:i + 1], loss_grad, fast)
            self._store(inputs, errors)
            if i + 1 < B:
                with torch.no_grad():
                    for k in self.keys:
                        fast[k].addr_(errors[self.dst[k]].reshape(-1), inputs[k].reshape(-1), alpha=-steps[k])

    def _tril(self, B: int, like: Tensor) -> Tensor:
        if self._mask is None or self._mask.shape[0] != B:
            self._mask = torch.tril(torch.ones(B, B, dtype=like.dtype, device=like.device))
        return self._mask

    def meta_backward(self, x: Tensor, y: Tensor, t: Tensor) -> Tensor:
        """Meta-loss over all B inner steps at once; gradients by hand into ``.grad``."""
        B = self.n
        mask = self._tril(B, x)  # state i has the steps j <= i
        with torch.no_grad():
            steps = {k: self.steps.step(self.param_name[k]) for k in self.keys}
            low_rank = self._low_rank(lambda k: steps[k] * mask)
        loss, d_w, d_c, d_m = self.model.state_gradients(
            x, functools.partial(_state_loss_and_grad, self.criterion, y), low_rank)
        for k, p in self.model.weights.items():
            p.grad = d_w[k]
        if self.model.inhibition.requires_grad:
            self.model.inhibition.grad = d_m
        if self.steps.learned:  # chain rule into the step-size parameters (relu(alpha), masks, ...)
            self.steps.backward({self.param_name[k]: (d_c[k] * mask).sum() for k in self.keys})
        return loss

    def state_activity(self, x: Tensor) -> dict[str, float]:
        """Share of active units per hidden layer on ``x``, with the fast weights after each inner step, averaged."""
        mask = self._tril(self.n, x)
        with torch.no_grad():
            steps = {k: self.steps.step(self.param_name[k]) for k in self.keys}
            acts = self.model.run(x.flatten(1), low_rank=self._low_rank(lambda k: steps[k] * mask))[1]
        return {name: float((acts[name] > 0).float().mean()) for name in self.model.hidden_names}

    def meta_loss(self, x: Tensor, y: Tensor, t: Tensor) -> Tensor:
        """The same meta-loss with autograd (kept as the reference the hand-written pass is tested against)."""
        B = self.n
        mask = self._tril(B, x)
        low_rank = self._low_rank(lambda k: self.steps.step(self.param_name[k]) * mask)
        extra = self.extra()
        out = self.model.run(x.flatten(1), inhibition=extra.get("inhibition"), low_rank=low_rank)[0]
        S, N = out.shape[0], out.shape[1]
        return self.criterion(out.reshape(S * N, -1), y.repeat(S))


# ----------------------------------------------------------------- template
class OnlineMetaTemplate(SupervisedMetaLearningTemplate):
    """Avalanche meta-learning template running the loop of this module.

    ``steps`` parametrises the inner step sizes; ``inhibition_lr`` > 0
    meta-learns a HippoNet's inhibition multipliers m (unbounded, as in the
    seed's code; ``inhibition_floor`` clamps m from below after each step).
    ``weight_update`` is "async" (La-MAML: with the new step sizes) or
    "sync" (a fixed learning rate ``sync_lr``). With ``activity_iteration``
    set, the share of active units on the meta-batch with the fast weights
    (the seed's measure of sparsity) is taken at that iteration of every
    experience (or its last, if shorter) into ``train_activity``.
    """

    def __init__(self, *, model: nn.Module, criterion, steps: StepSizes, step_lr: float = 0.0,
                 inhibition_lr: float = 0.0, replay_size: int = 200, replay_batch: int = 5,
                 grad_clip: float = 2.0, weight_update: Literal["async", "sync"] = "async",
                 sync_lr: float = 0.0, path: Literal["auto", "low-rank", "materialised"] = "auto",
                 inhibition_floor: float | None = None, activity_iteration: int | None = None,
                 seed: int = 0, **base):
        weight_opt = torch.optim.SGD(model.parameters(), lr=sync_lr)  # Avalanche manages it; used for sync
        super().__init__(model=model, optimizer=weight_opt, criterion=criterion, **base)
        self.steps = steps
        self.step_lr = step_lr if steps.learned else 0.0
        self._step_params = [p for p in steps.parameters() if p.requires_grad]
        self.learn_inhibition = inhibition_lr > 0 and hasattr(model, "inhibition")
        self.inhibition_lr = inhibition_lr
        self.inhibition_floor = inhibition_floor
        self.activity_iteration = activity_iteration
        self.train_activity: dict[str, float] = {}
        if self.learn_inhibition:
            model.inhibition.requires_grad_(True)
        self._named_fast = [(n, p) for n, p in model.named_parameters() if n in steps.names]
        self._weights = [p for p in model.parameters() if p.requires_grad]
        self.replay = ReservoirBuffer(replay_size, seed)
        self.replay_batch = replay_batch
        self.grad_clip = grad_clip
        self.weight_update = weight_update
        self.path = self._make_path(path)
        self.meta_steps = 0
        self._meta_batch: tuple[Tensor, Tensor, Tensor] | None = None

    def _make_path(self, choice: str):
        extra = self._extra
        if choice in ("auto", "low-rank"):
            try:
                return LowRankPath(self.model, self._criterion, self.steps, extra)
            except TypeError:
                if choice == "low-rank":
                    raise
        return MaterialisedPath(self.model, self._criterion, self.steps, extra)

    def _extra(self) -> dict[str, Tensor]:
        """Tensors other than the fast weights that the functional forward must see."""
        return {"inhibition": self.model.inhibition} if hasattr(self.model, "inhibition") else {}

    # -- Avalanche hooks ------------------------------------------------
    def _inner_updates(self, **kwargs):
        x, y, t = self.mb_x, self.mb_y, self.mb_task_id
        replay = self.replay.sample(self.replay_batch)  # before this batch enters the buffer
        if replay is not None:
            self._meta_batch = (torch.cat([replay[0], x]), torch.cat([replay[1], y]), torch.cat([replay[2], t]))
        else:
            self._meta_batch = (x, y, t)
        self.path.reset()
        self.path.inner_loop(x, y, t)
        self.replay.push(x, y, t)

    def _outer_update(self, **kwargs):
        mx, my, mt = self._meta_batch
        weights = self._weights
        step_params = self._step_params
        for p in weights + step_params:
            p.grad = None
        if self.learn_inhibition:
            self.model.inhibition.grad = None
        meta_loss = self.path.meta_backward(mx, my, mt)
        if not torch.isfinite(meta_loss):
            exp = getattr(self.experience, "current_experience", "?")
            raise MetaLossError(
                f"meta-loss is {float(meta_loss)} at experience {exp}, meta-step {self.meta_steps} "
                f"(iteration {self.clock.train_exp_iterations} of this experience); lower the step-size or "
                f"inhibition learning rates, or alpha_init")
        if self._records_activity_now():
            self.train_activity = self.path.state_activity(mx)  # before the update, as the seed measures it
        with torch.no_grad():
            _clip_(weights, self.grad_clip)
            if self.step_lr > 0:
                _clip_(step_params, self.grad_clip)
                for p in step_params:
                    if p.grad is not None:
                        p.sub_(self.step_lr * p.grad)
            if self.learn_inhibition:
                m = self.model.inhibition
                _clip_([m], self.grad_clip)
                m.sub_(self.inhibition_lr * m.grad)
                if self.inhibition_floor is not None:
                    m.clamp_(min=self.inhibition_floor)
            if self.weight_update == "async":
                for n, p in self._named_fast:
                    if p.grad is not None:
                        p.addcmul_(p.grad, self.steps.step(n), value=-1.0)
            else:
                self.optimizer.step()
        self.loss = meta_loss.detach()
        self.meta_steps += 1

    def _records_activity_now(self) -> bool:
        """Whether this update is the experience's ``activity_iteration``-th (or its last, if it has fewer)."""
        if self.activity_iteration is None:
            return False
        loader = getattr(self, "dataloader", None)
        last = len(loader) - 1 if isinstance(loader, TensorBatches) else self.activity_iteration
        return self.clock.train_exp_iterations == min(self.activity_iteration, last)

    @property
    def last_weight_grads(self) -> dict[str, Tensor]:
        """The (clipped) meta-gradient of each weight from the last update."""
        return {n: p.grad for n, p in self.model.named_parameters() if p.grad is not None}

    def make_train_dataloader(self, shuffle: bool = True, **kwargs):
        """The experience collated once, then sliced into minibatches (see hippo_bench.tensor_batches)."""
        self.dataloader = TensorBatches(collate_all(self.adapted_dataset), self.train_mb_size, shuffle)

    def training_epoch(self, **kwargs):
        """Avalanche's MetaUpdate epoch without its extra forward pass after each update."""
        for self.mbatch in self.dataloader:
            if self._stop_training:
                break
            self._unpack_minibatch()
            self._before_training_iteration(**kwargs)
            self.loss = self._make_empty_loss()
            self._before_inner_updates(**kwargs)
            self._inner_updates(**kwargs)
            self._after_inner_updates(**kwargs)
            self._before_outer_update(**kwargs)
            self._outer_update(**kwargs)
            self._after_outer_update(**kwargs)
            self._after_training_iteration(**kwargs)


def _loss_and_grad(criterion: Callable, y: Tensor, out: Tensor) -> tuple[Tensor, Tensor]:
    """Loss and its gradient w.r.t. the logits; closed form for plain cross-entropy."""
    if type(criterion) is nn.CrossEntropyLoss and criterion.weight is None and criterion.reduction == "mean" \
            and criterion.label_smoothing == 0.0 and out.dim() == 2:
        n = out.shape[0]
        logp = torch.log_softmax(out, dim=1)
        target = y.unsqueeze(1)
        grad = logp.exp().scatter_add_(1, target, out.new_full((n, 1), -1.0))
        return -logp.gather(1, target).mean(), grad.div_(n)
    with torch.enable_grad():
        leaf = out.detach().requires_grad_()
        loss = criterion(leaf, y)
        return loss.detach(), torch.autograd.grad(loss, leaf)[0]


def _state_loss_and_grad(criterion: Callable, y: Tensor, out: Tensor) -> tuple[Tensor, Tensor]:
    """Mean over S weight states of the criterion on (S, N, C) logits, and its gradient."""
    S, N = out.shape[0], out.shape[1]
    loss, grad = _loss_and_grad(criterion, y.repeat(S), out.reshape(S * N, -1))
    return loss, grad.reshape(out.shape)


def _clip_(params: list[Tensor], max_norm: float) -> None:
    """Scale the gradients of ``params`` to a total norm of at most ``max_norm`` (0: no clipping)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads or max_norm <= 0:
        return
    total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    torch._foreach_mul_(grads, (max_norm / (total + 1e-6)).clamp(max=1.0))


def relative_steps(template: OnlineMetaTemplate) -> dict[str, float]:
    """lr * |dmeta/dW| / |W| per fast parameter tensor, from the last meta-update."""
    out = {}
    params = dict(template.model.named_parameters())
    with torch.no_grad():
        for n, g in template.last_weight_grads.items():
            if n not in template.steps.names:
                continue
            w = params[n]
            step = template.steps.step(n) if template.weight_update == "async" else \
                torch.tensor(template.optimizer.param_groups[0]["lr"])
            num = float((step * g).norm())
            den = float(w.norm())
            out[n] = num / den if den > 0 else math.nan
    return out
