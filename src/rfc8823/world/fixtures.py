"""pytest fixtures for the test world (registered as the ``rfc8823.world`` plugin).

One world per test session and per xdist worker: servers start once on ephemeral loopback
ports, and tests isolate themselves with fresh addresses from :meth:`World.new_address`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rfc8823.world.world import World


@pytest.fixture(scope="session")
def world() -> Iterator[World]:
    """The running test world: DNS, domains with DKIM/SPF/DMARC, MX and submission ports."""
    with World() as running:
        yield running
