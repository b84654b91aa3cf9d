"""Forged and broken replies: the CA validates none of them, yet validates the correct one after.

Each test sends one reply that breaks one rule of RFC 8823 §3.2 or §3 step 6 (unsigned,
misaligned or partial DKIM, another sender, list mail, no readable block, a digest built the
wrong way, a replayed or foreign token), POSTs the challenge, waits until a control reply sent
after it has validated (the barrier: without it the test is BLOCKED), and judges that the
authorization is not valid. Replies whose acceptance would void the proof of mailbox control
are judged on SEC-11 too (docs/decisions.md#decision-8).
RFC 8823 §3, §3.2 (1)-(8), §6; RFC 6376 §3.5, §5.4; RFC 8555 §8.1; catalog §2.5, §2.9.
"""

from __future__ import annotations

import base64
import secrets

import pytest

from rfc8823.auth.dkim import RESPONSE_REQUIRED_HEADERS
from rfc8823.findings import passed
from rfc8823.messages.response import BEGIN_MARKER, DEFAULT_DKIM_HEADERS, END_MARKER
from rfc8823.report.outcomes import Blocked, HarnessError
from rfc8823.report.plugin import Conformance
from rfc8823.requirements import covers
from rfc8823.tokens import (
    Concatenation,
    acme_token,
    b64url_decode,
    b64url_encode,
    key_authorization,
    response_digest,
    without_whitespace,
)
from rfc8823.world.relations import DOMAIN_RELATIONS, DomainRelation
from rfc8823.world.world import UNAUTHORISED_SOURCE

from .helpers import ChallengeFlow, ServerSuite
from .prerequisites import AUTHENTICATION, VALIDATION
from .replies import (
    after_a_refused_reply,
    another_authorization,
    authenticated,
    current_decision,
    decision_after_barrier,
    decision_when_valid,
    expect_rejected,
    judge,
    post_once,
    provider_signed,
    record_outcome,
    send_signed,
    unsigned_refused,
)

MISSPELT_MARKERS = {
    "four-dashes": ("-----BEGIN ACME RESPONSE----", END_MARKER),
    "lower-case": ("-----begin acme response-----", "-----end acme response-----"),
    "spaced": ("----- BEGIN ACME RESPONSE -----", END_MARKER),
    "misspelt-word": ("-----BEGIN ACME RESPONCE-----", END_MARKER),
    "no-begin": (None, END_MARKER),
    "no-end": (BEGIN_MARKER, None),
    "short-end": (BEGIN_MARKER, "-----END ACME RESPONSE----"),
}


def random_digest(octets: int = 32) -> str:
    """A base64url value of ``octets`` random octets: no digest of this order."""
    return b64url_encode(secrets.token_bytes(octets))


def digest_for(flow: ChallengeFlow, token: str, thumbprint: str | None = None) -> str:
    """base64url(SHA-256(token "." thumbprint)) for the flow's account unless told otherwise."""
    return response_digest(key_authorization(token, thumbprint or flow.account.thumbprint))


@covers("RESP-DKIM-1", "SEC-11")
@pytest.mark.needs("barrier")
@pytest.mark.parametrize("forgery", ["unsigned", "body-changed-after-signing"])
async def test_unauthenticated_reply(
    ca: ServerSuite, conformance: Conformance, forgery: str
) -> None:
    """A reply without a valid DKIM signature does not validate, whatever it says; both are
    sent from a source SPF does not authorise, so that SPF cannot vouch for them.

    The unsigned case owns the AUTHENTICATION step every DKIM-detail test builds on."""
    flow = await ca.flow()
    if forgery == "unsigned":
        held, observed = await unsigned_refused(ca, flow)
        ca.learnt.authentication = "" if held else observed
        conformance.step(AUTHENTICATION, held, rows=("RESP-DKIM-1", "SEC-11"), observed=observed)
    else:
        await authenticated(ca)
        builder = provider_signed(ca, flow.reply()).with_appended_unsigned_text("P.S. edited")
        await ca.deliver_direct(flow.address, builder.build(), source_address=UNAUTHORISED_SOURCE)
    await expect_rejected(
        ca, conformance, flow, "RESP-DKIM-1", f"a reply {forgery}", proof=True
    )


