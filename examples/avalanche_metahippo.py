"""meta-hippo as a plain Avalanche strategy: your loop, your benchmark, Avalanche's metrics, offline.

Split MNIST from the offline copy of MNIST (the folder holding ``MNIST/raw``,
``$HIPPO_BENCH_DATA``), so nothing is downloaded; ``--per-experience N`` keeps
the first N images of each experience for a quick look.

    HIPPO_BENCH_DATA=../shared/data python examples/avalanche_metahippo.py --per-experience 200
"""

from __future__ import annotations

import argparse
import os
import sys

from hippo_bench import MetaHippo, make_model  # first: it makes Avalanche's import safe on a read-only home


def split_mnist(root: str, per_experience: int):
    from avalanche.benchmarks.classic import SplitMNIST
    from avalanche.benchmarks.scenarios.dataset_scenario import benchmark_from_datasets

    bench = SplitMNIST(n_experiences=5, seed=0, dataset_root=root)
    if per_experience <= 0:
        return bench
    cut = lambda stream: [e.dataset.subset(range(min(per_experience, len(e.dataset)))) for e in stream]  # noqa: E731
    return benchmark_from_datasets(train=cut(bench.train_stream), test=cut(bench.test_stream))


def main(argv=None) -> int:
    from avalanche.evaluation.metrics import accuracy_metrics
    from avalanche.training.plugins import EvaluationPlugin

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=os.environ.get("HIPPO_BENCH_DATA"), help="folder holding MNIST/raw")
    ap.add_argument("--per-experience", type=int, default=0, help="images per experience (0: all)")
    ap.add_argument("--condition", default="both", choices=("baseline", "sparsity", "lr", "both"))
    args = ap.parse_args(argv)
    if not args.data_root:
        print("error: set HIPPO_BENCH_DATA (or --data-root) to the folder holding MNIST/raw", file=sys.stderr)
        return 2
    bench = split_mnist(args.data_root, args.per_experience)
    model = make_model("mlp2", (1, 28, 28), 10)
    strategy = MetaHippo(model, condition=args.condition, alpha_init=0.1,
                         evaluator=EvaluationPlugin(accuracy_metrics(stream=True)))
    for experience in bench.train_stream:
        strategy.train(experience)
        metrics = strategy.eval(bench.test_stream)
    accuracy = next(v for k, v in metrics.items() if k.startswith("Top1_Acc_Stream/eval_phase/test_stream"))
    print(f"stream accuracy after the last experience: {accuracy:.3f}")
    print(strategy.learned_pattern().to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
