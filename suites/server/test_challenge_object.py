"""The email-reply-00 challenge object and its tokens: shape, ``from``, freshness and entropy.

RFC 8823 §3 steps 3-4; RFC 8555 §7.1.4, §7.1.5, §7.5.1.
"""

from __future__ import annotations

import itertools
import re
import secrets

import pytest

from rfc8823.acme.driver import json_object, problem_of
from rfc8823.acme.identifier import EMAIL_REPLY_00, IDENTIFIER_EMAIL
from rfc8823.findings import passed, risk
from rfc8823.messages.headers import parse_single_address
from rfc8823.report.outcomes import Blocked
from rfc8823.report.plugin import Conformance
from rfc8823.requirements import covers
from rfc8823.tokens import b64url_decode, b64url_encode, entropy_octets

from .helpers import ServerSuite, malformed_token_parts
from .prerequisites import VALIDATION
from .replies import send_signed

MIN_OCTETS = 16
"""128 bits: TOK-1 (token-part2, lower-case should) and TOK-3 (token-part1, MUST)."""
SAMPLE_ORDERS = 8
"""Orders sampled for token uniqueness; the catalog's N >= 1000 is for a deep run, not CI."""
MIN_DIFFERING_BITS = 0.25
"""Two random tokens differ in about half their bits; a counter or clock differs in few."""

_B64URL_UNPADDED = re.compile(r"[A-Za-z0-9_-]+")
CHALLENGE_STATUSES = ("pending", "processing", "valid", "invalid")
"""The statuses a challenge can have (RFC 8555 §7.1.6)."""


def differing_bits(a: bytes, b: bytes) -> float:
    """Share of differing bits over the shorter length (a crude counter-pattern detector)."""
    size = min(len(a), len(b))
    if size == 0:
        return 0.0
    flips = sum(bin(x ^ y).count("1") for x, y in zip(a[:size], b[:size], strict=True))
    return flips / (8 * size)


@covers("CHAL-OBJ-1", "CHAL-OBJ-2", "CHAL-OBJ-3", "A-CHAL-1", "A-AUTHZ-1")
@pytest.mark.needs("challenge-email")
async def test_pending_challenge_object_shape(ca: ServerSuite) -> None:
    """Pending authz and challenge: type, url, status, unpadded base64url token, bare ``from``.

    Whether the email's From is that ``from`` is CHAL-HDR-1's, judged with the email."""
    flow = await ca.flow()
    authz, challenge = flow.authz, flow.challenge
    echoed = authz.get("identifier")
    ordered = {"type": IDENTIFIER_EMAIL, "value": flow.address}
    ca.check("A-AUTHZ-1", echoed == ordered, f"authz identifier {echoed!r}", f"{ordered!r}")
    shown = f"authz {authz}"
    ca.check("A-AUTHZ-1", authz.get("status") == "pending", shown, "status pending")
    ca.check("A-AUTHZ-1", isinstance(authz.get("challenges"), list), shown, "a challenges array")
    ca.check("A-AUTHZ-1", authz.get("wildcard", False) is False, shown, "no wildcard on email")
    shown = f"challenge {challenge}"
    ca.check("CHAL-OBJ-1", challenge.get("type") == EMAIL_REPLY_00, shown, f"{EMAIL_REPLY_00}")
    ca.check("A-CHAL-1", isinstance(challenge.get("url"), str), shown, "a url")
    ca.check("A-CHAL-1", challenge.get("status") == "pending", shown, "status pending")
    token = challenge.get("token")
    ca.check(
        "CHAL-OBJ-2",
        isinstance(token, str) and _B64URL_UNPADDED.fullmatch(token) is not None,
        f"token {token!r}",
        "unpadded base64url (RFC 8555 §6.1)",
    )
    assert isinstance(token, str)  # checked just above
    try:
        b64url_decode(token)
    except ValueError as error:
        ca.fail("CHAL-OBJ-2", f"token {token!r}: {error}", "a decodable base64url value")
    sender = challenge.get("from")
    ca.check("CHAL-OBJ-3", isinstance(sender, str), f"from={sender!r}", "the challenge sender")
    assert isinstance(sender, str)  # checked just above
    parsed = parse_single_address(sender)
    ca.check(
        "CHAL-OBJ-3",
        parsed.addr_spec == sender and parsed.bare,
        f"from={sender!r}",
        "a bare addr-spec, no display name",
    )


@covers("A-AUTHZ-1", "A-CHAL-1", "A-STATE-1")
@pytest.mark.needs("validation")
async def test_valid_authorization_shape(ca: ServerSuite) -> None:
    """After a conforming reply and POST: authz valid with expires, challenge valid + validated."""
    flow = await ca.flow()
    challenge = await flow.complete()
    authz = flow.authz
    status = authz.get("status")
    ca.check("A-STATE-1", status == "valid", f"authz {status!r} after a valid challenge", "valid")
    expires = authz.get("expires")
    ca.check("A-AUTHZ-1", isinstance(expires, str), f"valid authz expires={expires!r}", "a time")
    valid = [c for c in authz.get("challenges", []) if c.get("status") == "valid"]
    ca.check(
        "A-AUTHZ-1",
        [c.get("type") for c in valid] == [EMAIL_REPLY_00],
        f"valid challenges {valid}",
        "the email-reply-00 one",
    )
    ca.check(
        "A-CHAL-1",
        isinstance(challenge.get("validated"), str),
        f"valid challenge {challenge}",
        "a validated time",
    )


