"""The response email the client sends, judged as the CA receives it (RFC 8823 §3.2).

Each test runs one enrollment and inspects the response that reached the CA's side with
``inspect_response``: the findings on the requirements the test covers go to the report, and
the test stops for the FAIL-level ones among them. Whether the CA accepts the response as a
whole is the happy path's judgement, not each test's.
"""

from __future__ import annotations

import pytest

from rfc8823.findings import Verdict, broken, info, passed
from rfc8823.messages.headers import normalize_address, parse_acme_subject
from rfc8823.messages.mime import parse_message
from rfc8823.messages.response import ResponseReport
from rfc8823.messages.response.block import find_blocks
from rfc8823.report.outcomes import Blocked
from rfc8823.requirements import covers
from rfc8823.targets.peer_ca import PeerBehaviour

from .challenges import VARIATIONS
from .harness import CA_DOMAIN, ClientSuite, answering, international_address
from .prerequisites import ANSWER, INTERNATIONAL

HEADER_IDS = (
    "RESP-SUBJ-1",
    "RESP-FROM-1",
    "RESP-TO-1",
    "RESP-IRT-1",
    "RESP-IRT-2",
    "RESP-LIST-1",
    "RESP-AUTO-1",
)
BODY_IDS = ("RESP-BODY-1", "RESP-BODY-2", "RESP-BODY-3", "RESP-BODY-4", "RESP-BODY-5")
DKIM_IDS = ("RESP-DKIM-1", "RESP-DKIM-2", "RESP-DKIM-3", "RESP-DKIM-4", "RESP-DKIM-5")
REPLY_TO = next(v for v in VARIATIONS if v.name == "reply-to")


async def judged(
    client: ClientSuite, ids: tuple[str, ...], behaviour: PeerBehaviour | None = None
) -> tuple[ResponseReport, bytes]:
    """Enroll once, judge the response to the CA's challenge and record the findings on ``ids``.

    FAIL-level findings stop the test for their rule only (``conclude``).
    """
    run = await client.start(behaviour)
    challenge = await run.sent_challenge()
    response = await run.response()
    report = run.judge(response, challenge)
    client.conclude(report.findings, ids)
    return report, response.data


@covers(*HEADER_IDS, "REF-5322-2", "REF-5322-3", "REF-5322-4")
@pytest.mark.needs("answer")
async def test_response_header_fields(client: ClientSuite) -> None:
    """Subject, From, To, In-Reply-To, References and no List-* as §3.2 (1)-(6) ask."""
    run = await client.start()
    challenge = await run.sent_challenge()
    response = await run.response()
    report = run.judge(response, challenge)
    parsed = parse_message(response.data)
    ids = parsed.all("Message-ID")
    client.conformance.record(
        passed("REF-5322-2", f"Message-ID {ids[0]}")
        if len(ids) == 1
        else broken("REF-5322-2", f"{len(ids)} Message-ID fields", "one Message-ID")
    )
    subject = parse_acme_subject(parsed.first("Subject") or "")
    client.conformance.record(info("REF-5322-3", f"reply prefix {subject.prefix!r}"))
    client.conclude(report.findings, (*HEADER_IDS, "REF-5322-4"))


@covers("RESP-TO-1", "CHAL-HDR-3")
@pytest.mark.needs("answer")
async def test_response_goes_to_the_reply_to_address(client: ClientSuite) -> None:
    """With a Reply-To in the challenge, the response is addressed there (§3.2 (3))."""
    report, _ = await judged(
        client, ("RESP-TO-1",), PeerBehaviour(variant=REPLY_TO.make(client.world))
    )
    to = [f for f in report.findings if f.requirement == "RESP-TO-1"]
    client.conformance.check(
        "CHAL-HDR-3",
        bool(to) and all(f.verdict is Verdict.PASS for f in to),
        f"the response to a challenge with Reply-To: {[str(f) for f in to]}",
        f"To: acme-replies@{CA_DOMAIN}",
    )


