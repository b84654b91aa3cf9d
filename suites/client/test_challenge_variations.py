"""Conforming challenges the client must answer correctly, however they are written (RFC 8823
§3.1 (1)-(7)).

The suite's CA writes its real challenge in one conforming variation at a time (folded and
encoded Subjects, padded token-part1, Reply-To and Cc, HTML and multipart bodies with decoys,
Auto-Submitted spellings, other signatures); the client must answer it so that the CA issues.
A variation is judged on its own rows: no response, or one a CA must refuse, breaks the rows of
the freedom the challenge used; a variation combining two freedoms that is refused is tried one
part at a time, and breaks only the rows of the part refused on its own.

A Hypothesis test then draws challenges from ``freedoms.answerable_challenges()``. Each drawn
challenge carries the freedoms of §3.1 it uses (``freedoms.Freedom``): an answered one is
evidence for each of their rows. When the client refuses one, the example Hypothesis ends with is
tried again one freedom at a time, and only the freedom the client refuses on its own is
reported broken — or FLOW-5, naming the combination, when none is refused alone. The default
profile keeps this to a few examples plus one per freedom (``--hypothesis-profile=deep`` runs
20x); command targets are not shrunk (``--client-shrink``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis.control import current_build_context

from rfc8823.findings import Verdict, broken, passed
from rfc8823.messages.challenge import ChallengeEmail
from rfc8823.report.outcomes import Blocked, RuleBroken
from rfc8823.report.plugin import Conformance
from rfc8823.requirements import covers
from rfc8823.targets.peer_ca import PeerBehaviour
from rfc8823.tokens import b64url_decode
from rfc8823.world.world import World

from .challenges import VARIATIONS, Variant, Variation, retarget
from .freedoms import (
    EVERY_FREEDOM_ONCE,
    ROWS,
    Freedom,
    answerable_challenges,
    freedoms_of,
    only,
    unsigned,
)
from .harness import CA_DOMAIN, DKIM_SELECTOR, ClientSuite
from .prerequisites import ACCEPTED, SIGNED

EXAMPLES_PER_PROFILE_RUN = max(1, settings().max_examples // 6)
"""Each example costs a whole enrollment: a small share of the active profile."""


def _param(variation: Variation) -> object:
    marks = [covers(*variation.requirements)]
    if variation.capability is not None:
        marks.append(pytest.mark.client_capability(variation.capability))
    return pytest.param(variation, id=variation.name, marks=marks)


@dataclass(frozen=True)
class Answer:
    """How the client answered one challenge: acceptably or not, and what was seen."""

    acceptable: bool
    observed: str


async def answer_to(
    client: ClientSuite, behaviour: PeerBehaviour, show: Callable[[str], None] | None = None
) -> Answer:
    """Enroll once against a CA behaving so; whether the response answers the CA's own
    token-part1 in a way a CA accepts."""
    run = await client.start(behaviour)
    challenge = await run.sent_challenge()
    if show is not None:
        show(challenge.data.decode("utf-8", "replace"))
    response = await run.response_or_none()
    report = run.judge(response, challenge) if response is not None else None
    await run.close()
    if report is None:
        return Answer(False, f"no response{run.mail_trace()}")
    if report.acceptable:
        return Answer(True, "a response a CA accepts")
    reasons = [str(f) for f in report.findings if f.requirement in report.rejection_reasons]
    return Answer(False, f"a response a CA must refuse: {'; '.join(reasons)}")


async def assert_answered(
    client: ClientSuite, behaviour: PeerBehaviour, rows: tuple[str, ...]
) -> None:
    """The CA's challenge, written as ``behaviour`` says, gets an acceptable response: judged on
    ``rows``, the freedoms this way of writing it uses."""
    answer = await answer_to(client, behaviour)
    client.conformance.check(
        rows, answer.acceptable, answer.observed, "an acceptable response to the CA's token-part1"
    )


@dataclass
class Sent:
    """The CA's own challenge and what the suite made of it, for one enrollment."""

    real: ChallengeEmail | None = None
    sent: ChallengeEmail | None = None


