"""One progress display for a whole sweep: runs done / running / failed / left, and an ETA."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
    TimeRemainingColumn


class SweepProgress:
    """Counts runs as executors report them; the bar advances on every finished run (ok or failed)."""

    def __init__(self, total: int, console: Console, label: str = "sweep"):
        self.total = total
        self.done = self.running = self.failed = 0
        self.console = console
        self._bar = Progress(TextColumn("[bold]{task.fields[label]}[/]"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), TextColumn("ETA"),
                             TimeRemainingColumn(), console=console, transient=False)
        self._task = self._bar.add_task("sweep", total=total, label=label, counts=self.counts())

    def counts(self) -> str:
        left = self.total - self.done - self.failed - self.running
        return f"done {self.done} · running {self.running} · failed {self.failed} · left {left}"

    def __enter__(self) -> "SweepProgress":
        self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self._refresh()
        self._bar.stop()

    def started(self, run_id: str) -> None:
        self.running += 1
        self._refresh()

    def finished(self, run_id: str, status: str, error: str = "", label: str = "") -> None:
        self.running -= 1
        if status == "failed":
            self.failed += 1
            first = error.strip().splitlines()[0] if error.strip() else "no error message"
            self._bar.console.print(f"[red]failed[/] {run_id} {escape(label)}: {escape(first)}")
        else:
            self.done += 1
        self._bar.update(self._task, advance=1)
        self._refresh()

    def _refresh(self) -> None:
        self._bar.update(self._task, counts=self.counts())
