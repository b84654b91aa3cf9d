"""Verify a challenge email's DKIM and S/MIME signatures: the inspection's only I/O.

RFC 8823 §3.1 (6); RFC 6376 §6, RFC 8551; CHAL-AUTH-1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rfc8823.auth import dkim, smime
from rfc8823.auth.dkim import DkimResult
from rfc8823.auth.resolver import Resolver
from rfc8823.auth.smime import SmimeResult


@dataclass(frozen=True)
class ChallengeAuth:
    """DKIM and S/MIME verdicts on one message; None where that check was not run."""

    dkim: DkimResult | None = None
    smime: SmimeResult | None = None


def authenticate_challenge(
    raw: bytes, *, resolver: Resolver, trust_anchors: Sequence[Path]
) -> ChallengeAuth:
    """Verify every DKIM signature (keys over DNS) and any S/MIME signature of ``raw``.

    Never raises; CHAL-AUTH-1, RFC 6376 §6, RFC 8551.
    """
    return ChallengeAuth(dkim=dkim.verify(raw, resolver), smime=smime.verify(raw, trust_anchors))