def plainly_signed(world: World, like: ChallengeEmail) -> Variant:
    """The CA's own challenge with the plainest signature of ``like``'s kind: DKIM by the CA's
    domain with the default h=, or else S/MIME by a signer for its From."""

    def variant(real: ChallengeEmail) -> ChallengeEmail:
        if like.dkim_signings:
            key = world.domain(CA_DOMAIN).dkim_key(DKIM_SELECTOR)
            return real.signed_dkim(key, selector=DKIM_SELECTOR)
        return real.signed_smime(world.pki.smime_signer(real.challenge_from))

    return variant


async def require_signed_answered(client: ClientSuite, sent: Sent) -> None:
    """A refused challenge that carries a signature the CA's own lacks (variant
    unsigned-challenges): is the signature itself what the client refuses? The CA's challenge
    plainly signed is tried; refused too, that is broken on CHAL-AUTH-1 and the test is BLOCKED
    on ``SIGNED``, which it owns: the rows of the way it was written were never judged."""
    if sent.real is None or sent.sent is None or not unsigned(sent.real) or unsigned(sent.sent):
        return
    answer = await answer_to(client, PeerBehaviour(variant=plainly_signed(client.world, sent.sent)))
    if answer.acceptable:
        return
    observed = f"the CA's own challenge with a plain signature added: {answer.observed}"
    client.conformance.record(broken("CHAL-AUTH-1", observed, "an acceptable response"))
    client.conformance.step(SIGNED, False, rows=("CHAL-AUTH-1",), observed=observed)
    raise Blocked(SIGNED, observed)


async def refused_parts(client: ClientSuite, variation: Variation, answer: Answer) -> RuleBroken:
    """A refused combination, each of its parts tried alone: broken on the rows (of those the
    combination covers) of the parts the client refuses on their own, passed on those of the
    parts it answers; broken on every row of the combination when each part alone is answered."""
    findings = []
    for part in variation.parts:
        alone = await answer_to(client, PeerBehaviour(variant=part.make(client.world)))
        rows = [rid for rid in part.requirements if rid in variation.requirements]
        observed = f"{part.name} alone: {alone.observed}"
        findings += [
            passed(rid, observed)
            if alone.acceptable
            else broken(rid, observed, "an acceptable response to the CA's token-part1")
            for rid in rows
        ]
    refused = [f for f in findings if f.verdict is not Verdict.PASS]
    if not refused:
        refused = [
            broken(
                rid,
                f"{variation.name}: {answer.observed}; each part alone was answered",
                "an acceptable response to the CA's token-part1",
            )
            for rid in variation.requirements
        ]
        findings = refused
    client.conformance.record(*findings)
    return RuleBroken(refused)


@pytest.mark.needs("accepted")
@pytest.mark.parametrize("variation", [_param(v) for v in VARIATIONS])
async def test_variation_is_answered(client: ClientSuite, variation: Variation) -> None:
    """The challenge written this conforming way gets an acceptable response."""
    make = variation.make(client.world)
    sent = Sent()

    def variant(real: ChallengeEmail) -> ChallengeEmail:
        sent.real, sent.sent = real, make(real)
        return sent.sent

    answer = await answer_to(client, PeerBehaviour(variant=variant))
    if not answer.acceptable:
        await require_signed_answered(client, sent)
    if not answer.acceptable and variation.parts:
        raise await refused_parts(client, variation, answer)
    client.conformance.check(
        variation.requirements,
        answer.acceptable,
        answer.observed,
        "an acceptable response to the CA's token-part1",
    )


@covers("KA-4", "REF-4648-1", "TOK-4")
@pytest.mark.needs("accepted")
async def test_padded_token_part1_is_answered(client: ClientSuite) -> None:
    """token-part1 written with its '=' padding, as the RFC's example is (AMB-2,
    docs/decisions.md#decision-3)."""
    behaviour = PeerBehaviour(token_part1_octets=32, token_part1_padded=True)
    await assert_answered(client, behaviour, ("KA-4", "REF-4648-1", "TOK-4"))


