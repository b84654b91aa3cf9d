"""No file of the project carries a merge's conflict markers (a Makefile once did, and make
stopped on its third line)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIPPED = {".git", ".venv", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", "reports"}
MARKER = re.compile(rb"^(<{7} |>{7} |={7}$)", re.MULTILINE)


def project_files(root: Path) -> list[Path]:
    """Every file under ``root`` outside tool caches, virtualenvs and generated reports."""
    return [
        path
        for path in root.rglob("*")
        if path.is_file() and not SKIPPED.intersection(path.relative_to(root).parts)
    ]


def test_no_conflict_markers() -> None:
    marked = [
        str(path.relative_to(ROOT))
        for path in project_files(ROOT)
        if path.stat().st_size < 2_000_000 and MARKER.search(path.read_bytes())
    ]
    assert not marked, f"conflict markers in {marked}"
