"""Networks: registry and the built-in models (one module each)."""

from hippo_bench.models.base import ModelSpec  # noqa: F401
from hippo_bench.registry import Registry

models: Registry = Registry("model", ModelSpec, package="hippo_bench.models",
                            entry_point_group="hippo_bench.models")
register = models.register
