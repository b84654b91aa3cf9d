"""The CSR the client sends at finalize, read from the CA's request log (RFC 8823 §3.3, §4;
RFC 8555 §7.4).

One enrollment per usage and key type the client declares: the keyUsage must say exactly
signing-only, encryption-only or both (CSR-KU-2..4), and the CSR must name exactly the ordered
address, as rfc822Name (SmtpUTF8Mailbox for a non-ASCII local part; I18N-3, REF-5280-1).
"""

from __future__ import annotations

import pytest

from rfc8823.csr import Usage, decode_csr_field, inspect_csr
from rfc8823.findings import passed
from rfc8823.report.outcomes import Blocked
from rfc8823.requirements import covers
from rfc8823.targets.client import KeyType

from .harness import ClientSuite, Enrollment, international_address
from .prerequisites import FINALIZE, INTERNATIONAL

NAME_IDS = ("CSR-ID-1", "REF-5280-1", "I18N-3", "REF-8398-1")
USAGE_IDS: dict[str, str] = {"signing": "CSR-KU-2", "encryption": "CSR-KU-3", "both": "CSR-KU-4"}
CASES = [
    pytest.param(usage, key, id=f"{usage}-{key}", marks=covers(USAGE_IDS[usage]))
    for usage, keys in (("signing", ("ec", "rsa", "ed25519")), ("encryption", ("ec", "rsa")))
    for key in keys
] + [pytest.param("both", key, id=f"both-{key}", marks=covers("CSR-KU-4")) for key in ("ec", "rsa")]


def finalize_csr(run: Enrollment) -> bytes:
    """The DER CSR of the client's finalize request (BLOCKED on FINALIZE without one); its
    encoding judged on A-HTTPS-1."""
    finals = [r for r in run.requests() if r.url.endswith("/finalize") and r.payload]
    if not finals:
        raise Blocked(FINALIZE, f"no finalize request with a CSR{run.mail_trace()}")
    payload = finals[-1].payload_json()
    field = payload.get("csr") if isinstance(payload, dict) else None
    run.suite.conformance.check(
        "A-FIN-1", isinstance(field, str), f"finalize payload {payload!r}", "a csr member"
    )
    assert isinstance(field, str)  # checked just above
    try:
        der = decode_csr_field(field)
    except ValueError as error:
        run.suite.conformance.fail("A-HTTPS-1", str(error), "unpadded base64url DER")
    run.suite.conformance.record(passed("A-HTTPS-1", "csr is unpadded base64url of DER"))
    return der


async def judge_csr(
    client: ClientSuite, usage: Usage, key_type: KeyType, email: str | None = None
) -> None:
    """Enroll once and judge the CSR against the order and the usage asked for. For an
    internationalized ``email``, no response at the CA is BLOCKED on ``INTERNATIONAL`` (the
    happy path's ASCII address says nothing of it)."""
    run = await client.start(usage=usage, key_type=key_type, email=email)
    await run.outcome()
    if email is not None and not run.responses_received():
        raise Blocked(INTERNATIONAL, f"no response for {email} reached the CA{run.mail_trace()}")
    report = inspect_csr(finalize_csr(run), [run.address], requested=usage)
    client.conclude(report.findings, (*NAME_IDS, *USAGE_IDS.values(), "CSR-KU-5"))
    client.conformance.check(
        USAGE_IDS[usage],
        report.usage == usage,
        f"a CSR asking for {report.usage} use",
        f"{usage}, as the client was asked",
    )


@covers("CSR-ID-1", "REF-5280-1", "A-HTTPS-1")
@pytest.mark.needs("accepted")
@pytest.mark.parametrize(("usage", "key_type"), CASES)
async def test_csr_names_the_address_and_the_usage(
    client: ClientSuite, usage: Usage, key_type: KeyType
) -> None:
    """keyUsage as §3.3 asks for the usage, and exactly the ordered address as rfc822Name."""
    await judge_csr(client, usage, key_type)


@covers("I18N-3", "REF-8398-1", "CSR-ID-1")
@pytest.mark.client_capability("eai")
@pytest.mark.needs("accepted")
@pytest.mark.parametrize(
    "local_part",
    [pytest.param("üser", id="utf8-local-part"), pytest.param("user", id="idn-domain")],
)
async def test_csr_for_an_internationalized_address(client: ClientSuite, local_part: str) -> None:
    """SmtpUTF8Mailbox for a non-ASCII local part; rfc822Name with A-labels otherwise (RFC 9598)."""
    usage, key_type = client.usage_and_key(None, None)
    address = international_address(client.world, local_part)
    await judge_csr(client, usage, key_type, email=address)
