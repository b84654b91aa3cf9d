"""The change feed that tests and helpers wait on instead of polling."""

import asyncio
import threading

import pytest

from rfc8823.events import ChangeFeed


async def test_async_wait_wakes_on_notify_from_another_thread() -> None:
    """A waiter wakes when another thread changes state and notifies."""
    feed = ChangeFeed()
    state: list[str] = []

    def later() -> None:
        state.append("done")
        feed.notify()

    timer = threading.Timer(0.01, later)
    timer.start()
    try:
        value = await feed.wait_until(lambda: state[0] if state else None, 5.0)
    finally:
        timer.join(5.0)
    assert value == "done"


async def test_async_wait_returns_at_once_and_times_out_with_a_message() -> None:
    """A true predicate returns immediately; a false one times out naming what was awaited."""
    feed = ChangeFeed()
    assert await feed.wait_until(lambda: 42, 1.0) == 42
    with pytest.raises(TimeoutError, match="the moon"):
        await feed.wait_until(lambda: None, 0.05, what="the moon")


async def test_many_async_waiters() -> None:
    """Every parked waiter is woken by one notify."""
    feed = ChangeFeed()
    flag: list[bool] = []
    waiters = [asyncio.create_task(feed.wait_until(lambda: flag or None, 5.0)) for _ in range(5)]
    await asyncio.sleep(0)
    flag.append(True)
    feed.notify()
    assert await asyncio.gather(*waiters) == [[True]] * 5


def test_blocking_wait() -> None:
    """The blocking form wakes on notify and times out with a message."""
    feed = ChangeFeed()
    box: list[int] = []

    def later() -> None:
        box.append(7)
        feed.notify()

    timer = threading.Timer(0.01, later)
    timer.start()
    try:
        assert feed.wait_until_blocking(lambda: box[0] if box else None, 5.0) == 7
    finally:
        timer.join(5.0)
    with pytest.raises(TimeoutError, match="nothing"):
        feed.wait_until_blocking(lambda: None, 0.05, what="nothing")


async def test_blocking_wait_refuses_to_block_an_event_loop() -> None:
    """Inside a running loop the blocking form raises instead of freezing it."""
    with pytest.raises(RuntimeError, match="await wait_until"):
        ChangeFeed().wait_until_blocking(lambda: 1, 1.0)
