"""Where RFC 8823 leaves room: reply/POST order and token concatenation, recorded as variants.

docs/decisions.md#decision-2 and docs/decisions.md#decision-4 (AMB-1, AMB-3): the suite tries every
reading and order, records what the CA does (INFO), and warns where a reading or order it refuses is
one clients use. RFC 8823 §3 steps 4-8; RFC 8555 §7.5.1.
"""

from __future__ import annotations

import pytest

from rfc8823.findings import passed, risk
from rfc8823.report.plugin import Conformance
from rfc8823.requirements import covers

from .helpers import ServerSuite
from .replies import post_once


@covers("FLOW-7")
@pytest.mark.needs("validation")
async def test_reply_before_post(ca: ServerSuite, conformance: Conformance) -> None:
    """The reply is in before the readiness POST (acme4j's order): INFO if it validates.

    No barrier between the reply and the POST: the order under test is the client's, and a CA
    that reads its mailbox only at the POST must still find the reply there.
    """
    flow = await ca.flow()
    if flow.posted:
        conformance.info("FLOW-7", "reply-before-POST impossible: the email came only after POST")
        return
    await flow.answer()
    early, _ = await flow.read()
    await post_once(flow)
    final = (await flow.wait_challenge("valid")).get("status")
    if final == "valid":
        conformance.info(
            "FLOW-7",
            f"reply before POST: {early.get('status')} when read just before the POST, "
            "then valid",
        )
        conformance.record(passed("FLOW-7", "a reply sent before the POST validated"))
    else:
        conformance.record(
            risk("FLOW-7", f"reply before POST left the challenge {final}", "valid (AMB-3)")
        )


@covers("FLOW-7")
@pytest.mark.needs("challenge-email")
async def test_post_before_reply(ca: ServerSuite, conformance: Conformance) -> None:
    """The readiness POST comes before the reply (acmez-style order): INFO if it validates."""
    flow = await ca.flow(receive=False)
    await post_once(flow)
    posted, _ = await flow.read()
    await flow.receive()
    await flow.answer()
    final = (await flow.wait_challenge("valid")).get("status")
    if final == "valid":
        conformance.info(
            "FLOW-7", f"POST before reply: {posted.get('status')} after the POST, then valid"
        )
        conformance.record(passed("FLOW-7", "a reply sent after the POST validated"))
    else:
        conformance.record(
            risk("FLOW-7", f"POST before reply left the challenge {final}", "valid (AMB-3)")
        )
