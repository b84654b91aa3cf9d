"""``rfc8823 report`` (comparison matrix of several runs), ``rfc8823 expectations`` (a run
against an expectations file, or a draft of one) and ``rfc8823 coverage``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rfc8823.report.coverage import collect, coverage, coverage_table, missing
from rfc8823.report.document import expectations_lines
from rfc8823.report.expectations import (
    ExpectationsError,
    apply_expectations,
    draft_expectations,
    load_expectations,
)
from rfc8823.report.matrix import Run, matrix_html, matrix_markdown, merge_runs
from rfc8823.report.schema import ReportFileError, load_report
from rfc8823.requirements import load_catalog


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``report`` and ``coverage`` subcommands."""
    report = subparsers.add_parser(
        "report",
        help="merge run reports (JSON) into a comparison matrix",
        description="Merge the JSON reports of several runs into an HTML (and Markdown) matrix: "
        "requirements as rows, implementations as columns. Of two runs of the same target "
        "(name and version) the newer is kept.",
    )
    report.add_argument("reports", nargs="+", type=Path, metavar="REPORT.json")
    report.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="matrix HTML file (default: matrix.html beside the first report)",
    )
    report.add_argument("--markdown", type=Path, default=None, help="also write a Markdown matrix")
    report.set_defaults(handler=run_report)
    expect = subparsers.add_parser(
        "expectations",
        help="compare a run report with an expectations file, or draft one from it",
        description="With --check FILE: compare the verdicts of a run report (JSON) with an "
        "expectations file, as `pytest --expect FILE` does, and print the differences "
        "(exit 1 when there are any). Without: print an expectations file listing every row of "
        "the report that did not PASS, with its evidence, to read and edit before committing.",
    )
    expect.add_argument("report", type=Path, metavar="REPORT.json")
    expect.add_argument("--check", type=Path, default=None, metavar="FILE.toml")
    expect.set_defaults(handler=run_expectations)
    cover = subparsers.add_parser(
        "coverage",
        help="which catalog requirements the suites test",
        description="Collect the suites (without running them) and list, per catalog row, "
        "the tests by role, the rows declared untestable and why, and the rows not covered.",
    )
    cover.add_argument("paths", nargs="*", default=["suites"], help="test paths (default: suites)")
    cover.add_argument(
        "--role",
        choices=("all", "server", "client"),
        default="all",
        help="only rows bound to this role, covered by tests of this role",
    )
    cover.add_argument("--json", action="store_true", help="print JSON instead of a table")
    cover.add_argument(
        "--require-all",
        action="store_true",
        help="exit 1 when a testable row of the role has no test",
    )
    cover.set_defaults(handler=run_coverage)


def run_report(args: argparse.Namespace) -> int:
    """Write the matrix; 2 when a report is unreadable or does not match the schema."""
    paths: list[Path] = args.reports
    try:
        runs = [Run(load_report(path), path) for path in paths]
    except ReportFileError as exc:
        print(f"rfc8823 report: {exc}", file=sys.stderr)
        return 2
    matrix = merge_runs(runs, load_catalog().ids)
    for warning in matrix.warnings:
        print(f"rfc8823 report: warning: {warning}", file=sys.stderr)
    output: Path = args.output or paths[0].parent / "matrix.html"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(matrix_html(matrix, output.parent), "utf-8")
    print(output)
    markdown: Path | None = args.markdown
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(matrix_markdown(matrix, markdown.parent), "utf-8")
        print(markdown)
    return 0


def run_expectations(args: argparse.Namespace) -> int:
    """Print a draft, or the comparison; 2 for an unusable report or file, 1 for differences."""
    try:
        document = load_report(args.report)
        if args.check is None:
            sys.stdout.write(draft_expectations(document))
            return 0
        expectations = load_expectations(args.check, load_catalog())
    except (ReportFileError, ExpectationsError) as exc:
        print(f"rfc8823 expectations: {exc}", file=sys.stderr)
        return 2
    compared = apply_expectations(document, expectations)
    for line in expectations_lines(compared):
        print(line)
    return 0 if compared["expectations"]["matched"] else 1


def run_coverage(args: argparse.Namespace) -> int:
    """Print coverage; 2 when collection fails, 1 under ``--require-all`` with gaps."""
    collection = collect(args.paths)
    if not collection.ok:
        sys.stderr.write(collection.output)
        print(f"rfc8823 coverage: collecting {args.paths} failed", file=sys.stderr)
        return 2
    entries = coverage(load_catalog(), collection.tests, args.role)
    gaps = missing(entries)
    if args.json:
        document = {
            "role": args.role,
            "paths": args.paths,
            "requirements": entries,
            "missing": [e["id"] for e in gaps],
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(coverage_table(entries, args.role))
    return 1 if args.require_all and gaps else 0
