"""Findings: what an inspector concluded about one requirement for one message or exchange.

A finding names a catalog requirement, a verdict, and what was observed versus expected. A
broken requirement's verdict comes from the catalog (docs/decisions.md#decision-1: FAIL for sure
MUSTs, WARN otherwise), so inspectors never hard-code severity.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from rfc8823.requirements import load_catalog


class Verdict(StrEnum):
    """Per-finding verdict; the report adds UNSUPPORTED and ERROR at the test level."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    """One requirement judged: its ID, the verdict, and observed versus expected."""

    requirement: str
    verdict: Verdict
    observed: str
    expected: str = ""
    detail: str = ""

    def __str__(self) -> str:
        text = f"{self.requirement} {self.verdict.value}: observed {self.observed}"
        if self.expected:
            text += f"; expected {self.expected}"
        if self.detail:
            text += f" ({self.detail})"
        return text


def _known(requirement: str) -> str:
    load_catalog().check_ids([requirement])
    return requirement


def passed(requirement: str, observed: str, expected: str = "", detail: str = "") -> Finding:
    """The requirement holds."""
    return Finding(_known(requirement), Verdict.PASS, observed, expected, detail)


def broken(requirement: str, observed: str, expected: str, detail: str = "") -> Finding:
    """The requirement is broken; FAIL or WARN as the catalog's level and source decide."""
    on_break = load_catalog()[_known(requirement)].verdict_on_break
    verdict = Verdict.FAIL if on_break == "FAIL" else Verdict.WARN
    return Finding(requirement, verdict, observed, expected, detail)


def risk(requirement: str, observed: str, expected: str = "", detail: str = "") -> Finding:
    """An interoperability risk where the spec is ambiguous: always WARN (docs/verdicts.md)."""
    return Finding(_known(requirement), Verdict.WARN, observed, expected, detail)


def info(requirement: str, observed: str, detail: str = "") -> Finding:
    """Behaviour recorded without judgement (e.g. which concatenation reading is used)."""
    return Finding(_known(requirement), Verdict.INFO, observed, "", detail)


def failures(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that break a requirement (FAIL or WARN)."""
    return [f for f in findings if f.verdict in (Verdict.FAIL, Verdict.WARN)]


def by_requirement(findings: Iterable[Finding], requirement: str) -> list[Finding]:
    """The findings about one requirement."""
    return [f for f in findings if f.requirement == requirement]
