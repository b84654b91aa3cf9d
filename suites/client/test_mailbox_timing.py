"""A challenge email already in the mailbox when the client starts looking for it (RFC 8823 §3
steps 4-5; FLOW-8).

The CA mails its challenge as it answers the authorization fetch (step 4), and delivery can be
immediate, so the email may be in the mailbox before the client looks for it (step 5). Here the
suite's CA holds its answer to that fetch until the challenge email is filed into the client's
IMAP INBOX, at once (no delay, no waiting for IDLE): the client learns of its challenge only when
the email is already there.

The suite's Dovecot says whether the client really started looking afterwards: no session of
the client was in IDLE when the email was filed, or a session opened the INBOX after it. Then an
answer passes, and no answer with the email never read breaks FLOW-8 (a client that acts only on
new-mail notifications). A client already in IDLE when the email arrived that answered it was
not put to the test (INFO); one that read the email and still did not answer, or that missed mail
it was told of, is BLOCKED on the answer, as no row says why.
"""

from __future__ import annotations

import pytest

from rfc8823.messages.mime import parse_message
from rfc8823.report.outcomes import Blocked, HarnessError
from rfc8823.requirements import covers
from rfc8823.targets.client import MailboxPacing
from rfc8823.targets.peer_ca import PeerBehaviour

from .harness import ClientSuite
from .prerequisites import ANSWER


@covers("FLOW-8")
@pytest.mark.needs("answer")
async def test_challenge_already_in_the_mailbox_is_answered(client: ClientSuite) -> None:
    """The challenge email filed before the client knows of its challenge is found and answered."""
    run = await client.start(
        PeerBehaviour(mail_at="authz", gate_authorization=True),
        mailbox="imap",
        pacing=MailboxPacing(),
    )
    sent = await run.sent_challenge()
    await run.delivered(sent)
    run.peer.open_gate()
    answered = await run.response_or_none()
    message_id = (parse_message(sent.data).first("Message-ID") or "").strip()
    if run.imap is None or message_id not in run.imap.watching_at_delivery:
        raise HarnessError("the suite's Dovecot did not note the challenge email it filed")
    if not run.imap.watching_at_delivery[message_id]:
        before = "no session of the client was in IDLE when it was filed"
    elif run.imap.opened_after(message_id):
        before = "a session of the client opened the INBOX after it was filed"
    else:
        before = ""
    if answered is not None:
        if before:
            client.conformance.check(
                "FLOW-8", True, f"the challenge email already there ({before}) was answered", ""
            )
        else:
            client.conformance.info(
                "FLOW-8",
                "not judged: the client was in IDLE when its challenge email arrived and did "
                "not open the INBOX again",
            )
        return
    read = await run.client_read(sent.data, client.settings.quiet)
    if read or not before:
        why = "it read the email" if read else "it was in IDLE when the email arrived"
        raise Blocked(ANSWER, f"no response, although {why}{run.mail_trace()}")
    client.conformance.check(
        "FLOW-8",
        False,
        f"the challenge email was in the INBOX before the client knew of its challenge "
        f"({before}); the client never read it (no FETCH, no \\Seen) and sent no response"
        f"{run.mail_trace()}",
        "the challenge email found in the mailbox and answered",
    )
