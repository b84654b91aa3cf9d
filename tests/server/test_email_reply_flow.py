"""The email-reply-00 engine end to end: challenge email out, reply in, states (RFC 8823 §3;
docs/decisions.md#decision-4; SRV-VAL-*)."""

import ssl
from typing import Any

import httpx
import pytest

from rfc8823.messages.challenge import (
    ChallengeExpectation,
    authenticate_challenge,
    inspect_challenge,
)
from rfc8823.messages.headers import parse_acme_subject
from rfc8823.messages.mime import parse_message
from rfc8823.requirements import covers
from rfc8823.server.config import ServerConfig
from rfc8823.server.records import ReplyVerdict
from rfc8823.server.runner import ReferenceServer
from rfc8823.tokens import b64url_decode, readings_agree
from rfc8823.world.sendmail import SendError

TIMEOUT = 10.0


def subject_of(data: bytes) -> str:
    """The Subject of a challenge email the reference CA sent (it always has one)."""
    subject = parse_message(data).first("Subject")
    assert subject is not None
    return subject


@covers("FLOW-3", "TOK-2", "TOK-3", "CHAL-OBJ-1", "CHAL-OBJ-2", "CHAL-OBJ-3", "SRV-VAL-1")
async def test_reply_then_post_validates(harness: Any) -> None:
    """Email at authz fetch; the reply first, then the POST: valid, authz valid, order ready."""
    account = await harness.new_account()
    flow = await harness.flow(account)
    challenge = flow.challenge
    assert challenge["type"] == "email-reply-00"
    assert challenge["from"] == "acme-challenge@ca.test"
    assert len(b64url_decode(challenge["token"])) >= 16
    token_part1 = parse_acme_subject(subject_of(flow.email.data)).token_part1
    assert token_part1 is not None
    assert len(b64url_decode(token_part1)) == 24
    assert readings_agree(token_part1, challenge["token"])
    await harness.answer(flow)
    reply = await harness.server.wait_for_reply(flow.challenge_url, TIMEOUT)
    assert reply.verdict is ReplyVerdict.ACCEPTED, reply
    assert (await account.fetch(flow.challenge_url))["status"] == "pending"
    response = await flow.post_challenge()
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "valid"
    assert "validated" in body
    assert 'rel="up"' in ",".join(response.headers.get_list("Link"))
    authz = await account.fetch(flow.order["authorizations"][0])
    assert authz["status"] == "valid"
    assert [c["status"] for c in authz["challenges"]] == ["valid"]
    assert (await account.fetch(flow.order_url))["status"] == "ready"


@covers("FLOW-7", "A-CHAL-2", "SRV-VAL-1")
async def test_post_then_reply_validates(harness: Any) -> None:
    """POST first (processing), then the reply: valid once both are in (AMB-3)."""
    account = await harness.new_account()
    flow = await harness.flow(account)
    response = await flow.post_challenge()
    assert response.json()["status"] == "processing"
    assert response.headers["Retry-After"] == "1"
    await harness.answer(flow)
    record = await harness.server.wait_for_challenge(flow.challenge_url, "valid", TIMEOUT)
    assert record.validated is not None
    await harness.server.wait_for_order(flow.order_url, "ready", TIMEOUT)


@covers("FLOW-3", "A-CHAL-2")
async def test_post_before_authz_fetch_sends_the_email(harness: Any) -> None:
    """A challenge POST sends the email if no authz fetch did (docs/decisions.md#decision-4)."""
    account = await harness.new_account()
    address = harness.world.new_address()
    order = (await account.new_order(address)).body
    authz_id = order["authorizations"][0].rpartition("/")[2]
    authz = harness.server.store.authorization(authz_id, harness.server.clock())
    url = f"{harness.server.base_url}acme/chall/{authz.challenge_ids[0]}"
    response = await account.post(url, {})
    assert response.status_code == 200
    assert response.json()["status"] == "processing"
    await harness.world.store.next_for(address, TIMEOUT)


