"""Self-validation faults of the client's decision: each lets through only what it mistakes."""

from __future__ import annotations

from rfc8823.client.decide import TOLERATING_FAULTS, Signed
from rfc8823.faults import client as client_faults

SIBLING = Signed("other", True, ("a.example.test",), "b.example.test")
LOOKALIKE = Signed("other", True, ("notexample.test",), "example.test")
UNSIGNED_FROM = Signed("other", True, ("a.example.test",), None)


def test_signer_faults_take_only_the_relation_they_mistake() -> None:
    """Relaxed alignment answers a sibling's signature, a textual check a lookalike's
    (RFC 8823 §3.1 (6) asks for equality; RFC 7489 §3.1.1 is what the first one does)."""
    relaxed = TOLERATING_FAULTS[client_faults.ANSWERS_ORG_ALIGNED_DKIM]
    affix = TOLERATING_FAULTS[client_faults.ANSWERS_AFFIX_MATCHED_DKIM]
    assert relaxed.covers("CHAL-DKIM-3", SIBLING)
    assert not relaxed.covers("CHAL-DKIM-3", LOOKALIKE)
    assert affix.covers("CHAL-DKIM-3", LOOKALIKE)
    assert not affix.covers("CHAL-DKIM-3", SIBLING)
    assert not relaxed.covers("CHAL-DKIM-1", SIBLING)
    assert not relaxed.covers("CHAL-DKIM-3", UNSIGNED_FROM)
