"""``hippo-bench report``: the results as a static website (plain HTML and CSS, works from ``file://``).

Pages:

- ``index.html``: the benchmarks, with their configurations and runs, and
  the experiment verdicts when ``reports/`` holds them;
- ``benchmarks/<benchmark>.html``: the leaderboard, exactly as
  :mod:`hippo_bench.reporting.leaderboard` renders it (``render_html``; its
  markdown twin, ``render_markdown``, is written beside it as ``.md``), then
  one link per configuration, numbered as the table's rows;
- ``configs/<config_id>.html``: what was run, the per-seed summary, the
  figures of :mod:`hippo_bench.plotting` and the learned-pattern table;
- ``verdicts/...``: the markdown pages of ``reports/`` rendered to HTML.

The site is a pure function of the results (and reports): no dates, no
absolute paths, sorted everywhere, deterministic figures, so rebuilding from
the same results gives byte-identical files. It is built in a temporary
folder next to ``--out`` and swapped in at the end: a failed build leaves the
previous site as it was, and files of configurations that are gone do not
linger.
"""

from __future__ import annotations

import html
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from hippo_bench.errors import UserError

MARKER = ".hippo-bench-report"  # identifies a folder this module wrote (and may therefore replace)
SUMMARY_COLUMNS = ("acc", "bwt", "forgetting", "la", "fwt")
STYLE = """\
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 72em;
       padding: 1em 2em 3em; color: #1a1a1a; line-height: 1.45; }
nav { font-size: 0.9em; padding: 0.5em 0; border-bottom: 1px solid #ddd; margin-bottom: 1em; }
nav a { margin-right: 1em; }
a { color: #0b57a4; }
table { border-collapse: collapse; margin: 0.6em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.55em; vertical-align: top; }
th { background: #f3f3f3; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 0.92em; background: #f5f5f5; padding: 0 0.2em; }
figure { margin: 1.2em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #444; }
.leaderboard h1 { font-size: 1.4em; }
dl.identity { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; font-size: 0.92em; }
dl.identity dt { font-weight: 600; }
dl.identity dd { margin: 0; word-break: break-all; }
"""


def build_site(results_dir: Path, out_dir: Path, reports_dir: Path | None = None) -> list[Path]:
    """Write the site for the results under ``results_dir`` into ``out_dir``; returns the pages written.

    ``out_dir`` must be empty, absent, or a site this function wrote
    before (it is replaced whole). ``reports_dir``: the experiment reports
    folder (``reports/``), rendered when it holds markdown pages.
    """
    from hippo_bench.plotting.data import load_checked
    from hippo_bench.reporting.leaderboard import boards, load_failures

    out_dir = Path(out_dir)
    _check_out(out_dir)
    df = load_checked(results_dir)
    failures = load_failures(Path(results_dir))
    all_boards = boards(df, failures)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        pages = _write_site(work, df, all_boards, reports_dir)
        (work / MARKER).write_text("hippo-bench report\n", encoding="utf-8")
        _swap(work, out_dir)
    finally:
        if work.exists():
            shutil.rmtree(work)
    return [out_dir / p.relative_to(work) for p in pages]


def _check_out(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out: {out_dir} is a file, not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MARKER).is_file():
        raise UserError(f"--out: {out_dir} holds files that are not a hippo-bench report; "
                        "choose an empty or new folder")


def _swap(work: Path, out_dir: Path) -> None:
    """Put the finished site in place of the old one (old one removed only after the new one is in)."""
    os.chmod(work, 0o755)  # mkdtemp makes it private; a site is for reading
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(out_dir, old)
        os.replace(work, out_dir)
        shutil.rmtree(old)
    else:
        os.replace(work, out_dir)