@covers(*BODY_IDS, "RESP-HTML-1")
@pytest.mark.needs("answer")
async def test_response_body_holds_the_block_in_text_plain(client: ClientSuite) -> None:
    """A text/plain part (alone or in multipart/alternative) holds the block (§3.2 (7))."""
    report, raw = await judged(client, (*BODY_IDS, "RESP-HTML-1"))
    if not any(f.requirement == "RESP-BODY-4" for f in report.findings):
        client.conformance.info("RESP-BODY-4", "no text outside the response block")
    if not any(f.requirement == "RESP-BODY-3" for f in report.findings):
        lines = [
            block.lines
            for part in parse_message(raw).parts
            if part.content_type == "text/plain"
            for block in find_blocks(part.text or "")
        ]
        client.conformance.info(
            "RESP-BODY-3", f"the digest written on {lines[0] if lines else 'no'} line(s)"
        )


@covers(*DKIM_IDS, "REF-6376-1", "REF-6376-3")
@pytest.mark.needs("answer")
async def test_response_is_dkim_signed_for_the_from_domain(client: ClientSuite) -> None:
    """The client's own DKIM signature: d= the From domain, h= the §3.2 (8) list, no l=."""
    client.require("signs_dkim", "that it DKIM-signs its response (signs-dkim)")
    report, raw = await judged(client, DKIM_IDS)
    dkim = {f.requirement: f for f in report.findings if f.requirement in DKIM_IDS}
    from_covered = dkim.get("RESP-DKIM-1")
    if from_covered is not None and from_covered.verdict is Verdict.PASS:
        client.conformance.record(
            passed("REF-6376-1", "a passing signature covers From (dkimpy refuses it otherwise)")
        )
    elif parse_message(raw).all("DKIM-Signature"):
        client.conformance.record(
            broken("REF-6376-1", "no DKIM signature passes", "h= including From")
        )
    length = dkim.get("RESP-DKIM-5")
    if length is not None:
        client.conformance.record(
            info("REF-6376-3", length.observed, "an l= short of the body is refused")
        )


@covers("REF-6531-1")
@pytest.mark.client_capability("eai")
@pytest.mark.needs("answer")
@pytest.mark.parametrize(
    "local_part",
    [pytest.param("üser", id="utf8-local-part"), pytest.param("user", id="idn-domain")],
)
async def test_response_for_an_internationalized_address_uses_smtputf8(
    client: ClientSuite, local_part: str
) -> None:
    """The response for an internationalized identifier names SMTPUTF8 on MAIL FROM whenever its
    envelope or header fields hold non-ASCII (RFC 6531 §3.2, §3.4; RFC 6532), as the world's
    submission server received it, before any relay. All ASCII (A-labels throughout) is
    recorded: it needs no SMTPUTF8. Owns ``INTERNATIONAL``: whether that response reached the
    CA, which the CSR tests of internationalized addresses need."""
    address = international_address(client.world, local_part)
    run = await client.start(email=address)
    token = (await run.ca_challenge()).token_part1
    answers = answering(token, (await run.sent_challenge()).data)
    await run.outcome()
    wanted = normalize_address(address)
    submitted = [
        message
        for message in client.world.outbox.messages()
        if normalize_address(message.mail_from) == wanted and answers(message)
    ]
    if not submitted:
        raise Blocked(ANSWER, f"no response submitted for {address}{run.mail_trace()}")
    first = submitted[0]
    ascii_only = first.data.isascii() and all(
        text.isascii() for text in (first.mail_from, *first.rcpt_tos)
    )
    shown = f"MAIL FROM:<{first.mail_from}> {'with' if first.smtputf8 else 'without'} SMTPUTF8"
    reached = any(answers(message) for message in run.responses_received())
    client.conformance.step(
        INTERNATIONAL,
        reached,
        rows=() if ascii_only or first.smtputf8 else ("REF-6531-1",),
        observed=f"{shown}; {'reached' if reached else 'never reached'} the CA{run.mail_trace()}",
    )
    if ascii_only:
        client.conformance.info("REF-6531-1", f"{shown}; envelope and header fields all ASCII")
        return
    client.conformance.check(
        "REF-6531-1",
        first.smtputf8,
        f"{shown}; non-ASCII in its envelope or header fields",
        "SMTPUTF8 named on MAIL FROM (RFC 6531 §3.4)",
    )
