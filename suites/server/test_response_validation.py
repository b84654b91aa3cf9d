"""Response validation: the CA validates every conforming reply, however a sender writes it.

Each test plays the user: it answers a real challenge email with one variation a conforming
client or its mail system may produce, and reads the CA's decision over ACME.
RFC 8823 §3 steps 6-9, §3.2 (1)-(8); RFC 8555 §7.1.6, §7.5.1, §8.1; catalog AMB-1..3, 9, 11.
"""

from __future__ import annotations

import secrets

import pytest

from rfc8823.findings import passed
from rfc8823.report.plugin import Conformance, Severity
from rfc8823.requirements import covers
from rfc8823.targets import ServerUnderTest
from rfc8823.tokens import (
    Concatenation,
    b64url_encode,
    entropy_octets,
    expected_digests,
    readings_agree,
)

from .expiry import past
from .helpers import ChallengeFlow, ServerSuite
from .prerequisites import BARRIER
from .replies import (
    INCORRECT_RESPONSE,
    another_authorization,
    current_decision,
    decision_when_valid,
    expect_rejected,
    expect_validated,
    judge,
    post_once,
    provider_signed,
    send_signed,
)

GREETING = "Hello,\r\n\r\nthis is my answer to the ACME challenge.\r\n"
QUOTED = "On Monday the CA wrote:\r\n> ACME: challenge\r\n> Please reply to this message.\r\n"
SIGNATURE = "-- \r\nAlice Example\r\nExample Ltd.\r\n"


CONFORMING_REPLY_ROWS = (
    "RESP-SUBJ-1",
    "RESP-FROM-1",
    "RESP-TO-1",
    "RESP-BODY-1",
    "RESP-BODY-2",
    "RESP-DKIM-1",
    "RESP-DKIM-4",
    "KA-1",
    "KA-2",
    "KA-3",
)


@covers("SRV-VAL-1", "A-CHAL-1", *CONFORMING_REPLY_ROWS)
@pytest.mark.needs("validation")
async def test_conforming_reply_validates(ca: ServerSuite, conformance: Conformance) -> None:
    """The plain reply of §3.2 validates challenge and authorization; the order becomes ready."""
    flow = await ca.flow()
    challenge = await flow.complete()
    conformance.record(
        *(
            passed(rid, "the plain reply of §3.2 validated the challenge")
            for rid in CONFORMING_REPLY_ROWS
        )
    )
    ca.check(
        "SRV-VAL-1",
        flow.authz.get("status") == "valid",
        f"authorization {flow.authz.get('status')!r} once its challenge is valid",
        "valid",
    )
    order = await flow.account.wait_for_status(flow.order.url, ("ready",), ca.timeouts.state)
    ca.check("SRV-VAL-1", order.get("status") == "ready", f"order {order.get('status')!r}", "ready")
    ca.check(
        "A-CHAL-1",
        bool(challenge.get("validated")),
        f"a valid challenge with validated={challenge.get('validated')!r}",
        "a validated timestamp",
    )


@pytest.mark.needs("validation")
@pytest.mark.parametrize(
    ("prefix", "requirement"),
    [
        pytest.param("RE: ", "RESP-SUBJ-3", id="RE", marks=covers("RESP-SUBJ-3")),
        pytest.param("AW: ", "RESP-SUBJ-3", id="AW", marks=covers("RESP-SUBJ-3")),
        pytest.param("SV: ", "RESP-SUBJ-3", id="SV", marks=covers("RESP-SUBJ-3")),
        pytest.param("Re: Re: ", "RESP-SUBJ-3", id="Re-Re", marks=covers("RESP-SUBJ-3")),
        pytest.param("[EXT] Re: ", "RESP-SUBJ-3", id="EXT-Re", marks=covers("RESP-SUBJ-3")),
        pytest.param("", "RESP-SUBJ-1", id="no-prefix", marks=covers("RESP-SUBJ-1")),
    ],
)
async def test_reply_prefixes_are_ignored(
    ca: ServerSuite, conformance: Conformance, prefix: str, requirement: str
) -> None:
    """Whatever reply prefix stands before ``ACME:`` (or none), the reply validates."""
    flow = await ca.flow()
    await flow.answer(flow.reply().with_subject_prefix(prefix))
    await expect_validated(conformance, flow, requirement, f"Subject prefix {prefix!r}")


ENCODED_ROWS = ("RESP-SUBJ-2", "CHAL-SUBJ-3", "REF-2047-1")
LANGUAGE_ROWS = (*ENCODED_ROWS, "REF-2231-1")


