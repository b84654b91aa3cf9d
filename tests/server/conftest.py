"""Fixtures for the reference CA's tests: a running CA wired to the world, and a raw ACME driver.

The driver (:class:`rfc8823.acme.driver.AcmeDriver`) signs with ``rfc8823.acme.jws`` but can
also send raw bytes, so malformed requests are easy to write; here it takes a fresh nonce for
every request and never retries a ``badNonce``, so a test sees exactly what the CA did.
Replies are answered the way a user's mail client would: built with
``ResponseEmail.answering`` and submitted through the world's submission port, whose provider
DKIM-signs and relays them to the CA's reply listener.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from rfc8823.acme.driver import Account, AcmeDriver
from rfc8823.messages.response import ResponseEmail
from rfc8823.server.config import ServerConfig
from rfc8823.server.runner import ReferenceServer
from rfc8823.world.keys import cached_key
from rfc8823.world.mailstore import ReceivedMessage
from rfc8823.world.sendmail import SendResult, send_message_async
from rfc8823.world.world import World

MAIL_TIMEOUT = 10.0
STATE_TIMEOUT = 10.0


class Clock:
    """A wall clock that tests can move forward (expiry) and back to now."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def world_config(world: World, **changes: Any) -> ServerConfig:
    """A CA configuration using the world's DNS and MX."""
    return ServerConfig(resolver=world.dns_endpoint, mx_port=world.mx.port, **changes)


@pytest.fixture(scope="session")
def ca_clock() -> Clock:
    """The session CA's clock."""
    return Clock()


@pytest.fixture(scope="session")
def ca(
    world: World, ca_clock: Clock, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReferenceServer]:
    """The reference CA for this session, its reply MX routed from the world."""
    db = tmp_path_factory.mktemp("ca") / "ca.sqlite3"
    with ReferenceServer(world_config(world, db_path=db), clock=ca_clock) as server:
        world.route("ca.test", *server.reply_endpoint)
        yield server


@pytest.fixture(autouse=True)
def provider_signs(world: World) -> Iterator[None]:
    """Users of example.test have a provider that DKIM-signs what they submit (RFC 8823 §3.2).

    The world is shared by the session (and by other test folders under xdist), so the setting
    is put back afterwards.
    """
    was_signing = "example.test" in world.provider_signs
    world.sign_outbound("example.test")
    yield
    world.sign_outbound("example.test", enabled=was_signing)


@pytest.fixture
def clock(ca_clock: Clock) -> Iterator[Clock]:
    """The session CA's clock, put back to now after the test."""
    yield ca_clock
    ca_clock.offset = 0.0


class Flow:
    """One order for one fresh address, up to the challenge email."""

    def __init__(self, account: Account, address: str, order_url: str, order: dict[str, Any]):
        self.account = account
        self.address = address
        self.order_url = order_url
        self.order = order
        self.authz: dict[str, Any] = {}
        self.challenge: dict[str, Any] = {}
        self.email: ReceivedMessage | None = None

    @property
    def challenge_url(self) -> str:
        """The email-reply-00 challenge URL."""
        return str(self.challenge["url"])

    async def fetch_authz(self) -> dict[str, Any]:
        """POST-as-GET the authorization (this sends the challenge email;
        docs/decisions.md#decision-4)."""
        self.authz = await self.account.fetch(self.order["authorizations"][0])
        self.challenge = next(c for c in self.authz["challenges"] if c["type"] == "email-reply-00")
        return self.authz

    async def receive(self, world: World) -> ReceivedMessage:
        """The challenge email, as delivered to the address's mailbox."""
        self.email = await world.store.next_for(self.address, MAIL_TIMEOUT)
        return self.email

    def reply(self, *, thumbprint: str | None = None) -> ResponseEmail:
        """The conforming reply builder (unsigned; the world's provider signs on submission)."""
        assert self.email is not None
        return ResponseEmail.answering(
            self.email.data,
            identifier=self.address,
            thumbprint=thumbprint or self.account.thumbprint,
            token_part2=self.challenge["token"],
        )

    async def post_challenge(self) -> httpx.Response:
        """The client's readiness POST ``{}`` (RFC 8555 §7.5.1)."""
        return await self.account.post(self.challenge_url, {})