# ------------------------------------------------------------------------------------------ pages
def _write_site(root: Path, df: pd.DataFrame, all_boards: list, reports_dir: Path | None) -> list[Path]:
    from hippo_bench.reporting.leaderboard import render_html, render_markdown

    pages: list[Path] = []
    _write(root / "style.css", STYLE)
    ok = df[df["status"] == "ok"]
    config_board: dict[str, tuple[Any, int]] = {}  # config_id -> (board, row number)
    for board in all_boards:
        for i, row in enumerate(board.rows, 1):
            config_board[row.config_id] = (board, i)

    verdicts = _write_verdicts(root, Path(reports_dir)) if reports_dir is not None else []
    pages += verdicts

    for board in all_boards:
        stem = _stem(board.benchmark)
        _write(root / "benchmarks" / f"{stem}.md", render_markdown(board))
        body = _body_of(render_html(board))
        items = []
        for i, row in enumerate(board.rows, 1):
            label = f"{row.strategy} ({row.model}{', ' + row.variant if row.variant else ''})"
            href = f"../configs/{row.config_id}.html"
            items.append(f'<li value="{i}"><a href="{href}">{_e(label)}</a> — {row.n} '
                         f'seed{"s" if row.n != 1 else ""}, <code>{_e(row.config_id)}</code></li>')
        content = [f'<div class="leaderboard">{body}</div>',
                   f'<p>The same table as markdown: <a href="{stem}.md">{_e(stem)}.md</a>.</p>']
        if items:
            content += ["<h2>Configurations</h2>",
                        "<p>Numbered as the rows of the table; each page has the figures and the learned "
                        "pattern.</p>", "<ol>", *items, "</ol>"]
        path = root / "benchmarks" / f"{stem}.html"
        _write(path, _page(f"Leaderboard: {board.benchmark}", content, depth=1, heading=False))
        pages.append(path)

    for config_id, rows in sorted(ok.groupby("config_id", sort=True), key=lambda kv: kv[0]):
        path = root / "configs" / f"{config_id}.html"
        _write(path, _config_page(root, str(config_id), rows, config_board.get(str(config_id))))
        pages.append(path)

    index = root / "index.html"
    _write(index, _index_page(df, all_boards, verdicts, root))
    return [index, *pages]


def _index_page(df: pd.DataFrame, all_boards: list, verdicts: list[Path], root: Path) -> str:
    from hippo_bench.currency import release_line

    ok = df[df["status"] == "ok"]
    n_runs = ok["run_id"].nunique()
    content = [f"<p>{n_runs} completed run{'s' if n_runs != 1 else ''} in {ok['config_id'].nunique()} "
               f"configurations on {len(all_boards)} benchmark{'s' if len(all_boards) != 1 else ''}. "
               f"{_e(release_line(ok))} Generated by <code>hippo-bench report</code> from the tidy "
               "results; rebuilt identically from the same results.</p>", '<h2 id="benchmarks">Benchmarks</h2>',
               "<table>", "<thead><tr><th>benchmark</th><th>configurations</th><th>completed runs</th>"
               "<th>not in the table</th></tr></thead>", "<tbody>"]
    for board in all_boards:
        stem = _stem(board.benchmark)
        runs = ok[ok["benchmark"] == board.benchmark]["run_id"].nunique()
        content.append(f'<tr><td><a href="benchmarks/{stem}.html">{_e(board.benchmark)}</a></td>'
                       f'<td class="num">{len(board.rows)}</td><td class="num">{runs}</td>'
                       f'<td class="num">{len(board.excluded)}</td></tr>')
    content += ["</tbody>", "</table>", "<h2>Experiment verdicts</h2>"]
    if verdicts:
        links = [(p, _title_of(p)) for p in verdicts]
        top = root / "verdicts" / "index.html"
        if top in verdicts:
            content.append('<p><a href="verdicts/index.html">All claims and their verdicts</a>.</p>')
        content.append("<ul>")
        content += [f'<li><a href="{_e(p.relative_to(root).as_posix())}">{_e(t)}</a></li>'
                    for p, t in links if p != top]
        content.append("</ul>")
    else:
        content.append("<p>None yet: <code>hippo-bench experiment all</code> writes them to "
                       "<code>reports/</code>.</p>")
    return _page("hippo-bench results", content, depth=0)


