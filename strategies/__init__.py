"""Strategies: registry, shared helpers, and one module per strategy.

Adding a strategy is one file in this folder (or a third-party package
exposing the entry point group ``hippo_bench.strategies``)::

    @register("my-method")
    class MyMethod(Strategy):
        description = "..."
        @dataclasses.dataclass
        class Config:
            lr: float = param(0.01, "learning rate", min=0.0)
        def build(self, ctx):
            return Naive(**ctx.sgd_kwargs(torch.optim.SGD(ctx.model.parameters(), lr=self.config.lr)))
"""

from hippo_bench.registry import Registry
from hippo_bench.strategies.base import Strategy, StrategyContext  # noqa: F401

strategies: Registry = Registry("strategy", Strategy, package="hippo_bench.strategies",
                                entry_point_group="hippo_bench.strategies")
register = strategies.register