@covers("CHAL-HDR-1", "CHAL-HDR-2", "CHAL-AUTO-1", "CHAL-AUTO-2", "CHAL-DKIM-1", "CHAL-DKIM-3")
async def test_challenge_email_conforms(harness: Any) -> None:
    """The email the CA sends passes the challenge inspector, DKIM included."""
    account = await harness.new_account()
    flow = await harness.flow(account)
    raw = flow.email.data
    auth = authenticate_challenge(
        raw, resolver=harness.world.resolver, trust_anchors=[harness.world.pki.trust_anchor_path]
    )
    report = inspect_challenge(
        raw,
        ChallengeExpectation(identifier=flow.address, challenge_from=flow.challenge["from"]),
        auth,
    )
    assert not report.failed_ids(), [str(f) for f in report.findings if f.verdict != "pass"]


@covers("SRV-VAL-2")
async def test_wrong_digest_from_the_identifier_is_incorrect_response(harness: Any) -> None:
    """An authentic reply with the wrong digest: challenge, authz and order invalid."""
    account = await harness.new_account()
    flow = await harness.flow(account)
    await harness.answer(flow, flow.reply().with_digest("A" * 43))
    record = await harness.server.wait_for_challenge(flow.challenge_url, "invalid", TIMEOUT)
    assert record.error is not None
    assert record.error.type.endswith(":incorrectResponse")
    challenge = await account.fetch(flow.challenge_url)
    assert challenge["error"]["type"] == "urn:ietf:params:acme:error:incorrectResponse"
    assert (await account.fetch(flow.order["authorizations"][0]))["status"] == "invalid"
    assert (await account.fetch(flow.order_url))["status"] == "invalid"


@covers("SEC-7", "SRV-VAL-2")
async def test_digest_for_another_account_never_validates(harness: Any) -> None:
    """A digest made with the thumbprint of another account that ordered the same address is
    named as such, and fails the challenge."""
    account = await harness.new_account()
    other = await harness.new_account("other-acct")
    flow = await harness.flow(account)
    await other.new_order(flow.address)
    await harness.answer(flow, flow.reply(thumbprint=other.thumbprint))
    reply = await harness.server.wait_for_reply(flow.challenge_url, TIMEOUT)
    assert reply.verdict is ReplyVerdict.INCORRECT
    assert "SEC-7" in reply.reasons


@covers("RESP-DKIM-1", "SEC-10")
async def test_unsigned_reply_is_ignored(harness: Any, tools: Any) -> None:
    """A reply without DKIM (SPF passes) is logged and ignored; the challenge stays pending."""
    account = await harness.new_account()
    flow = await harness.flow(account)
    await tools.deliver_direct(harness.world, harness.server, flow.address, flow.reply().build())
    reply = await harness.server.wait_for_reply(flow.challenge_url, TIMEOUT)
    assert reply.verdict is ReplyVerdict.IGNORED
    assert "RESP-DKIM-1" in reply.reasons
    await flow.post_challenge()
    assert (await account.fetch(flow.challenge_url))["status"] == "processing"
    await harness.answer(flow)
    await harness.server.wait_for_challenge(flow.challenge_url, "valid", TIMEOUT)


@covers("RESP-LIST-1", "SEC-3")
async def test_list_headers_are_ignored(harness: Any) -> None:
    """A reply carrying List-Id is ignored even with a correct digest and DKIM."""
    account = await harness.new_account()
    flow = await harness.flow(account)
    await harness.answer(flow, flow.reply().with_list_header("List-Id", "<list.example.test>"))
    reply = await harness.server.wait_for_reply(flow.challenge_url, TIMEOUT)
    assert reply.verdict is ReplyVerdict.IGNORED
    assert "RESP-LIST-1" in reply.reasons


