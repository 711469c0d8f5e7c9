"""The online meta-learning loop of the La-MAML family, written once, and the settings and hooks that shape it.

meta-hippo, its variants, La-MAML and sparse-MAML run this loop
(docs/DESIGN.md, "The meta-learning loop"; Gupta et al. 2020, Algorithm 1;
the seed's ``model/lamaml.py``). For every incoming batch of B samples,
``glances`` times (La-MAML revisits each batch; once otherwise):

1. draw a meta-batch: the batch plus up to ``replay_batch`` samples from a
   reservoir buffer (drawn before the batch is pushed, which happens on the
   first glance only);
2. inner loop, one sample at a time, first order:
   ``fast_{j+1} = fast_j - step * grad L(fast_j; x_j)`` with the inner
   gradient treated as a constant (:mod:`.fast_weights`);
3. meta-loss = mean over j of L(fast_{j+1}; meta-batch);
4. clip the gradient norms of each group (weights, step sizes, inhibition,
   each declared group of meta-parameters) separately, SGD on the step-size
   and inhibition meta-parameters, then update the weights with the *new*
   step sizes (asynchronous update: ``W -= step_new * dmeta/dW``) or with a
   fixed learning rate (``sync``), then SGD on the declared meta-parameters;
5. call the declared ``after_update`` hooks with the meta-batch.

Everything a strategy chooses is one :class:`LoopConfig`: its settings and
its hooks (``path_factory``, ``meta_parameters``, ``after_update``). A
strategy never changes a template after building it.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Literal

import torch
from avalanche.training.templates import SupervisedMetaLearningTemplate
from torch import Tensor, nn

from hippo_bench.errors import MetaLossError
from hippo_bench.strategies.meta.fast_weights import FastWeightPath, PathChoice, PathSetup, build_path
from hippo_bench.strategies.meta.gradients import clip_group_
from hippo_bench.strategies.meta.replay import ReservoirBuffer
from hippo_bench.strategies.meta.step_sizes import StepSizes
from hippo_bench.tensor_batches import TensorBatches, collate_all


@dataclasses.dataclass(frozen=True, eq=False)
class MetaParameters:
    """Tensors meta-learned besides the step sizes and the inhibition (meta-hippo-gated's gate scores).

    They are no fast weights (no inner-loop step) and no weights: after every
    meta-update their meta-gradient is clipped to the loop's ``grad_clip`` as
    one group and they take an SGD step of ``lr``.
    """

    params: tuple[Tensor, ...]
    lr: float


@dataclasses.dataclass(frozen=True)
class LoopConfig:
    """The loop's settings and the hooks a strategy extends it through (defaults: meta-hippo's loop)."""

    # replay (MER's template reads these only)
    replay_size: int = 200
    replay_batch: int = 5
    seed: int = 0  # of the loop's own draws (the reservoir's)
    # the meta-gradient
    path: PathChoice = "auto"
    second_order: bool = False
    grad_clip: float = 2.0  # per group; 0: off
    # meta-parameters
    step_lr: float = 0.0  # SGD on the step sizes (when they are learned)
    inhibition_lr: float = 0.0  # SGD on a HippoNet's inhibition multipliers m (0: not learned)
    inhibition_floor: float | None = None  # m clamped from below after each step
    # weights
    weight_update: Literal["async", "sync"] = "async"  # with the new step sizes, or SGD at sync_lr
    sync_lr: float = 0.0
    # La-MAML's glances: meta-updates per incoming batch, reshuffled before each
    glances: int = 1
    reshuffle: bool = False
    # recording: the update of each experience at which % active is measured the seed's way (None: never)
    activity_iteration: int | None = None
    # hooks
    path_factory: Callable[[PathSetup], FastWeightPath] = build_path
    meta_parameters: tuple[MetaParameters, ...] = ()
    after_update: tuple[Callable[[Tensor, Tensor, Tensor], None], ...] = ()  # called with the meta-batch (x, y, t)

    def __post_init__(self):
        if self.glances < 1:
            raise ValueError("glances must be >= 1")
        if self.meta_parameters and self.weight_update == "sync":
            raise ValueError("declared meta-parameters need the async weight update (the sync optimizer steps "
                             "every model parameter)")


def learned_weights(model: nn.Module, loop: LoopConfig) -> dict[str, nn.Parameter]:
    """The model's weights in the loop's sense: parameters that require grad and are no declared meta-parameters."""
    meta = {id(p) for group in loop.meta_parameters for p in group.params}
    return {n: p for n, p in model.named_parameters() if p.requires_grad and id(p) not in meta}


class OnlineTemplate(SupervisedMetaLearningTemplate):
    """Avalanche's meta-learning template with each experience collated once and no extra forward per update."""

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


