"""Mail-bombing: a CA mails addresses that strangers name, so it must limit challenge mail.

RFC 8823 §6 (as derived in the catalog, SEC-8); RFC 8555 §6.6 (``rateLimited``, Retry-After).
"""

from __future__ import annotations

import pytest

from rfc8823.acme.driver import json_object
from rfc8823.acme.problems import ProblemType
from rfc8823.findings import broken
from rfc8823.report.plugin import Conformance
from rfc8823.requirements import covers
from rfc8823.targets import ServerCapabilities

from .helpers import ServerSuite

UNDECLARED_PROBE = 30
"""Orders for one address tried against a CA that declares no limit before calling it unlimited."""


@covers("SEC-8", "A-RATE-1")
@pytest.mark.needs("challenge-email")
async def test_challenge_mail_to_one_address_is_rate_limited(
    ca: ServerSuite, conformance: Conformance, server_capabilities: ServerCapabilities
) -> None:
    """Repeated orders naming one victim address end in rateLimited + Retry-After, unmailed."""
    declared = server_capabilities.challenge_mail_limit
    attempts = (declared or UNDECLARED_PROBE) + 1
    victim = ca.new_address()
    account = await ca.account()
    accepted = 0
    refusal = None
    for _ in range(attempts):
        response = await account.new_order_raw([{"type": "email", "value": victim}])
        if response.status_code != 201:
            refusal = response
            break
        accepted += 1
        for authz_url in json_object(response, 201)["authorizations"]:
            await account.fetch(str(authz_url))
    await ca.mail_barrier()
    mailed = len(ca.mail_to(victim))
    if refusal is None:
        conformance.record(
            broken(
                "SEC-8",
                f"{attempts} orders for one address all accepted, {mailed} challenge emails sent",
                "rateLimited once a per-address limit is reached (RFC 8555 §6.6)",
            )
        )
        conformance.info("A-RATE-1", "no rateLimited answer to judge")
        return
    ca.expect_refused("SEC-8", refusal, ProblemType.RATE_LIMITED)
    retry_after = refusal.headers.get("Retry-After")
    ca.check(
        "A-RATE-1", bool(retry_after), f"rateLimited, Retry-After {retry_after!r}", "a Retry-After"
    )
    ca.check(
        "SEC-8",
        mailed <= accepted,
        f"{mailed} challenge emails for {accepted} accepted orders",
        "at most one per accepted order and none for the refused one",
    )
    if declared is not None:
        ca.check(
            "SEC-8",
            accepted == declared,
            f"rateLimited after {accepted} orders",
            f"after the declared challenge_mail_limit of {declared}",
        )
