"""cls-community: temporal community structure (Schapiro et al. 2013; Schapiro et al. 2017, sim. 2).

Items are the nodes of a graph of communities (default 3 of 5): every node
has the same degree (4), each community has two boundary nodes, each linked
to one boundary node of a neighbouring community (the communities form a
ring), and the two boundary nodes of a community are not linked to each
other. Trials follow a random walk (uniform over neighbours). Measures:
within- vs between-community similarity per layer for items that are not
directly linked (community clustering), and production of graph neighbours
against non-neighbours.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from hippo_bench.analysis.item_layout import ItemLayout
from hippo_bench.analysis.production import Relation
from hippo_bench.params import param
from hippo_bench.tasks import register
from hippo_bench.tasks.cls_common import ClsParadigm, Episode, SequenceConfig, invalid, sequence_episode


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


def community_layout(graph: CommunityGraph, unit_of: list[int], n_blocks: int) -> ItemLayout:
    n = len(graph.community)
    unlinked = [(i, j) for i, j in itertools.combinations(range(n), 2) if not graph.linked(i, j)]
    same = lambda i, j: graph.community[i] == graph.community[j]  # noqa: E731
    return ItemLayout(
        unit_of=unit_of,
        test_items=[list(range(n)) for _ in range(n_blocks)],
        contrasts={"within": [p for p in unlinked if same(*p)], "between": [p for p in unlinked if not same(*p)]},
        relations={"neighbour": [Relation(i, graph.neighbours[i],
                                          tuple(j for j in range(n) if j != i and not graph.linked(i, j)))
                                 for i in range(n)]},
    )


@register("cls-community")
class ClsCommunity(ClsParadigm):
    description = "C-HORSE community structure: random walk on a regular graph of communities (no data needed)"
    references = ("Schapiro, Rogers, Cordova, Turk-Browne & Botvinick 2013",
                  "Schapiro et al. 2017 (C-HORSE), simulation 2")
    headline = ("neighbour", "within", "between")

    @dataclasses.dataclass
    class Config(SequenceConfig):
        n_communities: int = param(3, "communities (linked in a ring by their boundary nodes)", min=2, max=1000)
        community_size: int = param(5, "items per community", min=3, max=1000)
        degree: int = param(4, "links per item (the same for every item)", min=2, max=1000)
        trials_per_block: int = param(200, "trials per experience", min=2, max=1000000)

        def __post_init__(self):
            s, d = self.community_size, self.degree
            if d > s - 1 or (s * d) % 2:
                raise invalid("cls-community", (
                    f"no graph of communities of {s} items admits degree {d} "
                    f"(--bench-degree must be at most --bench-community-size - 1 = {s - 1}, "
                    f"and community_size x degree must be even)"))

    def protocol(self) -> str:
        c = self.config
        return (f"{c.n_communities} communities of {c.community_size}, degree {c.degree}; random walk; "
                f"{c.n_blocks} experiences of {c.trials_per_block} trials; previous item at {c.previous_strength}")

    def episode(self, rng: np.random.Generator) -> Episode:
        c = self.config
        graph = community_graph(c.n_communities, c.community_size, c.degree)
        unit_of = rng.permutation(len(graph.community)).tolist()
        seq = random_walk(graph, c.n_blocks * c.trials_per_block, rng)
        return sequence_episode(seq, community_layout(graph, unit_of, c.n_blocks), c.previous_strength)
