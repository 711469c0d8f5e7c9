"""The CLS paradigms' streams follow their specification (Schapiro et al. 2017)."""

from collections import Counter

import numpy as np
import pytest
import torch

from hippo_bench.tasks import benchmarks
from hippo_bench.tasks.cls_common import pack_targets, trial_patterns, unpack_targets
from hippo_bench.tasks.cls_community import community_graph, random_walk
from hippo_bench.tasks.cls_inference import triad_item
from hippo_bench.tasks.cls_pairs import pair_sequence


def build(name, seed=0, **params):
    cls = benchmarks.get(name)
    return cls(cls.Config(meta_train_episodes=2, **params)).build(seed)


def current_items(instance, split="train"):
    """Per experience, the current item of each trial, decoded back from the packed targets."""
    layout = instance.extra["layout"]
    item_of_unit = {u: i for i, u in enumerate(layout.unit_of)}
    stream = instance.train_stream if split == "train" else instance.test_stream
    out = []
    for exp in stream:
        y = torch.tensor([int(s[1]) for s in exp.dataset])
        cur, prev = unpack_targets(y, layout.n_items)
        out.append(([item_of_unit[int(u)] for u in cur], [item_of_unit.get(int(u), -1) for u in prev]))
    return out


# ------------------------------------------------------------------ pairs
def test_pair_transitions_match_the_specification():
    seq = pair_sequence(4, 40_000, np.random.default_rng(1))
    steps = list(zip(seq[:-1], seq[1:]))
    within = sum(b == a + 1 and a % 2 == 0 for a, b in steps) / len(steps)
    assert within == pytest.approx(0.5, abs=0.01)
    for a, b in steps:
        if a % 2 == 0:
            assert b == a + 1  # a first member is always followed by its mate
        else:
            assert b % 2 == 0 and b // 2 != a // 2  # a second member goes to another pair's first member
    for second in (1, 3, 5, 7):
        nxt = Counter(b for a, b in steps if a == second)
        total = sum(nxt.values())
        assert sorted(nxt) == sorted(f for f in (0, 2, 4, 6) if f != second - 1)
        for count in nxt.values():
            assert count / total == pytest.approx(1 / 3, abs=0.03)


def test_pair_within_probability_is_honoured():
    seq = pair_sequence(4, 40_000, np.random.default_rng(2), p_within=0.25)
    firsts = [(a, b) for a, b in zip(seq[:-1], seq[1:]) if a % 2 == 0]
    assert sum(b == a + 1 for a, b in firsts) / len(firsts) == pytest.approx(0.25, abs=0.015)


def test_pairs_stream_is_one_continuous_sequence_with_previous_item_at_0_9():
    inst = build("cls-pairs", n_blocks=3, trials_per_block=40)
    layout = inst.extra["layout"]
    blocks = current_items(inst)
    flat_cur = [i for cur, _ in blocks for i in cur]
    flat_prev = [i for _, prev in blocks for i in prev]
    assert len(flat_cur) == 120 and flat_prev[0] == -1
    assert flat_prev[1:] == flat_cur[:-1]  # the previous item carries over block boundaries
    x0 = inst.train_stream[1].dataset[0][0]
    cur, prev = blocks[1][0][0], blocks[1][1][0]
    expected = torch.zeros(8)
    expected[layout.unit_of[prev]] = 0.9
    expected[layout.unit_of[cur]] = 1.0
    assert torch.equal(x0, expected)
    # test experiences: each item alone
    for cur, prev in current_items(inst, "test"):
        assert sorted(cur) == list(range(8)) and set(prev) == {-1}


# -------------------------------------------------------------- community
def test_community_graph_is_regular_with_two_boundary_nodes_per_community():
    g = community_graph(3, 5, 4)
    assert len(g.neighbours) == 15
    assert all(len(n) == 4 for n in g.neighbours)
    assert all(i not in g.neighbours[i] for i in range(15))
    assert all(i in g.neighbours[j] for i in range(15) for j in g.neighbours[i])  # undirected
    for c in range(3):
        members = [i for i in range(15) if g.community[i] == c]
        crossing = [i for i in members if any(g.community[j] != c for j in g.neighbours[i])]
        assert sorted(crossing) == sorted(g.boundary[c])
        for i in crossing:
            assert sum(g.community[j] != c for j in g.neighbours[i]) == 1
        a, b = g.boundary[c]
        assert not g.linked(a, b)  # the only unlinked pair inside a community
        assert sum(not g.linked(i, j) for i in members for j in members if i < j) == 1
    linked_communities = {tuple(sorted((g.community[i], g.community[j])))
                          for i in range(15) for j in g.neighbours[i] if g.community[i] != g.community[j]}
    assert linked_communities == {(0, 1), (1, 2), (0, 2)}  # a ring of three


