"""The comparison matrix of several runs: requirements as rows, implementations as columns.

Autobahn-style: one colour-coded verdict per cell, each linking to the requirement's row on that
run's own HTML page. Two runs of the same target (name and version) keep only the newer.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from urllib.parse import quote

from rfc8823.report.document import ReportDocument, RequirementEntry, section_key, target_label
from rfc8823.report.html import anchor, badge, page
from rfc8823.report.markdown import cell, table, verdict_text
from rfc8823.report.verdicts import PRECEDENCE


@dataclass(frozen=True, slots=True)
class Run:
    """One run's report and the JSON file it came from (its HTML page sits beside it)."""

    document: ReportDocument
    path: Path

    @property
    def key(self) -> tuple[str, str]:
        """What makes two runs the same target: name and version."""
        target = self.document["target"]
        return target["name"], target["version"]


@dataclass(frozen=True, slots=True)
class MatrixRow:
    """One requirement across the runs; a cell is None where that run did not exercise it."""

    id: str
    section: str
    level: str
    reference: str
    summary: str
    cells: tuple[str | None, ...]


@dataclass(frozen=True, slots=True)
class Matrix:
    """Runs (columns), requirement rows, and warnings about runs that were dropped."""

    runs: tuple[Run, ...]
    rows: tuple[MatrixRow, ...]
    warnings: tuple[str, ...]


def merge_runs(runs: Sequence[Run], order: Sequence[str] = ()) -> Matrix:
    """The matrix of ``runs``; rows follow ``order`` (catalog IDs), unknown IDs last, sorted."""
    kept: dict[tuple[str, str], Run] = {}
    warnings: list[str] = []
    for run in runs:
        previous = kept.get(run.key)
        if previous is None:
            kept[run.key] = run
            continue
        newer, older = (
            (run, previous)
            if run.document["created"] >= previous.document["created"]
            else (previous, run)
        )
        kept[run.key] = newer
        warnings.append(
            f"{target_label(run.document)}: {newer.path} ({newer.document['created']}) "
            f"replaces {older.path} ({older.document['created']})"
        )
    columns = tuple(kept.values())
    entries: dict[str, RequirementEntry] = {}
    for run in columns:
        for entry in run.document["requirements"]:
            entries.setdefault(entry["id"], entry)
    rank = {rid: n for n, rid in enumerate(order)}
    ids = sorted(entries, key=lambda rid: (rank.get(rid, len(rank)), rid))
    verdicts = [{e["id"]: e["verdict"] for e in run.document["requirements"]} for run in columns]
    rows = tuple(
        MatrixRow(
            id=rid,
            section=section_key(entries[rid]),
            level=entries[rid]["level"],
            reference=entries[rid]["reference"],
            summary=entries[rid]["summary"],
            cells=tuple(by_id.get(rid) for by_id in verdicts),
        )
        for rid in ids
    )
    return Matrix(runs=columns, rows=rows, warnings=tuple(warnings))


def _sections(rows: Sequence[MatrixRow]) -> dict[str, list[MatrixRow]]:
    groups: dict[str, list[MatrixRow]] = {}
    for row in rows:
        groups.setdefault(row.section, []).append(row)
    return groups


def _page_link(run: Run, out_dir: Path) -> str | None:
    """Relative URL of the run's HTML page as seen from ``out_dir``; None if there is none."""
    html = run.path.with_suffix(".html")
    if not html.exists():
        return None
    return quote(Path(os.path.relpath(html.resolve(), out_dir.resolve())).as_posix())


def _counts(document: ReportDocument) -> str:
    verdicts = document["summary"]["verdicts"]
    counts = " · ".join(f"{verdicts[v.value]} {v.value}" for v in PRECEDENCE if verdicts[v.value])
    return f"happy path {document['sanity']['status']} · {counts}"


def matrix_html(matrix: Matrix, out_dir: Path) -> str:
    """The matrix as a self-contained HTML page written into ``out_dir``."""
    links = [_page_link(run, out_dir) for run in matrix.runs]
    head = "".join(
        f"<th>{_linked(escape(target_label(run.document)), link)}"
        f"<br><small>{escape(run.document['created'])}<br>{escape(_counts(run.document))}"
        "</small></th>"
        for run, link in zip(matrix.runs, links, strict=True)
    )
    width = 2 + len(matrix.runs)
    body: list[str] = []
    for section, rows in _sections(matrix.rows).items():
        body.append(f'<tr><th colspan="{width}">{escape(section)}</th></tr>')
        for row in rows:
            cells = "".join(
                _matrix_cell(verdict, link, row.id)
                for verdict, link in zip(row.cells, links, strict=True)
            )
            body.append(
                f'<tr><td class="id" title="{escape(row.summary)}">{escape(row.id)}</td>'
                f"<td>{escape(row.level)}</td>{cells}</tr>"
            )
    content = [
        "<h1>RFC 8823 conformance matrix</h1>",
        f'<p class="meta">{len(matrix.runs)} implementations, {len(matrix.rows)} requirements; '
        "a cell links to the requirement on that run's report.</p>",
        "<table>",
        f"<thead><tr><th>Requirement</th><th>Level</th>{head}</tr></thead>",
        "<tbody>",
        *body,
        "</tbody>",
        "</table>",
    ]
    return page("rfc8823 conformance matrix", content)


def _linked(text: str, link: str | None, fragment: str = "") -> str:
    if link is None:
        return text
    target = f"{link}#{fragment}" if fragment else link
    return f'<a href="{escape(target)}">{text}</a>'


def _matrix_cell(verdict: str | None, link: str | None, requirement_id: str) -> str:
    if verdict is None:
        return '<td class="v-none">—</td>'
    linked = _linked(badge(verdict), link, anchor(requirement_id))
    return f'<td class="v-{escape(verdict)}">{linked}</td>'


def matrix_markdown(matrix: Matrix, out_dir: Path) -> str:
    """The matrix in Markdown, one table per section, cells linking like the HTML page."""
    links = [_page_link(run, out_dir) for run in matrix.runs]
    header = ("Requirement", "Level", *(cell(target_label(run.document)) for run in matrix.runs))
    lines = [
        "# RFC 8823 conformance matrix",
        "",
        *(
            f"- {cell(target_label(run.document))}: {cell(_counts(run.document)) or 'no verdicts'}"
            f" ({run.document['created']})"
            for run in matrix.runs
        ),
    ]
    for section, rows in _sections(matrix.rows).items():
        lines += ["", f"## {cell(section)}", ""]
        lines += table(
            header,
            [
                (
                    cell(row.id),
                    cell(row.level),
                    *(
                        _markdown_cell(verdict, link, row.id)
                        for verdict, link in zip(row.cells, links, strict=True)
                    ),
                )
                for row in rows
            ],
        )
    return "\n".join(lines) + "\n"


def _markdown_cell(verdict: str | None, link: str | None, requirement_id: str) -> str:
    if verdict is None:
        return "—"
    if link is None:
        return verdict_text(verdict)
    return f"[{verdict_text(verdict)}]({link}#{anchor(requirement_id)})"