@covers("RESP-DKIM-1", "SEC-11")
@pytest.mark.needs("barrier")
@pytest.mark.parametrize("record", ["revoked", "removed"])
async def test_dkim_key_not_in_dns(ca: ServerSuite, conformance: Conformance, record: str) -> None:
    """A signature whose key record is revoked (empty ``p=``) or gone does not authenticate
    (sent from a source SPF does not authorise: ``replies.authenticated``)."""
    await authenticated(ca)
    flow = await ca.flow()
    domain = ca.world.domain(flow.address.rpartition("@")[2]).name
    name = f"ed._domainkey.{domain}"
    try:
        if record == "revoked":
            ca.world.records.set(name, "TXT", ["v=DKIM1; k=ed25519; p="])
        else:
            ca.world.records.remove(name, "TXT")
        builder = provider_signed(ca, flow.reply(), selector="ed")
        await ca.deliver_direct(flow.address, builder.build(), source_address=UNAUTHORISED_SOURCE)
        decision = await decision_after_barrier(ca, flow)
    finally:
        ca.world.publish()
    observed = f"a reply signed with a key {record} in DNS: {decision}"
    judge(conformance, "SEC-11", not decision.validated, observed, "not validated")
    judge(conformance, "RESP-DKIM-1", not decision.validated, observed, "not validated")
    await after_a_refused_reply(ca, conformance, flow, decision)


@covers("RESP-DKIM-4", "SEC-11")
@pytest.mark.needs("barrier")
@pytest.mark.parametrize("relation", [pytest.param(r, id=r.name) for r in DOMAIN_RELATIONS])
async def test_misaligned_dkim_domain(
    ca: ServerSuite, conformance: Conformance, relation: DomainRelation
) -> None:
    """A valid signature whose ``d=`` is not exactly the From domain does not authenticate.

    One case per relation of ``rfc8823.world.relations``: an unrelated domain, a parent, a
    subdomain, a sibling and a grandparent inside one organizational domain (which pass DMARC's
    relaxed alignment, RFC 7489 §3.1.1), and lookalikes that start or end with the From
    domain's text. Each voids the proof that the reply came from the mailbox (SEC-11). The
    reply comes from an address SPF does not authorise, so the signature alone decides: with
    an SPF pass a CA that took the signature as aligned would still refuse the reply as
    SPF-only (SEC-10), and the misreading would go unseen; a CA that takes unsigned mail
    anyway leaves the test BLOCKED (``replies.authenticated``).
    """
    await authenticated(ca)
    address = ca.new_address(relation.mailbox_domain)
    flow = await ca.flow(address=address)
    builder = provider_signed(ca, flow.reply(), signer=relation.signer_domain)
    await ca.deliver_direct(flow.address, builder.build(), source_address=UNAUTHORISED_SOURCE)
    shown = f"d={relation.signer_domain} for {address} ({relation.name})"
    await expect_rejected(ca, conformance, flow, "RESP-DKIM-4", shown, proof=True)


