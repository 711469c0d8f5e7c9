"""The HTML report in a real browser: headless Chromium driven by selenium.

Every page reachable from ``index.html`` is opened from ``file://``: it must
load without console errors, every image must load (natural width > 0),
every link must resolve to a file of the site (and a fragment to an element
of the page), and each leaderboard table must show the same cells as the
markdown board. Skipped, saying why, when Chromium, its driver or selenium
is missing (``make test`` installs them in CI).

Run on another site (for example the committed results') with
``HIPPO_BENCH_SITE=/tmp/site``; otherwise the site is built from hand-made
results (test_report_site.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from test_report_site import hand_site

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
DRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,1000")


def _first(paths) -> str | None:
    return next((p for p in paths if Path(p).is_file() and os.access(p, os.X_OK)), None)


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e .[test])")
    from selenium.webdriver.chrome.service import Service

    binary = _first(CHROMIUM) or shutil.which("chromium")
    driver_path = _first(DRIVER) or shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.skip("no headless browser: install Debian's chromium and chromium-driver "
                    "(apt-get install chromium chromium-driver; make test does it when CI=true)")
    profile = tempfile.mkdtemp(prefix="hippo-bench-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def site_root(tmp_path_factory) -> Path:
    given = os.environ.get("HIPPO_BENCH_SITE")
    if given:
        return Path(given).resolve()
    return hand_site(tmp_path_factory)[1].resolve()


def _local(url: str) -> tuple[Path, str]:
    parsed = urlparse(url)
    return Path(unquote(parsed.path)), parsed.fragment


def _md_cells(md: str) -> list[list[str]]:
    """The cells of a markdown table (header first), as text: bold markers and escapes removed."""
    lines: list[str] = []
    for line in md.splitlines():  # the first table: a run of lines starting with "|"
        if line.startswith("|"):
            lines.append(line)
        elif lines:
            break
    rows = [lines[0]] + lines[2:] if len(lines) > 1 else lines
    return [[c.strip().replace("**", "").replace("\\|", "|") for c in _split_md_row(r)] for r in rows]


def _split_md_row(row: str) -> list[str]:
    cells, cur, i = [], "", 1
    body = row.strip()
    while i < len(body) - 1:
        ch = body[i]
        if ch == "\\" and body[i + 1] == "|":
            cur += "\\|"
            i += 2
            continue
        if ch == "|":
            cells.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    cells.append(cur)
    return cells


def test_every_page_loads_with_its_images_links_and_tables(browser, site_root):
    index = site_root / "index.html"
    assert index.is_file(), f"no site at {site_root}"
    version = browser.capabilities.get("browserVersion", "?")
    print(f"browser: {browser.capabilities.get('browserName', 'chrome')} {version}")
    todo, seen, pages, boards = [index], set(), 0, 0
    while todo:
        page = todo.pop()
        if page in seen:
            continue
        seen.add(page)
        browser.get(page.as_uri())
        pages += 1
        browser.execute_script("document.querySelectorAll('img').forEach(i => i.loading = 'eager');"
                               "window.scrollTo(0, document.body.scrollHeight);")
        images = browser.execute_script(
            "return Promise.all(Array.from(document.images).map(i => i.decode().then(() => 0, () => 0)))"
            ".then(() => Array.from(document.images).map(i => [i.getAttribute('src'), i.naturalWidth]));")
        broken = [src for src, width in images if not width]
        assert not broken, f"{page}: images that did not load: {broken}"
        errors = [e["message"] for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        assert not errors, f"{page}: console errors: {errors}"
        links = browser.execute_script(
            "return Array.from(document.querySelectorAll('a[href]')).map(a => [a.getAttribute('href'), a.href]);")
        for raw, absolute in links:
            if absolute.startswith(("http://", "https://", "mailto:")):
                continue
            assert absolute.startswith("file://"), f"{page}: link {raw} leaves the site"
            target, fragment = _local(absolute)
            assert target.is_file(), f"{page}: link {raw} resolves to nothing ({target})"
            assert site_root in target.parents, f"{page}: link {raw} leaves the site"
            if fragment and target == page:
                assert browser.execute_script("return !!document.getElementById(arguments[0]);", fragment), \
                    f"{page}: link {raw} names no element"
            if target.suffix == ".html":
                todo.append(target)
        if page.parent.name == "benchmarks":
            md = page.with_suffix(".md")
            shown = browser.execute_script(
                "const t = document.querySelector('.leaderboard table'); if (!t) return [];"
                "return Array.from(t.rows).map(r => Array.from(r.cells).map(c => c.innerText.trim()));")
            assert shown == _md_cells(md.read_text(encoding="utf-8")), f"{page}: table differs from {md.name}"
            boards += int(bool(shown))
    assert pages >= 3 and boards >= 1
