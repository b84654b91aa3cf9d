"""What client-suite tests need from the client before they can judge their own rows
(docs/decisions.md#decision-9).

The happy path (``test_happy_path.py``) owns the chain order → challenge → answer → accepted
answer, readiness POST → finalize → certificate, and says which row each broken step broke (the
response inspector's or the CSR inspector's rows where they explain it). A test that needs a step
which broke reports BLOCKED, naming that row.
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
ANSWER = Prerequisite(
    "answer", "a response email to the CA's challenge", "FLOW-5", (CHALLENGE,)
)
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

HAPPY_PATH: tuple[Prerequisite, ...] = CERTIFICATE.chain()
"""The happy path's steps, in the order it judges them."""

BY_NAME: dict[str, Prerequisite] = {step.name: step for step in HAPPY_PATH}
"""Prerequisites by the name a ``@pytest.mark.needs(...)`` mark gives."""
