"""Challenges the client must not answer (RFC 8823 §3 steps 5-6, §3.1 (2), (3), (5)-(7)).

Each test holds the CA's real challenge, puts a challenge the client must leave alone into its
mailbox first, then lets the real one through. The client passes when nothing answers the bad
challenge within the quiet window and the real one is answered and the certificate issued: the
positive control, so a client that never answers cannot pass (FLOW-4, FLOW-6, SEC-6). The
S/MIME cases run for every client: one that does not verify S/MIME must not answer an
S/MIME-only challenge either.
"""

from __future__ import annotations

import pytest

from rfc8823.requirements import covers

from .challenges import BAD_CHALLENGES, BadChallenge, base, ca_signed
from .harness import ClientSuite


@pytest.mark.parametrize(
    "bad",
    [pytest.param(bad, id=bad.name, marks=covers(*bad.requirements)) for bad in BAD_CHALLENGES],
)
async def test_challenge_is_not_answered(client: ClientSuite, bad: BadChallenge) -> None:
    """A challenge that breaks an authentication or addressing rule gets no response."""
    run = await client.start(hold=True)
    real = await run.held_challenge()
    crafted = bad.craft(run)
    run.deliver(crafted.data)
    run.release(real)
    for token in crafted.tokens:
        await run.expect_no_response(token, bad.why, challenge=crafted.data)
    await run.issued()


@covers("FLOW-6", "SEC-6")
async def test_duplicate_challenge_is_answered_once(client: ClientSuite) -> None:
    """The same challenge email (same Message-ID) delivered twice gets exactly one response."""
    run = await client.start(hold=True)
    real = await run.held_challenge()
    run.release(real)
    run.deliver(real.data)
    token = run.require_issued_challenge().token_part1
    await run.expect_single_response(token, "FLOW-6: a challenge is answered at most once")


@covers("FLOW-4", "SEC-6")
async def test_challenge_after_the_answer_is_not_answered(client: ClientSuite) -> None:
    """An authentic challenge arriving once the pending one is answered gets no response."""
    run = await client.start()
    await run.first_response()
    late = ca_signed(run, base(run))
    run.deliver(late.build())
    await run.expect_no_response(late.token_part1, "no enrollment waits for a challenge any more")
    await run.issued()
