"""cls-community: temporal community structure (Schapiro et al. 2013; Schapiro et al. 2017, sim. 2).

Items are the nodes of a graph of communities (default 3 of 5): every node
has the same degree (4), each community has two boundary nodes, each linked
to one boundary node of a neighbouring community (the communities form a
ring), and the two boundary nodes of a community are not linked to each
other. Trials follow a random walk (uniform over neighbours).

Continual schedule (default): every experience walks a new graph (new
items, the same shape) for ``trials_per_exp`` trials and is tested on its
items. Interleaved schedule: one graph walked in every experience (one
continuous walk cut into blocks, all items tested each time): C-HORSE's
learning-curve protocol, not a forgetting benchmark.

Measures: within- vs between-community similarity per layer for items of
the same graph that are not directly linked (community clustering), and
production of graph neighbours against the graph's non-neighbours, pooled
and per experience.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from hippo_bench.analysis.production import Relation
from hippo_bench.params import param
from hippo_bench.tasks import register
from hippo_bench.tasks.cls_common import ClsParadigm, ItemSet, SequenceConfig, Trials, invalid, sequence_blocks


@dataclasses.dataclass(frozen=True)
class CommunityGraph:
    """Adjacency lists of the items, each item's community, and each community's boundary nodes."""

    neighbours: tuple[tuple[int, ...], ...]
    community: tuple[int, ...]
    boundary: tuple[tuple[int, int], ...]

    def linked(self, i: int, j: int) -> bool:
        return j in self.neighbours[i]


def community_graph(n_communities: int, size: int, degree: int) -> CommunityGraph:
    """The regular community graph; item ``c * size + l`` is node l of community c.

    Inside a community the nodes form a circulant graph of the given degree
    (offsets 1 .. degree//2, plus size/2 when the degree is odd), from which
    the edge between nodes 0 and 1, the boundary nodes, is removed; node 1 of
    community c then links to node 0 of community c + 1 (mod the count), which
    gives every node the same degree.
    """
    offsets = set(range(1, degree // 2 + 1))
    if degree % 2:
        offsets.add(size // 2)
    edges = set()
    for c in range(n_communities):
        base = c * size
        for node in range(size):
            for k in offsets:
                a, b = base + node, base + (node + k) % size
                edges.add((min(a, b), max(a, b)))
        edges.discard((base, base + 1))
        nxt = ((c + 1) % n_communities) * size
        edges.add((min(base + 1, nxt), max(base + 1, nxt)))
    n = n_communities * size
    neighbours = [set() for _ in range(n)]
    for a, b in edges:
        neighbours[a].add(b)
        neighbours[b].add(a)
    return CommunityGraph(neighbours=tuple(tuple(sorted(s)) for s in neighbours),
                          community=tuple(i // size for i in range(n)),
                          boundary=tuple((c * size, c * size + 1) for c in range(n_communities)))


def random_walk(graph: CommunityGraph, length: int, rng: np.random.Generator) -> list[int]:
    """A walk that starts at a random node and moves to a uniformly chosen neighbour each trial."""
    seq = [int(rng.integers(len(graph.neighbours)))]
    while len(seq) < length:
        options = graph.neighbours[seq[-1]]
        seq.append(options[rng.integers(len(options))])
    return seq


def community_set(graph: CommunityGraph, first: int) -> ItemSet:
    """The graph's nodes as items ``first + node``, with the clustering contrasts and neighbour relations."""
    n = len(graph.community)
    unlinked = [(i, j) for i, j in itertools.combinations(range(n), 2) if not graph.linked(i, j)]
    same = lambda i, j: graph.community[i] == graph.community[j]  # noqa: E731
    shift = lambda pairs: [(first + i, first + j) for i, j in pairs]  # noqa: E731
    return ItemSet(
        items=list(range(first, first + n)),
        contrasts={"within": shift(p for p in unlinked if same(*p)),
                   "between": shift(p for p in unlinked if not same(*p))},
        relations={"neighbour": [Relation(first + i, tuple(first + j for j in graph.neighbours[i]),
                                          tuple(first + j for j in range(n) if j != i and not graph.linked(i, j)))
                                 for i in range(n)]},
        structure=graph,
    )


@register("cls-community")
class ClsCommunity(ClsParadigm):
    description = ("C-HORSE community structure: a random walk on a new graph of communities every experience "
                   "(no data needed)")
    acc_meaning = ("item recall on each experience's own items: a trial counts as correct when the shown item's own "
                   "output unit is the most active (autoassociative; chance is 1 / number of units); community "
                   "similarity is a separate row, not part of ACC")
    references = ("Schapiro, Rogers, Cordova, Turk-Browne & Botvinick 2013",
                  "Schapiro et al. 2017 (C-HORSE), simulation 2")
    headline = ("neighbour", "within", "between")

    @dataclasses.dataclass
    class Config(SequenceConfig):
        n_communities: int = param(3, "communities per graph (linked in a ring by their boundary nodes)",
                                   min=2, max=1000)
        community_size: int = param(5, "items per community", min=3, max=1000)
        degree: int = param(4, "links per item (the same for every item)", min=2, max=1000)
        trials_per_exp: int = param(400, "trials per experience", min=2, max=1000000)

        def __post_init__(self):
            s, d = self.community_size, self.degree
            if d > s - 1 or (s * d) % 2:
                raise invalid("cls-community", (
                    f"no graph of communities of {s} items admits degree {d} "
                    f"(--bench-degree must be at most --bench-community-size - 1 = {s - 1}, "
                    f"and community_size x degree must be even)"))

    def set_size(self) -> int:
        return self.config.n_communities * self.config.community_size

    def item_set(self, first: int) -> ItemSet:
        c = self.config
        return community_set(community_graph(c.n_communities, c.community_size, c.degree), first)

    def study(self, item_set: ItemSet, n_blocks: int, rng: np.random.Generator) -> list[Trials]:
        first = item_set.items[0]
        walk = random_walk(item_set.structure, n_blocks * self.config.trials_per_exp, rng)
        return sequence_blocks([first + i for i in walk], n_blocks)

    def protocol(self) -> str:
        c = self.config
        return (f"{self.schedule_text()}; graphs of {c.n_communities} communities of {c.community_size}, degree "
                f"{c.degree}; random walk, {c.trials_per_exp} trials per experience; previous item at "
                f"{c.previous_strength}")
