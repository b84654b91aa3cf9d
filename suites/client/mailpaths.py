"""The client suite's mail paths: SMTP hops it controls, and deliveries into a mailbox.

A :class:`Hop` is an SMTP listener that records every message and forwards it, in arrival
order, unless a test holds it back; the suite puts one between the CA and the client's mailbox
and one between the client's provider and the CA. Deliveries file a message the way the
mailbox kind expects: SMTP to the client's own listener (retried until it listens), a Maildir
(``tmp/`` then ``new/``), or an IMAP INBOX (APPEND, see ``rfc8823.targets.dovecot``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mailbox
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from rfc8823.world.mailstore import MailStore, ReceivedMessage
from rfc8823.world.sendmail import SendError, SendResult, send_message
from rfc8823.world.service import AsyncService
from rfc8823.world.smtp import SmtpServer

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
_RETRY_FIRST = 0.02
_RETRY_MAX = 0.25

Forward = Callable[[ReceivedMessage], Awaitable[None]]
"""What a hop does with a message it lets through."""
T = TypeVar("T")


async def off_loop(call: Callable[[], T]) -> T:
    """Run a blocking call on a daemon thread of its own and await its result.

    Not the loop's default executor: a send to a listener that this same loop serves must
    not keep the loop from closing when a test ends in the middle of it.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def resolve(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        result: T | None = None
        failure: BaseException | None = None
        try:
            result = call()
        except BaseException as error:  # noqa: BLE001 - handed to the awaiting task
            failure = error
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(resolve, result, failure)

    threading.Thread(target=run, name="rfc8823-suite-send", daemon=True).start()
    return await future


async def send(
    endpoint: tuple[str, int],
    message: ReceivedMessage,
    *,
    source_address: str | None = None,
    helo: str | None = None,
    timeout: float = 10.0,  # noqa: ASYNC109
) -> SendResult:
    """Relay a received message to ``endpoint`` as it came (envelope and bytes)."""
    return await off_loop(
        lambda: send_message(
            *endpoint,
            mail_from=message.mail_from,
            rcpt_tos=message.rcpt_tos,
            data=message.data,
            smtputf8=message.smtputf8,
            source_address=source_address,
            helo=helo,
            timeout=timeout,
        )
    )


class Hop(AsyncService):
    """An SMTP hop: every message is recorded, then forwarded in order unless it is held."""

    def __init__(self, name: str, forward: Forward) -> None:
        self.name = name
        self.received = MailStore()
        self.failures: list[str] = []
        self.holding = False
        self.last_forwarded = 0.0
        self._forward = forward
        self._server = SmtpServer(name=name, host=HOST, store=self.received, on_message=self._in)
        self._queue: asyncio.Queue[ReceivedMessage] = asyncio.Queue()
        self._held: asyncio.Queue[ReceivedMessage] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None

    @property
    def address(self) -> tuple[str, int]:
        """Where the hop listens."""
        return self._server.address

    async def start_async(self) -> None:
        """Listen, and start forwarding."""
        await self._server.start_async()
        self._pump = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop_async(self) -> None:
        """Stop listening and forwarding (what was recorded stays readable)."""
        await self._server.stop_async()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump

    def _in(self, message: ReceivedMessage) -> None:
        (self._held if self.holding else self._queue).put_nowait(message)

    async def _run(self) -> None:
        while True:
            message = await self._queue.get()
            try:
                await self._forward(message)
            except Exception as error:  # noqa: BLE001 - a hop records what it could not pass on
                self.failures.append(f"{self.name}: message {message.seq} not forwarded: {error}")
                log.warning("%s", self.failures[-1])
            finally:
                self.last_forwarded = time.monotonic()
                self._queue.task_done()

    async def next_held(self) -> ReceivedMessage:
        """The next message the hop holds back (unbounded: callers bound it)."""
        return await self._held.get()

    def held_now(self) -> ReceivedMessage | None:
        """A message held back already, if any."""
        return None if self._held.empty() else self._held.get_nowait()

    def send_on(self, message: ReceivedMessage) -> None:
        """Forward ``message`` after whatever is queued (a held one, or one of the test's)."""
        self._queue.put_nowait(message)

    async def settle(self, timeout: float) -> None:  # noqa: ASYNC109
        """Wait until everything queued has been forwarded (or given up)."""
        async with asyncio.timeout(timeout):
            await self._queue.join()


async def deliver_smtp(endpoint: tuple[str, int], message: ReceivedMessage, until: float) -> None:
    """Hand a message to the client's SMTP listener, retrying while it is not listening yet."""
    pause = _RETRY_FIRST
    while True:
        try:
            await send(endpoint, message, timeout=max(1.0, until - time.monotonic()))
            return
        except SendError as error:
            if error.stage != "connect" or time.monotonic() + pause > until:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, _RETRY_MAX)


class MaildirWriter:
    """Delivers into a Maildir the way an MDA does: ``tmp/``, then a rename into ``new/``.

    File names sort in delivery order, so a client reading ``new/`` in name order sees the
    messages in the order they arrived.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        mailbox.Maildir(path, create=True)
        self._count = 0

    def write(self, data: bytes) -> None:
        """Deliver one message."""
        self._count += 1
        name = f"{time.time_ns():020d}.{self._count:06d}.rfc8823-suite"
        temporary = self.path / "tmp" / name
        temporary.write_bytes(data)
        temporary.rename(self.path / "new" / name)
