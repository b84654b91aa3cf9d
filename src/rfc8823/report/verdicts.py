"""Per-requirement verdicts from test outcomes and findings (docs/verdicts.md).

One defect, one verdict (docs/verdicts.md; docs/decisions.md#decision-1 and
docs/decisions.md#decision-9):

- A row is judged by *findings* only. A broken requirement is FAIL or WARN as
  docs/decisions.md#decision-1 says (``Requirement.verdict_on_break``, with a row's ``on_break``
  override); a row is PASS only when a test recorded that it held; a test that could only record
  INFO gives INFO.
- A test that failed for some rules (``RuleBroken``) leaves the other rows it covers BLOCKED by
  those rules in that test: they were never judged.
- A test blocked by a prerequisite (``Blocked``) is BLOCKED on the rows it covers, naming the
  row whose own test broke the step ("blocked by FLOW-3 (suites/...::test_happy_path)"). When
  that step held in its own test, the block is unexplained and the rows are ERROR instead.
- A failure nobody attributed, a broken harness, or a covered row a passing test never judged
  is ERROR: the suite could not say anything true about the row.

Over several tests a requirement takes its strongest verdict in the order of ``PRECEDENCE``:
ERROR > FAIL > WARN > BLOCKED > PASS > INFO > UNSUPPORTED.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from rfc8823.findings import Finding, Verdict
from rfc8823.report.records import UNATTRIBUTED, BlockRecord, CaseRecord, Outcome, StepRecord
from rfc8823.requirements import Requirement


class ReportVerdict(StrEnum):
    """A requirement's verdict in a report."""

    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"
    BLOCKED = "BLOCKED"
    INFO = "INFO"
    UNSUPPORTED = "UNSUPPORTED"
    ERROR = "ERROR"


PRECEDENCE: tuple[ReportVerdict, ...] = (
    ReportVerdict.ERROR,
    ReportVerdict.FAIL,
    ReportVerdict.WARN,
    ReportVerdict.BLOCKED,
    ReportVerdict.PASS,
    ReportVerdict.INFO,
    ReportVerdict.UNSUPPORTED,
)
"""Strongest first: the verdict a requirement takes over several tests is the earliest here."""

BROKEN = frozenset({ReportVerdict.FAIL, ReportVerdict.WARN})
_RANK = {verdict: rank for rank, verdict in enumerate(PRECEDENCE)}
NOT_JUDGED = "covered by the test, which recorded no judgement on it (a defect of the suite)"


@dataclass(frozen=True, slots=True)
class Judgement:
    """One test's verdict on one requirement, with why when the findings do not say it."""

    verdict: ReportVerdict
    note: str = ""
    blocked_by: tuple[str, ...] = ()


def strongest(verdicts: Iterable[ReportVerdict]) -> ReportVerdict | None:
    """The verdict that wins by ``PRECEDENCE``; None for no verdicts."""
    return min(verdicts, key=_RANK.__getitem__, default=None)


def strongest_judgement(judgements: Iterable[Judgement]) -> Judgement | None:
    """The judgement whose verdict wins by ``PRECEDENCE`` (the first of equals)."""
    return min(judgements, key=lambda j: _RANK[j.verdict], default=None)


def broken(requirement: Requirement) -> ReportVerdict:
    """FAIL or WARN for a broken requirement (docs/decisions.md#decision-1 and row overrides)."""
    return ReportVerdict.FAIL if requirement.verdict_on_break == "FAIL" else ReportVerdict.WARN


def finding_verdict(finding: Finding, requirement: Requirement) -> ReportVerdict:
    """A finding's verdict; a FAIL finding is capped at what the catalog row allows."""
    match finding.verdict:
        case Verdict.PASS:
            return ReportVerdict.PASS
        case Verdict.INFO:
            return ReportVerdict.INFO
        case Verdict.WARN:
            return ReportVerdict.WARN
        case Verdict.FAIL:
            return broken(requirement)