@pytest.mark.needs("barrier")
@pytest.mark.parametrize(
    "left_out",
    [
        pytest.param(
            name,
            id=name,
            marks=covers("REF-6376-1", "SEC-11") if name == "from" else covers("RESP-DKIM-2"),
        )
        for name in RESPONSE_REQUIRED_HEADERS
    ],
)
async def test_signature_not_covering_a_field(
    ca: ServerSuite, conformance: Conformance, left_out: str
) -> None:
    """A signature whose ``h=`` leaves out one field RESP-DKIM-2 lists, present in the reply,
    does not authenticate it (RFC 8823 §3.2 (8); RFC 6376 §5.4 for From).

    Sender, Reply-To and Cc are added to the reply for their cases, so the field left out is
    there to be rewritten (listing an absent field is no duty, REF-6376-2). Only leaving out
    From voids the proof of mailbox control (SEC-11): the signature then vouches for the domain
    and not for the mailbox in From, so any user of the domain could sign a reply and name the
    identifier afterwards. Every other field can be rewritten without turning a reply into
    proof for anyone: the digest sits in the signed body and binds this email's token-part1
    (which only the mailbox received), this authorization's token-part2 and the account key, so
    an unsigned Subject, To, Date, Content-Type or the rest can spoil a reply, not forge one.
    """
    await authenticated(ca)
    flow = await ca.flow()
    reply = flow.reply()
    if left_out in ("sender", "reply-to"):
        reply = reply.with_header(left_out.title(), flow.address)
    elif left_out == "cc":
        reply = reply.with_cc(ca.new_address("other.test"))
    names = tuple(name for name in DEFAULT_DKIM_HEADERS if name != left_out)
    signed = provider_signed(ca, reply, headers=names).build()
    await ca.deliver_direct(flow.address, signed, source_address=UNAUTHORISED_SOURCE)
    proof = left_out == "from"
    requirement = "REF-6376-1" if proof else "RESP-DKIM-2"
    await expect_rejected(ca, conformance, flow, requirement, f"h= without {left_out}", proof=proof)


@covers("RESP-DKIM-5", "SEC-11")
@pytest.mark.needs("barrier")
async def test_body_length_limit_with_appended_block(
    ca: ServerSuite, conformance: Conformance
) -> None:
    """``l=`` signs a body without a block; the block appended after it does not count.

    From an address SPF does not authorise, so the signature alone decides (as in
    ``test_misaligned_dkim_domain``): a CA that let the short ``l=`` pass would otherwise still
    refuse the reply as SPF-only (SEC-10).
    """
    await authenticated(ca)
    flow = await ca.flow()
    reply = flow.reply()
    signed_part = reply.with_marker_lines(None, None).with_digest("Hello.")
    builder = provider_signed(ca, signed_part, body_length=True)
    await ca.deliver_direct(
        flow.address,
        builder.with_appended_unsigned_text(reply.block()).build(),
        source_address=UNAUTHORISED_SOURCE,
    )
    await expect_rejected(ca, conformance, flow, "RESP-DKIM-5", "a block outside l=", proof=True)


@covers("RESP-FROM-1", "SEC-11")
@pytest.mark.needs("barrier")
async def test_reply_from_another_address(ca: ServerSuite, conformance: Conformance) -> None:
    """A signed reply from another mailbox of the same domain does not validate."""
    flow = await ca.flow()
    stranger = ca.new_address(flow.address.rpartition("@")[2])
    builder = provider_signed(ca, flow.reply().with_from(stranger))
    await ca.deliver_direct(stranger, builder.build())
    await expect_rejected(ca, conformance, flow, "RESP-FROM-1", f"From {stranger}", proof=True)


@covers("RESP-LIST-1", "SEC-3")
@pytest.mark.needs("barrier")
@pytest.mark.parametrize(
    ("name", "after_signing"),
    [
        ("List-Id", False),
        ("List-Post", False),
        ("List-Unsubscribe", False),
        ("List-Id", True),
    ],
    ids=["List-Id", "List-Post", "List-Unsubscribe", "List-Id-after-signing"],
)
async def test_list_headers(
    ca: ServerSuite, conformance: Conformance, name: str, after_signing: bool
) -> None:
    """A reply carrying a List-* field came through a list: refused, signed or added later.

    The late field is outside ``h=`` (no oversigning), so the signature still verifies.
    """
    flow = await ca.flow()
    value = "<https://lists.example.test/acme>"
    if after_signing:
        unlisted = tuple(h for h in DEFAULT_DKIM_HEADERS if not h.lower().startswith("list-"))
        signed = provider_signed(ca, flow.reply(), headers=unlisted)
        builder = signed.with_list_header(name, value, after_signing=True)
        await ca.deliver_direct(flow.address, builder.build())
    else:
        await send_signed(ca, flow, flow.reply().with_list_header(name, value))
    where = "added after signing" if after_signing else "signed"
    decision = await expect_rejected(ca, conformance, flow, "RESP-LIST-1", f"{name} {where}")
    conformance.record(passed("SEC-3", f"a reply with {name} {where}: {decision}"))


