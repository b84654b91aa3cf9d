"""Replies read from an IMAP mailbox: the reference CA as a CA that has no SMTP listener.

The CA's MX files mail for the ``from`` domain into a mailbox with the trace fields an MTA
writes (RFC 5321 §4.4); the reader logs in, takes each unseen message of the INBOX in UID
order, rebuilds its envelope from the topmost ``Return-Path`` and ``Received`` (so SPF still
sees the sending host, RFC 7208 §2.4), hands it to the engine, then sets ``\\Seen`` (RFC 9051
§6.4.6), so a restarted CA does not judge it twice. Polling, because ``imaplib`` has no IDLE;
a lost connection is retried with a growing pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import logging
import ssl
import time
from collections.abc import Awaitable, Callable

from rfc8823.server.config import ServerConfig
from rfc8823.world.imap import open_imap
from rfc8823.world.mailstore import MailStore, ReceivedMessage
from rfc8823.world.trace import read_trace

log = logging.getLogger(__name__)

_MAX_BACKOFF = 2.0

ReplyHandler = Callable[[ReceivedMessage], Awaitable[None]]


def received_from_mailbox(raw: bytes, challenge_from: str, uid: str) -> ReceivedMessage:
    """A filed message as the SMTP listener would have received it, from its trace fields.

    Without trace fields the envelope is unknown: an empty reverse-path and no peer, which
    SPF can only judge ``none``.
    """
    trace = read_trace(raw)
    return ReceivedMessage(
        mail_from=trace.mail_from if trace else "",
        rcpt_tos=(challenge_from,),
        data=raw,
        peer=(trace.peer_ip, 0) if trace else ("", 0),
        helo=trace.helo if trace else "",
        tls=False,
        auth_user=None,
        smtputf8=not raw.isascii(),
        listener=f"imap UID {uid}",
        received_at=time.time(),
    )


class ImapReplyReader:
    """Reads the CA's INBOX every ``reply_poll_interval`` seconds until cancelled."""

    def __init__(
        self, config: ServerConfig, on_reply: ReplyHandler, *, ssl_context: ssl.SSLContext
    ) -> None:
        if config.reply_imap is None:
            raise ValueError("the reply reader needs reply_imap")
        self.config = config
        self.store = MailStore()
        self._on_reply = on_reply
        self._context = ssl_context
        self._client: imaplib.IMAP4 | None = None

    async def run(self) -> None:
        """Read and judge replies until cancelled; connection failures are logged and retried."""
        pause = self.config.reply_poll_interval
        try:
            while True:
                try:
                    await self.read_once()
                    pause = self.config.reply_poll_interval
                except (imaplib.IMAP4.error, OSError) as error:
                    log.warning("reply mailbox: %s; retrying in %.1f s", error, pause)
                    await asyncio.to_thread(self._drop)
                    pause = min(pause * 2, _MAX_BACKOFF)
                await asyncio.sleep(pause)
        finally:
            await asyncio.to_thread(self._drop)

    async def read_once(self) -> int:
        """Judge every unseen message now; returns how many there were."""
        unseen = await asyncio.to_thread(self._unseen)
        for uid, raw in unseen:
            message = self.store.deliver(
                received_from_mailbox(raw, self.config.challenge_from, uid)
            )
            await self._on_reply(message)
            await asyncio.to_thread(self._mark_seen, uid)
        return len(unseen)

    def _session(self) -> imaplib.IMAP4:
        if self._client is None:
            config = self.config
            assert config.reply_imap is not None
            assert config.reply_imap_user is not None
            assert config.reply_imap_password is not None
            client = open_imap(
                *config.reply_imap,
                user=config.reply_imap_user,
                password=config.reply_imap_password,
                tls=config.reply_imap_tls,
                ssl_context=self._context,
                folder="INBOX",
                timeout=config.send_timeout,
            )
            self._client = client
        return self._client

    def _unseen(self) -> list[tuple[str, bytes]]:
        client = self._session()
        client.noop()
        status, data = client.uid("SEARCH", "UNSEEN")
        if status != "OK":
            raise imaplib.IMAP4.error(f"UID SEARCH UNSEEN: {data!r}")
        found: list[tuple[str, bytes]] = []
        for uid in sorted((data[0] or b"").split(), key=int):
            status, parts = client.uid("FETCH", uid.decode("ascii"), "(BODY.PEEK[])")
            raw = next((p[1] for p in parts if isinstance(p, tuple) and len(p) == 2), None)
            if status == "OK" and isinstance(raw, bytes):
                found.append((uid.decode("ascii"), raw))
        return found

    def _mark_seen(self, uid: str) -> None:
        status, detail = self._session().uid("STORE", uid, "+FLAGS", "(\\Seen)")
        if status != "OK":
            raise imaplib.IMAP4.error(f"UID STORE {uid} +FLAGS \\Seen: {detail!r}")

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                client.logout()