class StepIndex:
    """What the owners of prerequisite steps found, across a run: resolves BLOCKED tests."""

    def __init__(self, cases: Iterable[CaseRecord]) -> None:
        self._by_name: dict[str, list[tuple[str, StepRecord]]] = {}
        for case in cases:
            for step in case.steps:
                self._by_name.setdefault(step.name, []).append((case.nodeid, step))

    def owners(self, name: str) -> list[tuple[str, StepRecord]]:
        """The tests that own step ``name`` and what each found."""
        return list(self._by_name.get(name, ()))

    def resolve(self, block: BlockRecord) -> Judgement:
        """The verdict of a test blocked by ``block``: BLOCKED by the earliest step of its chain
        that its own test found broken; ERROR when the blocking step held in its own test."""
        for name, requirement in zip(block.chain, block.requirements, strict=True):
            for nodeid, step in self._by_name.get(name, ()):
                if step.held is False:
                    rows = step.rows or (requirement,)
                    return Judgement(
                        ReportVerdict.BLOCKED, f"blocked by {', '.join(rows)} ({nodeid})", rows
                    )
        held = [nodeid for nodeid, step in self._by_name.get(block.chain[-1], ()) if step.held]
        if held:
            return Judgement(
                ReportVerdict.ERROR,
                f"{block.description} did not happen in this test ({block.observed}), although "
                f"it did in its own test {held[0]}: unexplained",
            )
        return Judgement(
            ReportVerdict.BLOCKED,
            f"blocked: {block.description} did not happen ({block.observed}); its own test "
            "did not run",
            (block.requirements[-1],),
        )

    def sanity(self) -> tuple[str, StepRecord] | None:
        """The first broken step of the happy path, with its test; None if none broke."""
        for steps in self._by_name.values():
            for nodeid, step in steps:
                if step.sanity and step.held is False:
                    return nodeid, step
        return None

    def sanity_ran(self) -> bool:
        """Whether any test owning a happy-path step ran."""
        return any(step.sanity for steps in self._by_name.values() for _, step in steps)


def case_resolution(case: CaseRecord, steps: StepIndex) -> Judgement | None:
    """What a BLOCKED test's prerequisite comes to (None for other tests).

    A test that owns the step it is blocked on, and found it broken itself, explains its own
    block: BLOCKED by the rows it names, or by what it observed when no row says it (a step
    the catalog has no row for, e.g. the client reading a message of the test's own).
    """
    if case.outcome is not Outcome.BLOCKED or case.blocked is None:
        return None
    name = case.blocked.chain[-1]
    own = next((s for s in case.steps if s.name == name and s.held is False), None)
    if own is None:
        return steps.resolve(case.blocked)
    if own.rows:
        return Judgement(
            ReportVerdict.BLOCKED, f"blocked by {', '.join(own.rows)} (this test)", own.rows
        )
    return Judgement(
        ReportVerdict.BLOCKED, f"blocked: {own.description} did not happen: {own.observed}"
    )


def case_verdict(
    case: CaseRecord, requirement: Requirement, resolution: Judgement | None = None
) -> Judgement | None:
    """One test's verdict on one requirement (None: the test says nothing about it).

    ``resolution`` is :func:`case_resolution` of a BLOCKED test. The rules are the module's.
    """
    rid = requirement.id
    own = [
        Judgement(finding_verdict(f, requirement)) for f in case.findings if f.requirement == rid
    ]
    found_broken = [j for j in own if j.verdict in BROKEN]
    covered = rid in case.covers or case.unsupported == rid
    match case.outcome:
        case Outcome.PASSED | Outcome.XPASSED:
            if not own and covered:
                return Judgement(ReportVerdict.ERROR, NOT_JUDGED)
            return strongest_judgement(own)
        case Outcome.FAILED | Outcome.XFAILED:
            if not own and covered:
                if not case.rules:
                    return Judgement(ReportVerdict.ERROR, f"{UNATTRIBUTED}: {case.message}")
                shown = ", ".join(case.rules)
                return Judgement(
                    ReportVerdict.BLOCKED, f"blocked by {shown} ({case.nodeid})", case.rules
                )
            return strongest_judgement(own)
        case Outcome.BLOCKED:
            if found_broken or not covered:
                return strongest_judgement(found_broken or own)
            return resolution or Judgement(ReportVerdict.BLOCKED, case.message)
        case Outcome.UNSUPPORTED:
            extra = [Judgement(ReportVerdict.UNSUPPORTED, case.message)] if covered else []
            return strongest_judgement([*own, *extra])
        case Outcome.ERROR | Outcome.SKIPPED:
            if found_broken or not covered:
                return strongest_judgement(found_broken or own)
            first_line = case.message.splitlines()[0] if case.message else ""
            return Judgement(ReportVerdict.ERROR, first_line)


def mentioned_ids(case: CaseRecord) -> tuple[str, ...]:
    """Requirement IDs a test has something to say about, covers first, without repeats."""
    ids = dict.fromkeys(case.covers)
    ids.update(dict.fromkeys(f.requirement for f in case.findings))
    if case.unsupported:
        ids[case.unsupported] = None
    return tuple(ids)
