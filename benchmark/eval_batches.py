"""Evaluation minibatches built once per test experience.

Avalanche's evaluation loader fetches and collates every test sample through
its dataset wrappers at every evaluation (about 20 us a sample); a run that
evaluates 20 test sets after each of 20 experiences spends most of its time
there. The test sets are fixed tensors, so the runner collates each one once,
after the template's own eval adaptation, and replays slices of it.
"""

from __future__ import annotations

from torch.utils.data import default_collate


class _Slices:
    def __init__(self, tensors: list, batch_size: int):
        self.tensors = tensors
        self.batch_size = batch_size
        self.n = len(tensors[0])

    def __iter__(self):
        for i in range(0, self.n, self.batch_size):
            yield [t[i:i + self.batch_size] for t in self.tensors]

    def __len__(self):
        return (self.n + self.batch_size - 1) // self.batch_size


def cache_eval_batches(template) -> None:
    """Make ``template.eval`` reuse the collated test set of each experience."""
    cache: dict = {}

    def make_eval_dataloader(**kwargs):
        exp = template.experience
        key = (getattr(getattr(exp, "origin_stream", None), "name", ""), exp.current_experience)
        if key not in cache:
            ds = template.adapted_dataset
            cache[key] = list(default_collate([ds[i] for i in range(len(ds))]))
        template.dataloader = _Slices(cache[key], template.eval_mb_size)

    template.make_eval_dataloader = make_eval_dataloader
