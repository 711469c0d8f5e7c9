"""The network drawn as its layers and projections, coloured by what was learned.

Nodes are the layers of a HippoNet (``mlp2``, ``mlp4``, ``dual``,
``chorse``), coloured by % active and labelled with their units; edges are
the projections, coloured (and thickened) by the learned learning rate
relu(alpha). Values are the means over the selection's runs at the end of
training. The structure comes from the model itself, rebuilt from the run's
``model`` and ``model_params`` (its heads from the projections recorded), so
the drawing always matches what was trained.

Layout: a layer's column is its depth (longest path from the input); layers
sharing a column are spread vertically in declaration order; the
trisynaptic group (``TSP``: DG, CA3) is lifted into a lane of its own so that
the monosynaptic ECin -> CA1 projection runs beneath it, as in the
hippocampal circuit diagrams. Projections that skip columns bend away from
the layers they pass.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch
from matplotlib.path import Path as MplPath
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from hippo_bench.errors import UserError
from hippo_bench.plotting.data import Selection, final_values
from hippo_bench.plotting.style import RATE, SEQUENTIAL, new_figure

COLUMN = 1.9  # horizontal distance between depths (data units)
ROW = 1.45  # vertical distance between layers sharing a column
LANES = {"TSP": 1.2}  # groups drawn in a lane of their own, above the main line
INPUT, OUTPUT_FILL, DEAD = "#d9d9d9", "#f2f2f2", "#9a9a9a"
ACTIVE_RANGE = (0.1, 100.0)  # bounds of the % active colour scale (log: sparse codes span orders of magnitude)
LABEL_AT = 0.3  # where along a projection its rate is written (crossing projections' labels stay apart)


@dataclasses.dataclass
class Node:
    name: str
    units: int | None
    group: str
    output: bool
    x: float = 0.0
    y: float = 0.0

    @property
    def radius(self) -> float:
        return 0.2 + 0.045 * math.log10(max(self.units or 1, 1))


@dataclasses.dataclass
class Edge:
    src: str
    dst: str
    name: str
    group: str


def net_structure(model: str, model_params: dict, heads: list[str]) -> tuple[list[Node], list[Edge]]:
    """Layers and projections of registered model ``model`` with ``model_params`` and these output heads.

    A model that is not a layered HippoNet (it has no ``spec``) cannot be drawn: a user error.
    """
    from hippo_bench.models import models
    from hippo_bench.params import build_config

    cls = models.get(model)
    config = build_config(cls.Config, ("results model_params", model_params))
    head_sizes = {h: 1 for h in heads} if heads and heads != ["out"] else None
    net = cls(config).build((1,), len(heads) if head_sizes else 1, heads=head_sizes)
    spec = getattr(net, "spec", None)
    if spec is None:
        raise UserError(f"model {model!r} has no layer/projection structure to draw (only HippoNets have)")
    nodes = [Node("input", None, "input", False)]
    nodes += [Node(layer.name, layer.units, layer.group, layer.output) for layer in spec.layers]
    edges = [Edge(p.src, p.dst, p.name, p.group) for p in spec.projections]
    return nodes, edges


def heads_of(sel: Selection) -> list[str]:
    """The output layers: the projections' targets that project nowhere (e.g. "out", or "category" and "item")."""
    names = [n for n in dict.fromkeys(sel.rows.loc[sel.rows["metric"] == "learned_lr", "entity"]) if "->" in n]
    pairs = [n.split("->", 1) for n in names]
    sources = {src for src, _ in pairs}
    return list(dict.fromkeys(dst for _, dst in pairs if dst not in sources))


def can_draw(sel: Selection) -> bool:
    """True for HippoNet runs that recorded their pattern (learned_lr rows with projection names)."""
    from hippo_bench.models import models

    if not heads_of(sel):
        return False
    try:
        cls = models.get(str(sel.first["model"]))
    except UserError:
        return False
    from hippo_bench.models.hippo_models import HippoModel

    return issubclass(cls, HippoModel)


def layout(nodes: list[Node], edges: list[Edge]) -> None:
    """Set each node's (x, y): column by depth, spread within a column, lanes by group."""
    depth = {"input": 0}
    for node in nodes[1:]:  # layers are in forward order
        sources = [e.src for e in edges if e.dst == node.name]
        depth[node.name] = 1 + max((depth[s] for s in sources), default=0)
    columns: dict[int, list[Node]] = {}
    for node in nodes:
        columns.setdefault(depth[node.name], []).append(node)
    for d, col in columns.items():
        for k, node in enumerate(col):
            node.x = d * COLUMN
            node.y = ((len(col) - 1) / 2 - k) * ROW + LANES.get(node.group, 0.0)


def _curve(a: Node, b: Node, nodes: list[Node]) -> np.ndarray:
    """Points of the projection a -> b: straight, or bent away from the layers it passes over."""
    p0, p2 = np.array([a.x, a.y]), np.array([b.x, b.y])
    between = [n for n in nodes if a.x + 1e-6 < n.x < b.x - 1e-6]
    t = np.linspace(0.0, 1.0, 120)[:, None]
    if not between:
        return p0 + t * (p2 - p0)
    line_y = a.y + (np.mean([n.x for n in between]) - a.x) / (b.x - a.x) * (b.y - a.y)
    side = 1.0 if np.mean([n.y for n in between]) < line_y - 1e-6 else -1.0
    mid = (p0 + p2) / 2 + np.array([0.0, side * 0.55 * ROW])
    return (1 - t) ** 2 * p0 + 2 * t * (1 - t) * mid + t ** 2 * p2


