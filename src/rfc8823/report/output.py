"""Writing one run's report files: ``<name>.json``, ``<name>.html``, ``<name>.md``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rfc8823.report.document import ReportDocument, report_slug
from rfc8823.report.html import report_html
from rfc8823.report.markdown import report_markdown
from rfc8823.report.records import Target


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """Where one target's report went."""

    json: Path
    html: Path
    markdown: Path
    junit: Path

    @property
    def all(self) -> tuple[Path, ...]:
        """Every file, JSON first."""
        return (self.json, self.html, self.markdown, self.junit)


def report_files(directory: Path, name: str) -> ReportFiles:
    """The paths of the files named ``name`` in ``directory``."""
    return ReportFiles(
        json=directory / f"{name}.json",
        html=directory / f"{name}.html",
        markdown=directory / f"{name}.md",
        junit=directory / f"{name}.junit.xml",
    )


def report_names(targets: Sequence[Target], name: str | None) -> list[str]:
    """File names for each target's report: ``name`` if given (suffixed per target when several),
    else the target's name; made file-safe and unique."""
    if name and len(targets) == 1:
        wanted = [report_slug(name)]
    elif name:
        wanted = [f"{report_slug(name)}-{report_slug(t.name)}" for t in targets]
    else:
        wanted = [report_slug(t.name) for t in targets]
    names: list[str] = []
    for candidate in wanted:
        unique, n = candidate, 1
        while unique in names:
            n += 1
            unique = f"{candidate}-{n}"
        names.append(unique)
    return names


def write_report(document: ReportDocument, files: ReportFiles) -> None:
    """Write the JSON, HTML and Markdown renderings of ``document``."""
    files.json.parent.mkdir(parents=True, exist_ok=True)
    files.json.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")
    files.html.write_text(report_html(document), "utf-8")
    files.markdown.write_text(report_markdown(document), "utf-8")
