"""What inspecting a challenge email concludes (RFC 8823 §3.1)."""

from __future__ import annotations

from dataclasses import dataclass

from rfc8823.findings import Finding, Verdict
from rfc8823.messages.mime import ParsedMessage


@dataclass(frozen=True)
class ChallengeReport:
    """Findings on one challenge email, and what the inspector read from it."""

    findings: tuple[Finding, ...]
    token_part1: str | None
    message_id: str | None
    reply_to: str | None
    from_address: str | None
    parsed: ParsedMessage

    def failed_ids(self) -> frozenset[str]:
        """IDs of the requirements found broken (FAIL or WARN)."""
        return frozenset(
            f.requirement for f in self.findings if f.verdict in (Verdict.FAIL, Verdict.WARN)
        )

    def verdicts(self, requirement: str) -> tuple[Verdict, ...]:
        """The verdicts given on one requirement, in order."""
        return tuple(f.verdict for f in self.findings if f.requirement == requirement)