def _trim(points: np.ndarray, a: Node, b: Node, gap: float = 0.05) -> np.ndarray:
    """The part of a curve outside both end nodes' circles."""
    da = np.hypot(*(points - [a.x, a.y]).T)
    db = np.hypot(*(points - [b.x, b.y]).T)
    keep = (da > a.radius + gap) & (db > b.radius + gap)
    return points[keep]


def network_figure(sel: Selection) -> Figure:
    """The poster's central figure: the network with % active per layer and learned lr per projection."""
    nodes, edges = net_structure(str(sel.first["model"]), sel.model_params(), heads_of(sel))
    layout(nodes, edges)
    active = final_values(sel, "percent_active")
    lr = final_values(sel, "learned_lr")
    by_name = {n.name: n for n in nodes}

    xs, ys = [n.x for n in nodes], [n.y for n in nodes]
    x0, x1, y0, y1 = min(xs) - 0.7, max(xs) + 0.7, min(ys) - 0.95, max(ys) + 0.8
    scale = min(1.0, 11.5 / (x1 - x0))  # inches per data unit
    fig = new_figure(scale * (x1 - x0) + 0.4, scale * (y1 - y0) + 1.0)
    grid = fig.add_gridspec(2, 2, height_ratios=[scale * (y1 - y0), 0.1], hspace=0.02, wspace=0.25)
    ax = fig.add_subplot(grid[0, :])
    # Equal scales, with the box following the layout and the limits stretching around [x0, x1] x [y0, y1]
    # (a fixed box would push the title out of a short figure).
    ax.set_aspect("equal", adjustable="datalim")
    ax.margins(0)
    ax.update_datalim([(x0, y0), (x1, y1)])
    ax.axis("off")

    node_cmap, node_norm = colormaps[SEQUENTIAL], LogNorm(*_log_range(list(active.values()), *ACTIVE_RANGE))
    edge_cmap = rate_colormap()
    lr_lo, lr_hi = _log_range([v for v in lr.values() if v > 0], 1e-6, 10.0)
    edge_norm = LogNorm(lr_lo, lr_hi)

    for e in edges:
        a, b = by_name[e.src], by_name[e.dst]
        pts = _trim(_curve(a, b, nodes), a, b)
        if len(pts) < 2:
            continue
        value = lr.get(e.name)
        dead = value is not None and value <= 0
        color = DEAD if (value is None or dead) else edge_cmap(edge_norm(np.clip(value, lr_lo, lr_hi)))
        lw = 1.2 if (value is None or dead) else 1.2 + 2.6 * float(edge_norm(np.clip(value, lr_lo, lr_hi)))
        path = MplPath(pts)
        ax.add_patch(FancyArrowPatch(path=path, arrowstyle="-|>", mutation_scale=9, color=color, linewidth=lw,
                                     linestyle="--" if dead else "-", zorder=1))
        if value is not None:
            k = int(LABEL_AT * (len(pts) - 1))
            ax.text(pts[k, 0], pts[k, 1], "dead (0)" if dead else _fmt(value), fontsize=6.5, ha="center",
                    va="center", zorder=3, color="#222222",
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})

    for n in nodes:
        if n.name == "input":
            fill = INPUT
        elif n.output:
            fill = OUTPUT_FILL
        elif n.name in active:
            fill = node_cmap(node_norm(np.clip(active[n.name], *ACTIVE_RANGE)))
        else:
            fill = OUTPUT_FILL
        ax.add_patch(Circle((n.x, n.y), n.radius, facecolor=fill, edgecolor="#333333", linewidth=0.8, zorder=2))
        ax.text(n.x, n.y + n.radius + 0.1, n.name, ha="center", va="bottom", fontsize=8.5, fontweight="bold",
                zorder=4)
        below = []
        if n.units and not n.output:
            below.append(f"{n.units} units")
        if n.name in active:
            below.append(f"{active[n.name]:.1f}% active")
        if n.output:
            below.append("output")
        if below:
            ax.text(n.x, n.y - n.radius - 0.08, "\n".join(below), ha="center", va="top", fontsize=6.5,
                    zorder=4, linespacing=1.1)

    for k, (mappable, label) in enumerate((
            (ScalarMappable(node_norm, node_cmap), "layer: % of units active (log scale)"),
            (ScalarMappable(edge_norm, edge_cmap), "projection: learned learning rate relu(α) (log scale)"))):
        bar = fig.colorbar(mappable, cax=fig.add_subplot(grid[1, k]), orientation="horizontal", label=label)
        decades = math.log10(mappable.norm.vmax / mappable.norm.vmin)
        bar.ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if decades <= 2.2 else (1.0,)))
        bar.ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        bar.ax.xaxis.set_minor_formatter(NullFormatter())
    last = int(sel.rows.loc[sel.rows["metric"] == "learned_lr", "train_exp"].max())
    ax.set_title(f"Learned pattern after experience {last}\n{sel.title}, {sel.seed_text}", fontsize=10)
    return fig


def rate_colormap() -> ListedColormap:
    """plasma reversed and cut before its palest yellow: fast projections dark, slow ones light but visible."""
    return ListedColormap(colormaps[RATE](np.linspace(0.0, 0.85, 256))[::-1], name="rate")


def _log_range(values: list[float], floor: float, ceiling: float) -> tuple[float, float]:
    """A log colour range around the values (at least a factor 10 wide), within [floor, ceiling]."""
    values = [v for v in values if v > 0 and math.isfinite(v)]
    if not values:
        return floor, ceiling
    lo, hi = min(values) / 1.5, max(values) * 1.5
    if hi / lo < 10:
        centre = math.sqrt(lo * hi)
        lo, hi = centre / math.sqrt(10), centre * math.sqrt(10)
    return max(lo, floor), min(hi, ceiling)


def _fmt(v: float) -> str:
    return f"{v:.2g}" if v < 0.01 else f"{v:.3f}".rstrip("0").rstrip(".")
