"""The client suite's mail paths: SMTP hops it controls, and deliveries into a mailbox.

A :class:`Hop` is an SMTP listener that records every message and forwards it, in arrival
order, unless a test holds it back; the suite puts one between the CA and the client's mailbox
and one between the client's provider and the CA. Deliveries file a message the way the
mailbox kind expects: SMTP to the client's own listener (retried until it listens), a Maildir
(``tmp/`` then ``new/``), or an IMAP INBOX (APPEND, see ``rfc8823.targets.dovecot``).

A :class:`PacedDelivery` times the deliveries into the mailbox: a delay after the
CA sent a message, a spacing between two deliveries (one new message per IMAP IDLE
notification), optionally only once the client is in IDLE; ``Hop.send_together`` hands
several messages over as one burst instead. The pacing a client declares applies to every
test; a test may set its own (``PacedDelivery.pacing``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mailbox
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

from rfc8823.targets.client import MailboxPacing
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
ForwardMany = Callable[[Sequence[ReceivedMessage]], Awaitable[None]]
"""What a hop does with several messages it lets through as one burst."""
Watching = Callable[[float], Awaitable[bool]]
"""Wait (at most the given seconds) until the client watches its mailbox; whether it does."""
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
        self._queue: asyncio.Queue[ReceivedMessage | tuple[ReceivedMessage, ...]] = asyncio.Queue()
        self._held: asyncio.Queue[ReceivedMessage] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None
        self._outcomes: dict[int, str | None] = {}
        self._forwarded = asyncio.Condition()

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
            item = await self._queue.get()
            outcome: str | None = None
            try:
                if isinstance(item, tuple):
                    await self._forward_together(item)
                else:
                    await self._forward(item)
            except Exception as error:  # noqa: BLE001 - a hop records what it could not pass on
                shown = [m.seq for m in item] if isinstance(item, tuple) else item.seq
                outcome = f"{self.name}: message {shown} not forwarded: {error}"
                self.failures.append(outcome)
                log.warning("%s", outcome)
            finally:
                self.last_forwarded = time.monotonic()
                self._queue.task_done()
            async with self._forwarded:
                for message in item if isinstance(item, tuple) else (item,):
                    self._outcomes[id(message)] = outcome
                self._forwarded.notify_all()

    async def forwarded(self, message: ReceivedMessage, timeout: float) -> str | None:  # noqa: ASYNC109
        """Wait until ``message`` (queued by :meth:`send_on`) has been passed on: None when it
        was, else why not. TimeoutError when the hop is still busy after ``timeout``."""
        async with asyncio.timeout(timeout), self._forwarded:
            await self._forwarded.wait_for(lambda: id(message) in self._outcomes)
            return self._outcomes[id(message)]

    async def _forward_together(self, messages: tuple[ReceivedMessage, ...]) -> None:
        together = getattr(self._forward, "together", None)
        if together is not None:
            await together(messages)
            return
        for message in messages:
            await self._forward(message)

    async def next_held(self) -> ReceivedMessage:
        """The next message the hop holds back (unbounded: callers bound it)."""
        return await self._held.get()

    def held_now(self) -> ReceivedMessage | None:
        """A message held back already, if any."""
        return None if self._held.empty() else self._held.get_nowait()

    def send_on(self, message: ReceivedMessage) -> None:
        """Forward ``message`` after whatever is queued (a held one, or one of the test's)."""
        self._queue.put_nowait(message)

    def send_together(self, messages: Sequence[ReceivedMessage]) -> None:
        """Forward ``messages`` as one burst after whatever is queued: back to back, in this
        order, without spacing (a client in IDLE may hear of them in one notification)."""
        self._queue.put_nowait(tuple(messages))

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


class PacedDelivery:
    """Delivers into the client's mailbox as ``pacing`` says (a :data:`Forward` for a hop).

    ``delay`` counts from when the hop received the message (the CA's sending time);
    ``spacing`` from the previous delivery; ``when_watching`` then waits, at the latest until
    ``deadline`` (``time.monotonic()``), for ``watching`` (IMAP IDLE) and delivers anyway.
    Once ``client_ended`` is set (the client's run is over) nothing waits any more.
    ``many`` delivers a burst (default: one by one, without spacing). A test may replace
    ``pacing`` while the enrollment runs; it takes effect from the next delivery.
    """

    def __init__(
        self,
        deliver: Forward,
        pacing: MailboxPacing,
        *,
        deadline: float,
        many: ForwardMany | None = None,
        watching: Watching | None = None,
    ) -> None:
        self.pacing = pacing
        self.deadline = deadline
        self.deliveries: list[tuple[float, int]] = []
        """(``time.monotonic()``, message seq) of each delivery, in order."""
        self.client_ended = asyncio.Event()
        self._deliver = deliver
        self._many = many
        self._watching = watching

    async def _unless_ended(self, waiting: Awaitable[object]) -> None:
        """Await ``waiting``, or stop as soon as the client's run has ended."""
        pending = asyncio.ensure_future(waiting)
        ended = asyncio.ensure_future(self.client_ended.wait())
        try:
            await asyncio.wait({pending, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pending, ended):
                task.cancel()
            await asyncio.gather(pending, ended, return_exceptions=True)

    async def _wait_turn(self, received_at: float) -> None:
        pacing = self.pacing
        due = time.monotonic() + max(0.0, received_at + pacing.delay - time.time())
        if self.deliveries:
            due = max(due, self.deliveries[-1][0] + pacing.spacing)
        pause = max(0.0, min(due, self.deadline) - time.monotonic())
        await self._unless_ended(asyncio.sleep(pause))
        if pacing.when_watching and self._watching is not None:
            await self._unless_ended(self._watching(max(0.0, self.deadline - time.monotonic())))

    async def __call__(self, message: ReceivedMessage) -> None:
        """Deliver one message when its turn comes."""
        await self._wait_turn(message.received_at)
        await self._deliver(message)
        self.deliveries.append((time.monotonic(), message.seq))

    async def together(self, messages: Sequence[ReceivedMessage]) -> None:
        """Deliver a burst when the first message's turn comes, the rest right after it."""
        if not messages:
            return
        await self._wait_turn(messages[0].received_at)
        if self._many is not None:
            await self._many(messages)
        else:
            for message in messages:
                await self._deliver(message)
        now = time.monotonic()
        self.deliveries.extend((now, message.seq) for message in messages)


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