@pytest.mark.parametrize("n_communities, size, degree", [(2, 6, 3), (4, 7, 4), (3, 6, 5)])
def test_other_community_graphs_are_regular(n_communities, size, degree):
    g = community_graph(n_communities, size, degree)
    assert all(len(n) == degree for n in g.neighbours)
    assert all(i not in g.neighbours[i] for i in range(len(g.neighbours)))


def test_random_walk_moves_to_each_neighbour_equally_often():
    g = community_graph(3, 5, 4)
    seq = random_walk(g, 60_000, np.random.default_rng(3))
    counts = Counter(zip(seq[:-1], seq[1:]))
    for i in range(15):
        total = sum(counts[(i, j)] for j in g.neighbours[i])
        assert total == sum(v for (a, _), v in counts.items() if a == i)  # never off the graph
        for j in g.neighbours[i]:
            assert counts[(i, j)] / total == pytest.approx(0.25, abs=0.03)


def test_community_contrasts_use_unlinked_items_only():
    layout = build("cls-community").extra["layout"]
    g = community_graph(3, 5, 4)
    assert sorted(layout.contrasts["within"]) == sorted(g.boundary)
    assert len(layout.contrasts["between"]) == 15 * 14 // 2 - 30 - 3  # all pairs - edges - within unlinked
    assert all(not g.linked(i, j) for i, j in layout.contrasts["between"])


# -------------------------------------------------------------- inference
def test_ab_and_bc_experiences_share_exactly_the_b_items():
    inst = build("cls-inference", n_triads=5, reps=3)
    (ab_cur, ab_prev), (bc_cur, bc_prev) = current_items(inst)
    ab, bc = set(ab_cur) | set(ab_prev), set(bc_cur) | set(bc_prev)
    b_items = {triad_item(t, "b") for t in range(5)}
    assert ab & bc == b_items
    assert ab == b_items | {triad_item(t, "a") for t in range(5)}
    assert len(ab_cur) == len(bc_cur) == 5 * 3
    for cur, prev in zip(ab_cur + bc_cur, ab_prev + bc_prev):
        assert cur // 3 == prev // 3 and cur != prev  # both items of one triad's pair
    test_ab, test_bc = current_items(inst, "test")
    assert set(test_ab[0]) & set(test_bc[0]) == b_items


# ------------------------------------------------------------ seeds, targets
@pytest.mark.parametrize("name", ["cls-pairs", "cls-community", "cls-inference"])
def test_same_seed_same_stream_other_seed_other_items(name):
    a, b, c = build(name, seed=4), build(name, seed=4), build(name, seed=5)
    xa, xb, xc = (torch.stack([s[0] for e in inst.train_stream for s in e.dataset]) for inst in (a, b, c))
    assert torch.equal(xa, xb)
    assert a.extra["layout"].unit_of == b.extra["layout"].unit_of
    assert a.extra["layout"].unit_of != c.extra["layout"].unit_of and not torch.equal(xa, xc)
    metas = [e.layout.unit_of for e in a.meta_train]
    assert len(metas) == 2 and a.extra["layout"].unit_of not in metas  # fresh items per meta episode


def test_packed_targets_round_trip_and_give_the_input_pattern():
    cur, prev = torch.tensor([2, 0, 1]), torch.tensor([0, -1, 2])
    y = pack_targets(cur, prev, 3)
    assert torch.equal(torch.stack(unpack_targets(y, 3)), torch.stack([cur, prev]))
    assert torch.equal(trial_patterns(y, 3, 0.9), torch.tensor([[0.9, 0, 1], [1, 0, 0], [0, 1, 0.9]]))
