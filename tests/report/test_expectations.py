"""Expectations files: what they may say, how a run differs from one, ``--expect`` end to end."""

import json
from pathlib import Path
from typing import cast

import pytest

from rfc8823.cli import main
from rfc8823.report.document import ReportDocument
from rfc8823.report.expectations import (
    ExpectationsError,
    apply_expectations,
    differences,
    parse_expectations,
)
from rfc8823.requirements import load_catalog

from .conftest import RunSuite

pytest_plugins = ("pytester",)

HEAD = '[target]\nname = "unknown"\n'


def entry(rid: str, verdict: str, evidence: str = "observed x; expected y") -> str:
    return f'\n[[expect]]\nid = "{rid}"\nverdict = "{verdict}"\nevidence = "{evidence}"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (entry("NO-SUCH-1", "FAIL"), "not a catalog requirement ID"),
        (entry("TOK-2", "PASS"), "every unlisted row does"),
        (entry("TOK-2", "ERROR"), "never expected"),
        (entry("TOK-2", "BROKEN"), "one of FAIL, WARN, BLOCKED, INFO, UNSUPPORTED"),
        (entry("TOK-2", "FAIL", ""), "one line of evidence"),
        (entry("TOK-2", "FAIL") + entry("TOK-2", "WARN"), "listed twice"),
        ('[[expect]]\nid = "TOK-2"\nverdict = "FAIL"\n', "missing ['evidence']"),
        (entry("TOK-2", "FAIL") + "[extra]\n", "unknown tables ['extra']"),
        ('[target]\nname = "x"\nrelease = "1"\n', "only name and version"),
        ("[[expect]\n", "not TOML"),
    ],
)
def test_a_bad_file_is_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(ExpectationsError, match=r"^x\.toml: .*") as raised:
        parse_expectations(text, "x.toml", load_catalog())
    assert message in str(raised.value)


def document(verdicts: dict[str, str], target: str = "unknown") -> ReportDocument:
    """A minimal report document holding ``verdicts`` (the fields the comparison reads)."""
    rows = [
        {
            "id": rid,
            "verdict": verdict,
            "summary": f"summary of {rid}",
            "findings": [
                {"test": "t", "verdict": "fail", "observed": f"{rid} now", "expected": "held"}
            ],
            "tests": [],
        }
        for rid, verdict in verdicts.items()
    ]
    minimal = {
        "target": {"name": target, "version": ""},
        "suite": {"name": "rfc8823", "version": "0"},
        "created": "2026-12-07T00:00:00Z",
        "requirements": rows,
    }
    return cast("ReportDocument", minimal)  # only what the comparison reads


def test_differences_name_every_change_and_every_error() -> None:
    expectations = parse_expectations(
        HEAD
        + entry("TOK-1", "FAIL")
        + entry("TOK-2", "WARN", "token reused")
        + entry("TOK-3", "BLOCKED")
        + entry("TOK-4", "INFO"),
        "x.toml",
        load_catalog(),
    )
    run = document(
        {
            "TOK-1": "FAIL",
            "TOK-2": "PASS",
            "TOK-3": "FAIL",
            "FLOW-3": "ERROR",
            "FLOW-6": "WARN",
            "ID-EMAIL-1": "PASS",
        }
    )
    found = {
        (d["kind"], d["id"], d["expected"], d["actual"]) for d in differences(run, expectations)
    }
    assert found == {
        ("unexpected PASS", "TOK-2", "WARN", "PASS"),
        ("unexpected FAIL", "TOK-3", "BLOCKED", "FAIL"),
        ("ERROR", "FLOW-3", "PASS", "ERROR"),
        ("unexpected WARN", "FLOW-6", "PASS", "WARN"),
        ("not exercised", "TOK-4", "INFO", "not exercised"),
    }
    passed = next(d for d in differences(run, expectations) if d["id"] == "TOK-2")
    assert passed["evidence"] == "token reused"
    failed = next(d for d in differences(run, expectations) if d["id"] == "TOK-3")
    assert failed["observed"] == "observed TOK-3 now; expected held"


def test_a_file_for_another_target_is_a_difference() -> None:
    expectations = parse_expectations(
        '[target]\nname = "ca"\nversion = "2"\n', "x.toml", load_catalog()
    )
    found = differences(document({}, target="other"), expectations)
    assert [(d["kind"], d["expected"], d["actual"]) for d in found] == [
        ("other target", "ca 2", "other")
    ]


def test_applied_expectations_mark_each_row() -> None:
    expectations = parse_expectations(HEAD + entry("TOK-1", "FAIL"), "x.toml", load_catalog())
    applied = apply_expectations(document({"TOK-1": "FAIL", "TOK-2": "PASS"}), expectations)
    assert [row["expected"] for row in applied["requirements"]] == ["FAIL", "PASS"]
    assert applied["expectations"]["matched"] is True
    assert applied["expectations"]["listed"] == 1


SAMPLE = """
from rfc8823.findings import risk
from rfc8823.requirements import covers

@covers("TOK-2")
def test_broken(conformance):
    conformance.check("TOK-2", False, "a reused token", "a fresh one")

@covers("TOK-1")
def test_risk(conformance):
    conformance.record(risk("TOK-1", "a short token-part2", "16 octets"))

@covers("TOK-3")
def test_fine(conformance):
    conformance.check("TOK-3", True, "a long token", "16 octets")

@covers("TOK-4")
def test_recorded(conformance):
    conformance.info("TOK-4", "a folded Subject")
"""


