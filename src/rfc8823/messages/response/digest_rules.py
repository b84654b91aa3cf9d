"""Rules for the digest in a response block: right octets, right form, which reading.

RFC 8823 §3.2 (7), RFC 8555 §8.1; KA-1..KA-4, SEC-7, RESP-BODY-2 (docs/decisions.md#decision-2 and
docs/decisions.md#decision-3).
"""

from __future__ import annotations

import base64
import binascii
import re

from rfc8823.findings import broken, info, passed, risk
from rfc8823.messages.judge import Judge
from rfc8823.messages.response.expectation import ResponseExpectation
from rfc8823.tokens import Concatenation, b64url_decode, b64url_encode, readings_agree

DIGEST_RULES = frozenset({"RESP-BODY-2", "KA-1", "KA-2", "KA-3", "SEC-7"})
"""The rows a digest is refused on: a reply refused only for these came from someone who
answered, but with the wrong response (SRV-VAL-2)."""

_HEX_DIGEST = re.compile(r"[0-9A-Fa-f]{64}")
_STANDARD_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_DIGEST_OCTETS = 32


def judge_digest(digest: str, expect: ResponseExpectation, judge: Judge) -> Concatenation | None:
    """KA-1..KA-4, SEC-7 and RESP-BODY-2 for one digest; the matching reading, if any."""
    expected_text = "base64url(SHA-256(keyAuthorization)), 32 octets"
    try:
        octets = b64url_decode(digest)
    except ValueError:
        octets = None
    if octets is None or len(octets) != _DIGEST_OCTETS:
        requirement, observed = _malformed_digest(digest, octets, expect)
        judge.add(broken(requirement, observed, expected_text), rejects=True)
        _judged_elsewhere(requirement, judge)
        return None
    if digest.endswith("="):
        judge.add(
            info(
                "KA-3", "digest written with '=' padding", "accepted (docs/decisions.md#decision-3)"
            )
        )
    matching = [reading for reading, value in expect.digests.items() if value == octets]
    if not matching:
        slip = expect.known_slips.get(octets)
        if slip is not None:
            judge.add(
                broken(slip[0], f"digest {digest}: {slip[1]}", "the digest of this order"),
                rejects=True,
            )
            _judged_elsewhere(slip[0], judge)
        else:
            judge.add(
                broken(
                    "RESP-BODY-2",
                    f"digest {digest} matches no reading",
                    f"one of {sorted(b64url_encode(v) for v in set(expect.digests.values()))}",
                ),
                rejects=True,
            )
        return None
    reading = Concatenation.STRING if Concatenation.STRING in matching else matching[0]
    for requirement in ("RESP-BODY-2", "KA-1", "KA-2", "KA-3"):
        judge.add(passed(requirement, f"digest {digest}", expected_text))
    agree = readings_agree(expect.token_part1, expect.token_part2)
    names = ", ".join(r.value for r in matching)
    detail = "the readings agree for this token" if agree else "the readings differ for this token"
    judge.add(info("KA-4", f"digest matches the {names} reading", detail))
    if Concatenation.STRING not in matching:
        judge.add(
            risk(
                "KA-4",
                f"{reading.value} reading",
                "the string reading (docs/decisions.md#decision-2)",
                "servers that only take the string reading reject it",
            )
        )
    return reading


def _judged_elsewhere(requirement: str, judge: Judge) -> None:
    """RESP-BODY-2 noted (INFO) when a wrong digest is named on a more precise row, so the
    one defect shows once, on that row (docs/verdicts.md)."""
    if requirement != "RESP-BODY-2":
        judge.add(info("RESP-BODY-2", f"the block's digest is judged on {requirement}"))


def _malformed_digest(
    digest: str, octets: bytes | None, expect: ResponseExpectation
) -> tuple[str, str]:
    """The requirement a non-digest breaks: KA-3 for known wrong forms, else RESP-BODY-2."""
    if digest in expect.key_authorizations:
        return "KA-3", "the raw key authorization in the block"
    if _HEX_DIGEST.fullmatch(digest):
        right = bytes.fromhex(digest) in expect.digests.values()
        return "KA-3", f"a hex digest ({'right' if right else 'wrong'} octets)"
    if "." in digest:
        return "KA-3", f"{digest[:60]!r}, shaped like a key authorization"
    if _STANDARD_BASE64.fullmatch(digest) and ("+" in digest or "/" in digest):
        try:
            decoded = base64.b64decode(digest + "=" * (-len(digest) % 4))
        except (binascii.Error, ValueError):
            decoded = b""
        right = decoded in expect.digests.values()
        return "KA-3", f"standard base64 ('+' or '/'; {'right' if right else 'wrong'} octets)"
    if octets is None:
        return "RESP-BODY-2", f"{digest[:60]!r} is not base64url" if digest else "an empty block"
    return "RESP-BODY-2", f"digest {digest!r} decodes to {len(octets)} octets"