def _config_page(root: Path, config_id: str, rows: pd.DataFrame, where: tuple[Any, int] | None) -> str:
    from hippo_bench.analysis.learned_pattern import pattern_table
    from hippo_bench.currency import is_older_release
    from hippo_bench.plotting import plot_selection
    from hippo_bench.plotting.data import Selection
    sel = Selection(config_id, "config", rows.reset_index(drop=True))
    first = sel.first
    content = []
    if where is not None:
        board, number = where
        content.append(f'<p>Row {number} of the <a href="../benchmarks/{_stem(board.benchmark)}.html">'
                       f'{_e(board.benchmark)} leaderboard</a>.</p>')
    identity = [("benchmark", first["benchmark"]), ("strategy", first["strategy"]), ("model", first["model"]),
                ("preset", first.get("preset", "") or "—"), ("config_id", config_id),
                ("strategy parameters", _params_text(first["strategy_params"])),
                ("model parameters", _params_text(first["model_params"])),
                ("benchmark parameters", _params_text(first["benchmark_params"])),
                ("benchmark seed", first["benchmark_seed"]), ("epochs", first["epochs"]),
                ("batch size", first["train_mb_size"]),
                ("release", str(first["hippo_bench_version"])
                 + (" (older than this code)" if is_older_release(str(first["hippo_bench_version"])) else "")),
                ("code fingerprint", first.get("code_fingerprint", "") or "—")]
    content += ["<h2>Configuration</h2>", '<dl class="identity">']
    content += [f"<dt>{_e(k)}</dt><dd>{_e(str(v))}</dd>" for k, v in identity]
    content += ["</dl>", "<h2>Runs</h2>", _summary_table(rows)]

    figures = plot_selection(sel, root / "figures" / config_id)
    if figures:
        content.append("<h2>Figures</h2>")
    for kind, paths in figures:
        png, svg = (p.relative_to(root).as_posix() for p in paths)
        width, height = _display_size(paths[0])
        content.append(f'<figure id="{kind.stem}"><img src="../{_e(png)}" width="{width}" height="{height}" '
                       f'alt="{_e(kind.caption)}"><figcaption>{_e(kind.caption)} '
                       f'(<a href="../{_e(svg)}">SVG</a>)</figcaption></figure>')
    table = pattern_table(sel.rows)
    if not table.empty:
        content += ["<h2>Learned pattern</h2>",
                    f"<p>At the end of training, {_e(sel.seed_text)}: % active and inhibition multiplier m per "
                    "layer, learned learning rate relu(α) and raw α per projection.</p>", _pattern_html(table)]
    title = f"{first['strategy']} on {first['benchmark']} ({first['model']})"
    return _page(title, content, depth=1)


