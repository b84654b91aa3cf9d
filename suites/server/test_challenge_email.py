"""The challenge email the CA sends, judged by the challenge inspector with real DKIM/S/MIME checks.

RFC 8823 §3 step 4, §3.1 (1)-(7); RFC 6376; RFC 8551; RFC 5322 §3.6.4.
"""

from __future__ import annotations

import pytest

from rfc8823.findings import Verdict, broken, passed
from rfc8823.messages.challenge import ChallengeExpectation, ChallengeReport, inspect_challenge
from rfc8823.report.plugin import Conformance
from rfc8823.requirements import covers
from rfc8823.tokens import entropy_octets, readings_agree

from .helpers import MAIL_BEFORE_POST, ChallengeFlow, ServerSuite

NEW_ORDER_WINDOW = 0.5
"""How long after newOrder a CA that mails at order time gets before the authz fetch (FLOW-3)."""


def inspect(ca: ServerSuite, flow: ChallengeFlow) -> ChallengeReport:
    """The inspector's report on the flow's challenge email, signatures verified for real."""
    assert flow.email is not None
    raw = flow.email.data
    expect = ChallengeExpectation(
        identifier=flow.address,
        challenge_from=str(flow.challenge.get("from")),
        token_part2=flow.token_part2,
    )
    return inspect_challenge(raw, expect, ca.challenge_auth(raw))


@covers(
    "CHAL-SUBJ-1",
    "CHAL-SUBJ-4",
    "CHAL-SUBJ-5",
    "CHAL-HDR-1",
    "CHAL-HDR-2",
    "CHAL-HDR-3",
    "CHAL-AUTO-1",
    "CHAL-AUTO-2",
    "CHAL-AUTO-3",
    "CHAL-AUTH-1",
    "CHAL-BODY-1",
    "CHAL-HTML-1",
    "TOK-4",
    "REF-3834-1",
    "REF-5322-1",
    "REF-5322-4",
    "REF-2047-1",
)
@pytest.mark.needs("challenge-email")
async def test_challenge_email_conforms(ca: ServerSuite, conformance: Conformance) -> None:
    """Subject, From = ``from``, To = identifier, Auto-Submitted, a valid signature, body."""
    flow = await ca.flow()
    conformance.conclude(*inspect(ca, flow).findings)


@covers("CHAL-DKIM-1", "CHAL-DKIM-2", "CHAL-DKIM-3", "REF-6376-1", "REF-6376-2")
@pytest.mark.capability("dkim_challenges")
@pytest.mark.needs("challenge-email")
async def test_challenge_dkim_signature(ca: ServerSuite, conformance: Conformance) -> None:
    """A DKIM signature that verifies, ``d=`` the From domain, ``h=`` the required fields."""
    flow = await ca.flow()
    report = inspect(ca, flow)
    ids = ("CHAL-DKIM-1", "CHAL-DKIM-2", "CHAL-DKIM-3", "REF-6376-1", "REF-6376-2")
    conformance.conclude(*(f for f in report.findings if f.requirement in ids))
    aligned = [str(f) for f in report.findings if f.requirement == "CHAL-DKIM-3"]
    ca.check(
        "CHAL-DKIM-3",
        Verdict.PASS in report.verdicts("CHAL-DKIM-3"),
        f"CHAL-DKIM-3 findings {aligned}",
        "a DKIM signature with d= equal to the From domain",
    )


@covers("CHAL-SMIME-1", "CHAL-BODY-2", "CHAL-BODY-3", "REF-8551-1", "REF-7508-1")
@pytest.mark.capability("smime_challenges")
@pytest.mark.needs("challenge-email")
async def test_challenge_smime_signature(ca: ServerSuite, conformance: Conformance) -> None:
    """An S/MIME signature chaining to the CA's roots, signer SAN = From, headers protected."""
    flow = await ca.flow()
    report = inspect(ca, flow)
    conformance.conclude(*report.findings)
    verdicts = report.verdicts("CHAL-SMIME-1")
    ca.check(
        "CHAL-SMIME-1", Verdict.PASS in verdicts, f"CHAL-SMIME-1 verdicts {verdicts}", "PASS"
    )


@covers("TOK-3", "TOK-4", "KA-4", "REF-4648-1")
@pytest.mark.needs("challenge-email")
async def test_token_part1_in_subject(ca: ServerSuite, conformance: Conformance) -> None:
    """token-part1 is base64url of >= 16 octets; INFO whether both concatenation readings agree."""
    flow = await ca.flow()
    token = flow.token_part1
    try:
        octets, why = entropy_octets(token), ""
    except ValueError as error:
        octets, why = 0, f": {error}"
    ca.check(
        ("TOK-4", "REF-4648-1"), not why, f"token-part1 {token!r}{why}", "base64url (RFC 4648 §5)"
    )
    ca.check(
        ("TOK-3", "TOK-4"),
        octets >= 16,
        f"token-part1 {token!r} of {octets} octets",
        ">= 16 octets",
    )
    if "=" in token:
        conformance.info("TOK-4", f"token-part1 {token!r} is written with '=' padding (AMB-2)")
    agree = readings_agree(token, flow.token_part2)
    conformance.info(
        "KA-4",
        f"token-part1 of {octets} octets ({octets % 3} mod 3, "
        f"{'padded' if '=' in token else 'unpadded'}): the string and octet readings "
        + ("agree" if agree else "differ; replies made under one reading fail the other"),
    )


@covers("CHAL-HDR-4", "REF-5322-2")
@pytest.mark.needs("challenge-email")
async def test_message_ids_are_unique(ca: ServerSuite, conformance: Conformance) -> None:
    """Each challenge email has its own Message-ID, so a reply can name it in In-Reply-To."""
    reports = [inspect(ca, await ca.flow()) for _ in range(2)]
    ids = [r.message_id for r in reports]
    rows = ("CHAL-HDR-4", "REF-5322-2")
    if None in ids:
        conformance.record(*(broken(rid, f"Message-IDs {ids}", "one per email") for rid in rows))
        return
    ca.check(rows, ids[0] != ids[1], f"Message-IDs {ids} of two challenge emails", "distinct")


@covers("FLOW-3", "FLOW-7", "SEC-11")
@pytest.mark.needs("challenge-email")
async def test_when_the_challenge_email_is_sent(ca: ServerSuite, conformance: Conformance) -> None:
    """The email reaches the identifier's mailbox, and it alone; INFO on what triggered it
    (AMB-3). Mail to any other mailbox voids the proof of control (SEC-11,
    docs/decisions.md#decision-8)."""
    account = await ca.account()
    address = ca.new_address()
    order = await ca.order(account, address)
    try:
        email = await ca.world.store.next_for(address, NEW_ORDER_WINDOW)
        moment = "at newOrder"
    except TimeoutError:
        flow = (await ca.flows(order))[0]
        try:
            email = await ca.world.store.next_for(address, MAIL_BEFORE_POST)
            moment = "at the authorization fetch"
        except TimeoutError:
            await flow.post()
            try:
                email = await ca.world.store.next_for(address, ca.timeouts.mail)
            except TimeoutError:
                raise flow.no_email(MAIL_BEFORE_POST + ca.timeouts.mail) from None
            moment = "only after the challenge POST"
    conformance.info("FLOW-3", f"the challenge email was sent {moment}")
    conformance.info("FLOW-7", f"the challenge email was sent {moment}")
    conformance.record(passed("FLOW-3", f"the challenge email reached {address} {moment}"))
    ca.check(
        "SEC-11",
        email.rcpt_tos == (address,),
        f"envelope recipients {email.rcpt_tos}",
        f"{address} alone",
    )
