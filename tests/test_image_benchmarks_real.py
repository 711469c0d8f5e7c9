"""The real MNIST and Omniglot copies under $HIPPO_BENCH_DATA: facts from the data README, every benchmark.

Skipped, with the reason, when HIPPO_BENCH_DATA is unset or does not hold
the data. The preprocessing cache is private to this module.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from data_files import train_naive

from hippo_bench.tasks import benchmarks

pytestmark = pytest.mark.data

DATA = os.environ.get("HIPPO_BENCH_DATA", "")
if not DATA:
    pytest.skip("HIPPO_BENCH_DATA is not set: these tests need the offline MNIST/Omniglot copies",
                allow_module_level=True)
if not (Path(DATA) / "MNIST" / "raw").is_dir() or not (Path(DATA) / "omniglot").is_dir():
    pytest.skip(f"HIPPO_BENCH_DATA={DATA} holds no MNIST/raw or omniglot folder", allow_module_level=True)

README_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]

SMALL = {
    "rotated-mnist": dict(n_tasks=2, samples_per_task=50, test_per_task=50),
    "permuted-mnist": dict(n_tasks=2, samples_per_task=50, test_per_task=50),
    "many-permuted-mnist": dict(n_tasks=2, samples_per_task=20, test_per_task=20),
    "split-mnist": dict(train_per_class=20, test_per_class=10),
    "split-mnist-task": dict(train_per_class=20, test_per_class=10),
    "dual-mnist": dict(n_tasks=2, samples_per_task=20),
    "omniglot-oml": dict(n_classes=10, classes_per_exp=5),
    "split-omniglot": dict(n_alphabets=2),
}


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HIPPO_BENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


def test_mnist_train_label_counts_match_the_readme():
    from hippo_bench.data.mnist import find_mnist, read_mnist, verify_mnist

    root = find_mnist(DATA)
    verify_mnist(root)
    m = read_mnist(root)
    assert m.train_x.shape == (60000, 28, 28) and m.test_x.shape == (10000, 28, 28)
    assert np.bincount(m.train_y).tolist() == README_TRAIN_COUNTS


def test_omniglot_has_964_background_and_659_evaluation_characters_with_the_alphabet_table():
    from hippo_bench.data.omniglot import load_omniglot

    sets = load_omniglot(DATA, 28)
    table = json.loads((Path(DATA) / "omniglot" / "alphabets.json").read_text())
    for s, n in (("background", 964), ("evaluation", 659)):
        assert sets[s].images.shape == (n, 20, 28, 28)
        expected = [(a["alphabet"], a["first_character_id"], a["n_characters"]) for a in table[f"images_{s}.npz"]]
        assert [(a.name, a.first_id, a.n_characters) for a in sets[s].alphabets] == expected
    assert sets["background"].char_ids.tolist() == list(range(1, 965))
    assert sets["evaluation"].char_ids.tolist() == list(range(965, 1624))
    assert len(sets["background"].alphabets) == 30 and len(sets["evaluation"].alphabets) == 20


def test_rotation_angles_are_reproducible_per_seed_and_differ_across_seeds():
    cls = benchmarks.get("rotated-mnist")
    config = cls.Config(**SMALL["rotated-mnist"])
    a, b, c = (cls(config).build(seed, DATA).extra["angles"] for seed in (0, 0, 1))
    assert a == b and a != c
    assert 0 <= a[0] < 90 <= a[1] < 180


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_image_benchmark_builds_and_naive_trains_on_it(name):
    cls = benchmarks.get(name)
    config = cls.Config(**SMALL[name])
    instance = cls(config).build(0, DATA)
    table = train_naive(name, instance, config)
    acc = table[table.metric == "accuracy"]
    assert len(acc) == (instance.n_experiences + 1) * instance.n_experiences