@pytest.mark.needs("barrier")
@pytest.mark.parametrize(
    "layout",
    [
        pytest.param("html-only", marks=covers("RESP-BODY-1")),
        pytest.param("block-only-in-html", marks=covers("RESP-HTML-1")),
        pytest.param("multipart-mixed", marks=covers("RESP-BODY-1")),
    ],
)
async def test_block_outside_text_plain(
    ca: ServerSuite, conformance: Conformance, layout: str
) -> None:
    """The block must be in text/plain (alone or in multipart/alternative); mixed is recorded."""
    flow = await ca.flow()
    reply = flow.reply()
    if layout == "html-only":
        builder, requirement = reply.as_html_only(), "RESP-BODY-1"
    elif layout == "block-only-in-html":
        builder, requirement = reply.with_block_only_in_html(), "RESP-HTML-1"
    else:
        await send_signed(ca, flow, reply.as_mixed())
        await record_outcome(ca, conformance, flow, "RESP-BODY-1", "a multipart/mixed reply")
        return
    await send_signed(ca, flow, builder)
    await expect_rejected(ca, conformance, flow, requirement, layout)


@covers("RESP-BODY-2")
@pytest.mark.needs("barrier")
@pytest.mark.parametrize(
    "fault", [*MISSPELT_MARKERS, "digest-31-octets", "digest-33-octets", "empty-block"]
)
async def test_malformed_block(ca: ServerSuite, conformance: Conformance, fault: str) -> None:
    """Misspelt or missing marker lines, or a digest of other than 32 octets: not validated."""
    flow = await ca.flow()
    reply = flow.reply()
    if fault in MISSPELT_MARKERS:
        builder = reply.with_marker_lines(*MISSPELT_MARKERS[fault])
    elif fault == "empty-block":
        builder = reply.with_digest("")
    else:
        right = b64url_decode(reply.digest)
        octets = right[:31] if fault == "digest-31-octets" else right + b"\0"
        builder = reply.with_digest(b64url_encode(octets))
    await send_signed(ca, flow, builder)
    await expect_rejected(ca, conformance, flow, "RESP-BODY-2", fault)


@covers("RESP-BODY-2")
@pytest.mark.needs("barrier")
@pytest.mark.parametrize("order", ["wrong-then-right", "right-then-wrong"])
async def test_two_blocks(ca: ServerSuite, conformance: Conformance, order: str) -> None:
    """Two blocks with different digests: the right one second must not help; INFO otherwise."""
    flow = await ca.flow()
    reply = flow.reply()
    wrong = random_digest()
    if order == "wrong-then-right":
        await send_signed(ca, flow, reply.with_digest(wrong).with_second_block(reply.digest))
        await expect_rejected(
            ca,
            conformance,
            flow,
            "RESP-BODY-2",
            "a wrong block before a right one",
            severity="risk",
        )
        return
    await send_signed(ca, flow, reply.with_second_block(wrong))
    await record_outcome(ca, conformance, flow, "RESP-BODY-2", "a right block, then a wrong one")


@covers("KA-3")
@pytest.mark.needs("barrier")
async def test_raw_key_authorization(ca: ServerSuite, conformance: Conformance) -> None:
    """The key authorization itself instead of its SHA-256 digest does not validate."""
    flow = await ca.flow()
    token = acme_token(flow.token_part1, flow.token_part2, Concatenation.STRING)
    raw = key_authorization(token, flow.account.thumbprint)
    await send_signed(ca, flow, flow.reply().with_digest(raw))
    await expect_rejected(ca, conformance, flow, "KA-3", "the raw key authorization")


async def flow_with_standard_base64(ca: ServerSuite) -> tuple[ChallengeFlow, str]:
    """A flow whose digest in standard base64 differs from base64url (has '+' or '/').

    A digest has no such character with probability 2^-43 or so per try; eight tries that all
    miss mean the harness is broken, not the CA.
    """
    for _ in range(8):
        flow = await ca.flow()
        standard = base64.b64encode(b64url_decode(flow.reply().digest)).decode("ascii")
        if "+" in standard or "/" in standard:
            return flow, standard
    raise HarnessError("no digest with '+' or '/' in standard base64 over 8 orders")