async def submit(world: World, sender: str, data: bytes, rcpt: str) -> SendResult:
    """Send as the user: submission with AUTH; the provider signs and relays to the CA."""
    return await send_message_async(
        world.submission.host,
        world.submission.port,
        mail_from=sender,
        rcpt_tos=[rcpt],
        data=data,
        tls="starttls",
        ssl_context=world.client_ssl_context(),
        auth=world.submission_login(sender),
        smtputf8=not (sender.isascii() and data.isascii()),
        timeout=MAIL_TIMEOUT,
    )


async def deliver_direct(
    world: World, server: ReferenceServer, sender: str, data: bytes, *, domain: str = "example.test"
) -> SendResult:
    """Hand a message straight to the CA's reply listener from ``domain``'s SPF-authorised IP."""
    host, port = server.reply_endpoint
    return await send_message_async(
        host,
        port,
        mail_from=sender,
        rcpt_tos=[server.config.challenge_from],
        data=data,
        source_address=world.domain(domain).source_ip,
        helo=f"mx.{domain}",
        timeout=MAIL_TIMEOUT,
    )


class Harness:
    """What a test needs: the CA, the world, an ACME driver, and shortcuts for flows."""

    def __init__(self, server: ReferenceServer, world: World, driver: AcmeDriver) -> None:
        self.server = server
        self.world = world
        self.acme = driver

    async def new_account(self, name: str = "acct", kind: Any = "p256") -> Account:
        """An account with a cached key called ``name``."""
        return await self.acme.account(cached_key(f"server-test-{name}", kind))

    async def flow(
        self, account: Account, *, domain: str = "example.test", prefix: str = "user"
    ) -> Flow:
        """A new order for a fresh address, its authorization fetched and email received."""
        address = self.world.new_address(domain, prefix)
        order = await account.new_order(address)
        flow = Flow(account, address, order.url, order.body)
        await flow.fetch_authz()
        await flow.receive(self.world)
        return flow

    async def answer(self, flow: Flow, builder: ResponseEmail | None = None) -> SendResult:
        """Submit the reply (default: the conforming one) as the user would."""
        data = (builder or flow.reply()).build()
        assert flow.email is not None
        return await submit(self.world, flow.address, data, self.server.config.challenge_from)


@asynccontextmanager
async def open_harness(server: ReferenceServer, world: World) -> AsyncIterator[Harness]:
    """A harness with its own HTTP client for ``server``."""
    context = ssl.create_default_context(cafile=server.ca_bundle)
    async with httpx.AsyncClient(verify=context, timeout=STATE_TIMEOUT) as http:
        driver = AcmeDriver(http, server.directory_url, reuse_nonces=False, retry_bad_nonce=False)
        yield Harness(server, world, driver)


@pytest.fixture
async def harness(ca: ReferenceServer, world: World) -> AsyncIterator[Harness]:
    """A harness on the session CA."""
    async with open_harness(ca, world) as value:
        yield value


@pytest.fixture
def harness_for(world: World) -> Any:
    """``async with harness_for(server) as h``: a harness on another CA."""
    return lambda server: open_harness(server, world)


@pytest.fixture
def tools() -> Any:
    """Helpers that are not fixtures: ``submit``, ``deliver_direct``, ``Clock``, timeouts."""
    return SimpleNamespace(
        submit=submit,
        deliver_direct=deliver_direct,
        Clock=Clock,
        MAIL_TIMEOUT=MAIL_TIMEOUT,
        STATE_TIMEOUT=STATE_TIMEOUT,
    )


@pytest.fixture
def ca_factory(world: World, tmp_path: Path) -> Iterator[Any]:
    """Start extra CAs (own config); they stop, and the world's route returns, after the test."""
    started: list[ReferenceServer] = []
    previous = world.routes.get("ca.test")

    def start(**changes: Any) -> ReferenceServer:
        changes.setdefault("db_path", tmp_path / "extra.sqlite3")
        clock = changes.pop("clock", time.time)
        server = ReferenceServer(world_config(world, **changes), clock=clock).start()
        started.append(server)
        world.route("ca.test", *server.reply_endpoint)
        return server

    yield start
    for server in reversed(started):
        server.stop()
    if previous is not None:
        world.route("ca.test", previous.host, previous.port)
