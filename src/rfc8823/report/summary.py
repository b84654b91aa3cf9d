"""The terminal summary of a run: counts by verdict and the MUST-level failures with their IDs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rfc8823.report.document import (
    ReportDocument,
    RequirementEntry,
    expectation_note,
    expectations_lines,
    sanity_line,
    target_label,
    why,
)
from rfc8823.report.verdicts import PRECEDENCE, ReportVerdict


def run_failed(document: ReportDocument, strict: bool) -> bool:
    """Whether the run must exit non-zero: any FAIL or ERROR, or with ``strict`` any WARN;
    under ``--expect``, any difference from the expectations file instead."""
    expectations = document.get("expectations")
    if expectations is not None:
        return not expectations["matched"]
    counts = document["summary"]["verdicts"]
    broken = counts[ReportVerdict.FAIL] + counts[ReportVerdict.ERROR]
    return bool(broken or (strict and counts[ReportVerdict.WARN]))


def summary_title(document: ReportDocument) -> str:
    """The heading of a target's block."""
    return f"rfc8823 conformance: {target_label(document)}"


def summary_lines(document: ReportDocument, written: Sequence[Path], strict: bool) -> list[str]:
    """The lines under the heading: counts, FAIL rows, errors, strict WARNs, files written."""
    summary = document["summary"]
    counts = ", ".join(f"{summary['verdicts'][v.value]} {v.value}" for v in PRECEDENCE)
    lines = [
        sanity_line(document),
        f"requirements: {counts} "
        f"({summary['exercised']} of {summary['catalog']} catalog rows exercised)",
    ]
    shown = [ReportVerdict.FAIL, ReportVerdict.ERROR] + ([ReportVerdict.WARN] if strict else [])
    for verdict in shown:
        rows = [r for r in document["requirements"] if r["verdict"] == verdict]
        if rows:
            heading = {
                ReportVerdict.FAIL: "MUST-level failures",
                ReportVerdict.ERROR: "errors (the harness or target broke)",
                ReportVerdict.WARN: "warnings (failing the run under --strict)",
            }[verdict]
            lines.append(f"{heading}:")
            lines += [
                f"  {verdict.value} {r['id']} ({r['reference']}){_marked(r)}: "
                f"{' '.join((why(r) or r['summary']).split())}"
                for r in rows
            ]
    lines += expectations_lines(document)
    if written:
        lines.append("reports: " + ", ".join(str(path) for path in written))
    return lines


def _marked(entry: RequirementEntry) -> str:
    """`` [expected]`` or `` [expected PASS]`` under ``--expect``, else nothing."""
    note = expectation_note(entry)
    return f" [{note}]" if note else ""
