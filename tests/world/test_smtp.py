"""The world's SMTP listeners, mailboxes and sending helper, over real loopback SMTP."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import trustme

from rfc8823.world.mailstore import MailStore, ReceivedMessage, mailbox_key
from rfc8823.world.sendmail import SendError, send_message, send_message_async
from rfc8823.world.smtp import SmtpServer

SENDER = "ca@issuer.test"
ALICE = "alice@example.test"
BOB = "bob@example.test"


def message(subject: str, body: bytes = b"Hello.\r\n") -> bytes:
    """A small RFC 5322 message with CRLF line endings."""
    head = f"From: {SENDER}\r\nTo: {ALICE}\r\nSubject: {subject}\r\n\r\n".encode()
    return head + body


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def threaded_server() -> Iterator[SmtpServer]:
    with SmtpServer(name="mx-threaded") as server:
        yield server


async def test_plain_delivery_records_envelope_and_session() -> None:
    """A plain SMTP transaction lands in the recipient's queue with envelope and session facts."""
    async with SmtpServer(name="mx1") as server:
        result = await send_message_async(
            *server.address, mail_from=SENDER, rcpt_tos=[ALICE], data=message("plain")
        )
        msg = await server.store.next_for(ALICE, 2.0)
    assert result.code == 250
    assert not result.tls
    assert "smtputf8" in result.extensions
    assert msg.mail_from == SENDER
    assert msg.rcpt_tos == (ALICE,)
    assert msg.data == message("plain")
    assert msg.peer[0] == "127.0.0.1"
    assert msg.helo == "localhost"
    assert (msg.tls, msg.auth_user, msg.smtputf8) == (False, None, False)
    assert msg.listener == "mx1"
    assert msg.seq == 0


async def test_null_reverse_path_is_recorded_as_empty() -> None:
    """MAIL FROM:<> (a bounce or auto-reply) is accepted and recorded as an empty sender."""
    async with SmtpServer() as server:
        await send_message_async(*server.address, mail_from="", rcpt_tos=[ALICE], data=message("n"))
        msg = await server.store.next_for(ALICE, 2.0)
    assert msg.mail_from == ""


