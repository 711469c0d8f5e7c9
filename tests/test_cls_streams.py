"""The CLS paradigms' streams follow their specification (Schapiro et al. 2017), in both schedules."""

from collections import Counter

import numpy as np
import pytest
import torch

from hippo_bench.errors import UserError
from hippo_bench.tasks import benchmarks
from hippo_bench.tasks.cls_common import pack_targets, trial_patterns, unpack_targets
from hippo_bench.tasks.cls_community import community_graph, random_walk
from hippo_bench.tasks.cls_inference import triad_item
from hippo_bench.tasks.cls_pairs import pair_sequence

PARADIGMS = ["cls-pairs", "cls-community", "cls-inference"]


def build(name, seed=0, **params):
    cls = benchmarks.get(name)
    return cls(cls.Config(meta_train_episodes=2, **params)).build(seed)


def trials(instance, split="train"):
    """Per experience, the (current items, previous items) of each trial, decoded back from the packed targets."""
    layout = instance.extra["layout"]
    item_of_unit = {u: i for i, u in enumerate(layout.unit_of)}
    stream = instance.train_stream if split == "train" else instance.test_stream
    out = []
    for exp in stream:
        y = torch.tensor([int(s[1]) for s in exp.dataset])
        cur, prev = unpack_targets(y, layout.n_items)
        out.append(([item_of_unit[int(u)] for u in cur], [item_of_unit.get(int(u), -1) for u in prev]))
    return out


def studied(block):
    cur, prev = block
    return set(cur) | {p for p in prev if p >= 0}


# ------------------------------------------------------------------ both schedules, every paradigm
@pytest.mark.parametrize("name", PARADIGMS)
def test_continual_experiences_study_new_items_and_test_exactly_them(name):
    inst = build(name, n_experiences=3)
    layout = inst.extra["layout"]
    train, test = trials(inst), trials(inst, "test")
    size = layout.n_items // 3
    assert layout.n_items == 3 * size and inst.n_outputs == layout.n_items  # one unit per item of the whole stream
    for j, (block, (test_cur, test_prev)) in enumerate(zip(train, test)):
        own = set(range(j * size, (j + 1) * size))
        assert studied(block) == own  # experience j studies its own items only, all of them
        assert sorted(test_cur) == sorted(own) and set(test_prev) == {-1}  # and is tested on each alone
    assert layout.per_experience
    # contrasts and relations never mix items of two experiences
    of = lambda i: i // size  # noqa: E731
    for pairs in layout.contrasts.values():
        assert pairs and all(of(a) == of(b) for a, b in pairs)
    for relations in layout.relations.values():
        for r in relations:
            assert {of(i) for i in (*r.targets, *r.foils)} == {of(r.cue)}


@pytest.mark.parametrize("name", PARADIGMS)
def test_interleaved_studies_one_item_set_in_every_experience_and_tests_all_of_it(name):
    inst = build(name, schedule="interleaved", n_experiences=3)
    layout = inst.extra["layout"]
    continual = build(name, n_experiences=3).extra["layout"]
    assert layout.n_items == continual.n_items // 3  # one item set, the size of one continual experience's
    everything = set(range(layout.n_items))
    for block in trials(inst):
        assert studied(block) == everything
    for cur, prev in trials(inst, "test"):
        assert sorted(cur) == sorted(everything) and set(prev) == {-1}
    assert not layout.per_experience


@pytest.mark.parametrize("name", PARADIGMS)
def test_same_seed_same_stream_other_seed_other_stream(name):
    a, b, c = build(name, seed=4), build(name, seed=4), build(name, seed=5)
    xa, xb, xc = (torch.stack([s[0] for e in inst.train_stream for s in e.dataset]) for inst in (a, b, c))
    assert torch.equal(xa, xb)
    assert a.extra["layout"].unit_of == b.extra["layout"].unit_of
    assert a.extra["layout"].unit_of != c.extra["layout"].unit_of and not torch.equal(xa, xc)
    metas = [e.layout.unit_of for e in a.meta_train]
    assert len(metas) == 2 and a.extra["layout"].unit_of not in metas  # fresh items per meta episode


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


