"""Getting past an ACME lifetime: waited out when short, skipped on the CA's clock when long.

RFC 8555 §7.1.4 and §7.1.6 make authorizations expire; a test of what happens after ``expires``
waits for it when it comes within ``--acme-timeout``, moves the clock of a target that declares
``time_travel`` otherwise, and reports UNSUPPORTED when it can do neither.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from rfc8823.report.plugin import Conformance
from rfc8823.targets import ServerUnderTest

from .helpers import ServerSuite


@asynccontextmanager
async def past(
    ca: ServerSuite,
    server_target: ServerUnderTest,
    conformance: Conformance,
    requirement: str,
    expires: str,
) -> AsyncIterator[float]:
    """Inside, the CA's time is past ``expires`` or will be within the seconds yielded (the
    bound to wait for it to show); the CA's clock is put back on the way out. UNSUPPORTED on
    ``requirement`` when the lifetime is too long to wait for and the clock cannot move."""
    remaining = datetime.fromisoformat(expires).timestamp() - time.time()
    travel = remaining > ca.timeouts.state
    if travel and not server_target.capabilities.time_travel:
        conformance.unsupported(
            requirement,
            f"the authorization expires in {remaining:.0f} s; the suite waits at most "
            f"{ca.timeouts.state:.0f} s (--acme-timeout) and cannot move this CA's clock",
        )
    if travel:
        server_target.advance_clock(remaining + 1)
    try:
        yield (0 if travel else remaining) + ca.timeouts.state
    finally:
        if travel:
            server_target.advance_clock(0)
