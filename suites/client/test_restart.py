"""A client restarted on its state still answers each challenge email at most once (RFC 8823 §3
step 6; FLOW-6, SEC-6).

The client enrolls and answers its CA's challenge; it is then started again on the state it
kept (same address, CA, mailbox and state folder: the ``restart`` capability), the challenge
it answered is put into its mailbox again before the new run's own challenge, and only the new
one may be answered. Clients that cannot be restarted are UNSUPPORTED.
"""

from __future__ import annotations

import contextlib

import pytest

from rfc8823.findings import broken, passed
from rfc8823.requirements import covers
from rfc8823.world.mailstore import ReceivedMessage

from .harness import ClientSuite, quoted, subject_token


@covers("FLOW-6", "SEC-6")
@pytest.mark.client_capability("restart")
async def test_restarted_client_does_not_answer_again(client: ClientSuite) -> None:
    """The challenge answered before the restart, delivered again after it, gets no response;
    the new run's own challenge is answered and the certificate issued (positive control)."""
    run = await client.start()
    first = await run.response()
    answered = await run.sent_challenge()
    token = run.require_issued_challenge().token_part1.rstrip("=")
    await run.issued()
    run.restart(hold=True)
    fresh = await run.held_challenge()
    run.deliver(answered.data)
    run.release(fresh)
    outcome = await run.outcome()

    def again(message: ReceivedMessage) -> bool:
        repeated = (subject_token(message.data) or "").rstrip("=") == token
        return repeated and message.seq != first.seq

    with contextlib.suppress(TimeoutError):
        await run.responses.received.wait_until(again, await run.quiet_window())
    repeats = [quoted(m) for m in run.responses_received() if again(m)]
    client.conformance.record(
        passed("FLOW-6", "the challenge answered before the restart was not answered again")
        if not repeats
        else broken(
            "FLOW-6",
            f"after the restart, answered token-part1 {token} again: {repeats}",
            "no second response to a challenge answered before the restart",
        )
    )
    assert not repeats, f"observed a second response after the restart: {repeats}"
    assert outcome.issued, (
        f"observed {outcome.describe()} after the restart; expected the new challenge answered "
        f"and the certificate issued{run.mail_trace()}"
    )
