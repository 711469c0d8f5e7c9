"""``hippo-bench data check`` and ``hippo-bench data download mnist|omniglot``."""

from __future__ import annotations

from typing import Sequence

from rich.markup import escape

from hippo_bench.commands import Parser as _Parser, console as _console
from hippo_bench.data_root import ENV_CACHE, ENV_DATA, cache_dir, candidate_roots, resolve_data_root

STATUS_STYLE = {"ok": "green", "unverified": "yellow", "missing": "dim", "corrupt": "red"}


def _checks():
    from hippo_bench.data.mnist import check_mnist
    from hippo_bench.data.omniglot import check_omniglot

    return {"mnist": check_mnist, "omniglot": check_omniglot}


def cmd_check(data_root: str | None) -> int:
    """Per data set and root: what was found and whether its checksums match.

    Exit 0 when every data set is usable from the root runs will read
    (the first one listed), 1 otherwise.
    """
    con = _console()
    roots = candidate_roots(data_root)
    if data_root:
        resolve_data_root(data_root)  # an explicit root must exist
    con.print(f"data roots, in the order runs use them (--data-root, then ${ENV_DATA}, then the user folder): "
              f"{', '.join(map(str, roots))}")
    con.print(f"preprocessing cache: {cache_dir()} (${ENV_CACHE} overrides)")
    all_usable = True
    for name, check in _checks().items():
        con.print(f"[bold]{name}[/]")
        usable_first = False
        for i, root in enumerate(roots):
            for finding in check(root):
                style = STATUS_STYLE.get(finding.status, "")
                con.print(f"  {escape(str(finding.path))}: [{style}]{finding.status}[/] {escape(finding.detail)}")
                usable_first |= i == 0 and finding.usable
        if not usable_first:
            all_usable = False
            con.print(f"  -> not usable from {escape(str(roots[0]))}; fetch it with `hippo-bench data download {name}`")
    return 0 if all_usable else 1


def cmd_download(name: str, data_root: str | None) -> int:
    from hippo_bench.data.download import download

    root = resolve_data_root(data_root)
    findings = download(name, root)
    con = _console()
    for f in findings:
        con.print(f"{escape(str(f.path))}: {f.status} {escape(f.detail)}")
    return 0


def main(argv: Sequence[str]) -> int:
    parser = _Parser(prog="hippo-bench data", description="Check or fetch the MNIST and Omniglot data sets.")
    sub = parser.add_subparsers(dest="action", required=True, parser_class=_Parser)
    c = sub.add_parser("check", help="where each data set was looked for, what was found, checksums")
    c.add_argument("--data-root", help=f"folder holding MNIST/ and omniglot/ (default: ${ENV_DATA}, then a user folder)")
    d = sub.add_parser("download", help="fetch a data set through torchvision (needs internet)")
    d.add_argument("dataset", choices=["mnist", "omniglot"])
    d.add_argument("--data-root", help=f"folder to download into (default: ${ENV_DATA}, then a user folder)")
    args = parser.parse_args(list(argv))
    if args.action == "check":
        return cmd_check(args.data_root)
    return cmd_download(args.dataset, args.data_root)
