"""Live progress of a run with rich: experience k of T, samples, elapsed, rate."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn,
                           TimeElapsedColumn)


class RichProgress:
    """Implements the runner's Progress protocol; silent when not on a terminal."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self._progress: Progress | None = None
        self._run_task = None
        self._exp_task = None
        self._n_exp = 0

    def start_run(self, label: str, n_experiences: int) -> None:
        self._n_exp = n_experiences
        if not self.console.is_terminal:  # nothing would be shown: skip the bookkeeping too
            self._progress = None
            return
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TaskProgressColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[rate]}"),
            console=self.console, transient=True)
        self._progress.start()
        self._run_task = self._progress.add_task(label, total=n_experiences, rate="")
        self._exp_task = None

    def start_experience(self, k: int, n_samples: int) -> None:
        if self._progress is None:
            return
        if self._exp_task is not None:
            self._progress.update(self._run_task, advance=1)
            self._progress.remove_task(self._exp_task)
        self._t0, self._done, self._shown_at = time.perf_counter(), 0, 0.0
        self._exp_task = self._progress.add_task(f"experience {k + 1}/{self._n_exp}", total=n_samples,
                                                 rate="")

    def advance(self, n: int) -> None:
        """Count samples; redraw at most every 0.1 s (online learners call this every few samples)."""
        if self._progress is None or self._exp_task is None:
            return
        self._done += n
        now = time.perf_counter()
        if now - self._shown_at < 0.1:
            return
        elapsed = now - self._t0
        rate = f"{self._done / elapsed:,.0f} samples/s" if elapsed > 0 else ""
        self._progress.update(self._exp_task, completed=self._done, rate=rate)
        self._shown_at = now

    def end_run(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
