"""What inspecting a response concludes (RFC 8823 §3.2)."""

from __future__ import annotations

from dataclasses import dataclass

from rfc8823.findings import Finding
from rfc8823.tokens import Concatenation


@dataclass(frozen=True)
class ResponseReport:
    """What ``inspect_response`` concluded.

    ``findings`` judge the message against each observable requirement (a client's duties);
    ``acceptable`` is what a conforming CA decides, with ``rejection_reasons`` naming the
    requirement IDs that made it refuse (empty when acceptable).
    """

    findings: tuple[Finding, ...]
    digests_found: tuple[str, ...]
    reading: Concatenation | None
    token_part1_seen: str | None
    authentic: bool
    acceptable: bool
    rejection_reasons: tuple[str, ...]

    @property
    def failed_requirements(self) -> tuple[str, ...]:
        """IDs with a FAIL or WARN finding, in order of first appearance."""
        return tuple(
            dict.fromkeys(f.requirement for f in self.findings if f.verdict in ("fail", "warn"))
        )