@covers("SRV-VAL-3", "SRV-VAL-5", "TOK-2")
async def test_replayed_reply_of_an_old_order_does_not_validate_a_new_one(harness: Any) -> None:
    """The reply to order 1, re-sent for order 2 of the same address, stays with order 1."""
    account = await harness.new_account()
    first = await harness.flow(account)
    old_reply = first.reply()
    await harness.answer(first, old_reply)
    await first.post_challenge()
    await harness.server.wait_for_challenge(first.challenge_url, "valid", TIMEOUT)
    order = (await account.new_order(first.address)).body
    second_authz = await account.fetch(order["authorizations"][0])
    second_url = second_authz["challenges"][0]["url"]
    second_email = await harness.world.store.next_for(first.address, TIMEOUT)
    assert parse_acme_subject(subject_of(second_email.data)).token_part1 != (
        parse_acme_subject(subject_of(first.email.data)).token_part1
    )
    await account.post(second_url, {})
    await harness.answer(first, old_reply)
    reply = await harness.server.wait_for_reply(first.challenge_url, TIMEOUT, after=0)
    assert reply.challenge_id == first.challenge_url.rpartition("/")[2]
    duplicate = harness.server.store.replies(first.challenge_url.rpartition("/")[2])[-1]
    assert duplicate.verdict is ReplyVerdict.DUPLICATE
    assert (await account.fetch(second_url))["status"] == "processing"


@covers("SRV-VAL-6")
async def test_duplicate_reply_after_valid_is_harmless(harness: Any) -> None:
    """The same reply delivered twice after validation keeps the challenge valid."""
    account = await harness.new_account()
    flow = await harness.flow(account)
    await flow.post_challenge()
    await harness.answer(flow)
    await harness.server.wait_for_challenge(flow.challenge_url, "valid", TIMEOUT)
    await harness.answer(flow)
    challenge_id = flow.challenge_url.rpartition("/")[2]
    first = harness.server.store.replies(challenge_id)[0]
    again = await harness.server.wait_for_reply(flow.challenge_url, TIMEOUT, after=first.id)
    assert again.verdict is ReplyVerdict.DUPLICATE
    assert (await account.fetch(flow.challenge_url))["status"] == "valid"


@covers("A-AUTHZ-2")
async def test_deactivated_authorization_is_not_revived_by_a_reply(harness: Any) -> None:
    """Deactivate, then a correct reply and POST: the authz stays deactivated."""
    account = await harness.new_account()
    flow = await harness.flow(account)
    authz_url = flow.order["authorizations"][0]
    response = await account.post(authz_url, {"status": "deactivated"})
    assert response.status_code == 200
    assert response.json()["status"] == "deactivated"
    await harness.answer(flow)
    reply = await harness.server.wait_for_reply(flow.challenge_url, TIMEOUT)
    assert reply.verdict is ReplyVerdict.LATE
    await flow.post_challenge()
    assert (await account.fetch(authz_url))["status"] == "deactivated"
    assert (await account.fetch(flow.challenge_url))["status"] == "pending"
    assert (await account.fetch(flow.order_url))["status"] == "invalid"


@covers("SRV-VAL-4", "A-STATE-1")
async def test_reply_after_expiry_does_not_validate(harness: Any, clock: Any) -> None:
    """Past the authorization's lifetime the authz is expired and a reply is late."""
    account = await harness.new_account()
    flow = await harness.flow(account)
    clock.offset = harness.server.config.authz_lifetime + 60
    assert (await account.fetch(flow.order["authorizations"][0]))["status"] == "expired"
    await harness.answer(flow)
    reply = await harness.server.wait_for_reply(flow.challenge_url, TIMEOUT)
    assert reply.verdict is ReplyVerdict.LATE
    assert (await account.fetch(flow.order_url))["status"] == "invalid"


