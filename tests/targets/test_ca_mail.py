"""A CA's mail wiring in the world: its IMAP mailbox (Dovecot, filed with trace fields) and its
smarthost login on the world's submission ports."""

from __future__ import annotations

import asyncio
import imaplib
from collections.abc import Iterator
from typing import Literal

import pytest

from rfc8823.targets import ca_mail
from rfc8823.targets.ca_mail import CaMail, CaMailbox, MailWiring
from rfc8823.targets.dovecot import dovecot_binary
from rfc8823.world.imap import open_imap
from rfc8823.world.sendmail import SendError, send_message
from rfc8823.world.trace import Trace, read_trace
from rfc8823.world.world import Route, World

needs_dovecot = pytest.mark.skipif(
    dovecot_binary() is None, reason="Dovecot is not installed (apt-get install dovecot-imapd)"
)
REPLY = b"From: user@example.test\r\nTo: ca@ca.test\r\nSubject: Re: ACME: x\r\n\r\nhello\r\n"


def inbox(mailbox: CaMailbox) -> list[bytes]:
    """Every message in the CA's INBOX, read as the CA would."""
    account = mailbox.account
    client = open_imap(account.host, account.port, user=account.user, password=account.password)
    try:
        client.select("INBOX")
        _, data = client.uid("SEARCH", "ALL")
        found = []
        for uid in (data[0] or b"").split():
            _, parts = client.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
            found += [p[1] for p in parts if isinstance(p, tuple)]
        return found
    finally:
        client.logout()


@pytest.fixture
def mailbox() -> Iterator[CaMailbox]:
    with CaMailbox("CA.test", login="ca@ca.test", password="box-secret") as running:
        yield running


@needs_dovecot
def test_mailbox_files_mail_for_its_domain_with_trace_fields(mailbox: CaMailbox) -> None:
    """What the MX accepts lands in the INBOX, under a Return-Path and Received naming the
    sender's HELO and address, so SPF can still be checked (RFC 5321 §4.4)."""
    send_message(
        *mailbox.address,
        mail_from="user@example.test",
        rcpt_tos=["ca@ca.test"],
        data=REPLY,
        source_address="127.0.0.11",
        helo="mx.example.test",
    )
    (filed,) = inbox(mailbox)
    assert filed.endswith(REPLY)
    assert read_trace(filed) == Trace("user@example.test", "mx.example.test", "127.0.0.11")
    with pytest.raises(SendError, match="not served"):
        send_message(*mailbox.address, mail_from="a@b.test", rcpt_tos=["x@other.test"], data=REPLY)


@needs_dovecot
def test_mailbox_login_is_the_cas_alone(mailbox: CaMailbox) -> None:
    account = mailbox.account
    with pytest.raises(imaplib.IMAP4.error):
        open_imap(account.host, account.port, user=account.user, password="wrong")


def mailbox_after_stop(mail: CaMail) -> CaMailbox | None:
    """Read ``mail.mailbox`` anew (the asserts before ``stop()`` narrowed it for mypy)."""
    return mail.mailbox


@needs_dovecot
def test_imap_replies_start_a_mailbox_and_route_nothing_else(world: World) -> None:
    """IMAP replies: a mailbox with the from address as login, the from domain routed to its
    MX; no smarthost login. Stopping gives the domain back to the world."""
    mail = CaMail(MailWiring(replies="imap"), "acme@ca.test").start(world)
    try:
        assert mail.mailbox is not None
        assert mail.reply_route == mail.mailbox.address
        assert world.routes["ca.test"] == Route(*mail.reply_route)
        assert mail.mailbox.account.user == "acme@ca.test"
        assert mail.smarthost is None
        assert [line.split(":")[0] for line in mail.header_lines()] == [
            "CA reply mailbox (IMAP, no TLS, INBOX)"
        ]
    finally:
        mail.stop()
    assert mailbox_after_stop(mail) is None
    assert "ca.test" not in world.routes


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
async def test_smarthost_login_relays_to_the_worlds_mailboxes(
    world: World, tls: Literal["starttls", "implicit"]
) -> None:
    """The smarthost takes the CA's login on the port for its TLS mode and relays the
    challenge to the user's mailbox; without the login it refuses (RFC 4954)."""
    wiring = MailWiring(
        reply_smtp=("127.0.0.1", 1), sending="smarthost", smarthost_tls=tls, password="relay-pw"
    )
    mail = CaMail(wiring, "acme@ca.test").start(world)
    assert mail.reply_route == ("127.0.0.1", 1)
    assert mail.smarthost is not None
    (line,) = mail.header_lines()
    assert line.endswith(f"{mail.smarthost[1]} login acme@ca.test password relay-pw")
    user = world.new_address()
    await asyncio.to_thread(
        send_message,
        *mail.smarthost,
        mail_from="acme@ca.test",
        rcpt_tos=[user],
        data=b"Subject: ACME: x\r\n\r\nchallenge\r\n",
        tls=tls,
        ssl_context=world.client_ssl_context(),
        auth=("acme@ca.test", "relay-pw"),
    )
    received = await world.store.next_for(user, 5)
    assert received.data.endswith(b"challenge\r\n")
    with pytest.raises(SendError, match="auth"):
        send_message(
            *mail.smarthost,
            mail_from="acme@ca.test",
            rcpt_tos=[user],
            data=b"\r\n",
            tls=tls,
            ssl_context=world.client_ssl_context(),
            auth=("acme@ca.test", "guess"),
        )
    mail.stop()


def test_imap_replies_without_dovecot_say_what_to_install(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ca_mail, "dovecot_binary", lambda: None)
    with pytest.raises(RuntimeError, match="apt-get install dovecot-imapd"):
        CaMail(MailWiring(replies="imap"), "acme@ca.test").start(world)
