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
    BLOCKED = "blocked"
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
class StepRecord:
    """What the owner of a prerequisite (the happy path, usually) found of that step.

    ``held`` is True when the step worked, False when it broke (``rows`` name the requirements
    its test found broken), None when the owner never got that far.
    """

    name: str
    description: str
    held: bool | None
    rows: tuple[str, ...] = ()
    observed: str = ""
    sanity: bool = True

    def to_builtin(self) -> list[object]:
        """Plain data for a pytest report."""
        return [self.name, self.description, self.held, list(self.rows), self.observed, self.sanity]

    @classmethod
    def from_builtin(cls, data: object) -> StepRecord | None:
        """The record back from ``to_builtin`` output; None for anything else."""
        if not (isinstance(data, list) and len(data) == 6):
            return None
        name, description, held, rows, observed, sanity = data
        if not (
            isinstance(name, str)
            and isinstance(description, str)
            and (held is None or isinstance(held, bool))
            and _strings(rows)
            and isinstance(observed, str)
            and isinstance(sanity, bool)
        ):
            return None
        return cls(name, description, held, tuple(rows), observed, sanity)


@dataclass(frozen=True, slots=True)
class BlockRecord:
    """The prerequisite that blocked a test: its chain of steps (earliest first, with the row
    each step's own test judges), what the step is, and what this test observed."""

    chain: tuple[str, ...]
    requirements: tuple[str, ...]
    description: str
    observed: str

    def to_builtin(self) -> list[object]:
        """Plain data for a pytest report."""
        return [list(self.chain), list(self.requirements), self.description, self.observed]

    @classmethod
    def from_builtin(cls, data: object) -> BlockRecord | None:
        """The record back from ``to_builtin`` output; None for anything else."""
        if not (isinstance(data, list) and len(data) == 4):
            return None
        chain, requirements, description, observed = data
        if not (
            _strings(chain)
            and _strings(requirements)
            and len(chain) == len(requirements) > 0
            and isinstance(description, str)
            and isinstance(observed, str)
        ):
            return None
        return cls(tuple(chain), tuple(requirements), description, observed)


@dataclass(frozen=True, slots=True)
class Phase:
    """One of a test's setup/call/teardown results, reduced to what the verdict needs.

    ``rules`` are the requirement IDs a :class:`~rfc8823.report.outcomes.RuleBroken` failure
    named; ``blocked`` the prerequisite a :class:`~rfc8823.report.outcomes.Blocked` skip named.
    """

    when: str
    outcome: str
    message: str = ""
    xfail: bool = False
    harness_error: bool = False
    duration: float = 0.0
    rules: tuple[str, ...] = ()
    blocked: BlockRecord | None = None


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
    rules: tuple[str, ...] = ()
    """The requirements the test failed for (a ``RuleBroken`` failure)."""
    blocked: BlockRecord | None = None
    steps: tuple[StepRecord, ...] = ()
    """Prerequisite steps this test owns, and what it found of each."""

    @property
    def is_conformance(self) -> bool:
        """Whether the test says anything about a requirement."""
        return bool(self.covers or self.findings or self.unsupported or self.steps)


@dataclass(frozen=True, slots=True)
class Payload:
    """What the running test hands over: covers, target, findings, unsupported capability."""

    covers: tuple[str, ...] = ()
    target: Target = Target()
    findings: tuple[Finding, ...] = ()
    unsupported: str = ""
    steps: tuple[StepRecord, ...] = ()

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
            "steps": [step.to_builtin() for step in self.steps],
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
        raw_steps = data.get("steps", [])
        if not isinstance(raw_steps, list):
            return None
        steps = [StepRecord.from_builtin(step) for step in raw_steps]
        if not (
            _strings(covers)
            and _strings(target)
            and len(target) == 2
            and isinstance(findings, list)
            and isinstance(unsupported, str)
        ):
            return None
        rows = [row for row in findings if _strings(row) and len(row) == 5 and row[1] in _VERDICTS]
        if len(rows) != len(findings) or None in steps:
            return None
        return cls(
            covers=tuple(covers),
            target=Target(target[0], target[1]),
            findings=tuple(Finding(r[0], Verdict(r[1]), r[2], r[3], r[4]) for r in rows),
            unsupported=unsupported,
            steps=tuple(step for step in steps if step is not None),
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


@dataclass(frozen=True, slots=True)
class CaseEnd:
    """How a test ended, from its phases: outcome, message, failed-for rules, blocking step."""

    outcome: Outcome
    message: str
    rules: tuple[str, ...] = ()
    blocked: BlockRecord | None = None


UNATTRIBUTED = "unattributed failure (no check named the requirement it judged)"


def case_outcome(phases: Sequence[Phase], unsupported: bool) -> CaseEnd:
    """A test's outcome and message from its phases.

    A failed setup or teardown, or a call that raised HarnessError, is ERROR (the harness broke).
    A failed call is FAILED when a ``RuleBroken`` check said which requirements broke, and
    ERROR otherwise: a bare assertion or an exception nobody explained is not evidence against
    any requirement. A ``Blocked`` skip (in any phase) is BLOCKED; another skip is UNSUPPORTED
    when the test declared it so, else SKIPPED; xfail marks give XFAILED/XPASSED.
    """
    failed = [p for p in phases if p.outcome == "failed"]
    message = "\n".join(p.message for p in failed if p.message)
    if any(p.when != "call" or p.harness_error for p in failed):
        return CaseEnd(Outcome.ERROR, message)
    if failed:
        rules = tuple(dict.fromkeys(rule for p in failed for rule in p.rules))
        if rules:
            return CaseEnd(Outcome.FAILED, message, rules)
        return CaseEnd(Outcome.ERROR, f"{UNATTRIBUTED}: {message}")
    skipped = next((p for p in phases if p.outcome == "skipped"), None)
    if skipped is not None:
        if skipped.blocked is not None:
            return CaseEnd(Outcome.BLOCKED, skipped.message, blocked=skipped.blocked)
        if skipped.xfail:
            return CaseEnd(Outcome.XFAILED, skipped.message)
        if unsupported:
            return CaseEnd(Outcome.UNSUPPORTED, skipped.message)
        return CaseEnd(
            Outcome.SKIPPED, f"skipped without conformance.unsupported(): {skipped.message}"
        )
    if any(p.xfail for p in phases):
        return CaseEnd(Outcome.XPASSED, "")
    return CaseEnd(Outcome.PASSED, "")
