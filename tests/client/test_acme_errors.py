"""Bad ACME servers: every failure is a typed error naming the step, the URL and the problem.

The scripted server of ``fake_acme`` produces what the reference CA never does: problem
documents where none are due, malformed JSON, wrong content types, ``badNonce`` on good
nonces, ``Retry-After``, authorizations that never finish, and no challenge email at all.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from rfc8823.acme.identifier import Identifier
from rfc8823.acme.objects import OrderStatus
from rfc8823.client.acme_client import AcmeClient, PollPolicy
from rfc8823.client.enroll import EnrollConfig, SmtpListen, Timeouts, enroll
from rfc8823.client.errors import (
    ChallengeError,
    EnrollmentError,
    EnrollmentTimeout,
    ExitCode,
)
from rfc8823.client.reply import SubmissionConfig
from rfc8823.world.keys import cached_key
from rfc8823.world.world import World

from .fake_acme import CHALLENGE_FROM, FakeAcme, Reply, problem
from .support import file_names

QUICK = PollPolicy(first=0.01, ceiling=0.05)


@pytest.fixture
async def fake(world: World) -> AsyncIterator[FakeAcme]:
    """A scripted ACME server on HTTPS, trusted through the world's TLS CA."""
    acme = FakeAcme()
    async with acme.serve(world.pki):
        yield acme


def _client(fake: FakeAcme, world: World, **options: object) -> AcmeClient:
    key = cached_key("client-test-account", "p256")
    return AcmeClient(
        fake.url("dir"),
        key,
        verify=world.client_ssl_context(),
        poll=QUICK,
        **options,  # type: ignore[arg-type]
    )


def _enroll_config(fake: FakeAcme, world: World, out_dir: Path) -> EnrollConfig:
    return EnrollConfig(
        directory_url=fake.url("dir"),
        email="user@example.test",
        mailbox=SmtpListen(),
        submission=SubmissionConfig("127.0.0.1", 9),
        out_dir=out_dir,
        ca_bundle=world.pki.ca_bundle_path(),
        dns=world.dns_endpoint,
        timeouts=Timeouts(email_grace=0.1, email=0.5, validation=1, issuance=1, total=10),
        poll=QUICK,
    )


async def test_bad_nonce_is_retried_with_the_fresh_nonce(fake: FakeAcme, world: World) -> None:
    """A-NONCE-2: after badNonce the client retries with the error's Replay-Nonce."""
    fake.script("account", problem("badNonce", "this nonce is stale"))
    async with _client(fake, world) as client:
        handle = await client.account()
        assert client.stats.bad_nonce_retries == 1
    assert handle.url == fake.url("acct/1")
    first, second = fake.seen("account")[:2]
    given = fake.nonces_given[fake.requests.index(first)]
    assert second.protected["nonce"] == given


async def test_bad_nonce_retries_are_bounded(fake: FakeAcme, world: World) -> None:
    """A-NONCE-2: a server that rejects every nonce ends in an error, not a loop."""
    fake.script("account", *[problem("badNonce", "never good enough")] * 10)
    async with _client(fake, world, max_nonce_retries=2) as client:
        with pytest.raises(EnrollmentError) as caught:
            await client.account()
    assert caught.value.problem is not None
    assert caught.value.problem.type.endswith(":badNonce")
    assert len(fake.seen("account")) == 3


async def test_problem_document_is_reported_with_step_and_url(fake: FakeAcme, world: World) -> None:
    """A-ERR-1: the problem's type and detail reach the user, with the step and URL."""
    fake.script("order", problem("rejectedIdentifier", "we do not certify this address"))
    async with _client(fake, world) as client:
        await client.account()
        with pytest.raises(EnrollmentError) as caught:
            await client.new_order([Identifier.email("user@example.test")])
    error = caught.value
    assert (error.step, error.url, error.status) == ("newOrder", fake.url("order"), 400)
    assert error.problem is not None
    assert error.problem.type == "urn:ietf:params:acme:error:rejectedIdentifier"
    assert "we do not certify this address" in str(error)
    assert error.exit_code is ExitCode.PROTOCOL


@pytest.mark.parametrize(
    ("path", "reply", "message"),
    [
        ("dir", Reply(200, b"<html>hello</html>", "text/html"), "got text/html"),
        ("dir", Reply(200, b'{"newNonce": ', "application/json"), "malformed JSON"),
        ("dir", Reply(200, {"newNonce": "x"}, "application/json"), "not a valid directory"),
        ("dir", Reply(503, b"maintenance", "text/plain"), r"not an application/problem\+json"),
    ],
    ids=["wrong-content-type", "malformed-json", "not-a-directory", "error-without-problem"],
)
async def test_malformed_responses_are_named(
    fake: FakeAcme, world: World, path: str, reply: Reply, message: str
) -> None:
    """A server that does not speak ACME JSON gets a clear error, not a traceback."""
    fake.script(path, reply)
    async with _client(fake, world) as client:
        with pytest.raises(EnrollmentError, match=message) as caught:
            await client.directory()
    assert caught.value.step == "directory"
    assert caught.value.url == fake.url("dir")