class ChallengeRefused(AssertionError):
    """A conforming drawn challenge was not answered acceptably (what Hypothesis replays)."""


Pick = Callable[[ChallengeEmail, ChallengeEmail], ChallengeEmail]
"""From the drawn challenge written into the CA's (and the CA's own), what to send."""


async def try_drawn(client: ClientSuite, sample: ChallengeEmail, pick: Pick) -> tuple[Answer, Sent]:
    """Enroll once, the CA's challenge written as ``pick`` makes it of the drawn ``sample``."""
    smime = client.capabilities.smime
    sent = Sent()

    def variant(real: ChallengeEmail) -> ChallengeEmail:
        full = retarget(sample, real, client.world, smime)
        if unsigned(sample):
            full = replace(full, dkim_signings=real.dkim_signings, smime_signing=real.smime_signing)
        sent.real, sent.sent = real, pick(full, real)
        return sent.sent

    octets = len(b64url_decode(sample.token_part1))
    behaviour = PeerBehaviour(token_part1_octets=octets, variant=variant)
    return await answer_to(client, behaviour, show=note), sent


async def isolate(
    client: ClientSuite, sample: ChallengeEmail, used: tuple[Freedom, ...], answer: Answer
) -> RuleBroken:
    """The freedoms of a refused challenge, each tried alone; findings on the rows of those the
    client refuses on their own, else on FLOW-5 for the combination."""
    findings = []
    for freedom in used:

        def alone(
            full: ChallengeEmail, real: ChallengeEmail, kept: Freedom = freedom
        ) -> ChallengeEmail:
            return only(kept, full, real)

        tried, _ = await try_drawn(client, sample, alone)
        if not tried.acceptable:
            findings += [
                broken(rid, f"a challenge using only {freedom.name}: {tried.observed}", "answered")
                for rid in freedom.requirements
            ]
    if not findings:
        names = "; ".join(f.name for f in used)
        findings.append(
            broken(
                "FLOW-5",
                f"a conforming challenge using {names} together: {answer.observed}; "
                "each alone was answered",
                "an acceptable response",
            )
        )
    return RuleBroken(findings)


@covers(*ROWS)
@pytest.mark.needs("accepted")
@settings(
    max_examples=EXAMPLES_PER_PROFILE_RUN,
    report_multiple_bugs=False,
    suppress_health_check=[*settings().suppress_health_check, HealthCheck.function_scoped_fixture],
)
@given(sample=answerable_challenges())
@example(sample=EVERY_FREEDOM_ONCE[0])
@example(sample=EVERY_FREEDOM_ONCE[1])
@example(sample=EVERY_FREEDOM_ONCE[2])
@example(sample=EVERY_FREEDOM_ONCE[3])
@example(sample=EVERY_FREEDOM_ONCE[4])
@example(sample=EVERY_FREEDOM_ONCE[5])
async def test_conforming_challenges_are_answered(
    client: ClientSuite, conformance: Conformance, sample: ChallengeEmail
) -> None:
    """A challenge using any of §3.1's freedoms gets a response the CA accepts."""
    answer, sent = await try_drawn(client, sample, lambda full, _: full)
    if sent.sent is None or sent.real is None:
        raise Blocked(ACCEPTED, f"the CA built no challenge: {answer.observed}")
    used = freedoms_of(sent.sent, sent.real)
    note(f"freedoms used: {[f.name for f in used]}")
    if answer.acceptable:
        judged = {f.requirement for f in conformance.findings}
        for freedom in used:
            fresh = [rid for rid in freedom.requirements if rid not in judged]
            judged.update(fresh)
            conformance.record(
                *(passed(rid, f"a challenge using {freedom.name} was answered") for rid in fresh)
            )
        return
    if not used:
        raise Blocked(ACCEPTED, f"the CA's own challenge was refused: {answer.observed}")
    if not current_build_context().is_final:
        raise ChallengeRefused(f"observed {answer.observed} for a conforming challenge")
    refused = await isolate(client, sample, used, answer)
    conformance.record(*refused.findings)
    raise refused
