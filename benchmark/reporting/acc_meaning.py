"""What "accuracy" measures on each benchmark, for leaderboard captions.

A number quoted from a leaderboard needs its test stated: a CLS item-recall
score and a class-incremental MNIST accuracy are not the same kind of
number. The text lives here, with the reporting, rather than on the
benchmark classes, because benchmark source is part of every run's code
fingerprint: a wording change there would make every result stale. A
benchmark added in one file may still define ``acc_meaning`` on its class;
that text wins over the table below.
"""
from __future__ import annotations

_CLS_RECALL = ("item recall on each experience's own items: a trial counts as correct when the shown "
               "item's own output unit is the most active (autoassociative; chance is 1 / number of units)")

ACC_MEANING: dict[str, str] = {
    "cls": "the suite's three streams each have their own board; see cls-pairs, cls-community and "
           "cls-inference",
    "cls-pairs": _CLS_RECALL + "; pair and non-pair similarity are separate rows, not part of ACC",
    "cls-community": _CLS_RECALL + "; community similarity is a separate row, not part of ACC",
    "cls-inference": _CLS_RECALL + "; A->C inference is a separate row, not part of ACC",
    "dual-mnist": "digit (category head) accuracy on the studied images themselves, a memory "
                  "test, not generalisation to new images; the item head's accuracy is the separate "
                  "item_accuracy",
    "rotated-mnist": "10-way digit accuracy on each task's held-out MNIST test images "
                     "(bench.test_per_task of them; one shared head, domain-incremental)",
    "permuted-mnist": "10-way digit accuracy on each task's held-out MNIST test images "
                      "(bench.test_per_task of them; one shared head, domain-incremental)",
    "many-permuted-mnist": "10-way digit accuracy on each task's held-out MNIST test "
                           "images (bench.test_per_task of them; one shared head, domain-incremental)",
    "omniglot-oml": "class-incremental accuracy over all characters streamed so far, on the held-out "
                    "drawings of each character (the last 5 of its 20; OML's meta-test accuracy), "
                    "while the studied drawings give the separate seen_acc",
    "split-mnist": "class-incremental accuracy on the MNIST test images of each experience's two digits, "
                   "one 10-way head, no task label at test",
    "split-mnist-task": "task-incremental accuracy on the MNIST test images of each experience's two digits, "
                        "the task label selects the head",
    "split-omniglot": "class-incremental accuracy on the held-out drawings of each character of each "
                      "alphabet, one head over all characters",
    "split-patterns": "class-incremental accuracy on each experience's held-out generated patterns, one head "
                      "over all classes",
}


def acc_meaning(benchmark: str, benchmark_cls: type | None = None) -> str:
    """The benchmark's own ``acc_meaning`` if it defines one, else the table's entry, else ''."""
    own = getattr(benchmark_cls, "acc_meaning", "") if benchmark_cls is not None else ""
    return own or ACC_MEANING.get(benchmark, "")
