"""``with`` and ``async with`` for anything that runs between a start and a stop."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self


class Service:
    """A start()/stop() pair as a context manager, sync and async.

    Subclasses define ``start`` (returning self) and ``stop``. The async form runs both in a
    worker thread, so a start that binds sockets or waits for readiness never stalls the
    caller's event loop; a service with a native async start mixes in :class:`AsyncService`
    first.
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


class AsyncService:
    """A start_async()/stop_async() pair run in the caller's event loop, as ``async with``.

    Subclasses define both. A service that can also run on a thread of its own mixes in
    :class:`Service` after this class, so ``async with`` starts it natively and ``with`` on
    its thread.
    """

    async def start_async(self) -> None:
        """Start serving in the running event loop."""
        raise NotImplementedError

    async def stop_async(self) -> None:
        """Stop serving and release what start_async() took."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start_async()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop_async()
