"""Sweeps: grid files expanded into runs (grid), what exists already (plan), where runs execute
(executors, worker) and one progress display for the whole sweep (progress)."""
