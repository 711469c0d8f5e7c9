"""The Python API: hippo-bench strategies as Avalanche strategies, models by name, runs from Python.

For an Avalanche user with their own script (their benchmark, loop, metrics
and loggers)::

    from avalanche.benchmarks.classic import SplitMNIST
    from hippo_bench import MetaHippo, make_model

    bench = SplitMNIST(n_experiences=5)
    model = make_model("mlp2", (1, 28, 28), 10)
    strategy = MetaHippo(model, condition="both", alpha_init=0.1)
    for exp in bench.train_stream:
        strategy.train(exp)
        strategy.eval(bench.test_stream)
    print(strategy.learned_pattern())   # % active and m per layer, learned lr per projection

A strategy takes its ``Config`` fields as keyword arguments, checked as the
command line checks them (a wrong keyword is a ``TypeError``, a wrong value a
``ValueError``, each naming it), plus Avalanche's usual ones (``criterion``,
``train_mb_size``, ``train_epochs``, ``eval_mb_size``, ``device``,
``plugins``, ``evaluator``). What it returns is the Avalanche template the
runner trains, built by the registered strategy's own ``build``
(:meth:`hippo_bench.strategies.base.Strategy.build`), as Avalanche's own
strategies are templates: an ``OnlineMetaTemplate`` for meta-hippo, La-MAML
and sparse-MAML, Avalanche's ``EWC`` for ``strategy("ewc", ...)``. The API
adds one plugin (:class:`BuiltBy`: how it was built, and
``strategy.learned_pattern()``).

:func:`run` is the other way in: a whole configuration (the keys of a
``--config`` file), resolved as ``hippo-bench run`` resolves it, returning the
tidy results table.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Sequence

import pandas as pd
import torch
from torch import nn

from hippo_bench.cli import prepare_environment
from hippo_bench.errors import UserError

prepare_environment()  # before Avalanche is imported: its import writes to the home folder

from avalanche.core import SupervisedPlugin  # noqa: E402
from avalanche.training.templates import BaseSGDTemplate, SupervisedMetaLearningTemplate  # noqa: E402

from hippo_bench.analysis import learned_pattern  # noqa: E402

__all__ = ["AvalancheStrategy", "MetaHippo", "LaMAML", "SparseMAML", "OML", "MER", "strategy", "make_model",
           "run", "default_evaluator", "built_by", "BuiltBy"]

# The keyword arguments every API strategy takes besides its Config fields.
TEMPLATE_KEYWORDS = ("criterion", "train_mb_size", "train_epochs", "eval_mb_size", "device", "plugins",
                     "evaluator", "seed", "benchmark")
PATTERN_COLUMNS = ["kind", "name", "group", "units", "percent_active", "m", "lr", "alpha_raw"]
DEFAULT_PROBE_SIZE = 256
_DEFAULT = object()  # "the default evaluator" (None is Avalanche's "no evaluator")


def default_evaluator() -> Any:
    """Avalanche's accuracy metrics (per experience and per stream) with its interactive logger.

    Epoch and minibatch accuracy are left out: the online meta-learners take
    one update per incoming batch, so "training accuracy" would be that of
    five samples. Pass your own ``evaluator`` for anything else.
    """
    from avalanche.evaluation.metrics import accuracy_metrics
    from avalanche.logging import InteractiveLogger
    from avalanche.training.plugins import EvaluationPlugin

    return EvaluationPlugin(accuracy_metrics(experience=True, stream=True), loggers=[InteractiveLogger()])


class BuiltBy(SupervisedPlugin):
    """The plugin the API adds to every template it builds: how it was built, and its learned pattern now.

    ``name``, ``config``, ``strategy_impl`` (the registered strategy whose
    ``build`` made the template) and ``ctx`` (what it was built with) say how;
    the experience trained last is the default input of
    :meth:`learned_pattern`. The meta-learning templates skip the minibatch
    output after each update for speed; it is recomputed here so that any
    EvaluationPlugin's training metrics work. Only ``SupervisedPlugin``
    callbacks, the ones the templates declare, so Avalanche has nothing to
    warn about.
    """

    def __init__(self, name: str, config: Any, strategy_impl: Any) -> None:
        super().__init__()
        self.name, self.config, self.strategy_impl = name, config, strategy_impl
        self.ctx: Any = None
        self.template: Any = None
        self.experience: Any = None

    def before_training_exp(self, strategy, **kwargs):
        self.experience = strategy.experience

    def after_training_iteration(self, strategy, **kwargs):
        if isinstance(strategy, SupervisedMetaLearningTemplate):  # the evaluator, later in the list, reads it
            with torch.no_grad():
                strategy.mb_output = strategy.forward()

    def learned_pattern(self, x: torch.Tensor | None = None) -> pd.DataFrame:
        """The learned pattern now: one row per hidden layer and per learned step size.

        Columns: ``kind`` ("layer" or "projection"), ``name`` (e.g. "h1",
        "input->h1"; a parameter name for models that are not HippoNets),
        ``group`` (the layer's or projection's pathway group), ``units``,
        ``percent_active`` (share of a layer's units above zero, in %),
        ``m`` (the layer's inhibition multiplier), ``lr`` (the learned step
        size relu(alpha), mean over a tensor for per-parameter rates) and
        ``alpha_raw`` (alpha before the relu, where there is one). Missing
        values are NaN. The values are those the runner records
        (:mod:`hippo_bench.analysis.learned_pattern`).

        % active is measured on ``x`` or, by default, on up to 256 inputs
        (the strategy's ``probe_size`` where it has one) of the experience
        trained last, with the current weights.
        """
        x = self._last_inputs() if x is None else x
        x = torch.as_tensor(x).to(self.ctx.device)
        measures = learned_pattern.measure(self.template, x, hooked=True, relative=False)
        return learned_pattern.pattern_table(learned_pattern.rows_of(measures))[PATTERN_COLUMNS]

    def _last_inputs(self) -> torch.Tensor:
        if self.experience is None:
            raise ValueError("learned_pattern(): nothing trained yet; pass the inputs to measure, "
                             "learned_pattern(x)")
        ds = self.experience.dataset
        n = min(len(ds), int(getattr(self.config, "probe_size", DEFAULT_PROBE_SIZE)))
        return torch.stack([torch.as_tensor(ds[i][0]) for i in range(n)])


def built_by(template: Any) -> BuiltBy | None:
    """The :class:`BuiltBy` plugin of a template the API built (None for any other object)."""
    return next((p for p in getattr(template, "plugins", ()) if isinstance(p, BuiltBy)), None)


class _Stream:
    """The parts of a benchmark a strategy's build may read, from an Avalanche or hippo-bench benchmark."""

    def __init__(self, benchmark: Any):
        from hippo_bench.tasks.base import argmax_correct

        self.scenario = benchmark
        self.meta_train = getattr(benchmark, "meta_train", None)
        self.heads = dict(getattr(benchmark, "heads", {}) or {})
        self.score = getattr(benchmark, "score", argmax_correct)
        self.input_shape = getattr(benchmark, "input_shape", None)
        if self.input_shape is None and benchmark is not None:
            self.input_shape = tuple(benchmark.train_stream[0].dataset[0][0].shape)

    @property
    def train_stream(self):
        return getattr(self.scenario, "train_stream", None)

    @property
    def test_stream(self):
        return getattr(self.scenario, "test_stream", None)


class _Builds(type):
    """Calling a strategy class builds and returns its template; ``isinstance`` asks what built a template."""

    def __call__(cls, model: nn.Module, **kwargs: Any) -> BaseSGDTemplate:
        if not cls.registry_name:
            raise TypeError("AvalancheStrategy is built with hippo_bench.strategy(name, model, ...) or a named "
                            "class such as hippo_bench.MetaHippo")
        return _build(cls.registry_name, model, kwargs, f"{cls.__name__}()", cls._prepare)

    def __instancecheck__(cls, obj: Any) -> bool:
        by = built_by(obj)
        return by is not None and cls.registry_name in ("", by.name)


class AvalancheStrategy(metaclass=_Builds):
    """A registered hippo-bench strategy as an Avalanche strategy: calling one returns its Avalanche template.

    Construct one with :func:`strategy` (any registered name) or a named
    class (:class:`MetaHippo`, :class:`LaMAML`, ...). Keyword arguments are
    the strategy's ``Config`` fields plus Avalanche's usual ones:

    - ``criterion``: the loss (default ``torch.nn.CrossEntropyLoss()``);
    - ``train_mb_size``: training minibatch (default: the strategy's, else 10);
    - ``train_epochs`` (default 1), ``eval_mb_size`` (default 256), ``device`` (default "cpu");
    - ``plugins``: Avalanche plugins (copied: your list is not changed);
    - ``evaluator``: an ``EvaluationPlugin`` (default :func:`default_evaluator`);
    - ``seed``: seed of the strategy's own random draws, e.g. replay (default 0);
    - ``benchmark``: optional; the benchmark the strategy will see, for
      strategies that read it before training (OML's meta-training split).

    The object returned is the template the registered strategy's ``build``
    makes (``train``, ``eval``, ``clock``, ``plugins``, ... are Avalanche's),
    with a :class:`BuiltBy` plugin among its plugins (:func:`built_by`) and
    ``learned_pattern`` (:meth:`BuiltBy.learned_pattern`).
    ``isinstance(template, MetaHippo)`` is true for a template built as
    meta-hippo, ``isinstance(template, AvalancheStrategy)`` for any the API built.
    """

    registry_name: ClassVar[str] = ""

    @staticmethod
    def _prepare(impl: Any, ctx: Any) -> None:
        """Work before the stream (OML's meta-training): the runner's ``Strategy.prepare``."""
        impl.prepare(ctx)


def _build(name: str, model: nn.Module, kwargs: dict[str, Any], label: str,
           prepare: Callable[[Any, Any], None]) -> BaseSGDTemplate:
    """Check the keywords as the command line does, then build the template as the runner does."""
    from hippo_bench.params import build_config, fields_of
    from hippo_bench.strategies import strategies
    from hippo_bench.strategies.base import StrategyContext

    try:
        cls = strategies.get(name)
    except UserError as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(model, nn.Module):
        raise TypeError(f"{label}: model must be a torch.nn.Module, got {type(model).__name__}")
    fields = [f.name for f in fields_of(cls.Config)]
    for key in kwargs:
        if key not in fields and key not in TEMPLATE_KEYWORDS:
            close = difflib.get_close_matches(key, fields + list(TEMPLATE_KEYWORDS), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise TypeError(f"{label} got an unexpected keyword argument {key!r}{hint} "
                            f"({name} takes: {', '.join(fields + list(TEMPLATE_KEYWORDS))})")
    params = {k: v for k, v in kwargs.items() if k in fields}
    try:
        config = build_config(cls.Config, (label, params))
    except UserError as exc:
        raise ValueError(str(exc)) from None
    given = {k: kwargs[k] for k in TEMPLATE_KEYWORDS if k in kwargs}
    batch = given.get("train_mb_size")
    train_mb = _positive(label, "train_mb_size", batch if batch is not None else cls.default_batch_size or 10)
    epochs = _positive(label, "train_epochs", given.get("train_epochs", 1))
    eval_mb = _positive(label, "eval_mb_size", given.get("eval_mb_size", 256))
    seed = _positive(label, "seed", given.get("seed", 0), minimum=0)
    evaluator = given.get("evaluator", _DEFAULT)
    if evaluator is _DEFAULT:
        evaluator = default_evaluator()
    plugins = given.get("plugins") or []
    if not isinstance(plugins, (list, tuple)):
        raise TypeError(f"{label}: plugins must be a list of Avalanche plugins, got {type(plugins).__name__}")
    try:
        device = torch.device(given.get("device", "cpu"))
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"{label}: device: {exc}") from None
    impl = cls(config)
    by = BuiltBy(name, config, impl)
    by.ctx = ctx = StrategyContext(
        model=model, criterion=given.get("criterion") or nn.CrossEntropyLoss(), device=device,
        plugins=[*plugins, by], evaluator=evaluator, train_mb_size=train_mb, eval_mb_size=eval_mb,
        epochs=epochs, benchmark=_Stream(given.get("benchmark")), seed=seed)
    prepare(impl, ctx)
    by.template = template = impl.build(ctx)
    template.learned_pattern = by.learned_pattern
    return template


def _positive(label: str, name: str, value: Any, minimum: int = 1) -> int:
    from hippo_bench.resolve import positive

    try:
        return positive(name, value, minimum)
    except UserError as exc:
        raise ValueError(f"{label}: {exc}") from None


class MetaHippo(AvalancheStrategy):
    """meta-hippo: meta-learned per-layer sparsity (k-WTA inhibition m) and per-projection learning rates.

    Keywords: the fields of ``hippo_bench.strategies.meta_hippo.MetaHippo.Config``
    (``condition`` in baseline / sparsity / lr / both, ``alpha_init``,
    ``alpha_lr``, ``m_lr``, ``buffer_size``, ``replay_batch``, ...) and the
    Avalanche keywords of :class:`AvalancheStrategy` (batch size 5 by
    default, as in the seed). Use a HippoNet (``make_model("mlp2" | "mlp4" |
    "dual" | "chorse", ...)``) to learn sparsity; other models learn rates only.
    """

    registry_name = "meta-hippo"


class LaMAML(AvalancheStrategy):
    """La-MAML (Gupta et al. 2020): learned per-parameter learning rates, look-ahead meta-loss over replay.

    Keywords: the fields of ``hippo_bench.strategies.la_maml.LaMAML.Config``
    (``variant``, ``alpha_init``, ``alpha_lr``, ``glances``, ...) and those of
    :class:`AvalancheStrategy`. Any model works (e.g. ``make_model("mlp", ...)``).
    """

    registry_name = "la-maml"


class SparseMAML(AvalancheStrategy):
    """sparse-MAML (von Oswald et al. 2021): learned binary gradient masks, straight-through.

    Keywords: the fields of ``hippo_bench.strategies.sparse_maml.SparseMAML.Config``
    and those of :class:`AvalancheStrategy`.
    """

    registry_name = "sparse-maml"


class MER(AvalancheStrategy):
    """MER (Riemer et al. 2019): Reptile over experience replay, one sample at a time.

    Keywords: the fields of ``hippo_bench.strategies.mer.MER.Config`` and those of
    :class:`AvalancheStrategy`.
    """

    registry_name = "mer"


class OML(AvalancheStrategy):
    """OML (Javed & White 2019): a meta-trained representation, an online-trained head.

    The model is an ``oml-net`` (``make_model("oml-net", (1, 28, 28), n)``).
    With ``benchmark=`` a hippo-bench benchmark instance that has a
    meta-training split (``omniglot-oml``), the representation is
    meta-trained first (``meta_steps`` steps) as in ``hippo-bench run``;
    without one, the model's representation is taken as already trained. The
    representation is then frozen and the head reset. ``head_lr = 0`` picks
    the head's learning rate by OML's sweep over the benchmark's training
    stream, so it needs ``benchmark=``; otherwise give ``head_lr``.
    """

    registry_name = "oml"

    @staticmethod
    def _prepare(impl: Any, ctx: Any) -> None:
        """Meta-train when the benchmark has a split for it; otherwise take the representation as trained."""
        from hippo_bench.models.oml_net import RepresentationAndHead, reset_head

        if ctx.benchmark.meta_train is not None:
            impl.prepare(ctx)
            return
        model = ctx.model
        if not isinstance(model, RepresentationAndHead):
            raise TypeError(f"OML(): the model must be an oml-net (a representation and a head), got "
                            f"{type(model).__name__}; use make_model('oml-net', ...)")
        if impl.config.head_lr <= 0 and ctx.benchmark.train_stream is None:
            raise ValueError("OML(): head_lr=0 sweeps the head's learning rate over the training stream; "
                             "pass benchmark=... or a head_lr > 0")
        model.representation.requires_grad_(False)
        reset_head(model.head)
        from hippo_bench.strategies.oml import sweep_head_lr

        impl.head_lr = impl.config.head_lr if impl.config.head_lr > 0 else sweep_head_lr(
            model, ctx.benchmark.train_stream)


_NAMED: dict[str, type[AvalancheStrategy]] = {c.registry_name: c for c in (MetaHippo, LaMAML, SparseMAML, MER, OML)}


def strategy(name: str, model: nn.Module, **kwargs: Any) -> BaseSGDTemplate:
    """Any registered strategy by name (``hippo-bench list``), e.g. ``strategy("ewc", model, ewc_lambda=100)``.

    Same keywords, checks and returned template as the named classes (:class:`AvalancheStrategy`).
    """
    cls = _NAMED.get(name)
    if cls is not None:
        return cls(model, **kwargs)
    return _build(name, model, kwargs, f"strategy({name!r})", AvalancheStrategy._prepare)


def make_model(name: str, input_shape: Sequence[int], n_outputs: int, heads: dict[str, int] | None = None,
               **params: Any) -> nn.Module:
    """A registered network (``hippo-bench list``), e.g. ``make_model("chorse", (1, 28, 28), 10, scale=0.5)``.

    ``params`` are the model's ``Config`` fields (``--model-*`` flags on the
    command line); ``heads`` splits the outputs into named heads (their sizes
    add up to ``n_outputs``), as the dual-task benchmarks do.
    """
    from hippo_bench.models import models
    from hippo_bench.params import build_config, fields_of

    try:
        cls = models.get(name)
    except UserError as exc:
        raise ValueError(str(exc)) from None
    label = f"make_model({name!r})"
    fields = [f.name for f in fields_of(cls.Config)]
    for key in params:
        if key not in fields:
            raise TypeError(f"{label} got an unexpected keyword argument {key!r} ({name} takes: "
                            f"{', '.join(fields) or 'no parameters'})")
    try:
        config = build_config(cls.Config, (label, params))
        return cls(config).build(tuple(int(s) for s in input_shape), int(n_outputs), heads=heads or None)
    except UserError as exc:
        raise ValueError(str(exc)) from None


def run(strategy: str, benchmark: str | None = None, seeds: Iterable[int] = (0,), out: str | Path | None = None,
        loggers: Sequence[str] | None = None, log_dir: str | Path = "logs", **keys: Any) -> pd.DataFrame:
    """Run a configuration as ``hippo-bench run`` does and return its tidy results table.

    ``keys`` are those of a ``--config`` file: run options (``model``,
    ``preset``, ``epochs``, ``batch_size``, ``benchmark_seed``,
    ``data_root``, ``force``, ...), the strategy's fields at the top level,
    and ``benchmark_params`` / ``model_params`` mappings. With ``out`` (a
    folder) every run is written there as ``<run_id>.parquet`` and an
    existing file made by the same code is reused; without it nothing is
    written. The table has one row per run x train_exp x eval_exp x metric
    (README, "Results files"). ``loggers`` (any of "text", "csv",
    "tensorboard", "wandb") gives each run Avalanche loggers under
    ``<log_dir>/<run_id>/`` that receive everything it records, per
    experience (:mod:`hippo_bench.run_logs`). A run that fails raises
    ``RuntimeError`` after the other seeds ran; a bad key is a ``TypeError``, a
    bad value a ``ValueError``.
    """
    from hippo_bench.launch import run_specs
    from hippo_bench.resolve import plan_from

    if "out" in keys:
        raise TypeError("run(): out is a parameter of its own")
    mapping: dict[str, Any] = {"strategy": strategy, **keys, "seeds": list(seeds)}
    if loggers:
        mapping.update(log=list(loggers), log_dir=str(log_dir))
    if benchmark is not None:
        mapping["benchmark"] = benchmark
    threads = torch.get_num_threads()
    tables, failed = [], []
    try:
        plan = plan_from([("run()", mapping)])
        for _member, instance, specs in plan.specs():
            outcomes = run_specs(specs, [instance] * len(specs), Path(out) if out is not None else None,
                                 force=plan.force, reuse_stale=plan.reuse_stale,
                                 vectorize=bool(plan.vectorize_seeds and len(specs) > 1), logs=plan.logs)
            for spec, outcome in zip(specs, outcomes):
                if outcome.table is not None:
                    tables.append(outcome.table)
                if outcome.status == "failed":
                    failed.append(f"{spec.benchmark} seed {spec.seed}: {outcome.error.splitlines()[0]}")
    except UserError as exc:
        message = str(exc)
        raise (TypeError if "unknown key" in message else ValueError)(message) from None
    finally:
        torch.set_num_threads(threads)
    if failed:
        raise RuntimeError(f"{len(failed)} run(s) failed: " + "; ".join(failed))
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
