"""MkDocs hooks: the site takes its text from the files that hold it, so it cannot drift from them.

- ``<!-- readme: Heading -->`` on a page is replaced by that section of the
  README (down to the next heading of the same or a higher level);
- ``<!-- file: NAME -->`` by a file of the repository (the changelog);
- ``<!-- commands -->`` by every command's ``--help``, run at build time;
- ``<!-- leaderboards -->`` by a list of the committed boards.

The committed claim reports (``reports/``: pages, figures, tables) and the
leaderboards' markdown join the site under the same paths. Links in included
text are rewritten to the site's pages where the target is on the site, and
turned into plain code names where it is not (source files), so a strict
build fails only on links that are really broken.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = {"reports": (".md", ".png", ".svg", ".csv"), "leaderboards": (".md",)}
LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")


def on_files(files, config):
    """Add the published reports and boards under the paths they have in the repository."""
    for folder, suffixes in PUBLISHED.items():
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in suffixes and "runs" not in path.relative_to(ROOT).parts:
                rel = path.relative_to(ROOT).as_posix()
                files.append(File(rel, str(ROOT), config["site_dir"], config["use_directory_urls"]))
    return files


def _sections(text: str) -> dict[str, str]:
    """Heading -> its section (headings inside fenced code are not headings)."""
    lines = text.splitlines()
    starts = []
    fenced = False
    for i, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
        m = None if fenced else HEADING.match(line)
        if m:
            starts.append((i, len(m.group(1)), m.group(2)))
    out = {}
    for n, (i, level, title) in enumerate(starts):
        end = next((j for j, lv, _ in starts[n + 1:] if lv <= level), len(lines))
        out[title] = "\n".join(lines[i + 1:end]).strip("\n")
    return out


def _relink(text: str, site_paths: set[str]) -> str:
    """Links from the repository root made right for a page at the site's root."""
    def fix(m: re.Match) -> str:
        bang, label, target = m.groups()
        if re.match(r"[a-z]+://|#|mailto:", target):
            return m.group(0)
        path, _, anchor = target.partition("#")
        path = path[len("docs/"):] if path.startswith("docs/") else path
        if path in site_paths:
            return f"{bang}[{label}]({path}{'#' + anchor if anchor else ''})"
        return label if label.startswith("`") else f"`{label}`"
    return LINK.sub(fix, text)


def _help() -> str:
    from hippo_bench.cli import COMMANDS, main

    parts = []
    for name in ["--help", *COMMANDS]:
        argv = [name] if name == "--help" else [name, "--help"]
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            try:
                main(argv)
            except SystemExit:
                pass
        title = "hippo-bench" if name == "--help" else f"hippo-bench {name}"
        parts.append(f"### `{title}`\n\n```text\n{buffer.getvalue().rstrip()}\n```")
    return "\n\n".join(parts)


def on_page_markdown(markdown, page, config, files):
    site_paths = {f.src_uri for f in files}
    readme = _sections((ROOT / "README.md").read_text(encoding="utf-8"))

    def readme_section(m: re.Match) -> str:
        title = m.group(1).strip()
        if title not in readme:
            raise KeyError(f"{page.file.src_uri}: the README has no section {title!r}")
        return _relink(readme[title], site_paths)

    markdown = re.sub(r"<!-- readme: (.+?) -->", readme_section, markdown)
    markdown = re.sub(r"<!-- file: (.+?) -->",
                      lambda m: _relink((ROOT / m.group(1).strip()).read_text(encoding="utf-8"), site_paths), markdown)
    if "<!-- commands -->" in markdown:
        markdown = markdown.replace("<!-- commands -->", _help())
    if "<!-- leaderboards -->" in markdown:
        boards = sorted(p for p in site_paths if p.startswith("leaderboards/") and p.endswith(".md"))
        markdown = markdown.replace("<!-- leaderboards -->", "\n".join(
            f"- [{Path(p).stem}]({p})" for p in boards) or "No board is committed yet.")
    return markdown
