"""A client restarted on its state still answers each challenge email at most once (RFC 8823 §3
step 6; FLOW-6, SEC-6).

The client enrolls and answers its CA's challenge; it is then started again on the state it
kept (same address, CA, mailbox and state folder: the ``restart`` capability), the challenge
it answered is put into its mailbox again before the new run's own challenge, and only the new
one may be answered. A second answer across a restart is a WARN: the catalog asks for
persistence at SHOULD level, since a stateless client cannot know (FLOW-6, its black-box test).
Clients that cannot be restarted are UNSUPPORTED.
"""

from __future__ import annotations

import contextlib

import pytest

from rfc8823.report.outcomes import Blocked
from rfc8823.requirements import covers
from rfc8823.world.mailstore import ReceivedMessage

from .harness import ClientSuite, answering, quoted, subject_token
from .prerequisites import ANSWER


@covers("FLOW-6", "SEC-6")
@pytest.mark.client_capability("restart")
@pytest.mark.needs("answer")
async def test_restarted_client_does_not_answer_again(client: ClientSuite) -> None:
    """The challenge answered before the restart, delivered again after it, gets no response;
    the new run's own challenge is answered (the positive control)."""
    run = await client.start()
    first = await run.response()
    answered = await run.sent_challenge()
    token = run.require_issued_challenge().token_part1.rstrip("=")
    await run.outcome()
    run.restart(hold=True)
    fresh = await run.held_challenge()
    await run.deliver(answered.data)
    run.release(fresh)
    await run.outcome()

    answers_before = answering(token, answered.data)

    def again(message: ReceivedMessage) -> bool:
        return answers_before(message) and message.seq != first.seq

    with contextlib.suppress(TimeoutError):
        await run.responses.received.wait_until(again, await run.quiet_window())
    repeats = [quoted(m) for m in run.responses_received() if again(m)]
    client.conformance.check(
        ("FLOW-6", "SEC-6"),
        not repeats,
        f"after the restart, responses to the token-part1 {token} answered before: {repeats}",
        "no second response to a challenge answered before the restart",
        severity="risk",
    )
    answers_fresh = answering(subject_token(fresh.data) or "", fresh.data)
    if not any(answers_fresh(m) for m in run.responses_received()):
        raise Blocked(ANSWER, f"the restarted client answered no challenge{run.mail_trace()}")
