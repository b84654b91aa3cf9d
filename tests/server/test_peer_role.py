"""The reference CA configured as a test peer (the client suite's CA): the behaviours it varies.

When the challenge email goes out (``mail_at``, AMB-3), token-part1 padding (AMB-2), the
challenge variation, ``badNonce`` injection (A-NONCE-2), ``Retry-After`` on what is still
being validated (A-CHAL-4), decoy challenge types (FLOW-2) and the request log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from rfc8823.csr import build_csr
from rfc8823.messages.challenge import ChallengeEmail
from rfc8823.messages.headers import parse_acme_subject
from rfc8823.messages.mime import parse_message
from rfc8823.requirements import covers
from rfc8823.server.config import ServerConfig
from rfc8823.server.records import ReplyVerdict
from rfc8823.tokens import b64url_encode
from rfc8823.world.keys import cached_key

from .conftest import Flow

TIMEOUT = 10.0
BAD_NONCE = "urn:ietf:params:acme:error:badNonce"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"token_part1_octets": 24, "token_part1_padded": True}, "no '=' padding"),
        ({"mail_at": "order"}, "mail_at"),
        ({"retry_after": -1}, "negative"),
        ({"reject_nonces": -2}, "negative"),
        ({"decoy_challenge_types": ("email-reply-00",)}, "decoy"),
        ({"challenge_variant": "fold"}, "function"),
    ],
)
def test_peer_settings_are_checked(changes: dict[str, Any], message: str) -> None:
    """Settings that cannot work are refused when the configuration is made."""
    with pytest.raises(ValueError, match=message):
        ServerConfig(**changes)


def test_peer_behaviours_in_toml(tmp_path: Path) -> None:
    """mail_at, part1_padded and retry_after can be written in the TOML file."""
    path = tmp_path / "ca.toml"
    path.write_text(
        '[mail]\nmail_at = "post"\n[tokens]\npart1_octets = 32\npart1_padded = true\n'
        "[limits]\nretry_after = 3\n"
    )
    config = ServerConfig.from_toml(path)
    assert (config.mail_at, config.token_part1_padded, config.retry_after) == ("post", True, 3)


@covers("FLOW-3", "FLOW-7")
async def test_mail_at_post_sends_nothing_at_authz_fetch(
    ca_factory: Any, harness_for: Any, world: Any
) -> None:
    """With mail_at="post" the authorization fetch sends no email; the POST does."""
    server = ca_factory(mail_at="post")
    async with harness_for(server) as harness:
        account = await harness.new_account()
        address = world.new_address()
        order = (await account.new_order(address)).body
        authz = await account.fetch(order["authorizations"][0])
        challenge = next(c for c in authz["challenges"] if c["type"] == "email-reply-00")
        record = server.store.challenge(challenge["url"].rpartition("/")[2], server.clock())
        assert record is not None
        assert record.token_part1 is None
        assert record.sent_at is None
        response = await account.post(challenge["url"], {})
        assert response.json()["status"] == "processing"
        email = await world.store.next_for(address, TIMEOUT)
        assert parse_acme_subject(parse_message(email.data).first("Subject") or "").token_part1


@covers("KA-4", "REF-4648-1")
async def test_padded_token_part1_and_its_string_reading(ca_factory: Any, harness_for: Any) -> None:
    """token_part1_padded writes '=' in the Subject and accepts the padded string reading."""
    server = ca_factory(token_part1_octets=32, token_part1_padded=True)
    async with harness_for(server) as harness:
        account = await harness.new_account()
        flow = await harness.flow(account)
        token = parse_acme_subject(parse_message(flow.email.data).first("Subject") or "")
        assert token.token_part1 is not None
        assert token.token_part1.endswith("=")
        await harness.answer(flow)
        reply = await server.wait_for_reply(flow.challenge_url, TIMEOUT)
        assert reply.verdict is ReplyVerdict.ACCEPTED, reply


async def test_challenge_variant_rewrites_the_email(
    ca_factory: Any, harness_for: Any, world: Any
) -> None:
    """challenge_variant gets the signed builder and its result is what is sent."""

    def variant(email: ChallengeEmail) -> ChallengeEmail:
        assert email.dkim_signings, "the variant sees the signed builder"
        return email.with_reply_to("replies@ca.test").with_subject_folded()

    server = ca_factory(challenge_variant=variant)
    async with harness_for(server) as harness:
        account = await harness.new_account()
        flow = await harness.flow(account)
        message = parse_message(flow.email.data)
        assert message.first("Reply-To") == "replies@ca.test"
        assert "\r\n " in (message.first("Subject") or "")
        builder = flow.reply()
        assert builder.to == "replies@ca.test"
        await harness.answer(flow, builder)
        reply = await server.wait_for_reply(flow.challenge_url, TIMEOUT)
        assert reply.verdict is ReplyVerdict.ACCEPTED, reply


@covers("A-NONCE-2")
async def test_rejected_nonces_and_the_request_log(ca_factory: Any, harness_for: Any) -> None:
    """reject_nonces answers the first signed request badNonce with a fresh nonce; all logged."""
    server = ca_factory(reject_nonces=1, record_requests=True)
    account_key = cached_key("server-test-peer", "p256")
    payload = {"termsOfServiceAgreed": True}
    async with harness_for(server) as harness:
        url = await harness.acme.url("newAccount")
        first = await harness.acme.post_signed(url, payload, key=account_key, kid=None)
        assert first.status_code == 400
        assert first.json()["type"] == BAD_NONCE
        fresh = first.headers["Replay-Nonce"]
        second = await harness.acme.post_signed(
            url, payload, key=account_key, kid=None, nonce=fresh
        )
        assert second.status_code in (200, 201), second.text
        server.acme.reject_next_nonces(1)
        third = await harness.acme.post_signed(url, payload, key=account_key, kid=None)
        assert third.json()["type"] == BAD_NONCE
    log = server.acme.requests.entries()
    posts = [entry for entry in log if entry.method == "POST"]
    assert [entry.problem for entry in posts] == [BAD_NONCE, None, BAD_NONCE]
    assert posts[0].replay_nonce == fresh
    assert posts[1].nonce == fresh
    assert posts[1].payload_json() == payload
    assert posts[1].protected is not None
    assert "jwk" in posts[1].protected
    assert any(entry.method == "GET" and entry.url.endswith("/directory") for entry in log)


@covers("FLOW-2", "A-CHAL-4")
async def test_decoys_and_retry_after_on_a_waiting_authorization(
    ca_factory: Any, harness_for: Any
) -> None:
    """Decoy challenges come first and lead nowhere; a waiting authz carries Retry-After."""
    server = ca_factory(decoy_challenge_types=("http-01",), retry_after=2)
    async with harness_for(server) as harness:
        account = await harness.new_account()
        flow = await harness.flow(account)
        types = [c["type"] for c in flow.authz["challenges"]]
        assert types == ["http-01", "email-reply-00"]
        decoy = flow.authz["challenges"][0]
        refused = await account.post(decoy["url"], {})
        assert refused.status_code == 404
        posted = await flow.post_challenge()
        assert posted.headers["Retry-After"] == "2"
        waiting = await account.post(flow.order["authorizations"][0], None)
        assert waiting.headers["Retry-After"] == "2"
        await harness.answer(flow)
        await server.wait_for_challenge(flow.challenge_url, "valid", TIMEOUT)
        done = await account.post(flow.order["authorizations"][0], None)
        assert "Retry-After" not in done.headers
        assert [c["type"] for c in done.json()["challenges"]] == ["email-reply-00"]


async def test_no_retry_after_when_zero(ca_factory: Any, harness_for: Any) -> None:
    """retry_after=0 sends no Retry-After even while the challenge is processing."""
    server = ca_factory(retry_after=0)
    async with harness_for(server) as harness:
        account = await harness.new_account()
        flow = await harness.flow(account)
        posted = await flow.post_challenge()
        assert posted.json()["status"] == "processing"
        assert "Retry-After" not in posted.headers


def _dns_address_csr(address: str) -> str:
    """A CSR as certbot-based clients write it: rfc822Name and a dNSName holding the address."""
    key = cached_key("server-test-dns-address", "p256")
    extra = (x509.SubjectAlternativeName([x509.RFC822Name(address), x509.DNSName(address)]), False)
    csr = build_csr(key, [], "signing", extra_extensions=[extra])
    return b64url_encode(csr.public_bytes(serialization.Encoding.DER))


@covers("A-ORD-3", "CSR-ID-1")
@pytest.mark.parametrize("compatible", [True, False], ids=["compat", "strict"])
async def test_dns_identifier_holding_an_address_in_compat_mode(
    ca_factory: Any, harness_for: Any, world: Any, compatible: bool
) -> None:
    """accept_dns_address_identifiers: a dns identifier and a dNSName holding the address are
    taken as the email identifier, and the certificate names it as rfc822Name only (AMB-4);
    the strict CA refuses the order."""
    server = ca_factory(accept_dns_address_identifiers=compatible)
    async with harness_for(server) as harness:
        account = await harness.new_account()
        address = world.new_address()
        response = await account.new_order_raw([{"type": "dns", "value": address}])
        if not compatible:
            assert response.status_code == 400, response.text
            assert response.json()["type"].endswith(":rejectedIdentifier")
            return
        assert response.status_code == 201, response.text
        flow = Flow(account, address, response.headers["Location"], response.json())
        await flow.fetch_authz()
        await flow.receive(world)
        await harness.answer(flow)
        await flow.post_challenge()
        await server.wait_for_order(flow.order_url, "ready", TIMEOUT)
        final = await account.post(flow.order["finalize"], {"csr": _dns_address_csr(address)})
        assert final.status_code == 200, final.text
        download = await account.post(final.json()["certificate"], None)
    cert = x509.load_pem_x509_certificates(download.content)[0]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert list(san) == [x509.RFC822Name(address)]


@covers("CHAL-AUTH-1")
async def test_unsigned_challenges_mode(ca_factory: Any, harness_for: Any) -> None:
    """sign_challenges=False sends the challenge without any signature; S/MIME contradicts it."""
    server = ca_factory(sign_challenges=False)
    async with harness_for(server) as harness:
        flow = await harness.flow(await harness.new_account())
    message = parse_message(flow.email.data)
    assert message.first("DKIM-Signature") is None
    assert "multipart/signed" not in (message.first("Content-Type") or "")
    with pytest.raises(ValueError, match="contradicts"):
        ServerConfig(sign_challenges=False, smime_sign=True)
