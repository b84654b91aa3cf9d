"""Verdict rules without pytest in the loop: levels, sources, findings, precedence, outcomes."""

from dataclasses import replace

import pytest

from rfc8823.findings import Finding, Verdict
from rfc8823.report.records import CaseRecord, Outcome, Phase, case_outcome, trim_message
from rfc8823.report.verdicts import (
    PRECEDENCE,
    ReportVerdict,
    case_verdict,
    finding_verdict,
    outcome_verdict,
    strongest,
)
from rfc8823.requirements import Bind, Level, Requirement, Source


def row(level: Level, source: Source, on_break: str | None = None) -> Requirement:
    return Requirement(
        id="TOK-2",
        rfc=8823,
        section="3",
        item=None,
        level=level,
        binds=(Bind.SERVER,),
        source=source,
        summary="s",
        on_break=on_break,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("level", [Level.MUST, Level.MUST_NOT])
@pytest.mark.parametrize(
    ("source", "verdict"),
    [
        (Source.QUOTED, ReportVerdict.FAIL),
        (Source.INDIRECT, ReportVerdict.FAIL),
        (Source.MEMORY_HIGH, ReportVerdict.FAIL),
        (Source.RFC, ReportVerdict.FAIL),
        (Source.MEMORY_MEDIUM, ReportVerdict.WARN),
        (Source.MEMORY_LOW, ReportVerdict.WARN),
        (Source.DERIVED, ReportVerdict.WARN),
    ],
)
def test_broken_must_depends_on_the_source(
    level: Level, source: Source, verdict: ReportVerdict
) -> None:
    assert outcome_verdict(Outcome.FAILED, row(level, source)) is verdict


@pytest.mark.parametrize(
    "level", [Level.SHOULD, Level.SHOULD_NOT, Level.MAY, Level.DESC, Level.DERIVED]
)
@pytest.mark.parametrize("source", list(Source))
def test_everything_else_warns_when_broken(level: Level, source: Source) -> None:
    assert outcome_verdict(Outcome.FAILED, row(level, source)) is ReportVerdict.WARN


def test_row_override_wins_both_ways() -> None:
    assert outcome_verdict(Outcome.FAILED, row(Level.DERIVED, Source.DERIVED, "FAIL")) == "FAIL"
    assert outcome_verdict(Outcome.FAILED, row(Level.MUST, Source.QUOTED, "WARN")) == "WARN"


@pytest.mark.parametrize(
    ("outcome", "verdict"),
    [
        (Outcome.PASSED, ReportVerdict.PASS),
        (Outcome.XPASSED, ReportVerdict.PASS),
        (Outcome.FAILED, ReportVerdict.FAIL),
        (Outcome.XFAILED, ReportVerdict.FAIL),
        (Outcome.UNSUPPORTED, ReportVerdict.UNSUPPORTED),
        (Outcome.SKIPPED, ReportVerdict.ERROR),
        (Outcome.ERROR, ReportVerdict.ERROR),
    ],
)
def test_outcomes(outcome: Outcome, verdict: ReportVerdict) -> None:
    assert outcome_verdict(outcome, row(Level.MUST, Source.QUOTED)) is verdict


def test_fail_finding_is_capped_by_the_row() -> None:
    fail = Finding("TOK-2", Verdict.FAIL, "x")
    assert finding_verdict(fail, row(Level.MUST, Source.RFC)) is ReportVerdict.FAIL
    assert finding_verdict(fail, row(Level.SHOULD, Source.RFC)) is ReportVerdict.WARN
    assert (
        finding_verdict(Finding("TOK-2", Verdict.WARN, "x"), row(Level.MUST, Source.RFC)) == "WARN"
    )


def test_precedence_order() -> None:
    assert [v.value for v in PRECEDENCE] == ["ERROR", "FAIL", "WARN", "PASS", "INFO", "UNSUPPORTED"]
    assert strongest([ReportVerdict.INFO, ReportVerdict.PASS]) is ReportVerdict.PASS
    assert strongest([ReportVerdict.UNSUPPORTED, ReportVerdict.INFO]) is ReportVerdict.INFO
    assert strongest([ReportVerdict.FAIL, ReportVerdict.ERROR]) is ReportVerdict.ERROR
    assert strongest([]) is None


def test_case_verdict_combines_outcome_and_own_findings() -> None:
    requirement = row(Level.MUST, Source.QUOTED)
    case = CaseRecord(
        "t::a",
        Outcome.PASSED,
        covers=("TOK-2",),
        findings=(Finding("TOK-2", Verdict.WARN, "x"), Finding("TOK-3", Verdict.FAIL, "y")),
    )
    assert case_verdict(case, requirement) is ReportVerdict.WARN
    assert case_verdict(CaseRecord("t::b", Outcome.FAILED, covers=("TOK-3",)), requirement) is None


def test_failed_test_with_fail_findings_breaks_only_what_they_name() -> None:
    """One broken rule in a message fails that rule, not every rule the same test checked."""
    must = row(Level.MUST, Source.MEMORY_HIGH)
    case = CaseRecord(
        "t::c",
        Outcome.FAILED,
        covers=("CHAL-AUTO-1", "CHAL-HDR-1", "CHAL-HDR-2"),
        findings=(
            Finding("CHAL-AUTO-1", Verdict.FAIL, "no Auto-Submitted"),
            Finding("CHAL-HDR-1", Verdict.PASS, "From equals from"),
        ),
    )
    verdict = {rid: case_verdict(case, replace(must, id=rid)) for rid in case.covers}
    assert verdict == {
        "CHAL-AUTO-1": ReportVerdict.FAIL,
        "CHAL-HDR-1": ReportVerdict.PASS,
        "CHAL-HDR-2": None,
    }


def test_failed_test_without_fail_findings_breaks_everything_it_covers() -> None:
    must = row(Level.MUST, Source.MEMORY_HIGH)
    case = CaseRecord(
        "t::d",
        Outcome.FAILED,
        covers=("CHAL-AUTO-1", "CHAL-HDR-1"),
        findings=(Finding("CHAL-HDR-1", Verdict.WARN, "display name"),),
    )
    assert case_verdict(case, replace(must, id="CHAL-AUTO-1")) is ReportVerdict.FAIL
    assert case_verdict(case, replace(must, id="CHAL-HDR-1")) is ReportVerdict.FAIL


def test_failed_test_explained_by_a_warn_finding_breaks_only_that_rule() -> None:
    """A WARN-capped broken rule named in the failure message is what the test failed for."""
    must = row(Level.MUST, Source.MEMORY_HIGH)
    case = CaseRecord(
        "t::e",
        Outcome.FAILED,
        covers=("CSR-ID-1", "CSR-KU-2"),
        message="observed a CSR a CA must refuse: CSR-ID-1 warn: no subjectAltName",
        findings=(
            Finding("CSR-ID-1", Verdict.WARN, "no subjectAltName"),
            Finding("CSR-KU-2", Verdict.PASS, "digitalSignature"),
        ),
    )
    assert case_verdict(case, replace(must, id="CSR-ID-1")) is ReportVerdict.WARN
    assert case_verdict(case, replace(must, id="CSR-KU-2")) is ReportVerdict.PASS


@pytest.mark.parametrize(
    ("phases", "unsupported", "outcome"),
    [
        ([Phase("setup", "passed"), Phase("call", "passed")], False, Outcome.PASSED),
        ([Phase("setup", "failed", "boom")], False, Outcome.ERROR),
        ([Phase("call", "passed"), Phase("teardown", "failed")], False, Outcome.ERROR),
        ([Phase("call", "failed", harness_error=True)], False, Outcome.ERROR),
        ([Phase("call", "failed", "assert 1 == 2")], False, Outcome.FAILED),
        ([Phase("call", "skipped", "r")], True, Outcome.UNSUPPORTED),
        ([Phase("setup", "skipped", "r")], False, Outcome.SKIPPED),
        ([Phase("call", "skipped", "bug", xfail=True)], False, Outcome.XFAILED),
        ([Phase("call", "passed", xfail=True)], False, Outcome.XPASSED),
    ],
)
def test_case_outcome(phases: list[Phase], unsupported: bool, outcome: Outcome) -> None:
    assert case_outcome(phases, unsupported)[0] is outcome


def test_trim_message() -> None:
    assert trim_message("  short\n") == "short"
    long_lines = "\n".join(f"line {n}" for n in range(40))
    assert trim_message(long_lines).splitlines()[-1] == "…"
    assert len(trim_message("x" * 5000)) == 2000
