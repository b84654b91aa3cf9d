"""Replies written in many conforming ways, sent through real SMTP: the CA validates each one.

Every example answers a fresh authorization's real challenge email with a reply drawn from
``replies.reply_variations`` (Subject prefixes, folds and encoded-words; digest line breaks;
text around the block; multipart/alternative), submitted as the user so the provider signs
it. The default profile keeps this to a few examples; ``--hypothesis-profile=deep`` runs 20x.
RFC 8823 §3.2 (1), (7); RFC 2047; RFC 5322 §2.2.3.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, note, settings

from rfc8823.requirements import covers

from .helpers import ServerSuite
from .replies import ReplyVariation, decision_when_valid, reply_variations

EXAMPLES_PER_PROFILE_RUN = max(1, settings().max_examples // 8)
"""Each example costs an order and a mail round trip: a small share of the active profile."""


@covers(
    "RESP-SUBJ-1",
    "RESP-SUBJ-2",
    "RESP-SUBJ-3",
    "RESP-SUBJ-4",
    "RESP-BODY-1",
    "RESP-BODY-3",
    "RESP-BODY-4",
)
@settings(
    max_examples=EXAMPLES_PER_PROFILE_RUN,
    suppress_health_check=[
        *settings().suppress_health_check,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(variation=reply_variations())
async def test_conforming_variations_validate(ca: ServerSuite, variation: ReplyVariation) -> None:
    """A reply using any of §3.2's freedoms validates its authorization."""
    flow = await ca.flow()
    message = variation.apply(flow.reply()).build()
    note(message.decode("utf-8", "replace"))
    await ca.submit(flow.address, message)
    decision = await decision_when_valid(flow)
    assert decision.validated, f"observed {decision} after a conforming reply; expected valid"