async def test_starttls_delivery(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    """After STARTTLS the message is recorded as received over TLS."""
    async with SmtpServer(tls="starttls", ssl_context=server_tls) as server:
        result = await send_message_async(
            *server.address,
            mail_from=SENDER,
            rcpt_tos=[ALICE],
            data=message("starttls"),
            tls="starttls",
            ssl_context=client_tls,
        )
        msg = await server.store.next_for(ALICE, 2.0)
    assert result.tls
    assert msg.tls


async def test_require_starttls_refuses_mail_before_starttls(server_tls: ssl.SSLContext) -> None:
    """With require_starttls, MAIL over the plain session is refused with 530."""
    async with SmtpServer(tls="starttls", ssl_context=server_tls, require_starttls=True) as server:
        with pytest.raises(SendError) as refused:
            await send_message_async(
                *server.address, mail_from=SENDER, rcpt_tos=[ALICE], data=message("x")
            )
        assert server.store.messages() == []
    assert (refused.value.stage, refused.value.code) == ("mail", 530)
    assert "STARTTLS" in str(refused.value)


async def test_starttls_with_untrusted_certificate_fails_as_tls(
    server_tls: ssl.SSLContext,
) -> None:
    """A client that cannot verify the server certificate reports a TLS-stage failure."""
    async with SmtpServer(tls="starttls", ssl_context=server_tls) as server:
        with pytest.raises(SendError) as failed:
            await send_message_async(
                *server.address,
                mail_from=SENDER,
                rcpt_tos=[ALICE],
                data=message("x"),
                tls="starttls",
                ssl_context=ssl.create_default_context(),
            )
    assert failed.value.stage == "tls"
    assert failed.value.code is None


async def test_implicit_tls_delivery(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    """Implicit TLS (TLS from the first byte) delivers and records tls=True."""
    async with SmtpServer(tls="implicit", ssl_context=server_tls) as server:
        result = await send_message_async(
            *server.address,
            mail_from=SENDER,
            rcpt_tos=[ALICE],
            data=message("implicit"),
            tls="implicit",
            ssl_context=client_tls,
        )
        msg = await server.store.next_for(ALICE, 2.0)
    assert result.tls
    assert msg.tls


@pytest.fixture
async def submission(server_tls: ssl.SSLContext) -> AsyncIterator[SmtpServer]:
    async with SmtpServer(
        name="submission",
        tls="implicit",
        ssl_context=server_tls,
        auth={"alice": "s3cret"},
        auth_required=True,
    ) as server:
        yield server


async def test_auth_plain_success_records_user(
    submission: SmtpServer, client_tls: ssl.SSLContext
) -> None:
    """AUTH with the right password is accepted and the user is recorded on the message."""
    await send_message_async(
        *submission.address,
        mail_from=SENDER,
        rcpt_tos=[ALICE],
        data=message("auth"),
        tls="implicit",
        ssl_context=client_tls,
        auth=("alice", "s3cret"),
    )
    msg = await submission.store.next_for(ALICE, 2.0)
    assert msg.auth_user == "alice"


async def test_auth_wrong_password_is_refused(
    submission: SmtpServer, client_tls: ssl.SSLContext
) -> None:
    """AUTH with a wrong password fails with 535 at the auth stage."""
    with pytest.raises(SendError) as refused:
        await send_message_async(
            *submission.address,
            mail_from=SENDER,
            rcpt_tos=[ALICE],
            data=message("auth"),
            tls="implicit",
            ssl_context=client_tls,
            auth=("alice", "wrong"),
        )
    assert (refused.value.stage, refused.value.code) == ("auth", 535)


async def test_auth_required_refuses_unauthenticated_mail(
    submission: SmtpServer, client_tls: ssl.SSLContext
) -> None:
    """With auth_required, MAIL before AUTH is refused with 530."""
    with pytest.raises(SendError) as refused:
        await send_message_async(
            *submission.address,
            mail_from=SENDER,
            rcpt_tos=[ALICE],
            data=message("x"),
            tls="implicit",
            ssl_context=client_tls,
        )
    assert (refused.value.stage, refused.value.code) == ("mail", 530)


def test_auth_login_over_plain_when_explicitly_allowed() -> None:
    """AUTH LOGIN over a plain session works only because auth_over_plain was asked for."""
    with SmtpServer(auth={"bob": "pw"}, auth_over_plain=True) as server:
        client = smtplib.SMTP(*server.address, local_hostname="localhost", timeout=5)
        try:
            client.ehlo()
            client.user, client.password = "bob", "pw"
            code, _ = client.auth("LOGIN", client.auth_login)
        finally:
            client.quit()
    assert code == 235


def test_no_auth_configured_means_no_auth_advertised(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    """A server without users does not offer AUTH, even under TLS."""
    with SmtpServer(tls="starttls", ssl_context=server_tls) as server:
        client = smtplib.SMTP(*server.address, local_hostname="localhost", timeout=5)
        try:
            client.starttls(context=client_tls)
            client.ehlo()
            offered = client.has_extn("auth")
        finally:
            client.quit()
    assert not offered


async def test_size_limit_refused_at_mail() -> None:
    """A declared SIZE over max_size is refused with 552 (RFC 1870)."""
    async with SmtpServer(max_size=200) as server:
        with pytest.raises(SendError) as refused:
            await send_message_async(
                *server.address, mail_from=SENDER, rcpt_tos=[ALICE], data=message("big", b"x" * 300)
            )
        assert server.store.messages() == []
    assert (refused.value.stage, refused.value.code) == ("mail", 552)


def test_size_limit_refused_at_data_without_declared_size() -> None:
    """Oversize DATA without a SIZE parameter is refused with 552 after the final dot."""
    with SmtpServer(max_size=200) as server:
        client = smtplib.SMTP(*server.address, local_hostname="localhost", timeout=5)
        try:
            client.ehlo()
            client.mail(SENDER)
            client.rcpt(ALICE)
            code, _ = client.data(message("big", b"x" * 300))
        finally:
            client.quit()
        assert server.store.messages() == []
    assert code == 552


async def test_accept_domains_refuses_other_domains() -> None:
    """Recipients outside accept_domains get 550 5.1.1; the domain match ignores case."""
    async with SmtpServer(accept_domains={"example.test"}) as server:
        await send_message_async(
            *server.address, mail_from=SENDER, rcpt_tos=["carol@EXAMPLE.Test"], data=message("ok")
        )
        with pytest.raises(SendError) as refused:
            await send_message_async(
                *server.address,
                mail_from=SENDER,
                rcpt_tos=[ALICE, "dave@elsewhere.test"],
                data=message("no"),
            )
        assert len(server.store.messages()) == 1
    error = refused.value
    assert (error.stage, error.code) == ("rcpt", 550)
    assert list(error.refused) == ["dave@elsewhere.test"]
    assert error.refused["dave@elsewhere.test"][1].startswith("5.1.1")


async def test_exact_bytes_preserved_with_smtputf8() -> None:
    """DATA is stored byte for byte: dot-unstuffed, CRLF kept, long lines and UTF-8 intact."""
    long_line = b"L" * 998
    body = (
        b".leading dot\r\n"
        b"..two dots\r\n"
        b".\tdot tab\r\n" + long_line + b"\r\n"
        b"Gr\xc3\xbc\xc3\x9fe, \xe4\xb8\x96\xe7\x95\x8c\r\n"
        b"trailing space \r\n"
    )
    data = (
        "From: Jörg <jörg@issuer.test>\r\nTo: ünïcode@example.test\r\nSubject: ümlaut\r\n\r\n"
    ).encode() + body
    async with SmtpServer() as server:
        await send_message_async(
            *server.address,
            mail_from="jörg@issuer.test",
            rcpt_tos=["ünïcode@example.test"],
            data=data,
            smtputf8=True,
        )
        msg = await server.store.next_for("ünïcode@example.test", 2.0)
    assert msg.data == data
    assert msg.smtputf8
    assert msg.mail_from == "jörg@issuer.test"
    assert msg.rcpt_tos == ("ünïcode@example.test",)


async def test_utf8_commands_without_smtputf8_are_recorded_as_such() -> None:
    """A client ignoring RFC 6531 §3.4 (UTF-8 envelope, no SMTPUTF8) is accepted and seen so."""
    data = "From: jörg@issuer.test\r\nTo: u@example.test\r\n\r\nhi\r\n".encode()
    async with SmtpServer() as server:
        await send_message_async(
            *server.address,
            mail_from="jörg@issuer.test",
            rcpt_tos=["u@example.test"],
            data=data,
            utf8_undeclared=True,
        )
        msg = await server.store.next_for("u@example.test", 2.0)
        with pytest.raises(SendError, match="mail"):
            await send_message_async(
                *server.address, mail_from="jörg@issuer.test", rcpt_tos=["u@x"], data=data
            )
    assert (msg.mail_from, msg.smtputf8) == ("jörg@issuer.test", False)


async def test_source_address_is_recorded_as_peer() -> None:
    """A client bound to 127.0.0.2 is seen (e.g. by SPF) as 127.0.0.2."""
    async with SmtpServer() as server:
        await send_message_async(
            *server.address,
            mail_from=SENDER,
            rcpt_tos=[ALICE],
            data=message("src"),
            source_address="127.0.0.2",
            helo="mail.issuer.test",
        )
        msg = await server.store.next_for(ALICE, 2.0)
    assert msg.peer[0] == "127.0.0.2"
    assert msg.helo == "mail.issuer.test"


async def test_per_recipient_cursors_keep_order() -> None:
    """Each recipient's queue yields its messages once, in arrival order."""
    async with SmtpServer() as server:
        for subject, rcpt in (("a1", ALICE), ("b1", BOB), ("a2", ALICE)):
            await send_message_async(
                *server.address, mail_from=SENDER, rcpt_tos=[rcpt], data=message(subject)
            )
        store = server.store
        first, second = await store.next_for(ALICE, 2.0), await store.next_for(ALICE, 2.0)
        for_bob = await store.next_for(BOB, 2.0)
        with pytest.raises(TimeoutError):
            await store.next_for(ALICE, 0.02)
    assert [first.data, second.data] == [message("a1"), message("a2")]
    assert for_bob.data == message("b1")
    assert [m.seq for m in store.messages()] == [0, 1, 2]
    assert store.messages(ALICE) == [first, second]


async def test_next_for_waits_for_a_later_message() -> None:
    """A waiter parked before the message arrives is woken by its delivery."""
    async with SmtpServer() as server:
        waiting = asyncio.create_task(server.store.next_for(ALICE, 5.0))
        await asyncio.sleep(0)
        await send_message_async(
            *server.address, mail_from=SENDER, rcpt_tos=[ALICE], data=message("later")
        )
        msg = await waiting
    assert msg.data == message("later")


def test_async_wait_in_another_loop_than_a_threaded_server(threaded_server: SmtpServer) -> None:
    """A threaded server's delivery wakes a waiter on a loop in the test's thread."""

    async def scenario() -> ReceivedMessage:
        waiting = asyncio.create_task(threaded_server.store.next_for(ALICE, 5.0))
        await asyncio.sleep(0)
        await send_message_async(
            *threaded_server.address, mail_from=SENDER, rcpt_tos=[ALICE], data=message("t")
        )
        return await waiting

    msg = asyncio.run(scenario())
    assert msg.listener == "mx-threaded"
    assert msg.data == message("t")


def test_sync_wait_with_threaded_server(threaded_server: SmtpServer) -> None:
    """wait_for blocks until the threaded server's delivery arrives."""
    send_message(*threaded_server.address, mail_from=SENDER, rcpt_tos=[BOB], data=message("s"))
    assert threaded_server.store.wait_for(BOB, 2.0).data == message("s")
    with pytest.raises(TimeoutError, match=r"no message for bob@example\.test within 0\.02 s"):
        threaded_server.store.wait_for(BOB, 0.02)


async def test_sync_wait_in_a_thread_with_async_server() -> None:
    """A blocking wait_for in a worker thread is woken by a server on the test's loop."""
    async with SmtpServer() as server:
        waiting = asyncio.create_task(asyncio.to_thread(server.store.wait_for, BOB, 5.0))
        await send_message_async(
            *server.address, mail_from=SENDER, rcpt_tos=[BOB], data=message("cross")
        )
        msg = await waiting
    assert msg.data == message("cross")


async def test_wait_for_refuses_to_block_an_event_loop() -> None:
    """The blocking wait refuses to run in an event loop thread instead of freezing it."""
    with pytest.raises(RuntimeError, match="await next_for"):
        MailStore().wait_for(ALICE, 0.01)


async def test_timeout_message_names_recipient_and_others() -> None:
    """A timed-out wait says who was waited for and what arrived for others."""
    async with SmtpServer() as server:
        await send_message_async(
            *server.address, mail_from=SENDER, rcpt_tos=[BOB], data=message("other")
        )
        with pytest.raises(TimeoutError) as timed_out:
            await server.store.next_for(ALICE, 0.02)
    assert str(timed_out.value) == (
        f"no message for {ALICE} within 0.02 s; 1 message for other recipients ({BOB})"
    )


async def test_multiple_recipients_fill_each_queue() -> None:
    """One transaction for three recipients appears once in the log and in each queue."""
    carol = "Carol@Example.TEST"
    async with SmtpServer() as server:
        await send_message_async(
            *server.address, mail_from=SENDER, rcpt_tos=[ALICE, BOB, carol], data=message("all")
        )
        got = [await server.store.next_for(r, 2.0) for r in (ALICE, BOB, "Carol@example.test")]
    assert len(server.store.messages()) == 1
    assert {m.seq for m in got} == {0}
    assert got[0].rcpt_tos == (ALICE, BOB, carol)


def test_mailbox_key_folds_domain_case_only() -> None:
    """Domains compare case-insensitively, local parts exactly (RFC 5321 §2.4)."""
    assert mailbox_key("Alice@Example.TEST") == "Alice@example.test"
    assert mailbox_key("Alice@example.test") != mailbox_key("alice@example.test")
    assert mailbox_key("postmaster") == "postmaster"


async def test_wait_until_matches_past_and_future_messages() -> None:
    """wait_until scans the whole log, including messages that arrive while waiting."""
    async with SmtpServer() as server:
        await send_message_async(
            *server.address, mail_from=SENDER, rcpt_tos=[BOB], data=message("token-1")
        )
        past = await server.store.wait_until(lambda m: b"token-1" in m.data, 2.0)

        def has_token_2(m: ReceivedMessage) -> bool:
            return b"token-2" in m.data

        waiting = asyncio.create_task(server.store.wait_until(has_token_2, 5.0))
        await asyncio.sleep(0)
        await send_message_async(
            *server.address, mail_from=SENDER, rcpt_tos=[ALICE], data=message("token-2")
        )
        future = await waiting

        def has_token_3(m: ReceivedMessage) -> bool:
            return b"token-3" in m.data

        with pytest.raises(TimeoutError, match="no message matching has_token_3"):
            await server.store.wait_until(has_token_3, 0.02)
    assert (past.seq, future.seq) == (0, 1)
    assert server.store.messages(BOB)[0] is past


async def test_expect_none_for() -> None:
    """expect_none_for passes on silence and fails when a message is waiting."""
    async with SmtpServer() as server:
        await server.store.expect_none_for(ALICE, 0.02)
        await send_message_async(
            *server.address, mail_from=SENDER, rcpt_tos=[ALICE], data=message("oops")
        )
        with pytest.raises(AssertionError, match=f"expected no message for {ALICE}"):
            await server.store.expect_none_for(ALICE, 0.02)


async def test_shared_store_and_on_message_hook() -> None:
    """Two listeners can share one store; the hook sees each stored message."""
    store = MailStore()
    seen: list[ReceivedMessage] = []

    async def hook(msg: ReceivedMessage) -> None:
        seen.append(msg)

    async with (
        SmtpServer(name="mx-a", store=store, on_message=hook) as mx_a,
        SmtpServer(name="mx-b", store=store, on_message=seen.append) as mx_b,
    ):
        for server in (mx_a, mx_b):
            await send_message_async(
                *server.address, mail_from=SENDER, rcpt_tos=[ALICE], data=message(server.name)
            )
    assert [m.listener for m in store.messages(ALICE)] == ["mx-a", "mx-b"]
    assert seen == store.messages()


async def test_failing_hook_answers_451() -> None:
    """A hook that raises turns into a temporary failure for the client."""

    def hook(msg: ReceivedMessage) -> None:
        raise LookupError("no route")

    async with SmtpServer(on_message=hook) as server:
        with pytest.raises(SendError) as failed:
            await send_message_async(
                *server.address, mail_from=SENDER, rcpt_tos=[ALICE], data=message("x")
            )
    assert (failed.value.stage, failed.value.code) == ("data", 451)


async def test_stop_drops_idle_connections_and_frees_port() -> None:
    """Stopping closes the listener and any open session promptly."""
    server = SmtpServer()
    await server.start_async()
    address = server.address
    client = await asyncio.to_thread(smtplib.SMTP, *address, local_hostname="x", timeout=5)
    await asyncio.to_thread(client.ehlo)
    await server.stop_async()
    with pytest.raises(smtplib.SMTPServerDisconnected):
        await asyncio.to_thread(client.noop)
    client.close()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.to_thread(smtplib.SMTP, *address, timeout=5)
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.port


def test_threaded_stop_ends_its_thread() -> None:
    """The threaded mode's thread ends on stop, and the server can start again."""
    server = SmtpServer(name="restartable")
    for _ in range(2):
        with server:
            assert any(t.name == "smtp-restartable" for t in threading.enumerate())
            send_message(*server.address, mail_from=SENDER, rcpt_tos=[ALICE], data=message("r"))
    assert not any(t.name == "smtp-restartable" for t in threading.enumerate())
    assert len(server.store.messages(ALICE)) == 2


def test_threaded_start_reports_bind_failure(threaded_server: SmtpServer) -> None:
    """A port already taken makes start() raise instead of hanging."""
    with pytest.raises(OSError, match="address already in use"):
        SmtpServer(port=threaded_server.port).start()


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"tls": "starttls"}, "needs an ssl_context"),
        ({"require_starttls": True}, "needs tls='starttls'"),
        ({"auth_required": True}, "needs auth"),
        ({"auth": {"u": "p"}}, "auth_over_plain"),
    ],
)
def test_impossible_options_are_refused(options: dict[str, Any], complaint: str) -> None:
    """Option combinations that could not behave as asked fail at construction."""
    with pytest.raises(ValueError, match=complaint):
        SmtpServer(**options)