def _summary_table(rows: pd.DataFrame) -> str:
    from hippo_bench.metrics import METRICS
    from hippo_bench.results import run_summaries

    summary = run_summaries(rows)
    if summary.empty:
        return "<p>No accuracy rows to summarise.</p>"
    summary = summary.sort_values(["seed", "run_id"])
    heads = ["seed", "run_id"] + [METRICS[m].label for m in SUMMARY_COLUMNS]
    out = ["<table>", "<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in heads) + "</tr></thead>", "<tbody>"]
    for rec in summary.to_dict("records"):
        cells = [f'<td class="num">{int(rec["seed"])}</td>', f"<td><code>{_e(rec['run_id'])}</code></td>"]
        cells += [f'<td class="num">{_num(rec[m], 3)}</td>' for m in SUMMARY_COLUMNS]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out += ["</tbody>", "</table>",
            "<p>Per-seed values from each run's accuracy matrix; the leaderboard gives their mean ± std.</p>"]
    return "\n".join(out)


def _pattern_html(table: pd.DataFrame) -> str:
    heads = ["kind", "name", "group", "units", "% active", "m", "learned lr", "raw α"]
    out = ["<table>", "<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in heads) + "</tr></thead>", "<tbody>"]
    for rec in table.to_dict("records"):
        cells = [f"<td>{_e(rec['kind'])}</td>", f"<td>{_e(rec['name'])}</td>", f"<td>{_e(rec['group'])}</td>",
                 f'<td class="num">{_num(rec["units"], 0)}</td>', f'<td class="num">{_num(rec["percent_active"], 1)}</td>',
                 f'<td class="num">{_num(rec["m"], 3)}</td>', f'<td class="num">{_sig(rec["lr"])}</td>',
                 f'<td class="num">{_sig(rec["alpha_raw"])}</td>']
        out.append("<tr>" + "".join(cells) + "</tr>")
    out += ["</tbody>", "</table>"]
    return "\n".join(out)


# -------------------------------------------------------------------------------------- verdicts
def _write_verdicts(root: Path, reports_dir: Path) -> list[Path]:
    """Render every markdown page under ``reports_dir`` into ``verdicts/``; copy the files they link to."""
    if not reports_dir.is_dir():
        return []
    sources = sorted(p for p in reports_dir.rglob("*.md") if p.is_file())
    if not sources:
        return []
    out_root = root / "verdicts"
    for path in sorted(reports_dir.rglob("*")):
        if path.is_file() and path.suffix != ".md" and not path.name.startswith("."):
            target = out_root / path.relative_to(reports_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    pages = []
    for src in sources:
        rel = src.relative_to(reports_dir)
        target = out_root / rel.with_suffix(".html")
        text = src.read_text(encoding="utf-8")
        body, title = _render_markdown(text, src, reports_dir)
        depth = len(rel.parts)  # verdicts/ + the page's folders
        _write(target, _page(title or rel.with_suffix("").as_posix(), [body], depth=depth, heading=False))
        pages.append(target)
    return pages


def _render_markdown(text: str, src: Path, reports_dir: Path) -> tuple[str, str]:
    """(HTML, first heading) of a markdown page; links to other pages become .html, dead links plain text."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(text)
    title = ""
    for k, tok in enumerate(tokens):
        if tok.type == "heading_open" and not title and k + 1 < len(tokens):
            title = tokens[k + 1].content
        if tok.type != "inline" or not tok.children:
            continue
        children = tok.children
        for i, child in enumerate(children):
            if child.type == "link_open":
                href = _site_href(str(child.attrGet("href") or ""), src, reports_dir)
                if href is None:  # a dead link: keep its text, drop the link
                    child.type, child.tag, child.attrs = "text", "", {}
                    child.content = ""
                    for close in children[i + 1:]:
                        if close.type == "link_close":
                            close.type, close.tag, close.content = "text", "", ""
                            break
                else:
                    child.attrSet("href", href)
            elif child.type == "image":
                href = _site_href(str(child.attrGet("src") or ""), src, reports_dir)
                if href is None:
                    child.type, child.content = "text", f"[image not found: {child.attrGet('src')}]"
                else:
                    child.attrSet("src", href)
    return md.renderer.render(tokens, md.options, {}), title


def _site_href(href: str, src: Path, reports_dir: Path) -> str | None:
    """Where a link of a report page points on the site (None: nowhere it can reach)."""
    if not href or href.startswith("#") or "://" in href or href.startswith("mailto:"):
        return href
    path, _, fragment = href.partition("#")
    target = (src.parent / path).resolve()
    root = reports_dir.resolve()
    if root != target and root not in target.parents:
        return None
    if target.is_dir() and (target / "index.md").is_file():
        path, target = path.rstrip("/") + "/index.md", target / "index.md"
    if not target.is_file():
        return None
    if target.suffix == ".md":
        path = path[: -len(".md")] + ".html"
    return path + (f"#{fragment}" if fragment else "")


def _display_size(png: Path) -> tuple[int, int]:
    """A figure's size in CSS pixels: its PNG is saved at savefig.dpi, shown at the figure's own dpi."""
    from hippo_bench.plotting.style import RC

    data = png.read_bytes()[16:24]  # the IHDR chunk: width and height, big-endian
    w, h = int.from_bytes(data[:4], "big"), int.from_bytes(data[4:], "big")
    ratio = RC["figure.dpi"] / RC["savefig.dpi"]
    return round(w * ratio), round(h * ratio)


def _title_of(page: Path) -> str:
    text = page.read_text(encoding="utf-8")
    start = text.find("<title>")
    return html.unescape(text[start + 7: text.find("</title>")]) if start >= 0 else page.stem


# ----------------------------------------------------------------------------------------- shared
def _page(title: str, content: Iterable[str], depth: int, heading: bool = True) -> str:
    up = "../" * depth
    nav = (f'<nav><a href="{up}index.html">hippo-bench results</a>'
           f'<a href="{up}index.html#benchmarks">benchmarks</a></nav>')
    head = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>", f'<link rel="stylesheet" href="{up}style.css">',
            '<link rel="icon" href="data:,">', "</head>", "<body>", nav]
    if heading:
        head.append(f"<h1>{_e(title)}</h1>")
    return "\n".join([*head, *content, "</body>", "</html>"]) + "\n"


def _body_of(page: str) -> str:
    """The inside of a rendered page's <body> (the whole text if it has none)."""
    start, end = page.find("<body>"), page.rfind("</body>")
    return page[start + len("<body>"): end].strip() if start >= 0 and end > start else page


def _stem(name: str) -> str:
    """A benchmark's file name (the leaderboard files' rule: a safe alphabet)."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name).strip(".") or "_"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _e(text: Any) -> str:
    return html.escape(str(text))


def _params_text(raw: str) -> str:
    try:
        params = json.loads(raw)
    except (TypeError, ValueError):
        return str(raw)
    if not params:
        return "—"
    return ", ".join(f"{k}={json.dumps(v, separators=(',', ':')) if not isinstance(v, str) else v}"
                     for k, v in sorted(params.items()))


def _num(value: Any, digits: int) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(v):
        return "—"
    return f"{round(v, digits) + 0.0:.{digits}f}"


def _sig(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "—"
    return "—" if not np.isfinite(v) else f"{v:.4g}"
