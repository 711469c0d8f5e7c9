"""``hippo-bench list``: registered strategies, benchmarks and models (and plugins that failed to load)."""

from __future__ import annotations

from typing import Sequence

from rich.table import Table

from hippo_bench.commands import Parser, console


def main(argv: Sequence[str]) -> int:
    Parser(prog="hippo-bench list", description="List strategies, benchmarks and models.").parse_args(argv)
    from hippo_bench.models import models
    from hippo_bench.strategies import strategies
    from hippo_bench.tasks import benchmarks

    con = console()
    t = Table(title="Strategies", title_justify="left")
    for c in ("name", "description", "scenarios", "references"):
        t.add_column(c)
    for name, cls in strategies.items():
        t.add_row(name, cls.description, ", ".join(sorted(cls.scenarios)), "; ".join(cls.references))
    con.print(t)
    t = Table(title="Benchmarks", title_justify="left")
    for c in ("name", "kind", "description", "references"):
        t.add_column(c)
    for name, cls in benchmarks.items():
        t.add_row(name, cls.kind, cls.description, "; ".join(cls.references))
    con.print(t)
    t = Table(title="Models", title_justify="left")
    for c in ("name", "description", "references"):
        t.add_column(c)
    for name, cls in models.items():
        t.add_row(name, cls.description, "; ".join(cls.references))
    con.print(t)
    broken = [(reg.kind, n, e) for reg in (strategies, benchmarks, models) for n, e in reg.broken.items()]
    if broken:
        t = Table(title="Failed to load", title_justify="left")
        for c in ("kind", "name", "error"):
            t.add_column(c)
        for row in broken:
            t.add_row(*row)
        con.print(t)
    return 0
