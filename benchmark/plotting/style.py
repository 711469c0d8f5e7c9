"""One look for every figure, and files that are a pure function of the results.

Colours: the Okabe-Ito palette for categories (lines per layer or
projection) and the viridis family for quantities (cividis, viridis,
plasma); both stay distinguishable with the common colour-vision
deficiencies. Figures are built on :class:`matplotlib.figure.Figure` (no
pyplot state, no GUI backend) under a private rc context, and saved as PNG
and SVG without dates, software versions or random ids (a fixed
``svg.hashsalt``), so the same results give byte-identical files.
"""

from __future__ import annotations

import io
from pathlib import Path
from contextlib import AbstractContextManager

from matplotlib.figure import Figure

# Okabe & Ito (2008), "Color Universal Design"; yellow last (thin yellow lines are faint on white).
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442")
LINESTYLES = ("-", "--", ":", "-.")
SEQUENTIAL = "cividis"  # accuracy, % active
RATE = "plasma"  # learned learning rates (a second quantity beside % active)
DIVERGING = "RdBu_r"  # correlations in [-1, 1] (ColorBrewer: colour-blind safe)

RC = {
    "svg.hashsalt": "hippo-bench",
    "svg.fonttype": "path",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "image.cmap": SEQUENTIAL,
    "path.simplify": False,
}
PNG_METADATA = {"Software": None}
SVG_METADATA = {"Date": None, "Creator": "hippo-bench"}


def line_style(i: int) -> dict:
    """Colour and dash of the i-th line: the palette first, then the palette again dashed, and so on."""
    return {"color": OKABE_ITO[i % len(OKABE_ITO)], "linestyle": LINESTYLES[(i // len(OKABE_ITO)) % len(LINESTYLES)]}


def new_figure(width: float, height: float) -> Figure:
    """A figure with constrained layout (labels never overlap the axes they belong to)."""
    import matplotlib

    with matplotlib.rc_context(RC):
        return Figure(figsize=(width, height), layout="constrained")


def save(fig: Figure, out_dir: Path, stem: str, formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Write ``<stem>.png`` and ``<stem>.svg`` (or ``formats``) under ``out_dir``, deterministically; returns the paths."""
    import matplotlib

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with matplotlib.rc_context(RC):
        for suffix, meta in ((f".{f}", {"png": PNG_METADATA, "svg": SVG_METADATA}[f]) for f in formats):
            buf = io.BytesIO()
            fig.savefig(buf, format=suffix[1:], metadata=meta)
            path = out_dir / f"{stem}{suffix}"
            _write_if_changed(path, buf.getvalue())
            written.append(path)
            fig.set_layout_engine("none")  # the layout is settled: the SVG reuses it instead of solving it again
    return written


def _write_if_changed(path: Path, data: bytes) -> None:
    """Atomic write (temporary file + rename); an identical file is left untouched."""
    import os
    import tempfile

    if path.is_file() and path.read_bytes() == data:
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def styled() -> AbstractContextManager:
    """The rc context every drawing function runs in (``with styled(): ...``)."""
    import matplotlib

    return matplotlib.rc_context(RC)
