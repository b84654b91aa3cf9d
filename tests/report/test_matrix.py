"""Merging runs into the comparison matrix, and the ``rfc8823 report`` command."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rfc8823.cli import main
from rfc8823.findings import Finding, Verdict
from rfc8823.report.document import ReportDocument, RunInfo, build_report
from rfc8823.report.html import report_html
from rfc8823.report.matrix import Run, merge_runs
from rfc8823.report.records import CaseRecord, Outcome, Target
from rfc8823.requirements import load_catalog

FINDING = {Outcome.PASSED: Verdict.PASS, Outcome.FAILED: Verdict.FAIL}


def run_document(target: Target, outcomes: dict[str, Outcome], hour: int = 0) -> ReportDocument:
    """A run whose tests judged each row as ``outcomes`` says (a finding per judged row)."""
    cases = [
        CaseRecord(
            f"suites/server/test_x.py::test_{rid}",
            outcome,
            (rid,),
            target,
            findings=(Finding(rid, FINDING[outcome], "seen"),) if outcome in FINDING else (),
            rules=(rid,) if outcome is Outcome.FAILED else (),
        )
        for rid, outcome in outcomes.items()
    ]
    info = RunInfo("0.1.0", datetime(2026, 1, 1, hour, tzinfo=UTC))
    return build_report(cases, load_catalog(), target, info)


def write_run(directory: Path, name: str, document: ReportDocument) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    (directory / f"{name}.html").write_text(report_html(document), encoding="utf-8")
    return path


ALPHA = {"TOK-3": Outcome.FAILED, "TOK-2": Outcome.PASSED}
BETA = {"TOK-2": Outcome.PASSED, "RESP-SUBJ-1": Outcome.UNSUPPORTED}


def test_merge_two_targets() -> None:
    alpha = Run(run_document(Target("alpha", "1"), ALPHA), Path("a.json"))
    beta = Run(run_document(Target("beta", "2"), BETA), Path("b.json"))
    matrix = merge_runs([alpha, beta], load_catalog().ids)
    assert [run.key for run in matrix.runs] == [("alpha", "1"), ("beta", "2")]
    assert [(row.id, row.cells) for row in matrix.rows] == [
        ("TOK-2", ("PASS", "PASS")),
        ("TOK-3", ("FAIL", None)),
        ("RESP-SUBJ-1", (None, "UNSUPPORTED")),
    ]
    assert matrix.rows[0].section == "RFC 8823 §3"
    assert matrix.warnings == ()


def test_same_target_twice_keeps_the_newer() -> None:
    old = Run(run_document(Target("alpha", "1"), ALPHA, hour=1), Path("old.json"))
    new = Run(run_document(Target("alpha", "1"), BETA, hour=2), Path("new.json"))
    for order in ([old, new], [new, old]):
        matrix = merge_runs(order)
        assert [run.path for run in matrix.runs] == [Path("new.json")]
        assert len(matrix.warnings) == 1
        assert "new.json" in matrix.warnings[0]
        assert "replaces old.json" in matrix.warnings[0]


def test_report_command_writes_linked_html_and_markdown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write_run(tmp_path / "runs", "alpha", run_document(Target("alpha", "1"), ALPHA))
    b = write_run(tmp_path / "runs", "beta", run_document(Target("beta", "2"), BETA))
    out = tmp_path / "out" / "matrix.html"
    md = tmp_path / "out" / "matrix.md"
    assert main(["report", str(a), str(b), "-o", str(out), "--markdown", str(md)]) == 0
    html = out.read_text(encoding="utf-8")
    assert (
        '<a href="../runs/alpha.html#req-TOK-3"><span class="badge v-FAIL">FAIL</span></a>' in html
    )
    assert '<a href="../runs/beta.html">beta 2</a>' in html
    assert '<td class="v-none">—</td>' in html
    markdown = md.read_text(encoding="utf-8")
    assert "| Requirement | Level | alpha 1 | beta 2 |" in markdown
    assert "| TOK-3 | MUST | [**FAIL**](../runs/alpha.html#req-TOK-3) | — |" in markdown
    assert capsys.readouterr().out.split() == [str(out), str(md)]


def test_report_command_defaults_beside_the_first_report(tmp_path: Path) -> None:
    a = write_run(tmp_path, "alpha", run_document(Target("alpha", "1"), ALPHA))
    assert main(["report", str(a)]) == 0
    assert 'href="alpha.html#req-TOK-3"' in (tmp_path / "matrix.html").read_text(encoding="utf-8")


def test_report_command_refuses_a_bad_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "other"}', encoding="utf-8")
    assert main(["report", str(bad)]) == 2
    assert "bad.json" in capsys.readouterr().err
    assert not (tmp_path / "matrix.html").exists()


def test_report_command_warns_about_replaced_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = write_run(tmp_path, "old", run_document(Target("alpha", "1"), ALPHA, hour=1))
    new = write_run(tmp_path, "new", run_document(Target("alpha", "1"), BETA, hour=2))
    assert main(["report", str(new), str(old)]) == 0
    assert "warning: alpha 1:" in capsys.readouterr().err
    assert "new.html#req-RESP-SUBJ-1" in (tmp_path / "matrix.html").read_text(encoding="utf-8")
