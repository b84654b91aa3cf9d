"""Where the challenge email arrives: one small protocol, three sources.

- :class:`SmtpMailSource`: an SMTP listener of the client's own, i.e. the user's MX; messages
  are pushed to the client the moment they are accepted.
- :class:`MaildirMailSource`: a Maildir that another MTA delivers into; new messages are moved
  from ``new/`` to ``cur/`` once read (the Maildir convention for "seen by a client").
- :class:`ImapMailSource`: an IMAP mailbox read with the standard library's ``imaplib``.

Maildir and IMAP are polled at a bounded interval: the standard library has no file-change
notification, and IMAP pushes only with IDLE (RFC 2177), which ``imaplib`` does not offer, so
polling is the honest design there. Each wait is bounded by the caller's timeout.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import imaplib
import mailbox
import os
import ssl
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rfc8823.world.imap import ImapTls, open_imap
from rfc8823.world.mailstore import MailStore, ReceivedMessage
from rfc8823.world.service import AsyncService
from rfc8823.world.smtp import SmtpServer

MIN_POLL_INTERVAL = 0.02


@dataclass(frozen=True)
class IncomingMail:
    """One message as the source delivered it, and where it came from (for logs)."""

    raw: bytes
    origin: str


class MailSource(Protocol):
    """Anything that hands over incoming messages one at a time."""

    @property
    def description(self) -> str:
        """Where the source reads from, for progress lines."""

    async def start_async(self) -> None:
        """Open the source (listen, connect, create folders)."""

    async def next_message(self, timeout: float) -> IncomingMail | None:  # noqa: ASYNC109
        """The next message not yet handed over, waiting up to ``timeout`` s; None if none."""

    async def stop_async(self) -> None:
        """Release the source."""


class SmtpMailSource(AsyncService):
    """The user's MX: an aiosmtpd listener (plain SMTP or STARTTLS) in the caller's loop.

    ``accept_domains`` limits the recipient domains it accepts (None: any).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        accept_domains: Collection[str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._queue: asyncio.Queue[ReceivedMessage] = asyncio.Queue()
        self.store = MailStore()
        self.server = SmtpServer(
            name="rfc8823-client-mx",
            host=host,
            port=port,
            tls="starttls" if ssl_context is not None else "none",
            ssl_context=ssl_context,
            accept_domains=accept_domains,
            store=self.store,
            on_message=self._queue.put_nowait,
        )

    @property
    def address(self) -> tuple[str, int]:
        """The listening ``(host, port)``."""
        return self.server.address

    @property
    def description(self) -> str:
        """Where the listener is."""
        host, port = self.server.host, self.server.port
        return f"SMTP listener {host}:{port}"

    async def start_async(self) -> None:
        """Listen (in the running event loop)."""
        await self.server.start_async()

    async def next_message(self, timeout: float) -> IncomingMail | None:  # noqa: ASYNC109
        """The next accepted message, pushed by the listener as it arrives."""
        try:
            async with asyncio.timeout(max(timeout, 0.0)):
                received = await self._queue.get()
        except TimeoutError:
            return None
        origin = f"SMTP from {received.peer[0]} (MAIL FROM <{received.mail_from}>)"
        return IncomingMail(received.data, origin)

    async def stop_async(self) -> None:
        """Stop listening."""
        await self.server.stop_async()


class _Poller(AsyncService, abc.ABC):
    """Shared loop of the polled sources: look, then sleep at most ``interval`` s, to a deadline."""

    def __init__(self, interval: float) -> None:
        self.interval = max(interval, MIN_POLL_INTERVAL)

    @abc.abstractmethod
    async def _look(self) -> IncomingMail | None:
        """One look at the source: a message not handed over yet, or None."""

    async def next_message(self, timeout: float) -> IncomingMail | None:  # noqa: ASYNC109
        """Look for a message now and every ``interval`` s until ``timeout`` runs out."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            found = await self._look()
            if found is not None:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            await asyncio.sleep(min(self.interval, remaining))


class MaildirMailSource(_Poller):
    """A Maildir (created if missing); each message in ``new/`` is read once, then moved to
    ``cur/`` with an empty info section (``:2,``): noticed, not flagged as read.
    """

    def __init__(self, path: Path, *, interval: float = 0.1) -> None:
        super().__init__(interval)
        self.path = path

    @property
    def description(self) -> str:
        """The Maildir's path."""
        return f"Maildir {self.path}"

    async def start_async(self) -> None:
        """Create the Maildir's folders if needed."""
        mailbox.Maildir(self.path, create=True)

    async def stop_async(self) -> None:
        """Nothing to release."""

    async def _look(self) -> IncomingMail | None:
        return await asyncio.to_thread(self._take_oldest)

    def _take_oldest(self) -> IncomingMail | None:
        new = self.path / "new"
        try:
            names = sorted(n for n in os.listdir(new) if not n.startswith("."))
        except FileNotFoundError:
            return None
        for name in names:
            source = new / name
            try:
                raw = source.read_bytes()
                os.replace(source, self.path / "cur" / f"{name.split(':')[0]}:2,")
            except FileNotFoundError:
                continue
            return IncomingMail(raw, f"Maildir {source}")
        return None


class ImapMailSource(_Poller):
    """An IMAP mailbox polled with ``imaplib`` (no IDLE): unseen messages, each read once.

    Messages are fetched with ``BODY.PEEK[]`` so their ``\\Seen`` flag is left alone; the
    UIDs already handed over are remembered for this session (RFC 3501 §6.4.8).
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        user: str,
        password: str,
        tls: ImapTls = "none",
        ssl_context: ssl.SSLContext | None = None,
        folder: str = "INBOX",
        interval: float = 0.5,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(interval)
        self.host, self.port = host, port
        self._user, self._password = user, password
        self._tls: ImapTls = tls
        self._context = ssl_context
        self.folder = folder
        self._timeout = timeout
        self._client: imaplib.IMAP4 | None = None
        self._seen: set[bytes] = set()
        self._lock = asyncio.Lock()

    @property
    def description(self) -> str:
        """The server and folder."""
        return f"IMAP {self._user}@{self.host}:{self.port}/{self.folder}"

    async def start_async(self) -> None:
        """Connect, log in and select the folder (raises ``imaplib.IMAP4.error``/``OSError``)."""
        self._client = await asyncio.to_thread(self._connect)

    def _connect(self) -> imaplib.IMAP4:
        return open_imap(
            self.host,
            self.port,
            user=self._user,
            password=self._password,
            tls=self._tls,
            ssl_context=self._context,
            folder=self.folder,
            timeout=self._timeout,
        )

    async def stop_async(self) -> None:
        """Log out."""
        client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(self._logout, client)

    @staticmethod
    def _logout(client: imaplib.IMAP4) -> None:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            client.logout()

    async def skip_present(self) -> None:
        """Treat every message in the folder now as handed over, without reading it (the
        ``client-misses-mail-already-there`` fault: a client that acts only on new mail)."""
        async with self._lock:
            await asyncio.to_thread(self._skip_present)

    def _skip_present(self) -> None:
        client = self._client
        if client is None:
            raise RuntimeError("the IMAP source is not started")
        client.noop()
        status, data = client.uid("SEARCH", "ALL")
        if status != "OK":
            raise imaplib.IMAP4.error(f"UID SEARCH ALL: {data!r}")
        self._seen.update((data[0] or b"").split())

    async def _look(self) -> IncomingMail | None:
        async with self._lock:
            return await asyncio.to_thread(self._fetch_one)

    def _fetch_one(self) -> IncomingMail | None:
        client = self._client
        if client is None:
            raise RuntimeError("the IMAP source is not started")
        client.noop()
        status, data = client.uid("SEARCH", "UNSEEN")
        if status != "OK":
            raise imaplib.IMAP4.error(f"UID SEARCH UNSEEN: {data!r}")
        uids = [uid for uid in (data[0] or b"").split() if uid not in self._seen]
        for uid in uids:
            status, parts = client.uid("FETCH", uid.decode("ascii"), "(BODY.PEEK[])")
            self._seen.add(uid)
            raw = next(
                (part[1] for part in parts if isinstance(part, tuple) and len(part) == 2), None
            )
            if status == "OK" and isinstance(raw, bytes):
                return IncomingMail(raw, f"IMAP {self.folder} UID {uid.decode('ascii')}")
        return None
