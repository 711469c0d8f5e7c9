"""The strategy contract: a registered class whose ``build`` returns an Avalanche template."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, ClassVar

import torch
from torch import nn

from hippo_bench.registry import Component
from hippo_bench.tasks.base import CLASSIFICATION_KINDS, BenchmarkInstance, Measure


@dataclasses.dataclass
class StrategyContext:
    """Everything the runner hands a strategy; the runner owns all of it.

    ``plugins`` is a fresh list for this build (Avalanche's wrappers append
    to the list they are given) and already holds the runner's recorder.
    """

    model: nn.Module
    criterion: nn.Module
    device: torch.device
    plugins: list
    evaluator: Any
    train_mb_size: int
    eval_mb_size: int
    epochs: int
    benchmark: BenchmarkInstance
    seed: int

    def sgd_kwargs(self, optimizer: torch.optim.Optimizer | None) -> dict[str, Any]:
        """The keyword arguments every Avalanche SGD template takes."""
        kw = dict(model=self.model, criterion=self.criterion, train_mb_size=self.train_mb_size,
                  train_epochs=self.epochs, eval_mb_size=self.eval_mb_size, device=self.device,
                  plugins=self.plugins, evaluator=self.evaluator)
        if optimizer is not None:
            kw["optimizer"] = optimizer
        return kw


def silent_evaluator():
    """An Avalanche evaluator with no metrics and no loggers (no tqdm, no prints).

    The runner records accuracies itself (``hippo_bench.recording``), so the
    evaluator's per-iteration bookkeeping (switching the experience to its
    logging view and back on every callback) is skipped as well.
    """
    from avalanche.training.plugins import EvaluationPlugin

    class SilentEvaluation(EvaluationPlugin):
        def _update_metrics_and_loggers(self, strategy, callback):
            return []

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SilentEvaluation(loggers=[])


class Strategy(Component):
    """A registered continual-learning strategy.

    Subclasses set ``description``, ``references``, ``scenarios`` (the
    benchmark kinds they make sense on), a ``Config`` dataclass, and
    implement ``build``. Optional hooks add tidy measures after every
    evaluation (``measures``) and tables at the end of a run (``report``).
    """

    scenarios: ClassVar[frozenset[str]] = CLASSIFICATION_KINDS
    default_model: ClassVar[str | None] = None  # None: the benchmark's default
    # Models the strategy is designed for: the benchmark's default model is used when it is one of
    # them, otherwise the first. Empty: any model (the benchmark's default).
    models: ClassVar[tuple[str, ...]] = ()
    default_batch_size: ClassVar[int | None] = None  # None: the benchmark's default
    trains_jointly: ClassVar[bool] = False  # trains once on the whole stream (upper bound)
    # True when the template's evaluation is more than the model's forward pass per minibatch (the runner then
    # calls template.eval instead of its own batched evaluation, hippo_bench.evaluation)
    own_evaluation: ClassVar[bool] = False

    def build(self, ctx: StrategyContext):  # pragma: no cover - abstract
        """Return an Avalanche ``BaseSGDTemplate`` ready to ``train(experience)``."""
        raise NotImplementedError

    def prepare(self, ctx: StrategyContext) -> None:
        """Work before the stream starts (default: none).

        Strategies with a meta-training phase (OML) train ``ctx.model`` on
        ``ctx.benchmark.meta_train`` here; the runner calls it after seeding
        and before ``build``.
        """

    def unsupported_reason(self, instance: BenchmarkInstance) -> str | None:
        if instance.kind not in self.scenarios:
            return (f"{self.name} supports {', '.join(sorted(self.scenarios))}; "
                    f"this benchmark is {instance.kind}")
        return None

    def measures(self, template, ctx: StrategyContext) -> list[Measure]:
        """Extra tidy rows recorded after every evaluation (default: none)."""
        return []

    def report(self, rows) -> list:
        """Extra rich renderables shown at the end of a run (default: none)."""
        return []


def sgd(model: nn.Module, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)


@dataclasses.dataclass
class SGDConfig:
    """Optimiser fields shared by the Avalanche SGD baselines."""

    lr: float = dataclasses.field(default=0.05, metadata={"help": "SGD learning rate", "min": 0.0})
    momentum: float = dataclasses.field(default=0.0, metadata={"help": "SGD momentum", "min": 0.0, "max": 1.0})
