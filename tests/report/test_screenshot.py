"""The HTML report renders in headless Chromium without console errors."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from rfc8823.findings import Finding, Verdict
from rfc8823.report.document import RunInfo, build_report
from rfc8823.report.html import report_html
from rfc8823.report.records import BlockRecord, CaseRecord, Outcome, Target
from rfc8823.report.screenshot import console_errors, find_chromium, main, render_screenshot
from rfc8823.requirements import load_catalog

needs_chromium = pytest.mark.skipif(
    find_chromium() is None, reason="chromium is not installed (apt-get install chromium)"
)
TARGET = Target("reference-server", "0.1.0")


def report_page(directory: Path) -> Path:
    """A report with every verdict, findings, and markup-like text that must be escaped."""
    cases = [
        CaseRecord(
            "suites/server/test_tokens.py::test_fresh",
            Outcome.PASSED,
            ("TOK-2",),
            TARGET,
            findings=(Finding("TOK-2", Verdict.PASS, "fresh"),),
        ),
        CaseRecord(
            "suites/server/test_response.py::test_dkim[<script>alert(1)</script>]",
            Outcome.FAILED,
            ("RESP-DKIM-1", "RESP-DKIM-4"),
            TARGET,
            0.2,
            "RESP-DKIM-1 fail: observed '<b>d=evil</b>'",
            findings=(Finding("RESP-DKIM-1", Verdict.FAIL, "<b>d=evil</b>", "example.com"),),
            rules=("RESP-DKIM-1",),
        ),
        CaseRecord(
            "suites/server/test_subject.py::test_bytes",
            Outcome.PASSED,
            ("RESP-SUBJ-1",),
            TARGET,
            findings=(
                Finding("RESP-SUBJ-1", Verdict.WARN, "byte reading", "string reading", "AMB-1"),
                Finding("TOK-3", Verdict.INFO, "token-part1 is 22 characters"),
            ),
        ),
        CaseRecord(
            "suites/server/test_i18n.py::test_eai",
            Outcome.UNSUPPORTED,
            ("FLOW-2",),
            TARGET,
            message="unsupported: eai: not implemented",
            unsupported="eai",
        ),
        CaseRecord(
            "suites/server/test_sec.py::test_spf",
            Outcome.ERROR,
            ("SEC-10",),
            TARGET,
            message="RuntimeError: world DNS did not start",
        ),
        CaseRecord(
            "suites/server/test_sec.py::test_needs_mail",
            Outcome.BLOCKED,
            ("SEC-11",),
            TARGET,
            message="blocked: the challenge email did not happen: <none>",
            blocked=BlockRecord(("challenge-email",), ("FLOW-3",), "the email", "<none>"),
        ),
    ]
    document = build_report(cases, load_catalog(), TARGET, RunInfo("0.1.0", datetime.now(UTC)))
    assert {e["verdict"] for e in document["requirements"]} == {
        "PASS",
        "FAIL",
        "WARN",
        "BLOCKED",
        "INFO",
        "UNSUPPORTED",
        "ERROR",
    }
    page = directory / "reference-server.html"
    page.write_text(report_html(document), encoding="utf-8")
    return page


def test_markup_in_test_data_is_escaped(tmp_path: Path) -> None:
    html = report_page(tmp_path).read_text(encoding="utf-8")
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@needs_chromium
def test_report_renders_without_console_errors(tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    shot = render_screenshot(report_page(tmp_path), png)
    assert shot.console_errors == ()
    assert shot.ok, shot.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_chromium
def test_console_errors_are_caught(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head>'
        "<body>x<script>missingFunction();</script></body></html>",
        encoding="utf-8",
    )
    assert main([str(page), str(tmp_path / "broken.png")]) == 1
    assert "Uncaught ReferenceError: missingFunction" in capsys.readouterr().err


def test_console_error_lines() -> None:
    stderr = (
        "[1:1:ERROR:bus.cc(407)] Failed to connect to the bus\n"
        '[1:1:INFO:CONSOLE:3] "Uncaught TypeError: x", source: file:///r.html (3)\n'
    )
    assert console_errors(stderr) == (
        '[1:1:INFO:CONSOLE:3] "Uncaught TypeError: x", source: file:///r.html (3)',
    )
