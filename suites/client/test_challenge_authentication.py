"""Challenges the client must not answer (RFC 8823 §3 steps 5-6, §3.1 (2), (3), (5)-(7)).

Each test holds the CA's real challenge, puts a challenge the client must leave alone into its
mailbox first (and waits until it is there: a delivery that failed is the harness's ERROR), then
lets the real one through. The client must answer the real one — the positive control, so a
client that never answers or never looked at its mailbox cannot pass (FLOW-4, FLOW-6, SEC-6) —
and nothing may answer the bad one within a quiet window of twice the client's own answer time
in this run. The S/MIME cases run for every client: one that does not verify S/MIME must not
answer an S/MIME-only challenge either.
"""

from __future__ import annotations

import pytest

from rfc8823.report.outcomes import Blocked
from rfc8823.requirements import covers

from .challenges import BAD_CHALLENGES, BadChallenge, base, ca_signed
from .harness import ClientSuite
from .prerequisites import ANSWER


@pytest.mark.needs("answer")
@pytest.mark.parametrize(
    "bad",
    [pytest.param(bad, id=bad.name, marks=covers(*bad.requirements)) for bad in BAD_CHALLENGES],
)
async def test_challenge_is_not_answered(client: ClientSuite, bad: BadChallenge) -> None:
    """A challenge that breaks an authentication or addressing rule gets no response."""
    run = await client.start(hold=True, ca_domain=bad.ca_domain)
    real = await run.held_challenge()
    crafted = bad.craft(run)
    await run.deliver(crafted.data)
    run.release(real)
    answered = await run.response_or_none()
    for token in crafted.tokens:
        await run.expect_no_response(token, bad.why, bad.requirements, challenge=crafted.data)
    if answered is None:
        raise Blocked(
            ANSWER, f"no response to the real challenge after the crafted one{run.mail_trace()}"
        )


@covers("FLOW-6", "SEC-6")
@pytest.mark.needs("answer")
async def test_duplicate_challenge_is_answered_once(client: ClientSuite) -> None:
    """The same challenge email (same Message-ID) delivered twice gets exactly one response."""
    run = await client.start(hold=True)
    real = await run.held_challenge()
    run.release(real)
    await run.deliver(real.data)
    token = run.require_issued_challenge().token_part1
    await run.expect_single_response(
        token, "a challenge is answered at most once", ("FLOW-6", "SEC-6")
    )


@covers("FLOW-4", "SEC-6")
@pytest.mark.needs("answer")
async def test_challenge_after_the_answer_is_not_answered(client: ClientSuite) -> None:
    """An authentic challenge arriving once the pending one is answered gets no response."""
    run = await client.start()
    await run.first_response()
    late = ca_signed(run, base(run))
    await run.deliver(late.build())
    await run.expect_no_response(
        late.token_part1, "no enrollment waits for a challenge any more", ("FLOW-4", "SEC-6")
    )
