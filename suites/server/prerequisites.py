"""What server-suite tests need from a CA before they can judge their own rows
(docs/decisions.md#decision-9).

The happy path (``test_happy_path.py``) owns the chain account → order → authorization →
challenge email → validation → ready order → certificate, and judges each step on the row
named here; a test that needs a step which broke reports BLOCKED, naming that row. The barrier
is owned by the test of replies in flight (``test_replies_in_flight_are_each_judged``): tests
that wait behind a control reply rely on the CA keeping replies it has not matched yet.
"""

from __future__ import annotations

from rfc8823.report.outcomes import Prerequisite

ACCOUNT = Prerequisite("account", "an account (newAccount)", "A-ACCT-1")
ORDER = Prerequisite(
    "order", "an order for an email identifier (newOrder)", "A-ORD-1", (ACCOUNT,)
)
AUTHORIZATION = Prerequisite(
    "authorization", "an authorization offering email-reply-00", "ID-EMAIL-4", (ORDER,)
)
CHALLENGE_EMAIL = Prerequisite(
    "challenge-email",
    "the challenge email at the identifier's mailbox, token-part1 in its Subject",
    "FLOW-3",
    (AUTHORIZATION,),
)
VALIDATION = Prerequisite(
    "validation",
    "a conforming reply validating the challenge",
    "SRV-VAL-1",
    (CHALLENGE_EMAIL,),
)
ORDER_READY = Prerequisite(
    "order-ready", "the order ready once its authorization is valid", "A-STATE-1", (VALIDATION,)
)
CERTIFICATE = Prerequisite(
    "certificate",
    "a certificate issued for a conforming CSR and downloaded",
    "A-FIN-1",
    (ORDER_READY,),
)
BARRIER = Prerequisite(
    "barrier",
    "a control reply sent after the mail under test validating (the CA keeps replies in "
    "flight until it matches them)",
    "SRV-VAL-7",
    (VALIDATION,),
    sanity=False,
)

CHALLENGE_DKIM_SIGNED = Prerequisite(
    "challenge-dkim-signed",
    "a DKIM-Signature field on the challenge email (a d= and h= to judge)",
    "CHAL-AUTH-1",
    (CHALLENGE_EMAIL,),
    sanity=False,
)
CERTIFICATE_PROFILE = Prerequisite(
    "certificate-profile",
    "a certificate whose profile allows the S/MIME use put to it (EKU emailProtection, the "
    "keyUsage asked for, only bits the key allows)",
    "CERT-1",
    (CERTIFICATE,),
    sanity=False,
)
AUTHENTICATION = Prerequisite(
    "authentication",
    "an unsigned reply from a source SPF does not authorise left unvalidated (the CA "
    "authenticates replies, so a DKIM detail can be judged)",
    "RESP-DKIM-1",
    (VALIDATION,),
    sanity=False,
)

HAPPY_PATH: tuple[Prerequisite, ...] = CERTIFICATE.chain()
"""The happy path's steps, in the order it takes them."""

BY_NAME: dict[str, Prerequisite] = {
    step.name: step
    for step in (*HAPPY_PATH, BARRIER, AUTHENTICATION, CHALLENGE_DKIM_SIGNED, CERTIFICATE_PROFILE)
}
"""Prerequisites by the name a ``@pytest.mark.needs(...)`` mark gives."""
