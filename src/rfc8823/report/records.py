"""What the report knows about one executed test: outcome, covered IDs, target, findings.

A record travels from the process that ran the test (an xdist worker, or the only process) to
the one that writes the report, so it converts to and from plain builtin data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeGuard

from rfc8823.findings import Finding, Verdict

_MESSAGE_LINES = 12
_MESSAGE_CHARS = 2000


class Outcome(StrEnum):
    """A test's outcome as the report sees it (pytest's, refined)."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    UNSUPPORTED = "unsupported"
    XFAILED = "xfailed"
    XPASSED = "xpassed"


@dataclass(frozen=True, slots=True)
class Target:
    """The implementation a test ran against: a name and, when known, its version."""

    name: str = "unknown"
    version: str = ""

    @property
    def label(self) -> str:
        """``name version``, or the name alone."""
        return f"{self.name} {self.version}".strip()


@dataclass(frozen=True, slots=True)
class Phase:
    """One of a test's setup/call/teardown results, reduced to what the verdict needs."""

    when: str
    outcome: str
    message: str = ""
    xfail: bool = False
    harness_error: bool = False
    duration: float = 0.0


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """One executed test: outcome, requirement IDs it covers, target, and findings."""

    nodeid: str
    outcome: Outcome
    covers: tuple[str, ...] = ()
    target: Target = Target()
    duration: float = 0.0
    message: str = ""
    findings: tuple[Finding, ...] = ()
    unsupported: str = ""

    @property
    def is_conformance(self) -> bool:
        """Whether the test says anything about a requirement."""
        return bool(self.covers or self.findings or self.unsupported)


@dataclass(frozen=True, slots=True)
class Payload:
    """What the running test hands over: covers, target, findings, unsupported capability."""

    covers: tuple[str, ...] = ()
    target: Target = Target()
    findings: tuple[Finding, ...] = ()
    unsupported: str = ""

    def to_builtin(self) -> dict[str, object]:
        """Plain data that pytest (and xdist) can carry on a test report."""
        return {
            "covers": list(self.covers),
            "target": [self.target.name, self.target.version],
            "findings": [
                [f.requirement, f.verdict.value, f.observed, f.expected, f.detail]
                for f in self.findings
            ],
            "unsupported": self.unsupported,
        }

    @classmethod
    def from_builtin(cls, data: object) -> Payload | None:
        """The payload back from ``to_builtin`` output; None for anything else."""
        if not isinstance(data, Mapping):
            return None
        covers = data.get("covers")
        target = data.get("target")
        findings = data.get("findings")
        unsupported = data.get("unsupported")
        if not (
            _strings(covers)
            and _strings(target)
            and len(target) == 2
            and isinstance(findings, list)
            and isinstance(unsupported, str)
        ):
            return None
        rows = [row for row in findings if _strings(row) and len(row) == 5 and row[1] in _VERDICTS]
        if len(rows) != len(findings):
            return None
        return cls(
            covers=tuple(covers),
            target=Target(target[0], target[1]),
            findings=tuple(Finding(r[0], Verdict(r[1]), r[2], r[3], r[4]) for r in rows),
            unsupported=unsupported,
        )


_VERDICTS = frozenset(v.value for v in Verdict)


def _strings(value: object) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def trim_message(text: str) -> str:
    """A failure message cut to a dozen lines and 2000 characters, for reports."""
    lines = text.strip().splitlines()
    trimmed = "\n".join(lines[:_MESSAGE_LINES])
    if len(trimmed) > _MESSAGE_CHARS:
        trimmed = trimmed[: _MESSAGE_CHARS - 1] + "…"
    elif len(lines) > _MESSAGE_LINES:
        trimmed += "\n…"
    return trimmed


def case_outcome(phases: Sequence[Phase], unsupported: bool) -> tuple[Outcome, str]:
    """A test's outcome and message from its phases.

    A failed setup or teardown, or a call that raised HarnessError, is ERROR (the harness broke);
    a failed call is FAILED; a skip is UNSUPPORTED when the test declared it so, else SKIPPED;
    xfail marks give XFAILED/XPASSED.
    """
    failed = [p for p in phases if p.outcome == "failed"]
    message = "\n".join(p.message for p in failed if p.message)
    if any(p.when != "call" or p.harness_error for p in failed):
        return Outcome.ERROR, message
    if failed:
        return Outcome.FAILED, message
    skipped = next((p for p in phases if p.outcome == "skipped"), None)
    if skipped is not None:
        if skipped.xfail:
            return Outcome.XFAILED, skipped.message
        if unsupported:
            return Outcome.UNSUPPORTED, skipped.message
        return Outcome.SKIPPED, f"skipped without conformance.unsupported(): {skipped.message}"
    if any(p.xfail for p in phases):
        return Outcome.XPASSED, ""
    return Outcome.PASSED, ""