class OnlineMetaTemplate(OnlineTemplate):
    """Avalanche meta-learning template running the loop of this module.

    ``steps`` parametrises the inner step sizes; ``loop`` holds everything
    else. With ``inhibition_lr`` > 0 a HippoNet's inhibition multipliers m
    are meta-learned (unbounded, as in the seed's code, unless
    ``inhibition_floor``). With ``activity_iteration`` set, the share of
    active units on the meta-batch with the fast weights (the seed's measure
    of sparsity) is taken at that iteration of every experience (or its last,
    if shorter) into ``train_activity``.
    """

    def __init__(self, *, model: nn.Module, criterion, steps: StepSizes, loop: LoopConfig = LoopConfig(), **base):
        weight_opt = torch.optim.SGD(model.parameters(), lr=loop.sync_lr)  # Avalanche manages it; used for sync
        super().__init__(model=model, optimizer=weight_opt, criterion=criterion, **base)
        self.loop = loop
        self.steps = steps
        self.step_lr = loop.step_lr if steps.learned else 0.0
        self._step_params = [p for p in steps.parameters() if p.requires_grad]
        self.learn_inhibition = loop.inhibition_lr > 0 and hasattr(model, "inhibition")
        self.train_activity: dict[str, float] = {}
        if self.learn_inhibition:
            model.inhibition.requires_grad_(True)
        self._named_fast = [(n, p) for n, p in model.named_parameters() if n in steps.names]
        self._weights = list(learned_weights(model, loop).values())
        self.replay = ReservoirBuffer(loop.replay_size, loop.seed)
        self.path = loop.path_factory(PathSetup(model, self._criterion, steps, self._extra, loop.path,
                                                loop.second_order))
        self.meta_steps = 0
        self._meta_batch: tuple[Tensor, Tensor, Tensor] | None = None

    def _extra(self) -> dict[str, Tensor]:
        """Tensors other than the fast weights that the functional forward must see."""
        return {"inhibition": self.model.inhibition} if hasattr(self.model, "inhibition") else {}

    # -- Avalanche hooks ------------------------------------------------
    def _inner_updates(self, **kwargs):
        self._inner_pass(first_glance=True)

    def _outer_update(self, **kwargs):
        self._meta_update()
        for _ in range(1, self.loop.glances):
            self._inner_pass(first_glance=False)
            self._meta_update()

    # -- the loop -------------------------------------------------------
    def _inner_pass(self, first_glance: bool) -> None:
        """Steps 1-2 on the incoming batch (reshuffled first when the loop says so)."""
        if self.loop.reshuffle:
            order = torch.randperm(self.mb_x.shape[0], device=self.mb_x.device)
            self.mbatch = [v[order] if torch.is_tensor(v) and v.dim() > 0 else v for v in self.mbatch]
        x, y, t = self.mb_x, self.mb_y, self.mb_task_id
        replay = self.replay.sample(self.loop.replay_batch)  # before this batch enters the buffer
        if replay is not None:
            self._meta_batch = (torch.cat([replay[0], x]), torch.cat([replay[1], y]), torch.cat([replay[2], t]))
        else:
            self._meta_batch = (x, y, t)
        self.path.reset()
        self.path.inner_loop(x, y, t)
        if first_glance:  # La-MAML stores a batch on its first glance only
            self.replay.push(x, y, t)

    def _meta_update(self) -> None:
        """Steps 3-5: the meta-gradient, the clipped SGD steps of every group, the after-update hooks."""
        loop = self.loop
        mx, my, mt = self._meta_batch
        weights = self._weights
        step_params = self._step_params
        for p in weights + step_params:
            p.grad = None
        if self.learn_inhibition:
            self.model.inhibition.grad = None
        for group in loop.meta_parameters:
            for p in group.params:
                p.grad = None
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
            clip_group_(weights, loop.grad_clip)
            if self.step_lr > 0:
                clip_group_(step_params, loop.grad_clip)
                for p in step_params:
                    if p.grad is not None:
                        p.sub_(self.step_lr * p.grad)
            if self.learn_inhibition:
                m = self.model.inhibition
                clip_group_([m], loop.grad_clip)
                m.sub_(loop.inhibition_lr * m.grad)
                if loop.inhibition_floor is not None:
                    m.clamp_(min=loop.inhibition_floor)
            if loop.weight_update == "async":
                for n, p in self._named_fast:
                    if p.grad is not None:
                        p.addcmul_(p.grad, self.steps.step(n), value=-1.0)
            else:
                self.optimizer.step()
            for group in loop.meta_parameters:
                clip_group_(list(group.params), loop.grad_clip)
                for p in group.params:
                    if p.grad is not None:
                        p.sub_(group.lr * p.grad)
        self.loss = meta_loss.detach()
        self.meta_steps += 1
        for hook in loop.after_update:
            hook(mx, my, mt)

    def _records_activity_now(self) -> bool:
        """Whether this update is the experience's ``activity_iteration``-th (or its last, if it has fewer)."""
        iteration = self.loop.activity_iteration
        if iteration is None:
            return False
        loader = getattr(self, "dataloader", None)
        last = len(loader) - 1 if isinstance(loader, TensorBatches) else iteration
        return self.clock.train_exp_iterations == min(iteration, last)

    @property
    def last_weight_grads(self) -> dict[str, Tensor]:
        """The (clipped) meta-gradient of each weight from the last update."""
        return {n: p.grad for n, p in self.model.named_parameters() if p.grad is not None}


def relative_steps(template: OnlineMetaTemplate) -> dict[str, float]:
    """lr * |dmeta/dW| / |W| per fast parameter tensor, from the last meta-update."""
    out = {}
    params = dict(template.model.named_parameters())
    with torch.no_grad():
        for n, g in template.last_weight_grads.items():
            if n not in template.steps.names:
                continue
            w = params[n]
            step = template.steps.step(n) if template.loop.weight_update == "async" else \
                torch.tensor(template.optimizer.param_groups[0]["lr"])
            num = float((step * g).norm())
            den = float(w.norm())
            out[n] = num / den if den > 0 else math.nan
    return out