@covers("KA-3", "SEC-11")
@pytest.mark.needs("barrier")
@pytest.mark.parametrize("form", ["hex", "standard-base64"])
async def test_other_digest_encodings(ca: ServerSuite, conformance: Conformance, form: str) -> None:
    """The right octets in hex or standard base64: recorded on KA-3 (the row leaves it open);
    accepting them is a break of SEC-11, which admits only base64url
    (docs/decisions.md#decision-8)."""
    if form == "hex":
        flow = await ca.flow()
        written = b64url_decode(flow.reply().digest).hex()
    else:
        flow, written = await flow_with_standard_base64(ca)
    await send_signed(ca, flow, flow.reply().with_digest(written))
    decision = await record_outcome(ca, conformance, flow, "KA-3", f"the right digest in {form}")
    judge(
        conformance,
        "SEC-11",
        not decision.validated,
        f"the right digest in {form}: {decision}",
        "not validated: only base64url of the digest proves the key authorization",
    )


@pytest.mark.needs("barrier")
@pytest.mark.parametrize(
    "fault",
    [
        pytest.param("parts-swapped", marks=covers("KA-1", "SEC-11", "SRV-VAL-2")),
        pytest.param("no-token-part1", marks=covers("KA-1", "SEC-11", "SRV-VAL-2")),
        pytest.param("no-token-part2", marks=covers("KA-1", "SEC-11", "SRV-VAL-2")),
        pytest.param(
            "another-accounts-thumbprint", marks=covers("KA-2", "SEC-7", "SEC-11", "SRV-VAL-2")
        ),
    ],
)
async def test_digest_built_wrongly(ca: ServerSuite, conformance: Conformance, fault: str) -> None:
    """A digest of a key authorization that is not this challenge's does not validate: the
    token parts swapped, token-part1 left out (token-part2 alone, as http-01 code would build
    it), token-part2 left out, or the thumbprint of another account that ordered the address.

    Each voids the proof of mailbox control (SEC-11): without token-part1, which only the
    mailbox received, anyone holding the account key computes the digest from the ACME side
    alone; without token-part2 or the thumbprint, the reply is bound to no authorization or
    account; swapped parts are no key authorization of RFC 8823 §3 step 6. The reply comes
    from the identifier and is authentic, so its wrong digest fails the challenge (SRV-VAL-2)
    however the digest went wrong.
    """
    flow = await ca.flow()
    part1, part2 = flow.token_part1, flow.token_part2
    requirement = "KA-1"
    if fault == "parts-swapped":
        digest = digest_for(flow, acme_token(part2, part1, Concatenation.STRING))
    elif fault == "no-token-part1":
        digest = digest_for(flow, part2)
    elif fault == "no-token-part2":
        digest = digest_for(flow, without_whitespace(part1))
    else:
        other = await ca.account(fresh=True)
        await other.new_order(flow.address)
        token = acme_token(part1, part2, Concatenation.STRING)
        digest = digest_for(flow, token, other.thumbprint)
        requirement = "KA-2"
    await send_signed(ca, flow, flow.reply().with_digest(digest))
    decision = await expect_rejected(ca, conformance, flow, requirement, fault, proof=True)
    judge(
        conformance,
        "SRV-VAL-2",
        decision.status == "invalid",
        f"{decision} after a digest with {fault} from the identifier",
        "challenge invalid",
    )
    if fault == "another-accounts-thumbprint":
        conformance.record(passed("SEC-7", f"another account's digest: {decision}"))


