"""Accuracy on every test experience, computed as Avalanche's evaluation computes it, without its per-experience cost.

A run evaluates the whole test stream after every experience: 20 x 20 test
sets on the seed's protocols. Avalanche's ``template.eval`` spends more time
in its per-experience machinery (dataset adaptation, loaders, callbacks to
every plugin) than in the forward passes. For a template whose evaluation is
the model's forward pass on each minibatch, :class:`StreamEvaluation` runs
exactly that: the same forward (``avalanche_forward`` with the task labels),
on the same minibatches (the test set collated once, cut at
``eval_mb_size``), in eval mode without gradients, scored and summed per
minibatch as the runner's recorder sums them, so every accuracy is the
number ``template.eval`` gives, bit for bit (a test compares them). The
template's clock counts the evaluation iterations as Avalanche's would.

Where that is not known to hold, the template's own ``eval`` runs: a model
with Avalanche dynamic modules (its heads adapt per experience), or a
strategy that says its evaluation is its own (``Strategy.own_evaluation``).
"""

from __future__ import annotations

from typing import Any, Callable

import torch


def own_forward_only(template: Any, strategy: Any) -> bool:
    """Whether ``template.eval`` is the model's forward pass on each minibatch, with nothing adapted or added."""
    from avalanche.models import DynamicModule

    if getattr(strategy, "own_evaluation", False):
        return False
    if any(isinstance(m, DynamicModule) for m in template.model.modules()):
        return False
    return type(template).forward is _base_forward()


def _base_forward():
    from avalanche.training.templates.problem_type import SupervisedProblem

    return SupervisedProblem.forward


class StreamEvaluation:
    """``accuracy()``: experience -> accuracy on each test experience of ``instance``, now."""

    def __init__(self, template: Any, strategy: Any, instance: Any, score: Callable, recorder: Any):
        self.template, self.instance, self.score, self.recorder = template, instance, score, recorder
        self.fast = own_forward_only(template, strategy)

    def accuracy(self) -> dict[int, float]:
        if not self.fast:
            self.recorder.reset()
            self.template.eval(self.instance.test_stream)
            return dict(self.recorder.accuracy)
        from avalanche.models.utils import avalanche_forward

        template = self.template
        model, device, size = template.model, template.device, template.eval_mb_size
        was_training = model.training
        model.eval()
        out: dict[int, float] = {}
        iterations = 0
        try:
            with torch.no_grad():
                for j, tensors in enumerate(self.instance.test_tensors()):
                    x, y, t = tensors[0], tensors[1], tensors[-1]  # as Avalanche reads a minibatch
                    correct, count = 0.0, 0
                    for i in range(0, len(x), size):
                        xb, yb, tb = (v[i:i + size].to(device) for v in (x, y, t))
                        s = self.score(avalanche_forward(model, xb, tb), yb)
                        correct += float(s.sum())
                        count += int(s.numel())
                        iterations += 1
                    out[j] = correct / max(count, 1)
        finally:
            model.train(was_training)
        template.clock.total_iterations += iterations
        return out
