"""The work counter of ``make bench``: ATen ops and matrix-product FLOPs, training apart from the rest."""

from __future__ import annotations

import importlib.util

import torch

from conftest import REPO


def _bench():
    spec = importlib.util.spec_from_file_location("bench_speed", REPO / "scripts" / "bench_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_counts_the_flops_of_products_and_outer_updates_by_phase():
    a, b = torch.rand(3, 4), torch.rand(4, 5)
    w, u, v = torch.zeros(5, 4), torch.rand(5), torch.rand(4)
    counter = _bench()._work_counter()
    with counter:
        a @ b  # 2 * 3 * 4 * 5 = 120
        counter.phase = "train"
        w.addr_(u, v)  # 2 * 5 * 4 = 40
        torch.bmm(torch.rand(2, 3, 4), torch.rand(2, 4, 5))  # rand, rand, bmm: 2 * 2 * 3 * 4 * 5 = 240
        torch.relu(a)  # an op without FLOPs
        counter.phase = "other"
    assert counter.flops == {"train": 40 + 240, "other": 120}
    assert counter.ops == {"train": 5, "other": 1}


def test_ceilings_on_hand_computed_work():
    # 1,000 samples; 4 GFLOP and 100,000 ops of training, 2 GFLOP elsewhere; 10 GFLOP/s, 2 us per op
    c = _bench().ceilings({"train": 4e9, "other": 2e9}, {"train": 100_000, "other": 7}, 1000.0, 1e10, 2e-6, 500.0)
    assert c["flop_per_sample"] == 4e6 and c["ops_per_sample"] == 100.0
    assert c["flops_only"] == 2500.0  # 1e10 / 4e6
    assert abs(c["with_ops"] - 1.0 / (4e-4 + 2e-4)) < 1e-9  # 0.4 ms of FLOPs + 0.2 ms of ops per sample
    assert c["least_ratio"] == 1.0 + 0.2 / 2.0  # evaluations 0.2 s beside 2 s of training at 500/s