@covers("SRV-VAL-3", "SEC-5", "SEC-11")
@pytest.mark.needs("barrier")
@pytest.mark.parametrize(
    "replay", ["old-reply-again", "old-digest", "other-authz-token", "earlier-token-part1"]
)
async def test_replayed_or_foreign_token(
    ca: ServerSuite, conformance: Conformance, replay: str
) -> None:
    """A reply made for another authorization of the same address never validates this one.

    ``earlier-token-part1``: this challenge's Subject and token-part2, but the token-part1 of
    an earlier challenge email to the same address in the digest. A CA that accepts it lets
    one old challenge email prove control for every later authorization (SEC-11).
    """
    account = await ca.account()
    address = ca.new_address()
    earlier = await ca.flow(account, address)
    if replay in ("earlier-token-part1", "other-authz-token"):
        flow = await another_authorization(ca, account, address, earlier)
        if flow.token_part1 == earlier.token_part1:
            seen = f"both challenge emails carry token-part1 {flow.token_part1!r} (TOK-2's)"
            for rid in ("SRV-VAL-3", "SEC-5", "SEC-11"):
                conformance.info(rid, f"{seen}: no earlier token-part1 to tell from this one")
            return
    if replay == "earlier-token-part1":
        token = acme_token(earlier.token_part1, flow.token_part2, Concatenation.STRING)
        await send_signed(ca, flow, flow.reply().with_digest(digest_for(flow, token)))
        what = "an earlier challenge's token-part1 joined with this token-part2"
        decision = await expect_rejected(ca, conformance, flow, "SRV-VAL-3", what, proof=True)
        conformance.record(passed("SEC-5", f"{what}: {decision}"))
        return
    if replay == "other-authz-token":
        await post_once(earlier)
        builder = flow.reply().with_subject(f"Re: ACME: {earlier.token_part1}")
        await send_signed(ca, flow, builder)
        decision = await expect_rejected(
            ca, conformance, flow, "SRV-VAL-3", "another authorization's token", proof=True
        )
        named = await current_decision(earlier)
        judge(
            conformance,
            "SRV-VAL-3",
            not named.validated,
            f"the authorization named in the Subject, given another one's digest: {named}",
            "not validated",
        )
        conformance.record(passed("SEC-5", f"another authorization's token: {decision}"))
        return
    old = provider_signed(ca, earlier.reply()).build()
    await ca.deliver_direct(address, old)
    validated = await decision_when_valid(earlier)
    if not validated.validated:
        raise Blocked(VALIDATION, f"{validated} after the earlier order's correct reply")
    flow = await another_authorization(ca, account, address, earlier)
    if replay == "old-reply-again":
        await ca.deliver_direct(address, old)
    else:
        await send_signed(ca, flow, flow.reply().with_digest(earlier.reply().digest))
    decision = await expect_rejected(
        ca, conformance, flow, "SRV-VAL-3", f"{replay} of a validated order", proof=True
    )
    conformance.record(passed("SEC-5", f"{replay} of a validated order: {decision}"))


@covers("SEC-10", "SEC-11")
@pytest.mark.needs("barrier")
async def test_spf_pass_without_dkim(ca: ServerSuite, conformance: Conformance) -> None:
    """Unsigned, from the address the domain's SPF authorises: SPF alone authenticates nothing.

    Judged only of a CA that refuses the same reply from a source SPF does not authorise
    (``replies.authenticated``): one that takes unsigned mail anyway is not relying on SPF."""
    await authenticated(ca)
    flow = await ca.flow()
    await ca.deliver_direct(flow.address, flow.reply().build())
    await expect_rejected(
        ca, conformance, flow, "SEC-10", "SPF pass and no DKIM signature", proof=True
    )


@covers("RESP-DKIM-1")
@pytest.mark.needs("barrier")
async def test_smime_signed_reply_without_dkim(ca: ServerSuite, conformance: Conformance) -> None:
    """An S/MIME-signed reply with no DKIM signature: behaviour recorded (strictly not enough)."""
    flow = await ca.flow()
    identity = ca.world.pki.smime_signer(flow.address)
    await ca.deliver_direct(flow.address, flow.reply().signed_smime(identity).build())
    await record_outcome(
        ca, conformance, flow, "RESP-DKIM-1", "an S/MIME-only reply", "§3.2 asks for DKIM"
    )
