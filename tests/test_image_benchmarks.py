"""The image benchmarks on tiny MNIST and Omniglot files: protocols, labels, seeds, bad parameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from data_files import stream_tensors
from PIL import Image

from hippo_bench.errors import UserError
from hippo_bench.tasks import benchmarks
from hippo_bench.tasks.base import CLASS_INCREMENTAL, DOMAIN_INCREMENTAL, TASK_INCREMENTAL
from hippo_bench.tasks.heads import HeadCodec

IMAGE_BENCHMARKS = ["rotated-mnist", "permuted-mnist", "many-permuted-mnist", "split-mnist", "split-mnist-task",
                    "dual-mnist", "omniglot-oml", "split-omniglot"]


def build(name: str, root, seed: int = 0, **params):
    cls = benchmarks.get(name)
    return cls(cls.Config(**params)).build(seed, root)


def test_every_image_benchmark_is_registered_and_needs_data():
    for name in IMAGE_BENCHMARKS:
        cls = benchmarks.get(name)
        assert cls.needs_data and cls.description and cls.references, name


def test_rotated_mnist_rotates_the_drawn_images_by_one_angle_per_bin(tiny_mnist):
    root, m = tiny_mnist
    inst = build("rotated-mnist", root, n_tasks=4, samples_per_task=6, test_per_task=3)
    assert inst.n_experiences == 4 and inst.n_outputs == 10 and inst.input_shape == (784,)
    assert inst.kind == DOMAIN_INCREMENTAL
    angles = inst.extra["angles"]
    assert all(45 * t <= a < 45 * (t + 1) for t, a in enumerate(angles))
    train = stream_tensors(inst.train_stream)
    for t, (x, y, task) in enumerate(train):
        idx = inst.extra["train_indices"][t]
        assert x.shape == (6, 784) and task.tolist() == [0] * 6
        assert y.tolist() == m["train_y"][idx].tolist()
        expected = np.stack([np.asarray(Image.fromarray(m["train_x"][i]).rotate(angles[t])) for i in idx])
        torch.testing.assert_close(x, torch.from_numpy(expected.reshape(6, 784) / 255.0).float())
    test = stream_tensors(inst.test_stream)
    assert [len(x) for x, _, _ in test] == [3, 3, 3, 3]


def test_stream_depends_on_the_benchmark_seed_only(tiny_mnist):
    root, _ = tiny_mnist
    a = build("rotated-mnist", root, seed=0, n_tasks=3, samples_per_task=5, test_per_task=2)
    b = build("rotated-mnist", root, seed=0, n_tasks=3, samples_per_task=5, test_per_task=2)
    c = build("rotated-mnist", root, seed=1, n_tasks=3, samples_per_task=5, test_per_task=2)
    assert a.extra["angles"] == b.extra["angles"] != c.extra["angles"]
    assert [i.tolist() for i in a.extra["train_indices"]] != [i.tolist() for i in c.extra["train_indices"]]


def test_permuted_mnist_applies_one_fixed_permutation_per_task_the_first_too(tiny_mnist):
    root, m = tiny_mnist
    inst = build("permuted-mnist", root, n_tasks=3, samples_per_task=4, test_per_task=4)
    perms = inst.extra["permutations"]
    assert perms.shape == (3, 784) and not (perms[0] == np.arange(784)).all()
    assert sorted(perms[1].tolist()) == list(range(784))
    for (x, y, _), perm, idx in zip(stream_tensors(inst.test_stream), perms, inst.extra["test_indices"]):
        expected = m["test_x"][idx].reshape(len(idx), 784)[:, perm] / 255.0
        torch.testing.assert_close(x, torch.from_numpy(expected).float())


def test_many_permuted_defaults_are_100_tasks_of_200():
    cfg = benchmarks.get("many-permuted-mnist").Config()
    assert (cfg.n_tasks, cfg.samples_per_task) == (100, 200)


def test_more_samples_than_exist_names_the_parameter(tiny_mnist):
    root, _ = tiny_mnist
    with pytest.raises(UserError, match="--bench-samples-per-task: 500 exceeds the 120"):
        build("rotated-mnist", root, n_tasks=1, samples_per_task=500, test_per_task=1)
    with pytest.raises(UserError, match="--bench-train-per-class: 50 exceeds the 12 train images of digit 0"):
        build("split-mnist", root, train_per_class=50)


def test_split_mnist_class_and_task_incremental(tiny_mnist):
    root, _ = tiny_mnist
    ci = build("split-mnist", root)
    assert ci.kind == CLASS_INCREMENTAL and ci.n_experiences == 5
    exps = stream_tensors(ci.train_stream)
    assert [sorted(set(y.tolist())) for _, y, _ in exps] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    assert [len(y) for _, y, _ in exps] == [24] * 5 and all(set(t.tolist()) == {0} for _, _, t in exps)
    ti = build("split-mnist-task", root, train_per_class=3, test_per_class=2, shuffle_classes=True)
    assert ti.kind == TASK_INCREMENTAL
    exps = stream_tensors(ti.train_stream)
    assert [set(t.tolist()) for _, _, t in exps] == [{e} for e in range(5)]
    order = ti.extra["order"]
    assert sorted(order) == list(range(10)) and order != list(range(10))
    assert [sorted(set(y.tolist())) for _, y, _ in exps] == [sorted(order[2 * e:2 * e + 2]) for e in range(5)]


def test_dual_mnist_items_are_the_studied_images_and_the_test_stream(tiny_mnist):
    root, m = tiny_mnist
    inst = build("dual-mnist", root, n_tasks=3, samples_per_task=4)
    assert inst.heads == {"category": 10, "item": 12} and inst.n_outputs == 22
    train, test = stream_tensors(inst.train_stream), stream_tensors(inst.test_stream)
    codec = HeadCodec(inst.heads)
    items = []
    for t, ((x, y, _), (xt, yt, _)) in enumerate(zip(train, test)):
        assert torch.equal(x, xt) and torch.equal(y, yt)
        labels = codec.decode(y)
        assert labels["category"].tolist() == m["train_y"][inst.extra["train_indices"][t]].tolist()
        items += labels["item"].tolist()
    assert items == list(range(12))
    # a model that outputs each sample's own item and digit scores 1 on both heads
    x_all = torch.cat([x for x, _, _ in train])
    y_all = torch.cat([y for _, y, _ in train])

    class Oracle(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            row = (x[:, None, :] == x_all[None]).all(-1).float().argmax(1)
            labels = codec.decode(y_all[row])
            out = torch.zeros(len(x), 22)
            out[torch.arange(len(x)), labels["category"]] = 1
            out[torch.arange(len(x)), 10 + labels["item"]] = 1
            return out

    measures = inst.probes[0](Oracle(), inst)
    assert [(mm.metric, mm.eval_exp, mm.value) for mm in measures] == [("item_accuracy", e, 1.0) for e in range(3)]
    assert inst.score(Oracle()(x_all), y_all).tolist() == [1.0] * 12
    assert float(inst.criterion()(Oracle()(x_all), y_all)) > 0


def test_omniglot_oml_streams_evaluation_characters_and_meta_trains_on_background(tiny_omniglot):
    root, images = tiny_omniglot
    inst = build("omniglot-oml", root, n_classes=3, classes_per_exp=2, image_size=12)
    assert inst.n_experiences == 2 and inst.n_outputs == 3 and inst.input_shape == (1, 12, 12)
    assert inst.default_batch_size == 1 and inst.kind == CLASS_INCREMENTAL
    ids = inst.extra["character_ids"]
    assert len(set(ids)) == 3 and set(ids) <= {6, 7, 8, 9}
    train, test = stream_tensors(inst.train_stream), stream_tensors(inst.test_stream)
    assert [y.tolist() for _, y, _ in train] == [[0] * 15 + [1] * 15, [2] * 15]
    assert [y.tolist() for _, y, _ in test] == [[0] * 5 + [1] * 5, [2] * 5]
    first = images["evaluation"][ids[0] - 6]  # evaluation row = id - first evaluation id
    torch.testing.assert_close(train[0][0][:15, 0], torch.from_numpy(first[:15].astype(np.float32)))
    torch.testing.assert_close(test[0][0][:5, 0], torch.from_numpy(first[15:].astype(np.float32)))
    meta = inst.meta_train
    assert meta.x.shape == (100, 1, 12, 12) and meta.n_classes == 5
    assert meta.y.tolist() == [c for c in range(5) for _ in range(20)]  # official id - 1
    assert [m.metric for m in inst.probes[0](torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(144, 3)),
                                             inst)] == ["train_accuracy"] * 2
    with pytest.raises(UserError, match="--bench-n-classes: 5 exceeds the 4 evaluation characters"):
        build("omniglot-oml", root, n_classes=5)


@pytest.mark.parametrize("name", ["omniglot-oml", "split-omniglot"])
def test_omniglot_ink_1_inverts_every_pixel_and_nothing_else(name, tiny_omniglot):
    root, _ = tiny_omniglot
    paper, ink = (build(name, root, image_size=8, ink=k, **({"n_classes": 3} if name == "omniglot-oml" else {"n_alphabets": 4}))
                  for k in (0, 1))
    for a, b in ((paper.train_stream, ink.train_stream), (paper.test_stream, ink.test_stream)):
        for (xa, ya, _), (xb, yb, _) in zip(stream_tensors(a), stream_tensors(b)):
            assert ya.tolist() == yb.tolist()
            assert xa.min() < xa.max()  # real strokes, so the check below can fail
            torch.testing.assert_close(xb, 1.0 - xa)
    if name == "omniglot-oml":
        torch.testing.assert_close(ink.meta_train.x, 1.0 - paper.meta_train.x)


def test_split_omniglot_has_one_experience_per_alphabet(tiny_omniglot):
    root, _ = tiny_omniglot
    inst = build("split-omniglot", root, n_alphabets=4, image_size=8, train_per_class=10)
    assert inst.extra["alphabets"] == ["Zeta", "Alpha", "Gamma", "Beta"] and inst.n_outputs == 9
    train, test = stream_tensors(inst.train_stream), stream_tensors(inst.test_stream)
    assert [sorted(set(y.tolist())) for _, y, _ in train] == [[0, 1], [2, 3, 4], [5, 6], [7, 8]]
    assert [len(y) for _, y, _ in train] == [20, 30, 20, 20] and [len(y) for _, y, _ in test] == [20, 30, 20, 20]
    shuffled = build("split-omniglot", root, seed=3, n_alphabets=2, alphabet_order="random", image_size=8)
    assert len(shuffled.extra["alphabets"]) == 2
    with pytest.raises(UserError, match="--bench-n-alphabets"):
        build("split-omniglot", root, n_alphabets=5)


TINY_PARAMS = {
    "rotated-mnist": dict(n_tasks=2, samples_per_task=10, test_per_task=5),
    "permuted-mnist": dict(n_tasks=2, samples_per_task=10, test_per_task=5),
    "many-permuted-mnist": dict(n_tasks=2, samples_per_task=10, test_per_task=5),
    "split-mnist": dict(train_per_class=2, test_per_class=2),
    "split-mnist-task": dict(train_per_class=2, test_per_class=2),
    "dual-mnist": dict(n_tasks=2, samples_per_task=5),
    "omniglot-oml": dict(n_classes=4, classes_per_exp=2, image_size=8),
    "split-omniglot": dict(n_alphabets=2, image_size=8),
}


@pytest.mark.parametrize("name", IMAGE_BENCHMARKS)
def test_naive_trains_on_every_image_benchmark(name, tiny_mnist, tiny_omniglot):
    from data_files import train_naive

    cls = benchmarks.get(name)
    config = cls.Config(**TINY_PARAMS[name])
    instance = cls(config).build(0, tiny_mnist[0])  # both tiny data sets share one root
    table = train_naive(name, instance, config)
    acc = table[table.metric == "accuracy"]
    T = instance.n_experiences
    assert len(acc) == (T + 1) * T and acc.value.between(0, 1).all()
    probe_metrics = {"dual-mnist": "item_accuracy", "omniglot-oml": "train_accuracy"}
    if name in probe_metrics:
        assert (table.metric == probe_metrics[name]).sum() == (T + 1) * T
