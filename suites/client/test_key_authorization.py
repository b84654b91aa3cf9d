"""The digest in the response: token-part1 ‖ token-part2, key authorization, SHA-256 (RFC 8823 §3
step 6, RFC 8555 §8.1).

The CA picks token-part1 lengths where the string and octet readings of the concatenation
differ (16 and 32 octets, with and without ``=`` padding) and where they agree (30 and 33
octets), so the readings cannot agree by luck (AMB-1, AMB-2, docs/decisions.md#decision-2). The
digest must match some reading (FAIL otherwise); the reading used is recorded as INFO, and the
octets-only reading where the readings differ is a WARN (interoperability risk).
"""

from __future__ import annotations

import pytest

from rfc8823.findings import broken, info, passed
from rfc8823.report.outcomes import Blocked
from rfc8823.requirements import covers
from rfc8823.targets.peer_ca import PeerBehaviour

from .harness import ClientSuite, answering
from .prerequisites import ANSWER

KA_IDS = ("KA-1", "KA-2", "KA-3", "KA-4", "RESP-BODY-2")
NOT_THE_KEY_AUTHORIZATION = frozenset({"KA-1", "KA-3", "SEC-7"})
"""Diagnoses that place the fault outside RFC 8555's key authorization (A-KA-1): the token
parts swapped, the key authorization sent unhashed, another account's thumbprint."""
TOKEN_PART1_SHAPES = [
    pytest.param(16, False, id="16-octets"),
    pytest.param(16, True, id="16-octets-padded", marks=covers("REF-4648-1")),
    pytest.param(30, False, id="30-octets"),
    pytest.param(32, False, id="32-octets"),
    pytest.param(32, True, id="32-octets-padded", marks=covers("REF-4648-1")),
    pytest.param(33, False, id="33-octets"),
]


@covers(*KA_IDS, "FLOW-5", "A-KA-1")
@pytest.mark.needs("accepted")
@pytest.mark.parametrize(("octets", "padded"), TOKEN_PART1_SHAPES)
async def test_digest_matches_a_concatenation_reading(
    client: ClientSuite, octets: int, padded: bool
) -> None:
    """The response digest is base64url(SHA-256(token-part1 ‖ token-part2 "." thumbprint))."""
    behaviour = PeerBehaviour(token_part1_octets=octets, token_part1_padded=padded)
    run = await client.start(behaviour)
    challenge = await run.sent_challenge()
    response = await run.response()
    report = run.judge(response, challenge)
    client.record(report.findings, KA_IDS)
    issued = run.require_issued_challenge()
    shown = f"token-part1 {issued.token_part1!r} ({octets} octets)"
    diagnosed = {f.requirement for f in report.findings if f.verdict == "fail"}
    if report.reading is not None:
        client.conformance.record(
            passed("A-KA-1", "the digest commits to the account key's RFC 7638 thumbprint")
        )
    elif not diagnosed & NOT_THE_KEY_AUTHORIZATION:
        client.conformance.record(
            broken("A-KA-1", "no reading matches", f"thumbprint {issued.thumbprint}")
        )
    else:
        client.conformance.info("A-KA-1", "not judged: the digest was built some other way")
    if padded:
        client.conformance.record(
            passed("REF-4648-1", f"a padded {shown}: the digest matches")
            if report.reading is not None
            else info("REF-4648-1", "not judged: the digest matches no reading")
        )
    client.conformance.check(
        "FLOW-5",
        report.reading is not None,
        f"digests {report.digests_found} for {shown}"
        + (f" ({report.reading} reading)" if report.reading is not None else ""),
        "the digest of this challenge's key authorization under some reading",
    )


@covers(*KA_IDS, "FLOW-5")
@pytest.mark.client_capability("restart")
@pytest.mark.needs("accepted")
async def test_digest_uses_this_challenges_token_part1(client: ClientSuite) -> None:
    """Restarted on its state, the client answers a new challenge to the same address with a
    digest of that challenge's token-part1, not of one it answered before (RFC 8823 §3 step 6).

    The earlier token-part1 is handed to the inspector, so a client that keeps one per address
    is named on KA-1. Clients that cannot be restarted are UNSUPPORTED.
    """
    run = await client.start()
    await run.response()
    earlier = run.require_issued_challenge().token_part1
    await run.outcome()
    run.restart(hold=True)
    fresh = await run.held_challenge()
    run.release(fresh)
    token = run.require_issued_challenge().token_part1.rstrip("=")

    try:
        response = await run.responses.received.wait_until(
            answering(token, fresh.data), run.request.timeout
        )
    except TimeoutError:
        raise Blocked(ANSWER, f"no response after the restart{run.mail_trace()}") from None
    report = run.judge(response, fresh, earlier_token_part1s=(earlier,))
    client.record(report.findings, KA_IDS)
    client.conformance.check(
        "FLOW-5",
        report.reading is not None,
        f"digests {report.digests_found} for token-part1 {token}, answered after {earlier}",
        "the digest of this challenge's key authorization",
    )
