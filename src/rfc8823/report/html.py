"""The HTML page of one run: self-contained (inline CSS), readable without JavaScript.

Summary counts, a per-section table with colour-coded verdicts, and one expandable row per
requirement (``<details>``) with its tests, the failing test's message and the findings. Rows
that FAIL or ERROR start expanded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from rfc8823.report.document import (
    CaseEntry,
    FindingEntry,
    ReportDocument,
    RequirementEntry,
    comparison,
    expectation_note,
    meta_line,
    sanity_line,
    section_key,
    target_label,
    tests_line,
)
from rfc8823.report.verdicts import PRECEDENCE, ReportVerdict

STYLE = """
:root { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2937; }
body { margin: 1.5rem auto; max-width: 78rem; padding: 0 1rem; line-height: 1.4; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #e5e7eb; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
.meta { color: #6b7280; margin-top: 0; }
table { border-collapse: collapse; width: 100%; margin: .3rem 0 1rem; }
th, td { border: 1px solid #e5e7eb; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f9fafb; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.counts { display: flex; flex-wrap: wrap; gap: .5rem; margin: 1rem 0; }
.count { border-radius: .4rem; padding: .4rem .8rem; min-width: 6.5rem; }
.count .n { display: block; font-size: 1.6rem; font-weight: 700; }
.badge { display: inline-block; border-radius: .3rem; padding: 0 .4rem; font-weight: 700;
         font-size: .8rem; letter-spacing: .02em; }
.v-PASS { background: #dcfce7; color: #166534; }
.v-FAIL { background: #fee2e2; color: #991b1b; }
.v-WARN { background: #fef3c7; color: #92400e; }
.v-BLOCKED { background: #e5e7eb; color: #374151; }
.v-INFO { background: #dbeafe; color: #1e40af; }
.v-UNSUPPORTED { background: #f3f4f6; color: #4b5563; }
.v-ERROR { background: #f3e8ff; color: #6b21a8; }
.v-none { background: #fff; color: #9ca3af; }
.expected { background: #fff; color: #4b5563; border: 1px solid #d1d5db; font-weight: 400; }
.unexpected { background: #fff; color: #b91c1c; border: 1px solid #b91c1c; }
.expectations { border-left: .3rem solid #16a34a; padding: .3rem .8rem; background: #f0fdf4; }
.expectations.differ { border-color: #dc2626; background: #fef2f2; }
.zero { color: #d1d5db; background: #fff; }
td.id { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; white-space: nowrap; }
summary { cursor: pointer; }
details > div { margin: .5rem 0 .2rem; }
pre { background: #f9fafb; border: 1px solid #e5e7eb; padding: .4rem; white-space: pre-wrap;
      word-break: break-word; font-size: .85rem; margin: .2rem 0; }
.failures li { margin: .2rem 0; }
.sanity { border-left: .3rem solid #16a34a; padding: .3rem .8rem; background: #f0fdf4; }
.sanity.failed { border-color: #dc2626; background: #fef2f2; }
.sanity.not-run { border-color: #9ca3af; background: #f9fafb; }
a { color: #1d4ed8; }
td a { text-decoration: none; }
footer { color: #9ca3af; margin-top: 2rem; font-size: .85rem; }
"""


def page(title: str, body: Iterable[str]) -> str:
    """A complete HTML document with the shared inline style."""
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<link rel="icon" href="data:,">',
            f"<title>{escape(title)}</title>",
            f"<style>{STYLE}</style>",
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )


def badge(verdict: str) -> str:
    """A colour-coded verdict label."""
    return f'<span class="badge v-{escape(verdict)}">{escape(verdict)}</span>'


def anchor(requirement_id: str) -> str:
    """The fragment that names a requirement's row on a run page."""
    return f"req-{requirement_id}"


def section_anchor(key: str) -> str:
    """The fragment of a section heading (``RFC 8823 §3.1`` -> ``sec-8823-3.1``)."""
    return "sec-" + key.removeprefix("RFC ").replace(" §", "-")


def report_html(document: ReportDocument) -> str:
    """The HTML page of one run."""
    label = target_label(document)
    summary = document["summary"]
    body = [
        f"<h1>RFC 8823 conformance: {escape(label)}</h1>",
        f'<p class="meta">{escape(meta_line(document))}</p>',
        f'<p class="sanity {document["sanity"]["status"].replace(" ", "-")}">'
        f"{escape(sanity_line(document))}</p>",
        '<div class="counts">',
        *(
            f'<div class="count v-{v.value}"><span class="n">{summary["verdicts"][v.value]}</span>'
            f"{v.value}</div>"
            for v in PRECEDENCE
        ),
        "</div>",
        f"<p>{escape(tests_line(document))}</p>",
        *_expectations(document),
        *_failures(document["requirements"]),
        *_section_table(document["requirements"]),
        "<h2>Requirements</h2>",
        *_requirement_tables(document["requirements"]),
        *_unexercised(document),
        f"<footer>rfc8823 {escape(document['suite']['version'])} · "
        f"{escape(document['schema'])}</footer>",
    ]
    return page(f"rfc8823 conformance: {label}", body)


def _failures(requirements: Sequence[RequirementEntry]) -> list[str]:
    failed = [r for r in requirements if r["verdict"] == ReportVerdict.FAIL]
    if not failed:
        return []
    return [
        '<section class="failures">',
        f"<h2>MUST-level failures ({len(failed)})</h2>",
        "<ul>",
        *(
            f'<li><a href="#{anchor(r["id"])}">{escape(r["id"])}</a> '
            f"{escape(r['reference'])}: {escape(r['summary'])}</li>"
            for r in failed
        ),
        "</ul>",
        "</section>",
    ]


def grouped(requirements: Sequence[RequirementEntry]) -> dict[str, list[RequirementEntry]]:
    """Requirements by section heading, in first-seen (catalog) order."""
    groups: dict[str, list[RequirementEntry]] = {}
    for entry in requirements:
        groups.setdefault(section_key(entry), []).append(entry)
    return groups


def _section_table(requirements: Sequence[RequirementEntry]) -> list[str]:
    rows = []
    for key, entries in grouped(requirements).items():
        cells = []
        for verdict in PRECEDENCE:
            n = sum(e["verdict"] == verdict for e in entries)
            css = f"v-{verdict.value}" if n else "zero"
            cells.append(f'<td class="num {css}">{n}</td>')
        rows.append(
            f'<tr><td><a href="#{section_anchor(key)}">{escape(key)}</a></td>{"".join(cells)}</tr>'
        )
    head = "".join(f"<th>{v.value}</th>" for v in PRECEDENCE)
    return [
        "<h2>By section</h2>",
        '<table class="sections">',
        f"<thead><tr><th>Section</th>{head}</tr></thead>",
        "<tbody>",
        *rows,
        "</tbody>",
        "</table>",
    ]


def _requirement_tables(requirements: Sequence[RequirementEntry]) -> list[str]:
    lines: list[str] = []
    for key, entries in grouped(requirements).items():
        lines += [
            f'<h3 id="{section_anchor(key)}">{escape(key)}</h3>',
            '<table class="requirements">',
            "<thead><tr><th>Verdict</th><th>ID</th><th>Level</th><th>Source</th>"
            "<th>Requirement</th></tr></thead>",
            "<tbody>",
            *(_requirement_row(entry) for entry in entries),
            "</tbody>",
            "</table>",
        ]
    return lines


def _requirement_row(entry: RequirementEntry) -> str:
    is_open = " open" if entry["verdict"] in (ReportVerdict.FAIL, ReportVerdict.ERROR) else ""
    binds = ", ".join(entry["binds"]) or "no role"
    detail = [
        f"<p>{escape(entry['reference'])} · binds {escape(binds)} · "
        f"broken means {badge(entry['verdict_on_break'])}</p>",
        _tests_table(entry["tests"]),
        *_messages(entry["tests"]),
        _findings_table(entry["findings"]),
    ]
    return (
        f'<tr id="{anchor(entry["id"])}"><td>{badge(entry["verdict"])}{_expected_badge(entry)}</td>'
        f'<td class="id">{escape(entry["id"])}</td><td>{escape(entry["level"])}</td>'
        f"<td>{escape(entry['source'])}</td>"
        f"<td><details{is_open}><summary>{escape(entry['summary'])}</summary>"
        f"<div>{''.join(detail)}</div></details></td></tr>"
    )


def _expected_badge(entry: RequirementEntry) -> str:
    """Under ``--expect``: an outlined ``expected`` beside a verdict the file lists, a red
    ``expected PASS`` (the file's verdict) beside a difference."""
    note = expectation_note(entry)
    if not note:
        return ""
    css = "expected" if note == "expected" else "unexpected"
    return f' <span class="badge {css}">{escape(note)}</span>'


def _expectations(document: ReportDocument) -> list[str]:
    """The comparison with the expectations file: matched, or a table of the differences."""
    expectations = document.get("expectations")
    if expectations is None:
        return []
    if expectations["matched"]:
        return [
            f'<p class="expectations">Compared with {escape(expectations["file"])}: '
            f"{escape(comparison(expectations))}.</p>"
        ]
    rows = "".join(
        f"<tr><td>{escape(d['kind'])}</td>"
        + (
            f'<td class="id"><a href="#{anchor(d["id"])}">{escape(d["id"])}</a></td>'
            if d["id"]
            else "<td></td>"
        )
        + f"<td>{escape(d['expected'])}</td><td>{escape(d['actual'])}</td>"
        f"<td>{escape(d['evidence'])}</td><td>{escape(d['observed'])}</td></tr>"
        for d in expectations["differences"]
    )
    return [
        f'<section class="expectations differ"><h2>Differences from '
        f"{escape(expectations['file'])} ({len(expectations['differences'])})</h2>",
        "<table><thead><tr><th>Difference</th><th>ID</th><th>Expected</th><th>Now</th>"
        f"<th>Expected evidence</th><th>Now observed</th></tr></thead><tbody>{rows}</tbody>"
        "</table></section>",
    ]


def _tests_table(tests: Sequence[CaseEntry]) -> str:
    rows = "".join(
        f"<tr><td>{badge(t['verdict'])}</td><td><code>{escape(t['nodeid'])}</code></td>"
        f"<td>{escape(t['outcome'])}{_unsupported_note(t)}</td>"
        f"<td>{escape(t['note'])}</td>"
        f'<td class="num">{t["duration"]:.3f} s</td></tr>'
        for t in tests
    )
    return (
        "<table><thead><tr><th>Verdict</th><th>Test</th><th>Outcome</th><th>Why</th>"
        f"<th>Duration</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _unsupported_note(test: CaseEntry) -> str:
    return f" ({escape(test['unsupported'])})" if test["unsupported"] else ""


def _messages(tests: Sequence[CaseEntry]) -> list[str]:
    return [
        f"<p><code>{escape(t['nodeid'])}</code>:</p><pre>{escape(t['message'])}</pre>"
        for t in tests
        if t["message"]
    ]


def _findings_table(findings: Sequence[FindingEntry]) -> str:
    if not findings:
        return ""
    rows = "".join(
        f"<tr><td>{badge(f['verdict'].upper())}</td><td>{escape(f['observed'])}</td>"
        f"<td>{escape(f['expected'])}</td><td>{escape(f['detail'])}</td>"
        f"<td><code>{escape(f['test'])}</code></td></tr>"
        for f in findings
    )
    return (
        "<table><thead><tr><th>Finding</th><th>Observed</th><th>Expected</th><th>Detail</th>"
        f"<th>Test</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _unexercised(document: ReportDocument) -> list[str]:
    rows = document["not_exercised"]
    if not rows:
        return []
    lines = "".join(
        f'<tr><td class="id">{escape(r["id"])}</td><td>{escape(r["reference"])}</td>'
        f"<td>{escape(r['level'])}</td>"
        f"<td>{escape(r['untestable_reason'] or 'testable')}</td>"
        f"<td>{escape(r['summary'])}</td></tr>"
        for r in rows
    )
    return [
        f"<h2>Not exercised ({len(rows)})</h2>",
        f"<details><summary>{len(rows)} catalog requirements no test of this run touched</summary>",
        "<table><thead><tr><th>ID</th><th>Reference</th><th>Level</th><th>Testable</th>"
        f"<th>Requirement</th></tr></thead><tbody>{lines}</tbody></table>",
        "</details>",
    ]
