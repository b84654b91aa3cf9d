"""Rules for the token-part1 a challenge's Subject carries: alphabet, entropy, readings.

RFC 8823 §3.1 (1), §3.3; RFC 8555 §8.3; TOK-3, TOK-4, KA-4, AMB-1, AMB-2
(docs/decisions.md#decision-3).
"""

from __future__ import annotations

from rfc8823.findings import broken, info, passed, risk
from rfc8823.messages.challenge.expectation import ChallengeExpectation
from rfc8823.messages.judge import Judge
from rfc8823.tokens import b64url_decode, readings_agree

MIN_TOKEN_PART1_OCTETS = 16
"""128 bits: the least entropy token-part1 may carry (TOK-3)."""


def judge_token(token: str, expect: ChallengeExpectation, judge: Judge) -> None:
    """token-part1 alphabet, entropy and concatenation readings (TOK-3, TOK-4, KA-4, AMB-1/2)."""
    try:
        octets = b64url_decode(token)
    except ValueError as exc:
        judge.add(broken("TOK-4", repr(token), "base64url (RFC 4648 §5)", str(exc)))
        return
    judge.add(passed("TOK-4", repr(token)))
    size = f"{len(octets)} octets"
    if len(octets) < MIN_TOKEN_PART1_OCTETS:
        judge.add(broken("TOK-3", size, f">= {MIN_TOKEN_PART1_OCTETS} octets (128 bits)"))
    else:
        judge.add(passed("TOK-3", size, f">= {MIN_TOKEN_PART1_OCTETS} octets"))
    if token.endswith("="):
        judge.add(
            risk(
                "KA-4",
                f"padded token-part1 of {size}",
                "unpadded base64url (docs/decisions.md#decision-3)",
                "string and octet concatenations differ; some clients reject padding (AMB-2)",
            )
        )
        return
    if expect.token_part2 is not None:
        agree = readings_agree(token, expect.token_part2)
    else:
        agree = len(octets) % 3 == 0
    reading = "agree" if agree else "differ"
    judge.add(info("KA-4", f"token-part1 of {size}: the concatenation readings {reading} (AMB-1)"))