@pytest.mark.needs("validation")
@pytest.mark.parametrize(
    ("charset", "encoding", "language", "split"),
    [
        pytest.param("utf-8", "Q", None, False, id="utf8-Q", marks=covers(*ENCODED_ROWS)),
        pytest.param("utf-8", "B", None, False, id="utf8-B", marks=covers(*ENCODED_ROWS)),
        pytest.param(
            "us-ascii", "Q", None, True, id="ascii-Q-split", marks=covers(*ENCODED_ROWS)
        ),
        pytest.param("utf-8", "Q", "en", False, id="utf8-Q-lang", marks=covers(*LANGUAGE_ROWS)),
        pytest.param(
            "UTF-8", "B", "en-US", True, id="utf8-B-lang-split", marks=covers(*LANGUAGE_ROWS)
        ),
    ],
)
async def test_encoded_word_subject(
    ca: ServerSuite,
    conformance: Conformance,
    charset: str,
    encoding: str,
    language: str | None,
    split: bool,
) -> None:
    """A Subject written as RFC 2047 encoded-words (RFC 2231 language tag too) is decoded first."""
    flow = await ca.flow()
    cuts = [len("Re: ACME: ") + len(flow.token_part1) // 2] if split else []
    builder = flow.reply().with_subject_encoded(
        charset,
        "Q" if encoding == "Q" else "B",
        language,
        split_at=cuts,
    )
    await flow.answer(builder)
    await expect_validated(
        conformance,
        flow,
        LANGUAGE_ROWS if language else ENCODED_ROWS,
        f"Subject {builder.subject()!r}",
    )


@covers("RESP-SUBJ-4", "CHAL-SUBJ-2")
@pytest.mark.needs("validation")
@pytest.mark.parametrize("shape", ["folded-middle", "folded-early", "spaces"])
async def test_whitespace_inside_the_token(
    ca: ServerSuite, conformance: Conformance, shape: str
) -> None:
    """White space or a fold inside token-part1 in the reply's Subject is ignored."""
    flow = await ca.flow()
    token = flow.token_part1
    builder = flow.reply()
    if shape == "folded-middle":
        builder = builder.with_subject_folded()
    elif shape == "folded-early":
        builder = builder.with_subject_folded(1)
    else:
        third = len(token) // 3
        builder = builder.with_subject(
            f"Re: ACME: {token[:third]} {token[third : 2 * third]}\t{token[2 * third :]}"
        )
    await flow.answer(builder)
    decision = await decision_when_valid(flow)
    seen = f"Subject {builder.subject()!r}: {decision}"
    judge(conformance, "RESP-SUBJ-4", decision.validated, seen, "valid")
    judge(conformance, "CHAL-SUBJ-2", decision.validated, seen, "valid (receivers ignore it)")


@covers("RESP-BODY-3")
@pytest.mark.needs("validation")
@pytest.mark.parametrize(
    ("shape", "severity"),
    [
        ("two-lines", "catalog"),
        ("three-lines", "catalog"),
        ("one-char-per-line", "catalog"),
        ("bare-lf-breaks", "risk"),
        ("lf-only-mail", "risk"),
    ],
)
async def test_digest_line_breaks(
    ca: ServerSuite, conformance: Conformance, shape: str, severity: Severity
) -> None:
    """Line breaks inside the digest are ignored; bare LF is robustness, a risk if refused."""
    flow = await ca.flow()
    builder = flow.reply()
    if shape == "two-lines":
        builder = builder.with_digest_wrapped(22)
    elif shape == "three-lines":
        builder = builder.with_digest_wrapped(15)
    elif shape == "one-char-per-line":
        builder = builder.with_digest_wrapped(1)
    elif shape == "bare-lf-breaks":
        builder = builder.with_digest_wrapped(11, line_ending="\n")
    else:
        builder = builder.with_digest_wrapped(22).with_line_endings(b"\n")
    await flow.answer(builder)
    await expect_validated(
        conformance,
        flow,
        "RESP-BODY-3",
        f"digest written as {builder.block()!r}",
        severity=severity,
    )


@covers("RESP-BODY-4")
@pytest.mark.needs("validation")
@pytest.mark.parametrize(
    ("before", "after"),
    [(GREETING, ""), ("", QUOTED), ("", SIGNATURE), (GREETING, QUOTED + SIGNATURE)],
    ids=["greeting", "quoted-challenge", "signature", "all"],
)
async def test_text_around_the_block(
    ca: ServerSuite, conformance: Conformance, before: str, after: str
) -> None:
    """Greeting, quoted challenge and signature around the response block are ignored."""
    flow = await ca.flow()
    await flow.answer(flow.reply().with_text_around(before, after))
    await expect_validated(conformance, flow, "RESP-BODY-4", "text around the block")


@covers("RESP-BODY-1")
@pytest.mark.needs("validation")
async def test_multipart_alternative(ca: ServerSuite, conformance: Conformance) -> None:
    """multipart/alternative with the block in text/plain and an HTML rendering validates."""
    flow = await ca.flow()
    await flow.answer(flow.reply().as_alternative())
    await expect_validated(conformance, flow, "RESP-BODY-1", "multipart/alternative reply")


@covers("RESP-CC-1")
@pytest.mark.needs("validation")
async def test_cc_is_ignored(ca: ServerSuite, conformance: Conformance) -> None:
    """A Cc field naming someone else neither helps nor harms the reply."""
    flow = await ca.flow()
    await flow.answer(flow.reply().with_cc(ca.new_address("other.test")))
    await expect_validated(conformance, flow, "RESP-CC-1", "reply with Cc")


@covers("RESP-IRT-1")
@pytest.mark.needs("validation")
async def test_reply_without_in_reply_to(ca: ServerSuite, conformance: Conformance) -> None:
    """No In-Reply-To nor References: the Subject alone ties the reply to its challenge."""
    flow = await ca.flow()
    await flow.answer(flow.reply().with_in_reply_to(None).with_references(None))
    await expect_validated(
        conformance, flow, "RESP-IRT-1", "reply without In-Reply-To and References"
    )


@covers("KA-4")
@pytest.mark.needs("validation")
async def test_padded_digest(ca: ServerSuite, conformance: Conformance) -> None:
    """A digest written with its ``=`` padding, as the RFC example does, is accepted (AMB-2)."""
    flow = await ca.flow()
    builder = flow.reply().with_padded_digest()
    await flow.answer(builder)
    await expect_validated(
        conformance, flow, "KA-4", f"padded digest {builder.digest!r}", severity="risk"
    )


@covers("RESP-BODY-5")
@pytest.mark.needs("validation")
@pytest.mark.parametrize("encoding", ["quoted-printable", "base64"])
async def test_transfer_encodings(ca: ServerSuite, conformance: Conformance, encoding: str) -> None:
    """A text/plain part in quoted-printable or base64 is decoded before reading; INFO or risk."""
    flow = await ca.flow()
    builder = flow.reply().with_text_around(GREETING, SIGNATURE)
    await flow.answer(
        builder.with_transfer_encoding("base64" if encoding == "base64" else "quoted-printable")
    )
    decision = await expect_validated(
        conformance, flow, "RESP-BODY-5", f"text/plain in {encoding}", severity="risk"
    )
    if decision.validated:
        conformance.info("RESP-BODY-5", f"a {encoding} text/plain reply validated")


@covers("RESP-AUTO-1")
@pytest.mark.needs("validation")
@pytest.mark.parametrize("value", [None, "auto-replied", "auto-generated"], ids=str)
async def test_auto_submitted_is_no_reason_to_refuse(
    ca: ServerSuite, conformance: Conformance, value: str | None
) -> None:
    """A reply validates with or without Auto-Submitted (AMB-9)."""
    flow = await ca.flow()
    await flow.answer(flow.reply().with_auto_submitted(value))
    decision = await expect_validated(
        conformance, flow, "RESP-AUTO-1", f"Auto-Submitted {value or 'absent'}"
    )
    if decision.validated:
        conformance.info("RESP-AUTO-1", f"validated with Auto-Submitted {value or 'absent'}")


@covers("SRV-VAL-1")
@pytest.mark.needs("challenge-email")
@pytest.mark.parametrize("c_tag", ["relaxed", "absent"])
async def test_body_length_covering_the_body(
    ca: ServerSuite, conformance: Conformance, c_tag: str
) -> None:
    """A signature whose ``l=`` is the whole body under its own body canonicalization leaves
    nothing unsigned, so the reply validates (RFC 6376 §3.4.3, §3.4.4, §3.5; RESP-DKIM-5
    refuses only text beyond ``l=``). ``c=relaxed/relaxed``: the signature delimiter ``-- ``
    ends in a space that relaxed canonicalization drops, so a CA measuring the body the simple
    way finds ``l=`` one octet short. No ``c=`` at all: simple/simple, the default.
    """
    flow = await ca.flow()
    canonicalization = ("relaxed", "relaxed") if c_tag == "relaxed" else None
    builder = provider_signed(
        ca,
        flow.reply().with_text_around("", SIGNATURE),
        body_length=True,
        canonicalization=canonicalization,
    )
    await ca.deliver_direct(flow.address, builder.build())
    await expect_validated(
        conformance, flow, "SRV-VAL-1", f"a reply whose l= covers its body, c= {c_tag}"
    )


@covers("RESP-DKIM-1", "RESP-DKIM-4")
@pytest.mark.needs("validation")
@pytest.mark.parametrize("signatures", ["rsa", "ed25519", "third-party-and-aligned"])
async def test_dkim_algorithms(ca: ServerSuite, conformance: Conformance, signatures: str) -> None:
    """RSA-SHA256 and Ed25519-SHA256 signatures by the From domain authenticate the reply."""
    flow = await ca.flow()
    builder = flow.reply()
    if signatures == "third-party-and-aligned":
        builder = provider_signed(ca, builder, signer="other.test")
    selector = "ed" if signatures == "ed25519" else "rsa"
    await ca.deliver_direct(flow.address, provider_signed(ca, builder, selector=selector).build())
    await expect_validated(
        conformance, flow, ("RESP-DKIM-1", "RESP-DKIM-4"), f"reply signed {signatures}"
    )


async def distinct_reading_flow(ca: ServerSuite, first: ChallengeFlow) -> ChallengeFlow | None:
    """Another authorization of ``first``'s account whose token parts also split the readings
    (None when three more do not: the CA's token lengths vary)."""
    for _ in range(3):
        flow = await ca.flow(first.account)
        if not readings_agree(flow.token_part1, flow.token_part2):
            return flow
    return None


@covers("KA-4", "KA-1", "RESP-BODY-2")
@pytest.mark.needs("barrier")
async def test_concatenation_readings(ca: ServerSuite, conformance: Conformance) -> None:
    """Replies under each reading of token-part1 || token-part2: which ones validate (AMB-1)."""
    first = await ca.flow()
    token = first.token_part1
    octets = entropy_octets(token)
    shape = f"token-part1 of {octets} octets ({'padded' if '=' in token else 'unpadded'})"
    if readings_agree(token, first.token_part2):
        conformance.info("KA-4", f"{shape}: the string and octet readings agree")
        await first.answer()
        agreed = await expect_validated(
            conformance, first, ("RESP-BODY-2", "KA-1"), f"{shape}: the one reading's reply"
        )
        conformance.info("KA-4", f"{shape}: {agreed}")
        return
    digests = expected_digests(token, first.token_part2, first.account.thumbprint)
    groups: dict[str, list[Concatenation]] = {}
    for reading, digest in digests.items():
        groups.setdefault(digest, []).append(reading)
    flows: list[tuple[list[Concatenation], ChallengeFlow]] = []
    for readings in groups.values():
        flow = first if Concatenation.STRING in readings else await distinct_reading_flow(ca, first)
        if flow is None:
            conformance.info("KA-4", f"no authorization split the readings for {readings}")
            continue
        await flow.answer(flow.reply(reading=readings[0]))
        await post_once(flow)
        flows.append((readings, flow))
    await ca.settle(*(flow for _, flow in flows))
    accepted = [
        reading
        for readings, flow in flows
        if (await current_decision(flow)).validated
        for reading in readings
    ]
    names = ", ".join(r.value for r in accepted) or "none"
    conformance.info("KA-4", f"{shape}: the readings differ; replies validated under: {names}")
    judge(
        conformance,
        ("RESP-BODY-2", "KA-1"),
        Concatenation.STRING in accepted,
        f"replies validated under: {names} ({shape})",
        "the string reading at least (docs/decisions.md#decision-2)",
    )
    judge(
        conformance,
        "KA-4",
        {Concatenation.STRING, Concatenation.OCTETS} <= set(accepted),
        f"replies validated under: {names}",
        "both the string and the octet reading (docs/decisions.md#decision-2)",
        severity="risk",
    )


@covers("SRV-VAL-5")
@pytest.mark.needs("barrier")
async def test_parallel_authorizations_for_one_address(
    ca: ServerSuite, conformance: Conformance
) -> None:
    """Two pending authorizations for one address: the reply to the second validates only it."""
    account = await ca.account()
    address = ca.new_address()
    first = await ca.flow(account, address)
    second = await another_authorization(ca, account, address, first)
    ca.check(
        "TOK-2",
        first.token_part1 != second.token_part1,
        f"token-part1 {first.token_part1} and {second.token_part1} for two authorizations",
        "a fresh token-part1 each",
    )
    await post_once(first)
    await second.answer()
    answered = await decision_when_valid(second)
    ca.check(
        "SRV-VAL-5",
        answered.validated,
        f"the second authorization {answered} after a reply to its email",
        "valid",
    )
    await ca.settle(first)
    other = await current_decision(first)
    judge(
        conformance,
        "SRV-VAL-5",
        not other.validated,
        f"the first authorization {other} after a reply to the second",
        "only the second authorization valid",
    )
    if other.open:
        await first.answer()
        last = await decision_when_valid(first)
        ca.check(
            "SRV-VAL-5",
            last.validated,
            f"the first authorization {last} after a reply to its own email",
            "valid",
        )


@covers("SRV-VAL-7")
@pytest.mark.needs("validation")
async def test_replies_in_flight_are_each_judged(
    ca: ServerSuite, conformance: Conformance
) -> None:
    """Two enrollments' conforming replies, both delivered before either challenge is POSTed,
    the later one's challenge POSTed first: both validate. Validating one must not consume,
    hide or discard the other's reply — the behaviour every barrier of this suite relies on
    (``ca.settle``), judged here on its own.
    """
    held, observed = await ca.replies_in_flight()
    ca.learnt.barrier = "" if held else observed
    conformance.step(BARRIER, held, rows=("SRV-VAL-7",), observed=observed)
    ca.check("SRV-VAL-7", held, observed, "both valid: each reply judged for its own challenge")


@covers("SRV-VAL-6")
@pytest.mark.needs("barrier")
async def test_duplicate_reply_is_harmless(ca: ServerSuite, conformance: Conformance) -> None:
    """The same signed reply delivered three times (MTA retries) leaves the challenge valid."""
    flow = await ca.flow()
    data = provider_signed(ca, flow.reply()).build()
    await ca.deliver_direct(flow.address, data)
    await ca.deliver_direct(flow.address, data)
    before = await decision_when_valid(flow)
    judge(
        conformance,
        "SRV-VAL-6",
        before.validated,
        f"{before} after one reply delivered twice",
        "valid",
    )
    if not before.validated:
        return
    await ca.deliver_direct(flow.address, data)
    await ca.settle()
    after = await current_decision(flow)
    judge(
        conformance,
        "SRV-VAL-6",
        after.status == "valid" and after.validated,
        f"{after} after a third copy once valid",
        "still valid, no error",
    )


@covers("SRV-VAL-4")
@pytest.mark.needs("barrier")
async def test_reply_after_expiry(
    ca: ServerSuite, conformance: Conformance, server_target: ServerUnderTest
) -> None:
    """A correct reply after the authorization expired does not validate it.

    The suite waits out a lifetime shorter than ``--acme-timeout``; a longer one is skipped
    ahead on a target that can move its CA's clock (``time_travel``), else UNSUPPORTED.
    """
    flow = await ca.flow(receive=False)
    expires = flow.authz.get("expires")
    if not isinstance(expires, str):
        conformance.unsupported("SRV-VAL-4", f"the authorization has no expires ({expires!r})")
    await flow.receive()
    async with past(ca, server_target, conformance, "SRV-VAL-4", expires) as wait:
        authz = await flow.account.wait_for_status(flow.authz_url, ("expired",), wait)
        conformance.info(
            "A-STATE-1", f"a pending authorization past its expires {expires}: {authz['status']}"
        )
        await send_signed(ca, flow, flow.reply())
        await ca.settle()
        decision = await current_decision(flow)
    judge(
        conformance,
        "SRV-VAL-4",
        not decision.validated,
        f"a correct reply after expiry: {decision}",
        "not validated",
    )


@covers("SRV-VAL-2", "RESP-BODY-2", "SEC-11")
@pytest.mark.needs("barrier")
async def test_wrong_digest_fails_the_challenge(ca: ServerSuite, conformance: Conformance) -> None:
    """An authentic reply with a wrong digest: ``invalid``, its error of type
    ``incorrectResponse`` (whether there is an error at all is A-CHAL-1's, judged by
    ``test_invalid_authorization_shows_the_error``)."""
    flow = await ca.flow()
    await send_signed(ca, flow, flow.reply().with_digest(b64url_encode(secrets.token_bytes(32))))
    decision = await expect_rejected(
        ca, conformance, flow, "RESP-BODY-2", "a wrong digest", proof=True
    )
    judge(
        conformance,
        "SRV-VAL-2",
        decision.status == "invalid",
        f"{decision} after a wrong digest from the identifier",
        "challenge invalid",
    )
    if decision.error_type is not None:
        judge(
            conformance,
            "SRV-VAL-2",
            decision.error_type == INCORRECT_RESPONSE,
            f"error type {decision.error_type}",
            INCORRECT_RESPONSE,
            severity="risk",
        )
