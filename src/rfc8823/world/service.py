"""``with`` and ``async with`` for anything that runs between a start() and a stop()."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self


class Service:
    """A start()/stop() pair as a context manager, sync and async.

    Subclasses define ``start`` (returning self) and ``stop``. The async form runs both in a
    worker thread, so a start that binds sockets or waits for readiness never stalls the
    caller's event loop; a service with a native async start overrides ``__aenter__``.
    """

    def start(self) -> Self:
        """Start serving; returns self."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop serving and release what start() took."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)
