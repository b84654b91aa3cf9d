"""The email-reply-00 challenge object and its tokens: shape, ``from``, freshness and entropy.

RFC 8823 §3 steps 3-4; RFC 8555 §7.1.4, §7.1.5, §7.5.1.
"""

from __future__ import annotations

import itertools
import re

from rfc8823.acme.driver import json_object
from rfc8823.acme.identifier import EMAIL_REPLY_00, IDENTIFIER_EMAIL
from rfc8823.findings import passed, risk
from rfc8823.messages.headers import parse_single_address
from rfc8823.messages.mime import parse_message
from rfc8823.report.plugin import Conformance
from rfc8823.requirements import covers
from rfc8823.tokens import b64url_decode, entropy_octets

from .helpers import ServerSuite

MIN_OCTETS = 16
"""128 bits: TOK-1 (token-part2, lower-case should) and TOK-3 (token-part1, MUST)."""
SAMPLE_ORDERS = 8
"""Orders sampled for token uniqueness; the catalog's N >= 1000 is for a deep run, not CI."""
MIN_DIFFERING_BITS = 0.25
"""Two random tokens differ in about half their bits; a counter or clock differs in few."""

_B64URL_UNPADDED = re.compile(r"[A-Za-z0-9_-]+")


def differing_bits(a: bytes, b: bytes) -> float:
    """Share of differing bits over the shorter length (a crude counter-pattern detector)."""
    size = min(len(a), len(b))
    if size == 0:
        return 0.0
    flips = sum(bin(x ^ y).count("1") for x, y in zip(a[:size], b[:size], strict=True))
    return flips / (8 * size)


@covers("CHAL-OBJ-1", "CHAL-OBJ-2", "CHAL-OBJ-3", "A-CHAL-1", "A-AUTHZ-1")
async def test_pending_challenge_object_shape(ca: ServerSuite) -> None:
    """Pending authz and challenge: type, url, status, unpadded base64url token, bare ``from``."""
    flow = await ca.flow()
    authz, challenge = flow.authz, flow.challenge
    assert authz.get("identifier") == {"type": IDENTIFIER_EMAIL, "value": flow.address}
    assert authz.get("status") == "pending", f"observed authz {authz.get('status')!r}"
    assert isinstance(authz.get("challenges"), list), "observed no challenges array"
    assert "wildcard" not in authz or authz["wildcard"] is False, "observed wildcard on email"
    assert challenge.get("type") == EMAIL_REPLY_00, f"observed type {challenge.get('type')!r}"
    assert isinstance(challenge.get("url"), str), "observed a challenge without url"
    assert challenge.get("status") == "pending", f"observed status {challenge.get('status')!r}"
    token = challenge.get("token")
    assert isinstance(token, str), f"observed token {token!r}; expected a string"
    assert _B64URL_UNPADDED.fullmatch(token), (
        f"observed token {token!r}; expected unpadded base64url (RFC 8555 §6.1)"
    )
    b64url_decode(token)
    sender = challenge.get("from")
    assert isinstance(sender, str), f"observed from={sender!r}; expected the challenge sender"
    parsed = parse_single_address(sender)
    assert parsed.addr_spec == sender, f"observed from={sender!r}; expected a bare addr-spec"
    assert parsed.bare, f"observed from={sender!r} with a display name; expected a bare addr-spec"
    assert flow.email is not None
    raw_from = parse_message(flow.email.data).first("From") or ""
    assert parse_single_address(raw_from).addr_spec == sender, (
        f"observed email From {raw_from!r}; expected the challenge's from {sender!r}"
    )


@covers("A-AUTHZ-1", "A-CHAL-1", "A-STATE-1")
async def test_valid_authorization_shape(ca: ServerSuite) -> None:
    """After a conforming reply and POST: authz valid with expires, challenge valid + validated."""
    flow = await ca.flow()
    challenge = await flow.complete()
    assert isinstance(challenge.get("validated"), str), (
        f"observed a valid challenge without validated: {challenge}"
    )
    authz = await flow.account.fetch(flow.authz_url)
    assert authz.get("status") == "valid", f"observed authz {authz.get('status')!r}"
    assert isinstance(authz.get("expires"), str), "observed a valid authz without expires"
    valid = [c for c in authz.get("challenges", []) if c.get("status") == "valid"]
    assert [c.get("type") for c in valid] == [EMAIL_REPLY_00], (
        f"observed valid challenges {valid}; expected the email-reply-00 one"
    )


@covers("CHAL-OBJ-4", "A-CHAL-2")
async def test_challenge_post_with_empty_object(ca: ServerSuite, conformance: Conformance) -> None:
    """POST ``{}`` to the challenge answers 200 with the challenge object; extra members too."""
    flow = await ca.flow()
    response = await flow.post()
    body = json_object(response)
    assert body.get("url") == flow.challenge_url, f"observed {body}; expected the challenge"
    assert body.get("type") == EMAIL_REPLY_00, f"observed {body}; expected the challenge"
    assert body.get("status") in ("pending", "processing"), f"observed {body.get('status')!r}"
    again = await flow.post({"keyAuthorization": "ignored", "extra": 1})
    conformance.info(
        "CHAL-OBJ-4",
        f"a POST with unknown members got HTTP {again.status_code}"
        + (f" {again.json().get('type')}" if again.status_code >= 400 else ""),
    )
    await flow.complete()


@covers("TOK-1", "TOK-2", "TOK-3", "SEC-5", "A-TOK-1")
async def test_tokens_are_fresh_and_long(ca: ServerSuite, conformance: Conformance) -> None:
    """Every authorization gets new token parts of >= 16 octets, none repeated or counter-like.

    Same address ordered by one account twice and by another account, plus fresh addresses.
    """
    first, second = await ca.account(), await ca.account(fresh=True)
    shared = ca.new_address()
    owners = [first, first, second] + [first] * (SAMPLE_ORDERS - 3)
    addresses = [shared] * 3 + [ca.new_address() for _ in range(SAMPLE_ORDERS - 3)]
    part1s: list[str] = []
    part2s: list[str] = []
    for account, address in zip(owners, addresses, strict=True):
        flow = await ca.flow(account, address)
        part1s.append(flow.token_part1)
        part2s.append(flow.token_part2)
    assert len(set(part1s)) == len(part1s), f"observed repeated token-part1 values: {part1s}"
    assert len(set(part2s)) == len(part2s), f"observed repeated token-part2 values: {part2s}"
    short1 = [t for t in part1s if entropy_octets(t) < MIN_OCTETS]
    assert not short1, f"observed token-part1 {short1} under {MIN_OCTETS} octets (TOK-3)"
    short2 = [t for t in part2s if entropy_octets(t) < MIN_OCTETS]
    if short2:
        conformance.record(
            risk("TOK-1", f"token-part2 {short2} under {MIN_OCTETS} octets", ">= 128 bits")
        )
    else:
        conformance.record(passed("TOK-1", f"token-part2 >= {MIN_OCTETS} octets"))
    for name, tokens in (("token-part1", part1s), ("token-part2", part2s)):
        octets = [b64url_decode(t.rstrip("=")) for t in tokens]
        close = [
            (a, b)
            for (a, x), (b, y) in itertools.combinations(zip(tokens, octets, strict=True), 2)
            if differing_bits(x, y) < MIN_DIFFERING_BITS
        ]
        assert not close, f"observed {name} values differing in few bits (a counter?): {close}"
