"""Per-requirement verdicts from test outcomes and findings (docs/verdicts.md).

A broken requirement is FAIL or WARN as docs/decisions.md#decision-1 says
(``Requirement.verdict_on_break``): a MUST/MUST NOT with a sure source fails, everything else warns,
and a row's ``on_break`` override wins (SEC-10, docs/decisions.md#decision-5). Over several tests a
requirement takes its strongest verdict, in the order of ``PRECEDENCE``: ERROR > FAIL > WARN >
PASS > INFO > UNSUPPORTED. A broken check outranks a passing one; a pass outranks a mere
observation; UNSUPPORTED shows only when nothing else ran.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from rfc8823.findings import Finding, Verdict
from rfc8823.report.records import CaseRecord, Outcome
from rfc8823.requirements import Requirement


class ReportVerdict(StrEnum):
    """A requirement's verdict in a report."""

    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"
    INFO = "INFO"
    UNSUPPORTED = "UNSUPPORTED"
    ERROR = "ERROR"


PRECEDENCE: tuple[ReportVerdict, ...] = (
    ReportVerdict.ERROR,
    ReportVerdict.FAIL,
    ReportVerdict.WARN,
    ReportVerdict.PASS,
    ReportVerdict.INFO,
    ReportVerdict.UNSUPPORTED,
)
"""Strongest first: the verdict a requirement takes over several tests is the earliest here."""

_RANK = {verdict: rank for rank, verdict in enumerate(PRECEDENCE)}


def strongest(verdicts: Iterable[ReportVerdict]) -> ReportVerdict | None:
    """The verdict that wins by ``PRECEDENCE``; None for no verdicts."""
    return min(verdicts, key=_RANK.__getitem__, default=None)


def broken(requirement: Requirement) -> ReportVerdict:
    """FAIL or WARN for a broken requirement (docs/decisions.md#decision-1 and row overrides)."""
    return ReportVerdict.FAIL if requirement.verdict_on_break == "FAIL" else ReportVerdict.WARN


def outcome_verdict(outcome: Outcome, requirement: Requirement) -> ReportVerdict:
    """What a test's outcome says about a requirement it covers.

    A failed (or expectedly failed) check breaks the requirement; a skip other than UNSUPPORTED
    means the check could not run, which is an ERROR of the harness.
    """
    match outcome:
        case Outcome.PASSED | Outcome.XPASSED:
            return ReportVerdict.PASS
        case Outcome.FAILED | Outcome.XFAILED:
            return broken(requirement)
        case Outcome.UNSUPPORTED:
            return ReportVerdict.UNSUPPORTED
        case Outcome.ERROR | Outcome.SKIPPED:
            return ReportVerdict.ERROR


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


def failed_on_findings(case: CaseRecord) -> bool:
    """Whether a failed test's findings say what it failed for.

    A FAIL finding always does. A WARN finding (a broken rule the catalog caps at WARN, decision
    1) does when the failure message names its requirement, as the suites' assertions do
    ("observed a CSR a CA must refuse: CSR-ID-1 warn: ..."); an advisory WARN next to some other
    failure does not, so that failure still breaks what the test covers.
    """
    if case.outcome is not Outcome.FAILED:
        return False
    return any(
        f.verdict is Verdict.FAIL or (f.verdict is Verdict.WARN and f.requirement in case.message)
        for f in case.findings
    )


def case_verdict(case: CaseRecord, requirement: Requirement) -> ReportVerdict | None:
    """One test's verdict on one requirement: its outcome if it covers it, and its findings.

    A test that failed for its findings (``failed_on_findings``: an inspector's judgement,
    asserted) has a requirement it covers judged by its own findings only, so one broken rule
    in a message does not also fail the other rules the same test checked and found to hold.
    Otherwise a failed test breaks every requirement it covers.
    """
    verdicts = [
        finding_verdict(f, requirement) for f in case.findings if f.requirement == requirement.id
    ]
    covered = requirement.id in case.covers or case.unsupported == requirement.id
    if covered and not failed_on_findings(case):
        verdicts.append(outcome_verdict(case.outcome, requirement))
    return strongest(verdicts)


def mentioned_ids(case: CaseRecord) -> tuple[str, ...]:
    """Requirement IDs a test has something to say about, covers first, without repeats."""
    ids = dict.fromkeys(case.covers)
    ids.update(dict.fromkeys(f.requirement for f in case.findings))
    if case.unsupported:
        ids[case.unsupported] = None
    return tuple(ids)
