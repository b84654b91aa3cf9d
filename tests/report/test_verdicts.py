"""Verdict rules without pytest in the loop: levels, findings, precedence, outcomes, BLOCKED."""

from dataclasses import replace

import pytest

from rfc8823.findings import Finding, Verdict
from rfc8823.report.records import (
    UNATTRIBUTED,
    BlockRecord,
    CaseRecord,
    Outcome,
    Phase,
    StepRecord,
    case_outcome,
    trim_message,
)
from rfc8823.report.verdicts import (
    NOT_JUDGED,
    PRECEDENCE,
    Judgement,
    ReportVerdict,
    StepIndex,
    broken,
    case_resolution,
    case_verdict,
    finding_verdict,
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


MUST = row(Level.MUST, Source.MEMORY_HIGH)


def verdict_of(case: CaseRecord, rid: str, resolution: Judgement | None = None) -> str | None:
    judgement = case_verdict(case, replace(MUST, id=rid), resolution)
    return None if judgement is None else judgement.verdict.value


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
    assert broken(row(level, source)) is verdict


@pytest.mark.parametrize(
    "level", [Level.SHOULD, Level.SHOULD_NOT, Level.MAY, Level.DESC, Level.DERIVED]
)
@pytest.mark.parametrize("source", list(Source))
def test_everything_else_warns_when_broken(level: Level, source: Source) -> None:
    assert broken(row(level, source)) is ReportVerdict.WARN


def test_row_override_wins_both_ways() -> None:
    assert broken(row(Level.DERIVED, Source.DERIVED, "FAIL")) == "FAIL"
    assert broken(row(Level.MUST, Source.QUOTED, "WARN")) == "WARN"


def test_fail_finding_is_capped_by_the_row() -> None:
    fail = Finding("TOK-2", Verdict.FAIL, "x")
    assert finding_verdict(fail, row(Level.MUST, Source.RFC)) is ReportVerdict.FAIL
    assert finding_verdict(fail, row(Level.SHOULD, Source.RFC)) is ReportVerdict.WARN
    assert (
        finding_verdict(Finding("TOK-2", Verdict.WARN, "x"), row(Level.MUST, Source.RFC)) == "WARN"
    )


def test_precedence_order() -> None:
    assert [v.value for v in PRECEDENCE] == [
        "ERROR",
        "FAIL",
        "WARN",
        "BLOCKED",
        "PASS",
        "INFO",
        "UNSUPPORTED",
    ]
    assert strongest([ReportVerdict.INFO, ReportVerdict.PASS]) is ReportVerdict.PASS
    assert strongest([ReportVerdict.PASS, ReportVerdict.BLOCKED]) is ReportVerdict.BLOCKED
    assert strongest([ReportVerdict.BLOCKED, ReportVerdict.WARN]) is ReportVerdict.WARN
    assert strongest([ReportVerdict.UNSUPPORTED, ReportVerdict.INFO]) is ReportVerdict.INFO
    assert strongest([ReportVerdict.FAIL, ReportVerdict.ERROR]) is ReportVerdict.ERROR
    assert strongest([]) is None


def test_pass_only_from_a_judgement() -> None:
    """A passing test is PASS only on rows it recorded as held; INFO gives INFO; a covered row
    with no judgement at all is a defect of the suite (ERROR), never a silent PASS."""
    case = CaseRecord(
        "t::a",
        Outcome.PASSED,
        covers=("TOK-2", "TOK-3", "TOK-4"),
        findings=(Finding("TOK-2", Verdict.PASS, "fresh"), Finding("TOK-3", Verdict.INFO, "x")),
    )
    assert verdict_of(case, "TOK-2") == "PASS"
    assert verdict_of(case, "TOK-3") == "INFO"
    judgement = case_verdict(case, replace(MUST, id="TOK-4"))
    assert judgement == Judgement(ReportVerdict.ERROR, NOT_JUDGED)
    assert verdict_of(case, "TOK-1") is None


def test_findings_on_a_passing_test_count() -> None:
    case = CaseRecord(
        "t::a",
        Outcome.PASSED,
        covers=("TOK-2",),
        findings=(Finding("TOK-2", Verdict.WARN, "x"), Finding("TOK-3", Verdict.FAIL, "y")),
    )
    assert verdict_of(case, "TOK-2") == "WARN"
    assert verdict_of(case, "TOK-3") == "FAIL"


def test_a_test_failed_for_rules_leaves_its_other_rows_blocked_by_them() -> None:
    """One broken rule in a message fails that rule; what the test never got to is BLOCKED."""
    case = CaseRecord(
        "t::c",
        Outcome.FAILED,
        covers=("CHAL-AUTO-1", "CHAL-HDR-1", "CHAL-HDR-2"),
        findings=(
            Finding("CHAL-AUTO-1", Verdict.FAIL, "no Auto-Submitted"),
            Finding("CHAL-HDR-1", Verdict.PASS, "From equals from"),
        ),
        rules=("CHAL-AUTO-1",),
    )
    assert verdict_of(case, "CHAL-AUTO-1") == "FAIL"
    assert verdict_of(case, "CHAL-HDR-1") == "PASS"
    blocked = case_verdict(case, replace(MUST, id="CHAL-HDR-2"))
    assert blocked == Judgement(
        ReportVerdict.BLOCKED, "blocked by CHAL-AUTO-1 (t::c)", ("CHAL-AUTO-1",)
    )


def test_ids_are_compared_exactly() -> None:
    """A break of SEC-10 says nothing about SEC-1 (no substring matching)."""
    case = CaseRecord(
        "t::x",
        Outcome.FAILED,
        covers=("SEC-1", "SEC-10"),
        message="SEC-10 fail: observed an unsigned reply validated",
        findings=(Finding("SEC-10", Verdict.FAIL, "an unsigned reply validated"),),
        rules=("SEC-10",),
    )
    assert verdict_of(case, "SEC-10") == "FAIL"
    assert verdict_of(case, "SEC-1") == "BLOCKED"


def test_an_unattributed_failure_is_error_not_fail() -> None:
    case = CaseRecord(
        "t::d",
        Outcome.ERROR,
        covers=("CHAL-AUTO-1", "CHAL-HDR-1"),
        message=f"{UNATTRIBUTED}: assert 1 == 2",
        findings=(
            Finding("CHAL-HDR-1", Verdict.WARN, "display name"),
            Finding("TOK-9", Verdict.PASS, "unrelated"),
        ),
    )
    assert verdict_of(case, "CHAL-AUTO-1") == "ERROR"
    assert verdict_of(case, "CHAL-HDR-1") == "WARN", "what was observed broken stays broken"
    assert verdict_of(case, "TOK-9") == "PASS", "a check completed before the error stands"


def test_blocked_test_rows() -> None:
    """Covered rows take the resolution; PASS findings on them are no evidence; a break seen on
    the way stays; rows the test only mentioned keep their findings."""
    case = CaseRecord(
        "t::b",
        Outcome.BLOCKED,
        covers=("RESP-DKIM-1", "SEC-11", "RESP-FROM-1"),
        findings=(
            Finding("RESP-DKIM-1", Verdict.PASS, "not validated"),
            Finding("RESP-FROM-1", Verdict.FAIL, "validated"),
            Finding("A-ERR-1", Verdict.PASS, "a problem document"),
        ),
        blocked=BlockRecord(("validation",), ("SRV-VAL-1",), "a reply validating", "invalid"),
    )
    resolution = Judgement(ReportVerdict.BLOCKED, "blocked by SRV-VAL-1 (t::happy)", ("SRV-VAL-1",))
    assert case_verdict(case, replace(MUST, id="RESP-DKIM-1"), resolution) == resolution
    assert verdict_of(case, "SEC-11", resolution) == "BLOCKED"
    assert verdict_of(case, "RESP-FROM-1", resolution) == "FAIL"
    assert verdict_of(case, "A-ERR-1", resolution) == "PASS"


def test_unsupported_rows() -> None:
    case = CaseRecord("t::u", Outcome.UNSUPPORTED, covers=("FLOW-2",), unsupported="eai")
    assert verdict_of(case, "FLOW-2") == "UNSUPPORTED"


CHAIN = BlockRecord(
    ("account", "challenge-email", "validation"),
    ("A-ACCT-1", "FLOW-3", "SRV-VAL-1"),
    "a conforming reply validating the challenge",
    "challenge 'invalid'",
)


def blocked_case() -> CaseRecord:
    return CaseRecord("t::needs", Outcome.BLOCKED, covers=("RESP-DKIM-1",), blocked=CHAIN)


def owner(*steps: StepRecord) -> CaseRecord:
    return CaseRecord("t::happy", Outcome.FAILED, covers=("A-ACCT-1",), steps=steps)


def test_blocked_by_the_earliest_broken_step_of_its_owner() -> None:
    happy = owner(
        StepRecord("account", "an account", True),
        StepRecord("challenge-email", "the email", False, ("CHAL-HDR-2", "SEC-11"), "elsewhere"),
        StepRecord("validation", "a reply validating", None),
    )
    resolution = case_resolution(blocked_case(), StepIndex([happy, blocked_case()]))
    assert resolution == Judgement(
        ReportVerdict.BLOCKED,
        "blocked by CHAL-HDR-2, SEC-11 (t::happy)",
        ("CHAL-HDR-2", "SEC-11"),
    )


def test_a_block_whose_step_held_in_its_own_test_is_unexplained() -> None:
    happy = owner(
        StepRecord("account", "an account", True),
        StepRecord("challenge-email", "the email", True),
        StepRecord("validation", "a reply validating", True),
    )
    resolution = case_resolution(blocked_case(), StepIndex([happy]))
    assert resolution is not None
    assert resolution.verdict is ReportVerdict.ERROR
    assert "unexplained" in resolution.note
    assert "t::happy" in resolution.note


def test_a_block_without_its_owner_in_the_run_stays_blocked() -> None:
    resolution = case_resolution(blocked_case(), StepIndex([blocked_case()]))
    assert resolution is not None
    assert resolution.verdict is ReportVerdict.BLOCKED
    assert resolution.blocked_by == ("SRV-VAL-1",)
    assert "did not run" in resolution.note


def test_a_test_that_broke_its_own_step_explains_its_block() -> None:
    """A step the blocked test owns and found broken: BLOCKED by its rows, or by what it
    observed when it names none; another test's record of that step is not used."""
    read = BlockRecord(("challenge", "read"), ("FLOW-2", "SEC-6"), "the client read it", "no")
    mine = StepRecord("read", "the client read it", False, (), "no FETCH", sanity=False)
    case = CaseRecord("t::x", Outcome.BLOCKED, covers=("SEC-6",), blocked=read, steps=(mine,))
    other = replace(case, nodeid="t::y", steps=(replace(mine, rows=("FLOW-4",)),))
    resolution = case_resolution(case, StepIndex([other, case]))
    assert resolution == Judgement(
        ReportVerdict.BLOCKED, "blocked: the client read it did not happen: no FETCH"
    )
    assert case_resolution(other, StepIndex([other])) == Judgement(
        ReportVerdict.BLOCKED, "blocked by FLOW-4 (this test)", ("FLOW-4",)
    )
    held = replace(case, steps=(replace(mine, held=True),))
    assert case_resolution(held, StepIndex([held])) == StepIndex([held]).resolve(read)


def test_sanity_names_the_first_broken_happy_path_step() -> None:
    happy = owner(
        StepRecord("account", "an account", True),
        StepRecord("challenge-email", "the email", False, ("FLOW-3",), "no email"),
    )
    barrier = CaseRecord(
        "t::barrier",
        Outcome.PASSED,
        steps=(StepRecord("barrier", "replies kept", False, ("SRV-VAL-7",), sanity=False),),
    )
    steps = StepIndex([barrier, happy])
    first = steps.sanity()
    assert first is not None
    assert (first[0], first[1].rows) == ("t::happy", ("FLOW-3",))
    assert steps.sanity_ran()
    assert StepIndex([barrier]).sanity() is None
    assert not StepIndex([barrier]).sanity_ran()


@pytest.mark.parametrize(
    ("phases", "unsupported", "outcome"),
    [
        ([Phase("setup", "passed"), Phase("call", "passed")], False, Outcome.PASSED),
        ([Phase("setup", "failed", "boom")], False, Outcome.ERROR),
        ([Phase("call", "passed"), Phase("teardown", "failed")], False, Outcome.ERROR),
        ([Phase("call", "failed", harness_error=True)], False, Outcome.ERROR),
        ([Phase("call", "failed", "TOK-2 fail", rules=("TOK-2",))], False, Outcome.FAILED),
        ([Phase("call", "failed", "assert 1 == 2")], False, Outcome.ERROR),
        ([Phase("setup", "skipped", "b", blocked=CHAIN)], False, Outcome.BLOCKED),
        ([Phase("call", "skipped", "r")], True, Outcome.UNSUPPORTED),
        ([Phase("setup", "skipped", "r")], False, Outcome.SKIPPED),
        ([Phase("call", "skipped", "bug", xfail=True)], False, Outcome.XFAILED),
        ([Phase("call", "passed", xfail=True)], False, Outcome.XPASSED),
    ],
)
def test_case_outcome(phases: list[Phase], unsupported: bool, outcome: Outcome) -> None:
    assert case_outcome(phases, unsupported).outcome is outcome


def test_unattributed_and_rules_carried_by_the_outcome() -> None:
    end = case_outcome([Phase("call", "failed", "assert 1 == 2")], False)
    assert end.message == f"{UNATTRIBUTED}: assert 1 == 2"
    ruled = case_outcome([Phase("call", "failed", "x", rules=("SEC-1", "SEC-10"))], False)
    assert ruled.rules == ("SEC-1", "SEC-10")
    blocked = case_outcome([Phase("setup", "skipped", "b", blocked=CHAIN)], False)
    assert blocked.blocked == CHAIN


def test_records_travel_as_builtin_data() -> None:
    step = StepRecord("challenge-email", "the email", False, ("FLOW-3",), "none", True)
    assert StepRecord.from_builtin(step.to_builtin()) == step
    assert StepRecord.from_builtin(["x"]) is None
    assert BlockRecord.from_builtin(CHAIN.to_builtin()) == CHAIN
    assert BlockRecord.from_builtin([["a"], [], "d", "o"]) is None


def test_trim_message() -> None:
    assert trim_message("  short\n") == "short"
    long_lines = "\n".join(f"line {n}" for n in range(40))
    assert trim_message(long_lines).splitlines()[-1] == "…"
    assert len(trim_message("x" * 5000)) == 2000