@covers("A-AUTHZ-1", "A-CHAL-1")
@pytest.mark.needs("challenge-email")
async def test_invalid_authorization_shows_the_error(
    ca: ServerSuite, conformance: Conformance
) -> None:
    """After a wrong digest from the identifier and the POST, a failed challenge carries an
    ``error`` and an invalid authorization lists that failed challenge (RFC 8555 §7.1.4,
    §7.1.5, §8.2). Read through the authorization, without waiting behind a barrier, so a CA
    that judges replies only at the POST is judged too."""
    flow = await ca.flow()
    digest = b64url_encode(secrets.token_bytes(32))
    await send_signed(ca, flow, flow.reply().with_digest(digest))
    await flow.post()
    challenge = await flow.wait_challenge("invalid")
    authz = flow.authz
    failed = challenge.get("status") == "invalid"
    if not failed and authz.get("status") != "invalid":
        for rid in ("A-AUTHZ-1", "A-CHAL-1"):
            conformance.info(
                rid,
                f"a wrong digest left the challenge {challenge.get('status')!r} and the "
                f"authorization {authz.get('status')!r} for {ca.timeouts.state:g} s: no failure "
                "to read (SRV-VAL-2 judges whether it should fail)",
            )
        return
    if authz.get("status") == "invalid":
        ca.check(
            "A-AUTHZ-1",
            failed,
            f"invalid authorization listing {authz.get('challenges')}",
            f"the failed challenge {flow.challenge_url}, status invalid",
        )
    else:
        conformance.info(
            "A-AUTHZ-1",
            f"the authorization stayed {authz.get('status')!r} with its challenge invalid",
        )
    error = challenge.get("error")
    ca.check(
        "A-CHAL-1",
        isinstance(error, dict) and bool(error),
        f"invalid challenge {challenge}",
        "an error object (a problem document) saying why it failed",
    )


@covers("CHAL-OBJ-4", "A-CHAL-2")
@pytest.mark.needs("challenge-email")
async def test_challenge_post_with_empty_object(ca: ServerSuite, conformance: Conformance) -> None:
    """POST ``{}`` to the challenge answers 200 with the challenge object; extra members too.

    No reply is sent first, so the status the answer carries is recorded, not judged: a CA
    that judges at the POST may already fail the challenge (the POST-before-reply order is
    FLOW-7's to judge, ``test_post_before_reply``).
    """
    flow = await ca.flow()
    response = await flow.post()
    shown = f"POST {{}} HTTP {response.status_code}: {response.text[:300]}"
    ca.check(("CHAL-OBJ-4", "A-CHAL-2"), response.status_code == 200, shown, "200")
    body = json_object(response)
    ca.check(
        ("CHAL-OBJ-4", "A-CHAL-2"),
        body.get("url") == flow.challenge_url
        and body.get("type") == EMAIL_REPLY_00
        and body.get("status") in CHALLENGE_STATUSES,
        f"answer {body}",
        "the challenge object (its url, type email-reply-00 and a challenge status)",
    )
    conformance.info("A-CHAL-2", f"the POST before any reply answered status {body['status']}")
    again = await flow.post({"keyAuthorization": "ignored", "extra": 1})
    problem = problem_of(again)
    conformance.info(
        "CHAL-OBJ-4",
        f"a POST with unknown members got HTTP {again.status_code}"
        + (f" {problem.type}" if problem is not None else ""),
    )


@covers("TOK-1", "TOK-2", "TOK-3", "TOK-6", "SEC-5", "A-TOK-1")
@pytest.mark.needs("challenge-email")
async def test_tokens_are_fresh_and_long(ca: ServerSuite, conformance: Conformance) -> None:
    """Every authorization gets new token parts of >= 16 octets, none repeated or counter-like.

    Same address ordered by one account twice and by another account, plus fresh addresses.
    A repeated token-part1 is TOK-2's; a repeated token-part2 is TOK-6's (RFC 8555 §8.3,
    §11.3), a derived rule: it alone does not void the proof, token-part1 staying fresh.
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
    ca.check(
        ("TOK-2", "SEC-5"),
        len(set(part1s)) == len(part1s),
        f"token-part1 values {part1s}",
        "none repeated",
    )
    conformance.judge(
        "TOK-6", len(set(part2s)) == len(part2s), f"token-part2 values {part2s}", "distinct"
    )
    for part1, part2 in zip(part1s, part2s, strict=True):
        malformed = malformed_token_parts(part1, part2)
        if malformed is not None:
            raise Blocked(VALIDATION, f"no length to measure: {malformed[1]}")
    short1 = [t for t in part1s if entropy_octets(t) < MIN_OCTETS]
    ca.check(
        ("TOK-3", "SEC-5"),
        not short1,
        f"token-part1 {short1} under {MIN_OCTETS} octets",
        f">= {MIN_OCTETS} octets",
    )
    short2 = [t for t in part2s if entropy_octets(t) < MIN_OCTETS]
    for rid in ("TOK-1", "A-TOK-1"):
        if short2:
            conformance.record(
                risk(rid, f"token-part2 {short2} under {MIN_OCTETS} octets", ">= 128 bits")
            )
        else:
            conformance.record(passed(rid, f"token-part2 >= {MIN_OCTETS} octets"))
    for name, tokens in (("token-part1", part1s), ("token-part2", part2s)):
        octets = [b64url_decode(t.rstrip("=")) for t in tokens]
        close = [
            (a, b)
            for (a, x), (b, y) in itertools.combinations(zip(tokens, octets, strict=True), 2)
            if 0 < differing_bits(x, y) < MIN_DIFFERING_BITS
        ]
        ca.check(
            ("TOK-3", "SEC-5") if name == "token-part1" else "TOK-1",
            not close,
            f"{name} values differing in few bits (a counter?): {close}",
            "random values",
        )
