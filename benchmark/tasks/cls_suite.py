"""cls: the three C-HORSE paradigms as one suite, run in turn by ``hippo-bench run --benchmark cls``.

Each member runs with its defaults: the continual schedule (new items every
experience, each tested on its own items), so the suite's accuracy
matrices measure forgetting. The interleaved C-HORSE learning-curve
protocol is a member parameter (``--benchmark cls-pairs --bench-schedule
interleaved``).
"""

from __future__ import annotations

from hippo_bench.errors import UserError
from hippo_bench.tasks import register
from hippo_bench.tasks.base import AUTOASSOCIATIVE, Benchmark


@register("cls")
class ClsSuite(Benchmark):
    description = ("Suite: cls-pairs, cls-community and cls-inference in turn, each with its defaults "
                   "(continual: new items every experience)")
    acc_meaning = ("the suite's three streams each have their own board; see cls-pairs, cls-community and "
                   "cls-inference")
    references = ("Schapiro, Turk-Browne, Botvinick & Norman 2017 (C-HORSE)",)
    kind = AUTOASSOCIATIVE
    members = ("cls-pairs", "cls-community", "cls-inference")

    def suite_report(self, tables_by_member: dict) -> list:
        """The members side by side (``tables_by_member``: member name -> its runs' tidy tables)."""
        from hippo_bench.analysis.cls_report import suite_table
        from hippo_bench.tasks import benchmarks

        return [suite_table(tables_by_member, {m: benchmarks.get(m).headline for m in tables_by_member})]

    def build(self, seed, data_root=None):
        raise UserError(f"cls is a suite of {', '.join(self.members)}: run it with `hippo-bench run "
                        "--benchmark cls`, or build a member")
