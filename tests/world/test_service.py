"""The start/stop mixins: ``with`` runs start()/stop(), ``async with`` the native async pair."""

from __future__ import annotations

import asyncio
import threading
from typing import Self

import pytest

from rfc8823.world.service import AsyncService, Service


class Both(AsyncService, Service):
    """Records which pair ran, and on which thread."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []

    def _note(self, what: str) -> None:
        self.calls.append((what, threading.current_thread() is threading.main_thread()))

    def start(self) -> Self:
        self._note("start")
        return self

    def stop(self) -> None:
        self._note("stop")

    async def start_async(self) -> None:
        await asyncio.sleep(0)
        self._note("start_async")

    async def stop_async(self) -> None:
        self._note("stop_async")


async def test_async_with_runs_the_native_pair_in_the_loop() -> None:
    """``async with`` awaits start_async/stop_async on the loop's own thread, never start()."""
    service = Both()
    async with service as entered:
        assert entered is service
        assert service.calls == [("start_async", True)]
    assert service.calls == [("start_async", True), ("stop_async", True)]


def test_with_runs_the_synchronous_pair() -> None:
    """``with`` on a service that has both pairs still uses start()/stop()."""
    service = Both()
    with service:
        pass
    assert service.calls == [("start", True), ("stop", True)]


async def test_stop_async_runs_when_the_block_raises() -> None:
    """The service is stopped when the ``async with`` body fails."""
    service = Both()
    with pytest.raises(RuntimeError, match="body"):
        async with service:
            raise RuntimeError("body")
    assert [what for what, _ in service.calls] == ["start_async", "stop_async"]


async def test_a_bare_async_service_must_define_its_pair() -> None:
    """The base class starts nothing by itself."""
    with pytest.raises(NotImplementedError):
        async with AsyncService():
            pass
