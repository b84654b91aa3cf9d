"""What client-suite tests need from the client before they can judge their own rows
(docs/decisions.md#decision-9).

The happy path (``test_happy_path.py``) owns the chain order → challenge → answer → accepted
answer, readiness POST → finalize → certificate, and says which row each broken step broke (the
response inspector's or the CSR inspector's rows where they explain it). A test that needs a step
which broke reports BLOCKED, naming that row. ``READ``, ``CONTROL`` and ``SIGNED`` are steps a
test owns itself (a must-not-answer test, a variation test): it records what it found of them, and
its block says so. ``INTERNATIONAL`` is owned by the SMTPUTF8 test for the CSR tests of
internationalized addresses.
"""

from __future__ import annotations

from rfc8823.report.outcomes import Prerequisite

ORDER = Prerequisite("order", "an order for the email identifier (newOrder)", "FLOW-1")
CHALLENGE = Prerequisite(
    "challenge",
    "the CA's challenge email (the client fetched its authorization)",
    "FLOW-2",
    (ORDER,),
)
ANSWER = Prerequisite("answer", "a response email to the CA's challenge", "FLOW-5", (CHALLENGE,))
ACCEPTED = Prerequisite(
    "accepted", "a response the CA accepts (RFC 8823 §3.2)", "FLOW-5", (ANSWER,)
)
READINESS = Prerequisite(
    "readiness", "the readiness POST {} to the challenge URL", "A-CHAL-2", (CHALLENGE,)
)
FINALIZE = Prerequisite(
    "finalize", "a finalize request with a CSR for the address", "CSR-ID-1", (ACCEPTED, READINESS)
)
CERTIFICATE = Prerequisite(
    "certificate", "the certificate issued and downloaded", "A-CERT-1", (FINALIZE,)
)

READ = Prerequisite(
    "read",
    "the client read the test's message in its IMAP mailbox (a FETCH of its content or "
    "\\Seen on the suite's Dovecot)",
    "SEC-6",
    (CHALLENGE,),
    sanity=False,
)
"""Owned by the must-not-answer test that needs it: silence about a message the client never
read proves nothing (``Enrollment.require_read``)."""
CONTROL = Prerequisite(
    "control",
    "a response to the CA's own challenge, delivered after the test's message (the positive "
    "control)",
    "FLOW-5",
    (ANSWER,),
    sanity=False,
)
"""Owned by the must-not-answer test that needs it: a client that stops answering after the
test's message leaves that test's silence unproven (``Enrollment.require_control``)."""

SIGNED = Prerequisite(
    "signed",
    "a response to the CA's own challenge with a plain DKIM or S/MIME signature of the CA "
    "(under the variant unsigned-challenges the CA sends it unsigned)",
    "CHAL-AUTH-1",
    (ACCEPTED,),
    sanity=False,
)
"""Owned by the variation test that needs it: a signed variation of an unsigned CA's challenge
that the client refuses is first traced to the signature itself."""

INTERNATIONAL = Prerequisite(
    "international",
    "a response for an internationalized address that reached the CA (submitted as RFC 6531 "
    "asks, with SMTPUTF8 where it carries non-ASCII)",
    "REF-6531-1",
    (ANSWER,),
    sanity=False,
)
"""Owned by ``test_response_for_an_internationalized_address_uses_smtputf8``: the happy path's
address is ASCII, so a client that cannot submit for an internationalized one leaves the CSR
tests of such addresses without a finalize, which that test explains."""

HAPPY_PATH: tuple[Prerequisite, ...] = CERTIFICATE.chain()
"""The happy path's steps, in the order it judges them."""

BY_NAME: dict[str, Prerequisite] = {step.name: step for step in HAPPY_PATH}
"""Prerequisites by the name a ``@pytest.mark.needs(...)`` mark gives."""
