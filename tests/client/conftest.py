"""Fixtures for the reference client's tests: its own MX, and a reference CA mailing to it.

Each test gets a fresh SMTP listener (the user's MX) and, where needed, a fresh in-process
reference CA whose outbound challenges go straight to that listener (its smarthost). Addresses
come from the session world, so tests never collide.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rfc8823.client.mailbox import SmtpMailSource
from rfc8823.server.config import ServerConfig
from rfc8823.server.runner import ReferenceServer
from rfc8823.world.world import World

from .support import CA_DOMAIN


@pytest.fixture
async def client_mx() -> AsyncIterator[SmtpMailSource]:
    """The client's SMTP listener: the MX of the user's domain for this test."""
    async with SmtpMailSource() as source:
        yield source


@pytest.fixture
async def reference_ca(world: World, client_mx: SmtpMailSource) -> AsyncIterator[ReferenceServer]:
    """A reference CA that sends its challenges to ``client_mx`` and reads DNS from the world."""
    config = ServerConfig(
        resolver=world.dns_endpoint,
        smarthost=client_mx.address,
        challenge_from=world.new_address(CA_DOMAIN, prefix="acme"),
    )
    async with ReferenceServer(config, pki=world.pki) as server:
        yield server
