"""Challenges the client must not answer (RFC 8823 §3 steps 5-6, §3.1 (2), (3), (5)-(7)).

Each test holds the CA's real challenge, puts a challenge the client must leave alone into its
mailbox first (and waits until it is there: a delivery that failed is the harness's ERROR), then
lets the real one through. Nothing may answer the bad one within a quiet window of twice the
client's own answer time in this run. The S/MIME cases run for every client: one that does not
verify S/MIME must not answer an S/MIME-only challenge either.

Silence counts only when the client read the bad challenge. An IMAP mailbox shows it: the
suite's Dovecot sees a FETCH of its content or its ``\\Seen`` flag; a bad challenge never read
leaves the test BLOCKED (the ``read`` step, which the test owns). An SMTP listener or a Maildir
cannot show it: there the proof is that the bad challenge was in the mailbox before the real one
and that the client answered the real one (FLOW-4, FLOW-6, SEC-6), so the client was reading its
mailbox after the bad one arrived. That proves the client did not answer it; it does not prove
the client looked at it: a client that reads only the newest message, or skips mail by some rule
of its own, passes without having applied the rule under test.

The real challenge answered is the positive control in every mailbox kind: without it the test
is BLOCKED (the ``control`` step); a client that ended its enrollment over the bad challenge
(refused it, then gave up) is recorded INFO on SEC-6, the catalog having no row for that.
"""

from __future__ import annotations

import pytest

from rfc8823.requirements import covers

from .challenges import BAD_CHALLENGES, BadChallenge, base, ca_signed
from .harness import ClientSuite, answering


@pytest.mark.needs("answer")
@pytest.mark.parametrize(
    "bad",
    [pytest.param(bad, id=bad.name, marks=covers(*bad.requirements)) for bad in BAD_CHALLENGES],
)
async def test_challenge_is_not_answered(client: ClientSuite, bad: BadChallenge) -> None:
    """A challenge that breaks an authentication or addressing rule, read by the client, gets
    no response; the CA's own challenge after it does."""
    run = await client.start(hold=True, ca_domain=bad.ca_domain)
    real = await run.held_challenge()
    crafted = bad.craft(run)
    await run.deliver(crafted.data)
    run.release(real)
    crafted_answers = [answering(token, crafted.data) for token in crafted.tokens]
    answered = await run.response_or_none(unless=lambda m: any(a(m) for a in crafted_answers))

    async def read() -> str:
        return await run.require_read(crafted.data, control=real.data if answered else None)

    for token in crafted.tokens:
        await run.expect_no_response(
            token, bad.why, bad.requirements, challenge=crafted.data, proof=read
        )
    await run.require_control(answered, "SEC-6")


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
