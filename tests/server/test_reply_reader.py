"""The reference CA reading replies from an IMAP mailbox (Dovecot) instead of listening."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from rfc8823.server.config import ServerConfig
from rfc8823.server.reply_reader import ImapReplyReader, received_from_mailbox
from rfc8823.targets.client import ImapAccount
from rfc8823.targets.dovecot import Dovecot, dovecot_binary
from rfc8823.world.mailstore import ReceivedMessage
from rfc8823.world.pki import TestPki
from rfc8823.world.trace import Trace, trace_fields

REPLY = b"From: user@example.test\r\nSubject: Re: ACME: abc\r\n\r\nbody\r\n"


def test_a_filed_message_gets_its_envelope_back_from_the_trace() -> None:
    trace = Trace("user@example.test", "mx.example.test", "127.0.0.11")
    raw = trace_fields(trace, by="mx.ca.test", tls=False) + REPLY
    message = received_from_mailbox(raw, "acme@ca.test", "7")
    assert (message.mail_from, message.helo, message.peer) == (
        "user@example.test",
        "mx.example.test",
        ("127.0.0.11", 0),
    )
    assert message.rcpt_tos == ("acme@ca.test",)
    assert message.data == raw
    bare = received_from_mailbox(REPLY, "acme@ca.test", "8")
    assert (bare.mail_from, bare.helo, bare.peer) == ("", "", ("", 0))


@pytest.fixture
def mailbox() -> Iterator[tuple[Dovecot, ImapAccount]]:
    if dovecot_binary() is None:
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd)")
    with Dovecot() as server:
        yield server, server.add_user("acme@ca.test", "reader-secret")


async def test_each_unseen_reply_is_judged_once_in_order(
    mailbox: tuple[Dovecot, ImapAccount],
) -> None:
    """Unseen messages go to the engine oldest first and are then flagged \\Seen, so a second
    look (or a restarted CA) finds nothing new."""
    server, account = mailbox
    judged: list[ReceivedMessage] = []
    third = asyncio.Event()

    async def on_reply(message: ReceivedMessage) -> None:
        judged.append(message)
        if len(judged) == 3:
            third.set()

    config = ServerConfig(
        reply_imap=(account.host, account.port),
        reply_imap_user=account.user,
        reply_imap_password=account.password,
    )
    reader = ImapReplyReader(config, on_reply, ssl_context=TestPki.load().client_ssl_context())
    for n in (1, 2):
        trace = Trace(f"user{n}@example.test", "mx.example.test", f"127.0.0.{10 + n}")
        await asyncio.to_thread(
            server.append, account, trace_fields(trace, by="mx", tls=False) + REPLY
        )
    assert await reader.read_once() == 2
    assert [m.mail_from for m in judged] == ["user1@example.test", "user2@example.test"]
    assert [m.seq for m in judged] == [0, 1]
    assert await reader.read_once() == 0
    task = asyncio.create_task(reader.run())
    await asyncio.to_thread(server.append, account, REPLY)
    await asyncio.wait_for(third.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


class _Retries(logging.Handler):
    """Sets ``retried`` when the reader says it will try again."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.retried = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "retrying" in record.getMessage():
            self.retried.set()


async def test_a_wrong_login_is_retried_not_fatal(mailbox: tuple[Dovecot, ImapAccount]) -> None:
    _, account = mailbox
    retries = _Retries()
    logging.getLogger("rfc8823.server.reply_reader").addHandler(retries)

    async def on_reply(message: ReceivedMessage) -> None:
        raise AssertionError("nothing to judge")

    config = ServerConfig(
        reply_imap=(account.host, account.port),
        reply_imap_user=account.user,
        reply_imap_password="wrong",
        reply_poll_interval=0.05,
    )
    reader = ImapReplyReader(config, on_reply, ssl_context=TestPki.load().client_ssl_context())
    task = asyncio.create_task(reader.run())
    try:
        await asyncio.wait_for(retries.retried.wait(), 5)
        assert not task.done()
    finally:
        logging.getLogger("rfc8823.server.reply_reader").removeHandler(retries)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
