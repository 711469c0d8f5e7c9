"""The poster's claims as experiments: each runs (or reuses) its runs, tests its claim over seeds, and reports.

One module per claim; :data:`EXPERIMENTS` maps the command name to its class.
"""

from __future__ import annotations

from hippo_bench.experiments.base import Experiment, Verdict  # noqa: F401
from hippo_bench.experiments.claims import DepthHierarchy, DualPathways, LastProjectionFastest

EXPERIMENTS: dict[str, type[Experiment]] = {
    cls.name: cls for cls in (DepthHierarchy, DualPathways, LastProjectionFastest)
}
