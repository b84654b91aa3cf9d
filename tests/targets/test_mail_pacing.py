"""The client suite's control of challenge deliveries (suites/client/mailpaths.py):
a delay after the CA sent, a spacing between deliveries, waiting for the client to watch, and
several messages as one burst; and the world's DNS where a system resolver looks."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import dns.resolver
import pytest

from rfc8823.targets.client import MailboxPacing
from rfc8823.world.mailstore import ReceivedMessage
from rfc8823.world.system_resolver import SystemResolverStandIn
from rfc8823.world.world import World

from .test_remote_run import ROOT

TOLERANCE = 0.15
"""Seconds a delivery may come late (scheduling on a loaded machine)."""


def mailpaths() -> ModuleType:
    """The suite's ``mailpaths`` module (the suites are no package)."""
    name = "rfc8823_suite_mailpaths"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "suites/client/mailpaths.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def received(seq: int, sent_at: float) -> ReceivedMessage:
    """A message the hop received at ``sent_at`` (wall clock)."""
    return ReceivedMessage(
        mail_from="acme@ca.test",
        rcpt_tos=("user@example.test",),
        data=b"Subject: ACME: x\r\n\r\n",
        peer=("127.0.0.1", 0),
        helo="ca.test",
        tls=False,
        auth_user=None,
        smtputf8=False,
        listener="test",
        received_at=sent_at,
        seq=seq,
    )


class Recorder:
    """A mailbox that notes when each message (or burst) arrived."""

    def __init__(self) -> None:
        self.times: list[tuple[float, tuple[int, ...]]] = []

    async def one(self, message: ReceivedMessage) -> None:
        self.times.append((time.monotonic(), (message.seq,)))

    async def many(self, messages: Sequence[ReceivedMessage]) -> None:
        self.times.append((time.monotonic(), tuple(m.seq for m in messages)))


async def test_delay_counts_from_sending_and_spacing_from_the_last_delivery() -> None:
    """The first message waits out the delay since the CA sent it; the next the spacing."""
    box = Recorder()
    start = time.monotonic()
    paced = mailpaths().PacedDelivery(
        box.one, MailboxPacing(delay=0.4, spacing=0.3), deadline=start + 10
    )
    await paced(received(1, time.time() - 0.1))
    await paced(received(2, time.time() - 5))
    first, second = (moment - start for moment, _ in box.times)
    assert 0.3 - 0.02 <= first <= 0.3 + TOLERANCE
    assert 0.3 - 0.02 <= second - first <= 0.3 + TOLERANCE
    assert [seq for _, seq in paced.deliveries] == [1, 2]


async def test_a_burst_and_waiting_for_the_client_to_watch() -> None:
    """A burst goes in one call; when_watching asks, and delivery never passes the deadline."""
    box = Recorder()
    asked: list[float] = []

    async def watching(timeout: float) -> bool:  # noqa: ASYNC109
        asked.append(timeout)
        return True

    start = time.monotonic()
    paced = mailpaths().PacedDelivery(
        box.one,
        MailboxPacing(delay=30, when_watching=True),
        deadline=start + 0.2,
        many=box.many,
        watching=watching,
    )
    await paced.together([received(1, time.time()), received(2, time.time())])
    assert [seqs for _, seqs in box.times] == [(1, 2)]
    assert box.times[0][0] - start <= 0.2 + TOLERANCE
    assert len(asked) == 1


async def test_nothing_waits_once_the_client_has_ended() -> None:
    """A client that has exited will never watch: deliveries go at once from then on."""
    box = Recorder()

    async def never(timeout: float) -> bool:  # noqa: ASYNC109
        await asyncio.sleep(timeout)
        return False

    start = time.monotonic()
    paced = mailpaths().PacedDelivery(
        box.one, MailboxPacing(delay=30, when_watching=True), deadline=start + 60, watching=never
    )
    asyncio.get_running_loop().call_later(0.1, paced.client_ended.set)
    await paced(received(1, time.time()))
    await paced(received(2, time.time()))
    assert box.times[-1][0] - start <= 0.1 + TOLERANCE


async def test_a_hop_hands_a_burst_to_the_delivery() -> None:
    """Hop.send_together queues the messages as one item for the delivery's ``together``."""
    module = mailpaths()
    box = Recorder()
    paced = module.PacedDelivery(
        box.one, MailboxPacing(), deadline=time.monotonic() + 10, many=box.many
    )
    async with module.Hop("burst-hop", paced) as hop:
        hop.send_on(received(1, time.time()))
        hop.send_together([received(2, time.time()), received(3, time.time())])
        await hop.settle(5)
    assert [seqs for _, seqs in box.times] == [(1,), (2, 3)]


def resolv_conf_after_stop(stand_in: SystemResolverStandIn) -> Path | None:
    """Read ``resolv_conf`` anew (the asserts before ``stop()`` narrowed it for mypy)."""
    return stand_in.resolv_conf


def test_world_dns_where_the_system_resolver_looks(world: World) -> None:
    """Port 53 of a loopback address answers from the world's records; resolv.conf names it."""
    stand_in = SystemResolverStandIn(world.records, "127.0.53.211")
    try:
        stand_in.start()
    except OSError as error:
        pytest.skip(f"binding port 53 needs privileges here: {error}")
    try:
        assert stand_in.resolv_conf is not None
        assert "nameserver 127.0.53.211" in stand_in.resolv_conf.read_text()
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.53.211"]
        answer = resolver.resolve("example.test", "MX", lifetime=5)
        assert [str(r.exchange) for r in answer] == ["mx.example.test."]
    finally:
        stand_in.stop()
    assert resolv_conf_after_stop(stand_in) is None
    with pytest.raises(ValueError, match="loopback"):
        SystemResolverStandIn(world.records, "10.0.0.1")