async def test_order_without_location_or_with_bad_json(fake: FakeAcme, world: World) -> None:
    """RFC 8555 §7.4: newOrder must name the order; its body must be an order object."""
    order = fake.body("order/1")
    fake.script(
        "order",
        Reply(201, order),
        Reply(201, b'{"status": "pending",', headers={"Location": fake.url("order/1")}),
    )
    async with _client(fake, world) as client:
        await client.account()
        with pytest.raises(EnrollmentError, match="no Location header"):
            await client.new_order([Identifier.email("user@example.test")])
        with pytest.raises(EnrollmentError, match="malformed JSON"):
            await client.new_order([Identifier.email("user@example.test")])


async def test_retry_after_is_honoured_when_polling(fake: FakeAcme, world: World) -> None:
    """RFC 8555 §8.2: the client waits as long as Retry-After says before polling again."""
    pending = Reply(body=fake.body("authz/1"), headers={"Retry-After": "1"})
    fake.script("authz/1", pending, Reply(body=fake.body("authz/1", status="valid")))
    async with _client(fake, world) as client:
        await client.account()
        await client.wait_authorization(fake.url("authz/1"), timeout=5)
        assert client.stats.retry_after_waits == [1.0]
    first, second = fake.seen("authz/1")
    assert second.at - first.at >= 0.95


async def test_polling_gives_up_at_its_deadline(fake: FakeAcme, world: World) -> None:
    """An order that stays pending ends in a timeout error (exit status 4)."""
    async with _client(fake, world) as client:
        await client.account()
        with pytest.raises(EnrollmentTimeout, match="still order pending") as caught:
            await client.wait_order(fake.url("order/1"), {OrderStatus.READY}, timeout=0.2)
    assert caught.value.exit_code is ExitCode.TIMEOUT


async def test_invalid_order_reports_its_error(fake: FakeAcme, world: World) -> None:
    """RFC 8555 §7.1.3: an invalid order's ``error`` is the reported problem."""
    failed = {"type": "urn:ietf:params:acme:error:badCSR", "detail": "key too weak"}
    fake.always("order/1", Reply(body=fake.body("order/1", status="invalid", error=failed)))
    async with _client(fake, world) as client:
        await client.account()
        with pytest.raises(EnrollmentError, match="key too weak") as caught:
            await client.wait_order(fake.url("order/1"), {OrderStatus.VALID}, timeout=1)
    assert caught.value.problem is not None
    assert caught.value.problem.type.endswith(":badCSR")


async def test_certificate_of_the_wrong_content_type(fake: FakeAcme, world: World) -> None:
    """A-CERT-1: the chain must come as application/pem-certificate-chain."""
    fake.script("cert/1", Reply(200, b"{}", "application/json"))
    async with _client(fake, world) as client:
        await client.account()
        with pytest.raises(EnrollmentError, match="pem-certificate-chain"):
            await client.certificate(fake.url("cert/1"))


async def test_unreachable_server(world: World) -> None:
    """A directory nobody serves is a connection error naming the URL."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        url = f"https://127.0.0.1:{unused.getsockname()[1]}/dir"
        async with AcmeClient(url, cached_key("client-test-account", "p256")) as client:
            with pytest.raises(EnrollmentError, match="ConnectError") as caught:
                await client.directory()
    assert caught.value.url == url


async def test_never_sent_email_is_a_clear_error_and_leaves_no_files(
    fake: FakeAcme, world: World, tmp_path: Path
) -> None:
    """docs/decisions.md#decision-4: the client POSTs after the grace period, then gives up with
    exit status 3."""
    out = tmp_path / "out"
    with pytest.raises(ChallengeError, match="no challenge email") as caught:
        await enroll(_enroll_config(fake, world, out))
    error = caught.value
    assert error.exit_code is ExitCode.CHALLENGE
    assert CHALLENGE_FROM in str(error)
    assert error.url == fake.url("chall/1")
    assert fake.seen("chall/1"), "the challenge was POSTed after the grace period"
    assert file_names(out) == []


async def test_authorization_without_email_reply_challenge(
    fake: FakeAcme, world: World, tmp_path: Path
) -> None:
    """FLOW-2: no email-reply-00 among the challenges is reported with what was offered."""
    http01 = {"type": "http-01", "url": fake.url("chall/2"), "status": "pending", "token": "t"}
    fake.always("authz/1", Reply(body=fake.body("authz/1", challenges=[http01])))
    with pytest.raises(ChallengeError, match=r"no email-reply-00 challenge offered.*http-01"):
        await enroll(_enroll_config(fake, world, tmp_path / "out"))


async def test_finalize_error_leaves_no_files(fake: FakeAcme, world: World, tmp_path: Path) -> None:
    """Bad input: a refused finalize writes neither key nor chain."""
    fake.always("authz/1", Reply(body=fake.body("authz/1", status="valid")))
    fake.always("order/1", Reply(body=fake.body("order/1", status="ready")))
    fake.script("order/1/finalize", problem("badCSR", "we dislike this CSR"))
    out = tmp_path / "out"
    config = _enroll_config(fake, world, out)
    with pytest.raises(EnrollmentError, match="we dislike this CSR") as caught:
        await enroll(replace(config, pkcs12=True))
    assert caught.value.step == "finalize"
    assert file_names(out) == []
