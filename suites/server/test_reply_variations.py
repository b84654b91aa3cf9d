"""Replies written in many conforming ways, sent through real SMTP: the CA validates each one.

Every example answers a fresh authorization's real challenge email with a reply drawn from
``replies.reply_variations`` (Subject prefixes, folds and encoded-words; digest line breaks;
text around the block; multipart/alternative), submitted as the user so the provider signs
it. Each example carries the freedoms of §3.2 it uses (``replies.Freedom``): a validated reply
is evidence for each of their rows. When the CA refuses one, the minimal example Hypothesis
finds is tried again one freedom at a time, and only the freedom the CA refuses on its own is
reported broken — or SRV-VAL-1, naming the combination, when none is refused alone. The
default profile keeps this to a few examples, plus one per freedom; ``--hypothesis-profile=deep``
runs 20x. RFC 8823 §3.2 (1), (7); RFC 2047; RFC 5322 §2.2.3.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis.control import current_build_context

from rfc8823.findings import broken, passed
from rfc8823.report.outcomes import RuleBroken
from rfc8823.report.plugin import Conformance
from rfc8823.requirements import covers

from .helpers import ServerSuite
from .replies import (
    EVERY_FREEDOM_ONCE,
    Decision,
    ReplyVariation,
    decision_when_valid,
    reply_variations,
)

EXAMPLES_PER_PROFILE_RUN = max(1, settings().max_examples // 8)
"""Each example costs an order and a mail round trip: a small share of the active profile."""


class VariationRefused(AssertionError):
    """A conforming variation did not validate (what Hypothesis shrinks on)."""


async def try_variation(ca: ServerSuite, variation: ReplyVariation) -> Decision:
    """Answer a fresh authorization with ``variation`` of the conforming reply; the decision."""
    flow = await ca.flow()
    message = variation.apply(flow.reply()).build()
    note(message.decode("utf-8", "replace"))
    await ca.submit(flow.address, message)
    return await decision_when_valid(flow)


async def isolate(
    ca: ServerSuite, variation: ReplyVariation, decision: Decision
) -> RuleBroken:
    """The refused freedoms of a refused variation, each tried alone; findings on their rows."""
    findings = []
    for freedom in variation.freedoms():
        alone = await try_variation(ca, variation.only(freedom))
        if not alone.validated:
            findings += [
                broken(rid, f"a reply using only {freedom.name}: {alone}", "valid")
                for rid in freedom.requirements
            ]
    if not findings:
        used = ", ".join(f.name for f in variation.freedoms()) or "no freedom"
        findings.append(
            broken(
                "SRV-VAL-1",
                f"a conforming reply using {used} together: {decision}; each alone validated",
                "valid",
            )
        )
    return RuleBroken(findings)


@pytest.mark.needs("validation")
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
    report_multiple_bugs=False,
    suppress_health_check=[
        *settings().suppress_health_check,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(variation=reply_variations())
@example(variation=EVERY_FREEDOM_ONCE[0])
@example(variation=EVERY_FREEDOM_ONCE[1])
@example(variation=EVERY_FREEDOM_ONCE[2])
@example(variation=EVERY_FREEDOM_ONCE[3])
@example(variation=EVERY_FREEDOM_ONCE[4])
@example(variation=EVERY_FREEDOM_ONCE[5])
async def test_conforming_variations_validate(
    ca: ServerSuite, conformance: Conformance, variation: ReplyVariation
) -> None:
    """A reply using any of §3.2's freedoms validates its authorization."""
    decision = await try_variation(ca, variation)
    if decision.validated:
        judged = {f.requirement for f in conformance.findings}
        for freedom in variation.freedoms():
            fresh = [rid for rid in freedom.requirements if rid not in judged]
            judged.update(fresh)
            conformance.record(
                *(passed(rid, f"a reply using {freedom.name} validated") for rid in fresh)
            )
        return
    if not current_build_context().is_final:
        raise VariationRefused(f"observed {decision} after a conforming reply")
    refused = await isolate(ca, variation, decision)
    conformance.record(*refused.findings)
    raise refused
