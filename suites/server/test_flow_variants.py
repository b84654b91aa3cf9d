"""Where RFC 8823 leaves room: reply/POST order and token concatenation, recorded as variants.

docs/decisions.md#decision-2 and docs/decisions.md#decision-4 (AMB-1, AMB-3): the suite tries every
reading and order, records what the CA does (INFO), and warns where a reading or order it refuses is
one clients use. RFC 8823 §3 steps 4-8; RFC 8555 §7.5.1.
"""

from __future__ import annotations

from rfc8823.acme.driver import json_object
from rfc8823.findings import risk
from rfc8823.report.plugin import Conformance
from rfc8823.requirements import covers
from rfc8823.tokens import Concatenation

from .helpers import ChallengeFlow, ServerSuite


async def status_after_reply_and_post(
    ca: ServerSuite, flow: ChallengeFlow, reading: Concatenation
) -> str:
    """Answer under ``reading``, POST, let the CA settle, and read the challenge status."""
    await flow.answer(flow.reply(reading=reading))
    if not flow.posted:
        json_object(await flow.post())
    await ca.settle()
    return str((await flow.account.fetch(flow.challenge_url)).get("status"))


@covers("FLOW-7", "A-CHAL-2")
async def test_reply_before_post(ca: ServerSuite, conformance: Conformance) -> None:
    """The reply is in before the readiness POST (acme4j's order): INFO if it validates."""
    flow = await ca.flow()
    if flow.posted:
        conformance.info("FLOW-7", "reply-before-POST impossible: the email came only after POST")
        await flow.complete()
        return
    await flow.answer()
    await ca.settle()
    early = (await flow.account.fetch(flow.challenge_url)).get("status")
    json_object(await flow.post())
    final = (await flow.wait_challenge("valid")).get("status")
    if final == "valid":
        conformance.info("FLOW-7", f"reply before POST: {early} until the POST, then valid")
    else:
        conformance.record(
            risk("FLOW-7", f"reply before POST left the challenge {final}", "valid (AMB-3)")
        )


@covers("FLOW-7", "A-CHAL-2")
async def test_post_before_reply(ca: ServerSuite, conformance: Conformance) -> None:
    """The readiness POST comes before the reply (acmez-style order): INFO if it validates."""
    flow = await ca.flow(receive=False)
    posted = json_object(await flow.post())
    await flow.receive()
    await flow.answer()
    final = (await flow.wait_challenge("valid")).get("status")
    if final == "valid":
        conformance.info(
            "FLOW-7", f"POST before reply: {posted.get('status')} after the POST, then valid"
        )
    else:
        conformance.record(
            risk("FLOW-7", f"POST before reply left the challenge {final}", "valid (AMB-3)")
        )
