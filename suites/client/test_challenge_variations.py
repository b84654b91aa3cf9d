"""Conforming challenges the client must answer correctly, however they are written (RFC 8823
§3.1 (1)-(7)).

The suite's CA writes its real challenge in one conforming variation at a time (folded and
encoded Subjects, padded token-part1, Reply-To and Cc, HTML and multipart bodies with decoys,
Auto-Submitted spellings, other signatures); the client must answer it so that the CA issues.
A Hypothesis test then draws from ``conforming_challenges()`` (a few examples in the default
profile, many more with ``--hypothesis-profile=deep``). A variation is judged on its own rows:
no response, or one a CA must refuse, breaks the rows of the freedom the challenge used.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, note, settings

from rfc8823.messages.challenge import ChallengeEmail
from rfc8823.requirements import covers
from rfc8823.strategies.challenge import conforming_challenges
from rfc8823.targets.peer_ca import PeerBehaviour
from rfc8823.tokens import b64url_decode

from .challenges import VARIATIONS, Variation, retarget
from .harness import ClientSuite

EXAMPLES_PER_PROFILE_RUN = max(1, settings().max_examples // 6)
"""Each example costs a whole enrollment: a small share of the active profile."""


def _param(variation: Variation) -> object:
    marks = [covers(*variation.requirements)]
    if variation.capability is not None:
        marks.append(pytest.mark.client_capability(variation.capability))
    return pytest.param(variation, id=variation.name, marks=marks)


async def assert_answered(
    client: ClientSuite,
    behaviour: PeerBehaviour,
    rows: tuple[str, ...],
    show: Callable[[str], None] | None = None,
) -> None:
    """The response answers the CA's own token-part1 in a way a CA accepts: judged on ``rows``,
    the freedoms this way of writing the challenge uses."""
    run = await client.start(behaviour)
    challenge = await run.sent_challenge()
    if show is not None:
        show(challenge.data.decode("utf-8", "replace"))
    response = await run.response_or_none()
    report = run.judge(response, challenge) if response is not None else None
    if report is None:
        observed = f"no response{run.mail_trace()}"
    elif report.acceptable:
        observed = "a response a CA accepts"
    else:
        reasons = [str(f) for f in report.findings if f.requirement in report.rejection_reasons]
        observed = f"a response a CA must refuse: {'; '.join(reasons)}"
    await run.close()
    client.conformance.check(
        rows,
        report is not None and report.acceptable,
        observed,
        "an acceptable response to the CA's token-part1",
    )


@pytest.mark.needs("accepted")
@pytest.mark.parametrize("variation", [_param(v) for v in VARIATIONS])
async def test_variation_is_answered(client: ClientSuite, variation: Variation) -> None:
    """The challenge written this conforming way gets an acceptable response."""
    behaviour = PeerBehaviour(variant=variation.make(client.world))
    await assert_answered(client, behaviour, variation.requirements)


@covers("KA-4", "REF-4648-1", "TOK-4")
@pytest.mark.needs("accepted")
async def test_padded_token_part1_is_answered(client: ClientSuite) -> None:
    """token-part1 written with its '=' padding, as the RFC's example is (AMB-2,
    docs/decisions.md#decision-3)."""
    behaviour = PeerBehaviour(token_part1_octets=32, token_part1_padded=True)
    await assert_answered(client, behaviour, ("KA-4", "REF-4648-1", "TOK-4"))


CONFORMING_ROWS = (
    "CHAL-SUBJ-2",
    "CHAL-HDR-3",
    "CHAL-BODY-1",
    "CHAL-HTML-1",
    "CHAL-AUTO-2",
    "CHAL-AUTO-3",
    "CHAL-AUTH-1",
    "REF-5322-1",
)


@covers(*CONFORMING_ROWS)
@pytest.mark.needs("accepted")
@settings(
    max_examples=EXAMPLES_PER_PROFILE_RUN,
    report_multiple_bugs=False,
    suppress_health_check=[*settings().suppress_health_check, HealthCheck.function_scoped_fixture],
)
@given(sample=conforming_challenges())
async def test_conforming_challenges_are_answered(
    client: ClientSuite, sample: ChallengeEmail
) -> None:
    """Any challenge drawn from conforming_challenges() is answered and the certificate issued."""
    smime = client.capabilities.smime
    octets = len(b64url_decode(sample.token_part1))

    def variant(real: ChallengeEmail) -> ChallengeEmail:
        return retarget(sample, real, client.world, smime)

    behaviour = PeerBehaviour(token_part1_octets=octets, variant=variant)
    await assert_answered(client, behaviour, CONFORMING_ROWS, show=note)