def test_continual_pairs_follow_the_pair_rule_within_each_experience_with_previous_item_at_0_9():
    inst = build("cls-pairs", n_experiences=2, trials_per_exp=40)
    layout = inst.extra["layout"]
    for j, (cur, prev) in enumerate(trials(inst)):
        assert len(cur) == 40 and prev[0] == -1  # a new sequence each experience: nothing carries over
        assert prev[1:] == cur[:-1]
        for a, b in zip(cur[:-1], cur[1:]):
            if a % 2 == 0:
                assert b == a + 1
            else:
                assert b % 2 == 0 and b // 2 != a // 2 and b // 8 == a // 8 == j  # to a first member of its own set
    (cur, prev), x0 = trials(inst)[1], inst.train_stream[1].dataset[1][0]
    expected = torch.zeros(16)
    expected[layout.unit_of[prev[1]]] = 0.9
    expected[layout.unit_of[cur[1]]] = 1.0
    assert torch.equal(x0, expected)
    assert sorted(layout.contrasts["pair"]) == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11), (12, 13), (14, 15)]
    assert len(layout.contrasts["nonpair"]) == 2 * (8 * 7 // 2 - 4)  # per experience: all pairs of its items - pairs
    ab = {r.cue: r for r in layout.relations["ab"]}
    assert ab[8].targets == (9,) and ab[8].foils == (11, 13, 15)  # foils: second members of the same experience


def test_interleaved_pairs_are_one_sequence_across_blocks():
    inst = build("cls-pairs", schedule="interleaved", n_experiences=3, trials_per_exp=40)
    blocks = trials(inst)
    flat_cur = [i for cur, _ in blocks for i in cur]
    flat_prev = [i for _, prev in blocks for i in prev]
    assert len(flat_cur) == 120 and flat_prev[0] == -1
    assert flat_prev[1:] == flat_cur[:-1]  # the previous item carries over block boundaries


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


def test_each_experience_walks_its_own_graph_and_the_contrasts_use_unlinked_items_of_one_graph():
    inst = build("cls-community", n_experiences=2, trials_per_exp=300)
    layout = inst.extra["layout"]
    g = community_graph(3, 5, 4)
    for j, (cur, prev) in enumerate(trials(inst)):
        assert prev[0] == -1
        for a, b in zip(cur[:-1], cur[1:]):
            assert g.linked(a - 15 * j, b - 15 * j)  # a step of the walk is an edge of experience j's graph
    within = sorted(layout.contrasts["within"])
    assert within == sorted([*g.boundary, *[(a + 15, b + 15) for a, b in g.boundary]])
    assert len(layout.contrasts["between"]) == 2 * (15 * 14 // 2 - 30 - 3)  # per graph: all pairs - edges - within
    assert all(not g.linked(i % 15, j % 15) and i // 15 == j // 15 for i, j in layout.contrasts["between"])


# -------------------------------------------------------------- inference
def test_each_experience_studies_its_own_triads_ab_pairs_first_then_bc():
    inst = build("cls-inference", n_experiences=2, triads_per_exp=3, reps=4)
    for j, (cur, prev) in enumerate(trials(inst)):
        triads = range(3 * j, 3 * j + 3)
        assert len(cur) == 2 * 3 * 4
        roles = [{cur[k] % 3, prev[k] % 3} for k in range(len(cur))]
        assert roles[:12] == [{0, 1}] * 12 and roles[12:] == [{1, 2}] * 12  # all AB trials, then all BC trials
        for a, b in zip(cur, prev):
            assert a // 3 == b // 3 and a // 3 in triads and a != b  # both items of one of its triads
        assert Counter(frozenset(p) for p in zip(cur, prev)) == {
            frozenset((triad_item(t, x), triad_item(t, y))): 4 for t in triads for x, y in (("a", "b"), ("b", "c"))}
    layout = inst.extra["layout"]
    ac = {r.cue: r for r in layout.relations["ac"]}
    assert ac[triad_item(3, "a")].targets == (triad_item(3, "c"),)
    assert ac[triad_item(3, "a")].foils == (triad_item(4, "c"), triad_item(5, "c"))  # other triads of experience 1
    assert (triad_item(0, "a"), triad_item(3, "c")) not in layout.contrasts["ac_foil"]


def test_interleaved_inference_mixes_ab_and_bc_pairs_in_every_block():
    inst = build("cls-inference", schedule="interleaved", n_experiences=2, triads_per_exp=3, reps=4)
    for cur, prev in trials(inst):
        roles = Counter(frozenset((a % 3, b % 3)) for a, b in zip(cur, prev))
        assert roles == {frozenset((0, 1)): 12, frozenset((1, 2)): 12}
        first_bc = next(k for k, (a, b) in enumerate(zip(cur, prev)) if {a % 3, b % 3} == {1, 2})
        assert first_bc < 12  # BC trials do not wait for all AB trials


# ------------------------------------------------------------ parameters, targets
@pytest.mark.parametrize("name, params, words", [
    ("cls-pairs", {"items_per_exp": 7}, ["even", "pairs"]),
    ("cls-community", {"degree": 5}, ["degree 5"]),
    ("cls-community", {"community_size": 5, "degree": 3}, ["even"]),
])
def test_parameters_that_cannot_form_the_paradigm_are_user_errors(name, params, words):
    with pytest.raises(UserError) as err:
        benchmarks.get(name).Config(**params)
    message = str(err.value)
    assert "\n" not in message and message.startswith(name)
    for w in words:
        assert w in message


def test_packed_targets_round_trip_and_give_the_input_pattern():
    cur, prev = torch.tensor([2, 0, 1]), torch.tensor([0, -1, 2])
    y = pack_targets(cur, prev, 3)
    assert torch.equal(torch.stack(unpack_targets(y, 3)), torch.stack([cur, prev]))
    assert torch.equal(trial_patterns(y, 3, 0.9), torch.tensor([[0.9, 0, 1], [1, 0, 0], [0, 1, 0.9]]))
