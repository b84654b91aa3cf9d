"""Mailboxes of the test world: every message an SMTP listener accepted, awaitable per recipient.

Messages arrive on a server's event loop while tests wait from another thread or loop, so the
store is guarded by a lock and wakes async waiters with ``call_soon_threadsafe`` (no polling).
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["MailStore", "ReceivedMessage", "mailbox_key"]


@dataclass(frozen=True)
class ReceivedMessage:
    """One SMTP transaction as received: envelope, exact DATA bytes and session facts.

    ``mail_from`` is ``""`` for the null reverse-path ``<>``; ``data`` is the DATA content after
    dot-unstuffing, with the line endings sent on the wire; ``seq`` is the message's position in
    its store's log, assigned by :meth:`MailStore.deliver`.
    """

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    peer: tuple[str, int]
    helo: str
    tls: bool
    auth_user: str | None
    smtputf8: bool
    listener: str
    received_at: float
    seq: int = -1


def mailbox_key(address: str) -> str:
    """Compare addresses as SMTP does: domain case-insensitive, local part exact (RFC 5321 §2.4)."""
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    return f"{local}@{domain.lower()}"


@dataclass
class _Waiter:
    """An async waiter parked on some loop until a delivery concerns it (``key`` None: any)."""

    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    key: str | None


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class MailStore:
    """Thread-safe log of received messages with per-recipient consumption cursors.

    Each recipient's queue has one cursor shared by all callers: :meth:`next_for` and
    :meth:`wait_for` return the oldest message for that recipient not yet taken, whether it
    arrived before or during the call, and each message is taken at most once per recipient.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._log: list[ReceivedMessage] = []
        self._queues: dict[str, list[ReceivedMessage]] = {}
        self._cursors: dict[str, int] = {}
        self._waiters: list[_Waiter] = []

    def deliver(self, msg: ReceivedMessage) -> ReceivedMessage:
        """Record ``msg`` for each of its recipients and wake whoever waits for it."""
        with self._lock:
            stored = dataclasses.replace(msg, seq=len(self._log))
            self._log.append(stored)
            keys = {mailbox_key(rcpt) for rcpt in stored.rcpt_tos}
            for key in keys:
                self._queues.setdefault(key, []).append(stored)
            concerned = [w for w in self._waiters if w.key is None or w.key in keys]
            self._arrived.notify_all()
        for waiter in concerned:
            try:
                waiter.loop.call_soon_threadsafe(_wake, waiter.future)
            except RuntimeError:
                self._forget(waiter)
        return stored

    def messages(self, rcpt: str | None = None) -> list[ReceivedMessage]:
        """All messages in arrival order, or those addressed to ``rcpt`` (taken or not)."""
        with self._lock:
            if rcpt is None:
                return list(self._log)
            return list(self._queues.get(mailbox_key(rcpt), ()))

    async def next_for(self, rcpt: str, timeout: float) -> ReceivedMessage:  # noqa: ASYNC109
        """Take the next message for ``rcpt``, waiting up to ``timeout`` seconds for it."""
        key = mailbox_key(rcpt)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            with self._lock:
                taken = self._take(key)
                if taken is not None:
                    return taken
                waiter = self._park(loop, key)
            try:
                await self._sleep_until_woken(waiter, deadline)
            except TimeoutError:
                with self._lock:
                    taken = self._take(key)
                    if taken is not None:
                        return taken
                    raise TimeoutError(self._no_message_text(rcpt, key, timeout)) from None
            finally:
                self._forget(waiter)

    def wait_for(self, rcpt: str, timeout: float) -> ReceivedMessage:
        """Blocking :meth:`next_for` for sync code; refuses to run inside an event loop thread."""
        self._refuse_inside_loop("wait_for", "next_for")
        key = mailbox_key(rcpt)
        deadline = time.monotonic() + timeout
        with self._arrived:
            while (taken := self._take(key)) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(self._no_message_text(rcpt, key, timeout))
                self._arrived.wait(remaining)
            return taken

    async def wait_until(
        self,
        predicate: Callable[[ReceivedMessage], bool],
        timeout: float,  # noqa: ASYNC109
    ) -> ReceivedMessage:
        """First message in the whole log satisfying ``predicate``; does not move any cursor.

        The predicate runs in the caller's thread; an exception it raises propagates.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        checked = 0
        while True:
            with self._lock:
                fresh = self._log[checked:]
                waiter = self._park(loop, None)
            try:
                for msg in fresh:
                    if predicate(msg):
                        return msg
                checked += len(fresh)
                await self._sleep_until_woken(waiter, deadline)
            except TimeoutError:
                with self._lock:
                    late = self._log[checked:]
                    total = len(self._log)
                for msg in late:
                    if predicate(msg):
                        return msg
                name = getattr(predicate, "__name__", repr(predicate))
                raise TimeoutError(
                    f"no message matching {name} within {timeout} s; {total} messages in the log"
                ) from None
            finally:
                self._forget(waiter)

    async def expect_none_for(self, rcpt: str, within: float) -> None:
        """Assert that no untaken message for ``rcpt`` exists or arrives within ``within`` s."""
        try:
            msg = await self.next_for(rcpt, within)
        except TimeoutError:
            return
        raise AssertionError(
            f"expected no message for {rcpt} within {within} s, but got one from "
            f"<{msg.mail_from}> via {msg.listener} (seq {msg.seq})"
        )

    def _take(self, key: str) -> ReceivedMessage | None:
        queue = self._queues.get(key, [])
        cursor = self._cursors.get(key, 0)
        if cursor >= len(queue):
            return None
        self._cursors[key] = cursor + 1
        return queue[cursor]

    def _park(self, loop: asyncio.AbstractEventLoop, key: str | None) -> _Waiter:
        waiter = _Waiter(loop, loop.create_future(), key)
        self._waiters.append(waiter)
        return waiter

    def _forget(self, waiter: _Waiter) -> None:
        with self._lock:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    @staticmethod
    async def _sleep_until_woken(waiter: _Waiter, deadline: float) -> None:
        remaining = deadline - waiter.loop.time()
        if remaining <= 0:
            raise TimeoutError
        async with asyncio.timeout(remaining):
            await waiter.future

    def _no_message_text(self, rcpt: str, key: str, timeout: float) -> str:
        others = [m for m in self._log if key not in {mailbox_key(r) for r in m.rcpt_tos}]
        names = sorted({r for m in others for r in m.rcpt_tos})
        shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
        taken = self._cursors.get(key, 0)
        count = f"{len(others)} message{'' if len(others) == 1 else 's'}"
        text = f"no message for {rcpt} within {timeout} s; {count} for other recipients"
        if names:
            text += f" ({shown})"
        if taken:
            text += f"; {taken} earlier ones for {rcpt} already taken"
        return text

    @staticmethod
    def _refuse_inside_loop(name: str, instead: str) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        raise RuntimeError(f"MailStore.{name} would block this event loop; await {instead} instead")
