"""What the runner tells a progress display; kept apart so that a display never enters a run's code key."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start_run(self, label: str, n_experiences: int) -> None: ...
    def start_experience(self, k: int, n_samples: int) -> None: ...
    def advance(self, n: int) -> None: ...
    def end_run(self) -> None: ...


class NoProgress:
    """The display of a run nobody watches."""

    def start_run(self, label, n_experiences): pass
    def start_experience(self, k, n_samples): pass
    def advance(self, n): pass
    def end_run(self): pass
