"""What a receiver knows about a challenge email before it arrives (RFC 8823 §3 step 4)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChallengeExpectation:
    """What the receiver knows from ACME: the identifier and the challenge object's ``from``.

    ``token_part2`` (the challenge object's ``token``) is optional; with it the KA-4 line says
    whether both concatenation readings agree for this exact pair (AMB-1).
    """

    identifier: str
    challenge_from: str | None = None
    token_part2: str | None = None
