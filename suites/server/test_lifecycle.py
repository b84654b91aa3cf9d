"""Lifecycle of orders, authorizations and challenges around an email-reply-00 validation.

RFC 8555 §7.1.6 fixes the state machines: an order fails when one of its authorizations ends
other than valid (A-STATE-2); a valid authorization expires at its ``expires`` (A-STATE-3,
§7.1.4); ``invalid`` is final, so nothing that arrives later — a correct reply, a re-POST —
brings a failed challenge or authorization back (A-STATE-1). Each test first makes the state
it judges happen through the CA's own rules (a wrong digest from the identifier, a
deactivation, a lapse of time) and records INFO when the CA does not get there, since reaching
that state is judged elsewhere (SRV-VAL-2, A-AUTHZ-2, A-AUTHZ-1). RFC 8555 §7.1.4, §7.1.6, §8.2.
"""

from __future__ import annotations

import secrets

import pytest

from rfc8823.acme.driver import Account, OrderHandle
from rfc8823.report.plugin import Conformance
from rfc8823.requirements import covers
from rfc8823.targets import ServerUnderTest
from rfc8823.tokens import b64url_encode

from .expiry import past
from .helpers import ChallengeFlow, ServerSuite
from .replies import current_decision, decision_after_barrier, post_once, send_signed

FAILED = "invalid"
"""An order's state once one of its authorizations failed (RFC 8555 §7.1.6)."""


async def check_order_failed(ca: ServerSuite, order: OrderHandle, what: str) -> None:
    """The order must become invalid (A-STATE-2), judged once final or after the state
    timeout (RFC 8555 §7.1.6)."""
    body = await order.account.wait_for_status(order.url, (FAILED,), ca.timeouts.state)
    ca.check(
        "A-STATE-2",
        body.get("status") == FAILED,
        f"{what}: order {body.get('status')!r}",
        f"{FAILED} (RFC 8555 §7.1.6)",
    )


async def fail_with_a_wrong_digest(ca: ServerSuite, flow: ChallengeFlow) -> str:
    """POST the challenge, then send the identifier's reply with a wrong digest; the
    authorization's status once the barrier has passed (SRV-VAL-2 makes it invalid)."""
    await post_once(flow)
    await send_signed(ca, flow, flow.reply().with_digest(b64url_encode(secrets.token_bytes(32))))
    decision = await decision_after_barrier(ca, flow)
    return str(decision.authz.get("status"))


async def deactivate(account: Account, flow: ChallengeFlow) -> str:
    """Deactivate the authorization (RFC 8555 §7.5.2); its status after the request."""
    response = await account.post(flow.authz_url, {"status": "deactivated"})
    body = response.json() if response.status_code == 200 else {}
    return str(body.get("status", f"HTTP {response.status_code}"))


@covers("A-STATE-2")
@pytest.mark.needs("barrier")
@pytest.mark.parametrize("end", ["invalid", "deactivated"])
async def test_order_fails_with_its_authorization(
    ca: ServerSuite, conformance: Conformance, end: str
) -> None:
    """A two-address order whose first authorization is valid and whose second ends invalid (a
    wrong digest from the identifier) or deactivated is itself invalid: neither pending nor
    ready (RFC 8555 §7.1.6)."""
    account = await ca.account()
    order = await ca.order(account, ca.new_address(), ca.new_address())
    first, second = await ca.flows(order)
    await first.complete()
    await second.receive()
    if end == "invalid":
        status = await fail_with_a_wrong_digest(ca, second)
    else:
        await deactivate(account, second)
        status = str((await account.fetch(second.authz_url)).get("status"))
    if status != end:
        conformance.info(
            "A-STATE-2", f"the second authorization is {status} after it was to end {end}"
        )
        return
    await check_order_failed(ca, order, f"an order with one authorization valid and one {end}")


@covers("A-STATE-3", "A-STATE-2")
@pytest.mark.needs("order-ready")
async def test_valid_authorization_expires(
    ca: ServerSuite, conformance: Conformance, server_target: ServerUnderTest
) -> None:
    """A valid authorization past its ``expires`` reads ``expired``, its ready order becomes
    invalid, and a new order for the address gets no valid authorization.

    A lifetime longer than ``--acme-timeout`` is skipped on a target that can move its CA's
    clock (``time_travel``), else UNSUPPORTED (``expiry.past``).
    """
    account = await ca.account()
    address = ca.new_address()
    order, _ = await ca.ready_order(account, address)
    authz_url = order.authorizations[0]
    expires = (await account.fetch(authz_url)).get("expires")
    if not isinstance(expires, str):
        seen = f"a valid authorization without expires ({expires!r}; A-AUTHZ-1's)"
        conformance.info("A-STATE-3", f"{seen}: nothing to wait past")
        conformance.info("A-STATE-2", f"{seen}: no expiry to fail the order")
        return
    async with past(ca, server_target, conformance, "A-STATE-3", expires) as wait:
        authz = await account.wait_for_status(authz_url, ("expired",), wait)
        ca.check(
            "A-STATE-3",
            authz.get("status") == "expired",
            f"a valid authorization past its expires {expires}: {authz.get('status')!r}",
            "expired (RFC 8555 §7.1.6)",
        )
        await check_order_failed(ca, order, "a ready order whose authorization expired")
        again = await ca.order(account, address)
        fresh = await account.fetch(again.authorizations[0])
        ca.check(
            "A-STATE-3",
            fresh.get("status") != "valid",
            f"a new order for {address} after expiry: authorization {fresh.get('status')!r}",
            "not valid: an expired authorization is not handed out again (RFC 8555 §7.1.4)",
        )


@covers("A-STATE-1")
@pytest.mark.needs("barrier")
async def test_invalid_challenge_stays_invalid(ca: ServerSuite, conformance: Conformance) -> None:
    """A challenge made invalid by a wrong digest from the identifier stays invalid, with its
    authorization, after a correct reply, a re-POST and another correct reply (RFC 8555 §7.1.6:
    invalid is final; §8.2 retries happen before the challenge fails, not after)."""
    flow = await ca.flow()
    status = await fail_with_a_wrong_digest(ca, flow)
    failed = await current_decision(flow)
    if failed.status != FAILED:
        conformance.info(
            "A-STATE-1", f"a wrong digest left {failed} (authorization {status}): none to revive"
        )
        return
    await flow.answer()
    repost = await flow.post()
    conformance.info("A-STATE-1", f"a re-POST of the invalid challenge: HTTP {repost.status_code}")
    await flow.answer()
    await ca.settle()
    after = await current_decision(flow)
    ca.check(
        "A-STATE-1",
        after.status == FAILED and after.authz.get("status") == FAILED,
        f"after a correct reply, a re-POST and another correct reply: {after}",
        "challenge and authorization still invalid (RFC 8555 §7.1.6)",
    )
    body = await flow.order.refresh()
    ca.check(
        "A-STATE-1",
        body.get("status") not in ("ready", "processing", "valid"),
        f"the order of the invalid authorization: {body.get('status')!r}",
        "never ready once an authorization failed",
    )
