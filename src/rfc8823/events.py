"""A change feed: writers call ``notify()``, readers wait until a predicate holds (no polling).

The reference server's store notifies on every state change; tests and helpers wait for
"challenge X is valid" from any thread or event loop. Async waiters are woken with
``call_soon_threadsafe``; blocking waiters with a condition variable.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass
class _Waiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class ChangeFeed:
    """Thread-safe "something changed" signal with awaitable and blocking waits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._version = 0
        self._waiters: list[_Waiter] = []

    @property
    def version(self) -> int:
        """How many notifications there have been."""
        with self._lock:
            return self._version

    def notify(self) -> None:
        """Wake every waiter so it re-checks its predicate."""
        with self._lock:
            self._version += 1
            waiters, self._waiters = self._waiters, []
            self._changed.notify_all()
        for waiter in waiters:
            try:
                waiter.loop.call_soon_threadsafe(_wake, waiter.future)
            except RuntimeError:
                continue

    async def wait_until(
        self,
        predicate: Callable[[], T | None],
        timeout: float,  # noqa: ASYNC109
        *,
        what: str = "",
    ) -> T:
        """The first non-None value of ``predicate``, re-checked after each notification.

        Raises ``TimeoutError`` naming ``what`` (default: the predicate's name) after
        ``timeout`` seconds. The predicate runs in the caller's thread.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            waiter = _Waiter(loop, loop.create_future())
            with self._lock:
                self._waiters.append(waiter)
            try:
                value = predicate()
                if value is not None:
                    return value
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError(_timeout_text(predicate, what, timeout))
                try:
                    async with asyncio.timeout(remaining):
                        await waiter.future
                except TimeoutError:
                    value = predicate()
                    if value is not None:
                        return value
                    raise TimeoutError(_timeout_text(predicate, what, timeout)) from None
            finally:
                with self._lock:
                    if waiter in self._waiters:
                        self._waiters.remove(waiter)

    def wait_until_blocking(
        self, predicate: Callable[[], T | None], timeout: float, *, what: str = ""
    ) -> T:
        """Blocking :meth:`wait_until` for sync code; refuses to run on an event loop thread."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError("wait_until_blocking would block this event loop; await wait_until")
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                seen = self._version
            value = predicate()
            if value is not None:
                return value
            with self._changed:
                while self._version == seen:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError(_timeout_text(predicate, what, timeout))
                    self._changed.wait(remaining)


def _timeout_text(predicate: Callable[[], object], what: str, timeout: float) -> str:
    awaited = what or getattr(predicate, "__name__", repr(predicate))
    return f"timed out after {timeout} s waiting for {awaited}"