def write(pytester: pytest.Pytester, text: str) -> Path:
    path = pytester.path / "expected.toml"
    path.write_text(HEAD + text, encoding="utf-8")
    return path


def test_a_run_that_matches_its_expectations_passes(
    run_suite: RunSuite, pytester: pytest.Pytester
) -> None:
    expect = write(
        pytester, entry("TOK-2", "FAIL") + entry("TOK-1", "WARN") + entry("TOK-4", "INFO")
    )
    run = run_suite(SAMPLE, f"--expect={expect}")
    assert run.result.ret == pytest.ExitCode.OK
    run.result.stdout.fnmatch_lines(
        [
            "  FAIL TOK-2 (*) [[]expected]: observed a reused token; expected a fresh one",
            f"expectations {expect} (unknown): matched (every row as expected; 3 listed *)",
        ]
    )
    report = run.document()
    assert report["expectations"]["matched"] is True
    assert {r["id"]: r["expected"] for r in report["requirements"]} == {
        "TOK-1": "WARN",
        "TOK-2": "FAIL",
        "TOK-3": "PASS",
        "TOK-4": "INFO",
    }
    markdown = (run.reports / "unknown.md").read_text(encoding="utf-8")
    assert "| **FAIL** (expected) | TOK-2 |" in markdown
    assert "| WARN (expected) | TOK-1 |" in markdown
    assert "| PASS | TOK-3 |" in markdown
    assert "## Expectations (" in markdown
    page = (run.reports / "unknown.html").read_text(encoding="utf-8")
    assert '<span class="badge expected">expected</span>' in page


def test_an_unexpected_pass_fails_the_run(run_suite: RunSuite, pytester: pytest.Pytester) -> None:
    expect = write(
        pytester,
        entry("TOK-2", "FAIL")
        + entry("TOK-1", "WARN")
        + entry("TOK-4", "INFO")
        + entry("TOK-3", "FAIL", "old"),
    )
    run = run_suite(SAMPLE, f"--expect={expect}")
    assert run.result.ret == pytest.ExitCode.TESTS_FAILED
    run.result.stdout.fnmatch_lines(
        [
            f"expectations {expect} (unknown): 1 difference",
            "  unexpected PASS TOK-3: expected FAIL (old)",
        ]
    )
    markdown = (run.reports / "unknown.md").read_text(encoding="utf-8")
    assert "| PASS (expected FAIL) | TOK-3 |" in markdown
    assert "| unexpected PASS | TOK-3 | FAIL | PASS | old |" in markdown
    page = (run.reports / "unknown.html").read_text(encoding="utf-8")
    assert '<span class="badge unexpected">expected FAIL</span>' in page


def test_an_unexpected_fail_and_a_changed_verdict_fail_the_run(
    run_suite: RunSuite, pytester: pytest.Pytester
) -> None:
    expect = write(pytester, entry("TOK-1", "FAIL", "was judged a MUST") + entry("TOK-4", "INFO"))
    run = run_suite(SAMPLE, f"--expect={expect}")
    assert run.result.ret == pytest.ExitCode.TESTS_FAILED
    run.result.stdout.fnmatch_lines(
        [
            "*: 2 differences",
            "  unexpected WARN TOK-1: expected FAIL (was judged a MUST); now observed a short*",
            "  unexpected FAIL TOK-2: expected PASS; now observed a reused token*",
        ]
    )
    assert run.document()["expectations"]["matched"] is False


def test_any_error_fails_the_run(run_suite: RunSuite, pytester: pytest.Pytester) -> None:
    expect = write(
        pytester, entry("TOK-2", "FAIL") + entry("TOK-1", "WARN") + entry("TOK-4", "INFO")
    )
    run = run_suite(
        SAMPLE + '\n@covers("TOK-5")\ndef test_unattributed(conformance):\n    assert False\n',
        f"--expect={expect}",
    )
    assert run.result.ret == pytest.ExitCode.TESTS_FAILED
    run.result.stdout.fnmatch_lines(["  ERROR TOK-5: expected PASS; now unattributed failure*"])


def test_a_bad_expectations_file_stops_the_run(
    run_suite: RunSuite, pytester: pytest.Pytester
) -> None:
    expect = write(pytester, entry("TOK-1", "PASS"))
    run = run_suite(SAMPLE, f"--expect={expect}")
    assert run.result.ret == pytest.ExitCode.USAGE_ERROR
    run.result.stderr.fnmatch_lines([f"*--expect: {expect}: *TOK-1 expects PASS*"])


def test_the_cli_drafts_a_file_the_run_then_matches(
    run_suite: RunSuite, pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_suite(SAMPLE)
    report = str(run.reports / "unknown.json")
    capsys.readouterr()
    assert main(["expectations", report]) == 0
    draft = capsys.readouterr().out
    assert 'id = "TOK-2"\nverdict = "FAIL"\nevidence = "observed a reused token;' in draft
    assert 'id = "TOK-4"\nverdict = "INFO"\nevidence = "observed a folded Subject"' in draft
    assert "TOK-3" not in draft
    expect = pytester.path / "drafted.toml"
    expect.write_text(draft, encoding="utf-8")
    assert main(["expectations", report, "--check", str(expect)]) == 0
    assert "matched" in capsys.readouterr().out
    expect.write_text(draft.replace('verdict = "WARN"', 'verdict = "INFO"'), encoding="utf-8")
    assert main(["expectations", report, "--check", str(expect)]) == 1
    assert "unexpected WARN TOK-1: expected INFO" in capsys.readouterr().out
    assert "expectations" not in json.loads((run.reports / "unknown.json").read_text("utf-8"))
