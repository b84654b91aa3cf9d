"""Helpers for the report tests: run a small conformance suite with pytester, read its reports."""

import json
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from rfc8823.report.document import ReportDocument, RequirementEntry
from rfc8823.report.schema import validate_report

QUIET = ("-p", "no:asyncio", "-p", "no:cacheprovider", "-p", "no:randomly")


@dataclass
class SuiteRun:
    """One pytester run and the directory its reports went to."""

    result: pytest.RunResult
    reports: Path

    def document(self, name: str = "unknown") -> ReportDocument:
        """The JSON report ``name``, checked against the schema."""
        data = json.loads((self.reports / f"{name}.json").read_text(encoding="utf-8"))
        assert validate_report(data) == []
        document: ReportDocument = data
        return document

    def requirement(self, requirement_id: str, name: str = "unknown") -> RequirementEntry:
        """One requirement's entry in report ``name``."""
        entries = self.document(name)["requirements"]
        return next(e for e in entries if e["id"] == requirement_id)

    def verdicts(self, name: str = "unknown") -> dict[str, str]:
        """Requirement ID -> verdict in report ``name``."""
        return {e["id"]: e["verdict"] for e in self.document(name)["requirements"]}


RunSuite = Callable[..., SuiteRun]
ReadJunit = Callable[[Path], ET.Element]


@pytest.fixture
def quiet() -> tuple[str, ...]:
    """Plugins the inner runs do without (faster, no warnings about unset options)."""
    return QUIET


@pytest.fixture
def run_suite(pytester: pytest.Pytester) -> RunSuite:
    """Write ``source`` as ``suites/server/test_sample.py`` and run pytest on ``suites``."""

    def run(source: str, *args: str, path: str = "suites/server/test_sample.py") -> SuiteRun:
        target = pytester.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(source), encoding="utf-8")
        result = pytester.runpytest(*QUIET, "suites", *args)
        return SuiteRun(result, pytester.path / "reports")

    return run


@pytest.fixture
def read_junit() -> ReadJunit:
    """Parse a JUnit file written by the run under test."""

    def read(path: Path) -> ET.Element:
        return ET.parse(path).getroot()  # noqa: S314 - pytest's own output in a temp dir

    return read