@covers("SRV-VAL-3")
async def test_unknown_token_and_junk_mail_are_logged_and_ignored(harness: Any, tools: Any) -> None:
    """Unknown tokens, binary junk, broken MIME, huge headers and 10 MB bodies are logged and
    ignored; an over-long line is refused by SMTP; nothing crashes."""
    sender = harness.world.new_address()
    junk = [
        b"Subject: Re: ACME: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\nFrom: "
        + sender.encode()
        + b"\r\n\r\nx",
        (bytes(range(256)) + b"\r\n") * 64,
        b"Content-Type: multipart/mixed; boundary=x\r\nSubject: ACME: \xff\xfe\r\n\r\n--x\r\n",
        b"Subject: hi\r\nX-Long: " + b"a" * 900 + b"\r\n a" * 2000 + b"\r\n\r\nbody",
        b"Subject: Re: ACME: abc\r\n\r\n" + (b"A" * 76 + b"\r\n") * (10 * 1024 * 1024 // 78),
    ]
    before = len(harness.server.store.replies())
    for data in junk:
        result = await tools.deliver_direct(harness.world, harness.server, sender, data)
        assert result.code == 250
    with pytest.raises(SendError) as refused:
        await tools.deliver_direct(harness.world, harness.server, sender, b"X: " + b"a" * 5000)
    assert refused.value.code == 500
    entries = harness.server.store.replies()[before:]
    assert len(entries) == len(junk)
    assert {e.verdict for e in entries} == {ReplyVerdict.UNMATCHED}
    assert harness.server.acme.internal_errors == 0


@covers("SEC-8", "A-RATE-1")
async def test_challenge_mail_rate_limit_per_address(harness_for: Any, ca_factory: Any) -> None:
    """Past N challenge emails per address per window: rateLimited with Retry-After, no mail."""
    server = ca_factory(challenge_mails_per_window=2)
    async with harness_for(server) as harness:
        account = await harness.new_account()
        address = harness.world.new_address()
        for _ in range(2):
            await account.new_order(address)
        response = await account.post(
            await harness.acme.url("newOrder"),
            {"identifiers": [{"type": "email", "value": address}]},
        )
        assert response.status_code == 429
        assert response.json()["type"] == "urn:ietf:params:acme:error:rateLimited"
        assert int(response.headers["Retry-After"]) > 0
        other = harness.world.new_address()
        order_url = (await account.new_order(other)).url
        assert order_url


@covers("I18N-1", "I18N-4", "I18N-5")
async def test_internationalized_address_round_trip(harness: Any) -> None:
    """An EAI address (UTF-8 local part) gets its challenge over SMTPUTF8 and validates."""
    account = await harness.new_account()
    flow = await harness.flow(account, prefix="üser")
    assert flow.email.smtputf8
    await harness.answer(flow)
    await flow.post_challenge()
    await harness.server.wait_for_challenge(flow.challenge_url, "valid", TIMEOUT)


@covers("CHAL-AUTH-1", "CHAL-SMIME-1", "CHAL-BODY-2", "CHAL-BODY-3")
async def test_smime_signed_challenge_option(ca_factory: Any, harness_for: Any) -> None:
    """With ``smime_sign`` the challenge is S/MIME-signed with header protection, DKIM on top,
    and still conforms; the flow completes as usual."""
    server = ca_factory(smime_sign=True)
    async with harness_for(server) as harness:
        account = await harness.new_account()
        flow = await harness.flow(account)
        raw = flow.email.data
        assert parse_message(raw).content_type == "multipart/signed"
        auth = authenticate_challenge(
            raw,
            resolver=harness.world.resolver,
            trust_anchors=[harness.world.pki.trust_anchor_path],
        )
        expectation = ChallengeExpectation(flow.address, flow.challenge["from"])
        report = inspect_challenge(raw, expectation, auth)
        assert not report.failed_ids(), [str(f) for f in report.findings if f.verdict != "pass"]
        await harness.answer(flow)
        await flow.post_challenge()
        await server.wait_for_challenge(flow.challenge_url, "valid", TIMEOUT)


async def test_async_context_manager(world: Any, tmp_path: Any) -> None:
    """``async with ReferenceServer(...)`` starts and stops the CA around the block."""
    config = ServerConfig(resolver=world.dns_endpoint, mx_port=world.mx.port)
    async with ReferenceServer(config) as server:
        context = ssl.create_default_context(cafile=server.ca_bundle)
        async with httpx.AsyncClient(verify=context) as http:
            response = await http.get(server.directory_url)
    assert response.status_code == 200
