"""How a conformance test ends when it does not pass: a rule broken, a prerequisite broken, or
the harness broken — three different claims, kept apart so each gets its own verdict.

- :class:`RuleBroken`: a check judged a requirement and found it broken. The test failed *for*
  those requirement IDs; its other rows keep what their own findings say (docs/verdicts.md).
- :class:`Blocked`: something the test needs from the target before it can judge anything
  (an account, the challenge email, a validated challenge, a certificate ...) did not happen.
  The test's rows are BLOCKED, never FAIL: docs/decisions.md#decision-9. A :class:`Prerequisite`
  names the requirement row whose own test judges that step, so the report can say "blocked by
  <ID> (<test>)".
- :class:`HarnessError`: the suite or its test world broke. ERROR.

Any other exception from a conformance test is a failure nobody explained: ERROR
("unattributed"), never FAIL on the rows the test covers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from _pytest.outcomes import Skipped

from rfc8823.findings import Finding


class HarnessError(Exception):
    """Raised by a test or fixture when the harness itself broke: the verdict is ERROR, not FAIL."""


class RuleBroken(AssertionError):
    """A check found requirements broken; the test fails for exactly these findings."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        if not findings:
            raise ValueError("RuleBroken needs at least one finding")
        self.findings = tuple(findings)
        self.rules = tuple(dict.fromkeys(f.requirement for f in self.findings))
        super().__init__("; ".join(str(f) for f in self.findings))


@dataclass(frozen=True)
class Prerequisite:
    """A step a test needs the target to get through before the test can judge its own rows.

    ``requirement`` is the catalog row the step's own test (its *owner*, usually the happy
    path) judges; ``after`` the steps this one builds on. ``sanity`` marks the steps of the
    happy path, whose result the report shows in its first lines.
    """

    name: str
    description: str
    requirement: str
    after: tuple[Prerequisite, ...] = ()
    sanity: bool = True

    def chain(self) -> tuple[Prerequisite, ...]:
        """This step and every step it builds on, the earliest first, without repeats."""
        seen: dict[str, Prerequisite] = {}
        for parent in self.after:
            for step in parent.chain():
                seen.setdefault(step.name, step)
        seen.setdefault(self.name, self)
        return tuple(seen.values())

    def needs(self, other: Prerequisite) -> bool:
        """Whether this step builds on ``other`` (or is it)."""
        return any(step.name == other.name for step in self.chain())


def chain_names(steps: Iterable[Prerequisite]) -> tuple[str, ...]:
    """The names of ``steps``, in order."""
    return tuple(step.name for step in steps)


class Blocked(Skipped):
    """A prerequisite of the test broke: its rows are BLOCKED (docs/decisions.md#decision-9).

    A skip as far as pytest (and JUnit) is concerned; the report plugin reads the prerequisite
    and what was observed, and resolves which row's own test broke it.
    """

    def __init__(self, prerequisite: Prerequisite, observed: str) -> None:
        self.prerequisite = prerequisite
        self.observed = observed
        super().__init__(
            msg=f"blocked: {prerequisite.description} did not happen: {observed}", pytrace=False
        )
