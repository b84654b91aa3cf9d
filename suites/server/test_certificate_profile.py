"""Issued certificates judged as a relying party would: RFC 5280 and S/MIME BR lints, real use, CRL.

pkilint's RFC 5280 lints and the chain up to the CA's declared anchor (REF-5280-*), its S/MIME
BR lints when the CA declares a BR profile (REF-SMBR-*, WARN), sign/verify and encrypt/decrypt
with openssl cms (REF-5280-11), and a revoked certificate on the CRL it names (REF-5280-12).
Every other test that obtains a certificate records the same lints (``issuance``); these
tests make sure each key type and usage is linted at least once.
RFC 5280 §4, §5, §6.1; RFC 8550 §4.4; RFC 8551 §2.4; CA/B Forum S/MIME BR §7.1.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography import x509

from rfc8823.acme.driver import Account
from rfc8823.auth.smime_usage import check_smime_use
from rfc8823.certificates import crl_signed_by, inspect_certificate, parse_crl
from rfc8823.csr import (
    ENCRYPTION_BITS,
    SIGNING_BITS,
    Usage,
    build_csr,
    encryption_bit,
    key_usage_bits,
)
from rfc8823.findings import Verdict
from rfc8823.report.outcomes import Blocked
from rfc8823.report.plugin import Conformance
from rfc8823.requirements import covers
from rfc8823.world.keys import KeyKind

from .helpers import ServerSuite
from .issuance import Issued, certificate, csr_key, lint, revoke
from .prerequisites import CERTIFICATE_PROFILE

LINT_ROWS = (
    "REF-5280-1",
    "REF-5280-3",
    "REF-5280-4",
    "REF-5280-5",
    "REF-5280-6",
    "REF-5280-7",
    "REF-5280-8",
    "REF-5280-9",
    "REF-5280-10",
    "REF-8398-1",
)
"""The rows pkilint's RFC 5280 and chain lints judge on every certificate; the REF-SMBR rows
are judged (and recorded) only under a declared S/MIME BR profile."""
CAPABILITY = {"signing": "signing_only", "encryption": "encryption_only"}
PROFILE_ROWS = frozenset(
    {"CERT-1", "CSR-KU-2", "CSR-KU-3", "CSR-KU-4", "CSR-KU-5", "REF-5280-7", "REF-SMBR-3"}
)
"""The rows that judge what a certificate may be used for (EKU, keyUsage against the request
and the key); when one breaks, the S/MIME use test has no sound certificate to put to use."""


def case(kind: KeyKind, usage: Usage) -> object:
    """A (key, usage) parameter, needing the capability a one-use certificate takes."""
    needs = CAPABILITY.get(usage)
    marks = [pytest.mark.capability(needs)] if needs else []
    return pytest.param(kind, usage, marks=marks, id=f"{kind}-{usage}")


LINT_CASES = [
    case("p256", "both"),
    case("p256", "signing"),
    case("p256", "encryption"),
    case("p384", "both"),
    case("rsa2048", "both"),
    case("rsa2048", "encryption"),
]
USE_CASES = [case("p256", "both"), case("p256", "encryption"), case("rsa2048", "both")]


async def issue(
    ca: ServerSuite, kind: KeyKind, usage: Usage, *, linted: bool = True
) -> tuple[Account, Issued]:
    """A certificate for a fresh address, from a CSR asking for ``usage`` with a ``kind`` key,
    and the account that ordered it."""
    order, body = await ca.ready_order()
    csr = build_csr(csr_key(kind), list(order.addresses), usage)
    return order.account, await certificate(ca, order, body, csr, linted=linted)


@covers(*LINT_ROWS)
@pytest.mark.needs("certificate")
@pytest.mark.parametrize(("kind", "usage"), LINT_CASES)
async def test_issued_certificate_passes_the_lints(
    ca: ServerSuite, conformance: Conformance, kind: KeyKind, usage: Usage
) -> None:
    """pkilint finds nothing above INFO against RFC 5280, the chain up to the declared anchor,
    and (with a declared profile) the S/MIME BR; test-environment findings are INFO."""
    _, issued = await issue(ca, kind, usage, linted=False)
    label = f"{kind} {usage} certificate {issued.chain[0].serial_number:x}"
    conformance.conclude(*lint(ca, issued, label))


@covers("REF-5280-11")
@pytest.mark.needs("certificate")
@pytest.mark.parametrize(("kind", "usage"), USE_CASES)
async def test_certificate_works_for_smime(
    ca: ServerSuite, conformance: Conformance, kind: KeyKind, usage: Usage
) -> None:
    """The certificate signs (smimesign) and encrypts (smimeencrypt) as its keyUsage grants
    (no keyUsage: every use its key allows, RFC 5280 §4.2.1.3), with openssl cms, up to the
    CA's declared anchor.

    Owns the step it needs, a certificate whose profile allows the use: when the EKU or keyUsage
    rows that judge the profile find it broken, a failed use is theirs, not a second defect, and
    the test is BLOCKED by them."""
    _, issued = await issue(ca, kind, usage, linted=False)
    leaf = issued.chain[0]
    key = csr_key(kind)
    linted = lint(ca, issued)
    conformance.record(*linted)
    ordered = [str(i.get("value", "")) for i in issued.order.get("identifiers", ())]
    inspected = inspect_certificate(leaf, ordered, requested=usage, csr_key=key.public_key())
    wrong = [
        f
        for f in (*inspected, *linted)
        if f.requirement in PROFILE_ROWS and f.verdict in (Verdict.FAIL, Verdict.WARN)
    ]
    if wrong:
        rows = tuple(sorted({f.requirement for f in wrong}))
        observed = f"{kind} {usage} certificate {leaf.serial_number:x}: {wrong[0]}"
        conformance.step(CERTIFICATE_PROFILE, False, rows=rows, observed=observed)
        raise Blocked(CERTIFICATE_PROFILE, observed)
    try:
        bits = key_usage_bits(leaf.extensions.get_extension_for_class(x509.KeyUsage).value)
    except x509.ExtensionNotFound:
        bits = None
    findings = check_smime_use(
        leaf,
        key,
        issued.chain[1:],
        ca.endpoints.smime_trust_anchors,
        label=f"{kind} {usage} certificate {leaf.serial_number:x}",
        signing=bits is None or bool(bits & SIGNING_BITS),
        encryption=encryption_bit(key.public_key()) is not None
        if bits is None
        else bool(bits & ENCRYPTION_BITS),
        timeout=ca.timeouts.http,
    )
    ca.check(
        "REF-5280-11",
        bool(findings),
        "no keyUsage (unrestricted)" if bits is None else f"keyUsage {sorted(bits)}",
        "a signing or an encryption bit to put to use",
    )
    conformance.conclude(*findings)


@covers("REF-5280-12")
@pytest.mark.capability("revocation")
@pytest.mark.needs("certificate")
async def test_revoked_certificate_is_on_the_crl(ca: ServerSuite, conformance: Conformance) -> None:
    """After revokeCert, the CRL at the certificate's distribution point lists its serial and
    is signed by its issuer (fetched only from loopback)."""
    account, issued = await issue(ca, "p256", "both")
    leaf, issuer = issued.chain[0], issued.chain[1]
    url = crl_url(leaf)
    if url is None:
        conformance.unsupported("REF-5280-12", "the certificate names no HTTP CRL location")
    host = urlsplit(url).hostname or ""
    if not loopback(host):
        conformance.unsupported("REF-5280-12", f"{url} is not on loopback; the suite stays there")
    response = await revoke(account, leaf, reason=4)
    ca.check(
        "REF-5280-12",
        response.status_code == 200,
        f"revokeCert HTTP {response.status_code}",
        "200, then the certificate on the CRL",
    )
    async with httpx.AsyncClient(timeout=ca.timeouts.http) as http:
        fetched = await http.get(url)
    shown = f"GET {url}: HTTP {fetched.status_code}"
    ca.check("REF-5280-12", fetched.status_code == 200, shown, "200")
    crl = parse_crl(fetched.content)
    ca.check("REF-5280-12", crl is not None, f"{shown}: {fetched.content[:40]!r}", "a DER CRL")
    assert crl is not None  # checked just above
    signed = crl_signed_by(crl, issuer)
    ca.check(
        "REF-5280-12",
        signed,
        f"CRL issued by {crl.issuer.rfc4514_string()}",
        "signed by the certificate's issuer",
    )
    listed = crl.get_revoked_certificate_by_serial_number(leaf.serial_number) is not None
    ca.check(
        "REF-5280-12",
        listed,
        f"a CRL of {len(crl)} entries, serial {leaf.serial_number:x} {'in' if listed else 'not'}",
        "the revoked certificate's serial number on the CRL",
    )


def crl_url(cert: x509.Certificate) -> str | None:
    """The first HTTP URL of the certificate's CRL distribution points (RFC 5280 §4.2.1.13)."""
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return None
    names = [name for point in points for name in point.full_name or ()]
    return next(
        (
            name.value
            for name in names
            if isinstance(name, x509.UniformResourceIdentifier)
            and name.value.lower().startswith("http://")
        ),
        None,
    )


def loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost`` (house rule: loopback only)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
