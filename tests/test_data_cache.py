"""The preprocessing and digest caches: reuse, rebuild on change, atomic writes."""

from __future__ import annotations

import numpy as np
import pytest
from data_files import stream_tensors, trust_mnist, write_mnist

from hippo_bench.data import cache as cache_mod
from hippo_bench.data import integrity
from hippo_bench.data.cache import cached_arrays, entry_path


def counting(value):
    calls = []

    def compute():
        calls.append(1)
        return {"a": np.asarray(value)}

    return compute, calls


def test_entry_is_reused_for_the_same_key_and_separate_for_another(cache):  # noqa: F811
    compute, calls = counting([1, 2, 3])
    first = cached_arrays("k", {"p": 1}, compute)
    again = cached_arrays("k", {"p": 1}, compute)
    assert len(calls) == 1 and again["a"].tolist() == first["a"].tolist() == [1, 2, 3]
    other, calls2 = counting([4])
    assert cached_arrays("k", {"p": 2}, other)["a"].tolist() == [4] and len(calls2) == 1
    assert entry_path("k", {"p": 1}).parent == cache / "k"


def test_interrupted_write_leaves_no_cache_file(cache, monkeypatch):  # noqa: F811
    def savez_then_die(fh, **arrays):
        fh.write(b"PK partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_mod.np, "savez", savez_then_die)
    with pytest.raises(KeyboardInterrupt):
        cached_arrays("k", {"p": 1}, counting([1])[0])
    assert list((cache / "k").iterdir()) == []


def test_unreadable_entry_is_rebuilt(cache):  # noqa: F811
    path = entry_path("k", {"p": 1})
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    compute, calls = counting([7])
    assert cached_arrays("k", {"p": 1}, compute)["a"].tolist() == [7] and len(calls) == 1
    assert cached_arrays("k", {"p": 1}, compute)["a"].tolist() == [7] and len(calls) == 1


def test_digest_is_hashed_once_per_file_version(cache, tmp_path, monkeypatch):  # noqa: F811
    f = tmp_path / "f.bin"
    f.write_bytes(b"abc")
    hashed = []
    real = integrity.hash_file
    monkeypatch.setattr(integrity, "hash_file", lambda p, a: hashed.append(p) or real(p, a))
    assert integrity.file_digest(f, "md5") == "900150983cd24fb0d6963f7d28e17f72"  # md5("abc")
    assert integrity.file_digest(f, "md5") == "900150983cd24fb0d6963f7d28e17f72"
    assert len(hashed) == 1
    f.write_bytes(b"abcd")
    assert integrity.file_digest(f, "md5") == "e2fc714c4727ee9395f324cd2e7f331f"  # md5("abcd")
    assert len(hashed) == 2


def test_mnist_stream_comes_from_the_cache_and_is_rebuilt_when_the_source_changes(tiny_mnist, monkeypatch):
    from hippo_bench.tasks import mnist as tasks_mnist
    from hippo_bench.tasks.mnist import RotatedMNIST

    root, _ = tiny_mnist
    config = RotatedMNIST.Config(n_tasks=2, samples_per_task=5, test_per_task=4)
    first = RotatedMNIST(config).build(0, root)
    reads = []
    real_read = tasks_mnist.read_mnist
    monkeypatch.setattr(tasks_mnist, "read_mnist", lambda r: reads.append(r) or real_read(r))
    again = RotatedMNIST(config).build(0, root)
    assert reads == []  # served from the cache
    x0 = stream_tensors(first.train_stream)[0][0]
    assert torch_equal(x0, stream_tensors(again.train_stream)[0][0])
    write_mnist(root, seed=1)  # new source files: new checksums
    trust_mnist(monkeypatch, root)
    changed = RotatedMNIST(config).build(0, root)
    assert len(reads) == 1
    assert not torch_equal(stream_tensors(changed.train_stream)[0][0], x0)


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.equal(a, b))
