"""The Markdown summary of one run, for pull requests: counts, rows not passing, all rows."""

from __future__ import annotations

from collections.abc import Sequence

from rfc8823.report.document import (
    ReportDocument,
    RequirementEntry,
    comparison,
    expectation_note,
    meta_line,
    sanity_line,
    target_label,
    tests_line,
    why,
)
from rfc8823.report.verdicts import PRECEDENCE, ReportVerdict

_CELL_CHARS = 400


def cell(text: str) -> str:
    """Text made safe for one Markdown table cell: one line, no pipes or tags, trimmed."""
    flat = " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;")
    return flat if len(flat) <= _CELL_CHARS else flat[: _CELL_CHARS - 1] + "…"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table (cells already made safe)."""
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def verdict_text(verdict: str) -> str:
    """A verdict, bold when it breaks the run (FAIL, ERROR)."""
    return f"**{verdict}**" if verdict in (ReportVerdict.FAIL, ReportVerdict.ERROR) else verdict


def row_verdict(entry: RequirementEntry) -> str:
    """A row's verdict cell; under ``--expect`` followed by ``(expected)`` or, for a
    difference, ``(expected PASS)``."""
    note = expectation_note(entry)
    return verdict_text(entry["verdict"]) + (f" ({note})" if note else "")


def report_markdown(document: ReportDocument) -> str:
    """The Markdown summary of one run."""
    summary = document["summary"]
    counts = " · ".join(f"{summary['verdicts'][v.value]} {v.value}" for v in PRECEDENCE)
    requirements = document["requirements"]
    not_passing = [r for r in requirements if r["verdict"] != ReportVerdict.PASS]
    lines = [
        f"# RFC 8823 conformance: {cell(target_label(document))}",
        "",
        cell(meta_line(document)),
        "",
        f"**{cell(sanity_line(document))}**",
        "",
        f"**{counts}** — {cell(tests_line(document))}",
        "",
        *_expectations(document),
        f"## Not passing ({len(not_passing)})",
        "",
    ]
    if not_passing:
        lines += table(
            ("Verdict", "ID", "Level", "Reference", "Requirement", "Why"),
            [
                (
                    row_verdict(r),
                    cell(r["id"]),
                    cell(r["level"]),
                    cell(r["reference"]),
                    cell(r["summary"]),
                    cell(why(r)),
                )
                for r in not_passing
            ],
        )
    else:
        lines.append("Every exercised requirement passed.")
    lines += ["", f"## All exercised requirements ({len(requirements)})", ""]
    lines += table(
        ("Verdict", "ID", "Level", "Source", "Reference", "Tests"),
        [_full_row(r) for r in requirements],
    )
    return "\n".join(lines) + "\n"


def _expectations(document: ReportDocument) -> list[str]:
    """The comparison with the expectations file (``--expect``): matched, or its differences."""
    expectations = document.get("expectations")
    if expectations is None:
        return []
    lines = [f"## Expectations ({cell(expectations['file'])})", ""]
    if expectations["matched"]:
        return [*lines, cell(comparison(expectations).capitalize()) + ".", ""]
    rows = [
        (
            cell(d["kind"]),
            cell(d["id"] or "—"),
            cell(d["expected"]),
            cell(d["actual"]),
            cell(d["evidence"]),
            cell(d["observed"]),
        )
        for d in expectations["differences"]
    ]
    header = ("Difference", "ID", "Expected", "Now", "Expected evidence", "Now observed")
    return [*lines, *table(header, rows), ""]


def _full_row(entry: RequirementEntry) -> tuple[str, ...]:
    return (
        row_verdict(entry),
        cell(entry["id"]),
        cell(entry["level"]),
        cell(entry["source"]),
        cell(entry["reference"]),
        str(len(entry["tests"])),
    )
