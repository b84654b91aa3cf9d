"""Certificate inspection (CERT-1, CSR-KU-2..5 on the issued side) and strict PEM chains."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from rfc8823.certificates import inspect_certificate, parse_pem_chain
from rfc8823.csr import SMTP_UTF8_MAILBOX, Usage, encode_utf8_string, key_usage_from_bits
from rfc8823.findings import Finding, Verdict, failures
from rfc8823.world.keys import KeyKind, PrivateKey, cached_key
from rfc8823.world.pki import TestPki

ALICE = "alice@example.com"
BOB = "bob@example.com"
EMAIL_PROTECTION = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION])


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return TestPki.load()


def subscriber(kind: KeyKind = "p256") -> PrivateKey:
    return cached_key("csr-applicant", kind)


def certificate(
    pki: TestPki,
    *,
    key: PrivateKey | None = None,
    san: list[x509.GeneralName] | None = None,
    bits: set[str] | None = None,
    eku: x509.ExtendedKeyUsage | None = EMAIL_PROTECTION,
    ca: bool = False,
) -> x509.Certificate:
    """A leaf from the ACME issuing CA with exactly the given extensions (None leaves one out)."""
    key = key or subscriber()
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ALICE)]))
        .issuer_name(pki.acme_issuing.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    names = [x509.RFC822Name(ALICE)] if san is None else san
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if bits is not None:
        builder = builder.add_extension(key_usage_from_bits(bits), critical=True)
    if eku is not None:
        builder = builder.add_extension(eku, critical=False)
    return builder.sign(pki.acme_issuing.key, hashes.SHA256())


def broken_ids(findings: tuple[Finding, ...]) -> set[str]:
    return {finding.requirement for finding in failures(findings)}


@pytest.mark.parametrize(
    ("bits", "requested", "requirement"),
    [
        ({"digitalSignature"}, "signing", "CSR-KU-2"),
        ({"keyAgreement"}, "encryption", "CSR-KU-3"),
        ({"digitalSignature", "keyAgreement"}, "both", "CSR-KU-4"),
        ({"digitalSignature", "keyAgreement"}, None, "CSR-KU-4"),
        (None, "both", "CSR-KU-4"),
    ],
)
def test_matching_certificate_passes(
    pki: TestPki, bits: set[str] | None, requested: Usage | None, requirement: str
) -> None:
    """A certificate as requested passes CERT-1 and its usage requirement."""
    key = subscriber()
    findings = inspect_certificate(
        certificate(pki, key=key, bits=bits), [ALICE], requested=requested, csr_key=key.public_key()
    )
    assert not failures(findings), [str(f) for f in failures(findings)]
    passed = {f.requirement for f in findings if f.verdict is Verdict.PASS}
    assert {"CERT-1", requirement} <= passed


@pytest.mark.parametrize(
    ("bits", "requested"),
    [
        ({"digitalSignature", "keyAgreement"}, "signing"),
        (None, "signing"),
        ({"digitalSignature"}, "both"),
        ({"digitalSignature"}, "encryption"),
        ({"digitalSignature", "keyCertSign"}, "signing"),
    ],
)
def test_usage_other_than_requested_breaks_csr_ku_5(
    pki: TestPki, bits: set[str] | None, requested: Usage
) -> None:
    """A dual-use certificate for a signing-only CSR (or any other mismatch) is a finding."""
    findings = inspect_certificate(certificate(pki, bits=bits), [ALICE], requested=requested)
    assert "CSR-KU-5" in broken_ids(findings)


def test_encryption_bit_not_fitting_the_key_breaks_csr_ku_3(pki: TestPki) -> None:
    """keyEncipherment on an EC key cannot be used (CSR-KU-3, AMB-7)."""
    findings = inspect_certificate(
        certificate(pki, bits={"keyEncipherment"}), [ALICE], requested="encryption"
    )
    assert "CSR-KU-3" in broken_ids(findings)


def test_encryption_bit_beside_the_fitting_one_is_not_csr_ku_3s(pki: TestPki) -> None:
    """keyEncipherment beside keyAgreement on an EC key: the class is encryption (CSR-KU-3
    holds); the bit the key does not allow is REF-5280-7's, which the lints judge."""
    findings = inspect_certificate(
        certificate(pki, bits={"keyEncipherment", "keyAgreement"}), [ALICE], requested="encryption"
    )
    assert not {"CSR-KU-3", "CSR-KU-5"} & broken_ids(findings)
    assert any(f.requirement == "CSR-KU-3" and "REF-5280-7" in f.observed for f in findings)


def test_eku_beside_email_protection_is_recorded_not_broken(pki: TestPki) -> None:
    """CERT-1 asks for emailProtection, not for it alone: another EKU is INFO (REF-SMBR-3 judges
    it under a declared S/MIME BR profile)."""
    eku = x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.EMAIL_PROTECTION, ExtendedKeyUsageOID.SERVER_AUTH]
    )
    cert = certificate(pki, bits={"digitalSignature"}, eku=eku)
    findings = inspect_certificate(cert, [ALICE], requested="signing")
    assert "CERT-1" not in broken_ids(findings)
    assert any(
        f.requirement == "CERT-1" and f.verdict is Verdict.INFO and "also grants" in f.observed
        for f in findings
    )


@pytest.mark.parametrize(
    ("options", "seen"),
    [
        ({"eku": None}, "no extendedKeyUsage"),
        (
            {"eku": x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])},
            "without emailProtection",
        ),
        ({"san": [x509.RFC822Name(ALICE), x509.RFC822Name(BOB)]}, BOB),
        ({"san": [x509.RFC822Name(BOB)]}, ALICE),
        ({"san": []}, "no subjectAltName"),
        ({"san": [x509.RFC822Name(ALICE), x509.DNSName("example.com")]}, "dNSName"),
        ({"ca": True}, "cA=TRUE"),
        ({"key": cached_key("csr-other", "p256")}, "not the CSR's"),
    ],
)
def test_cert_1_violations(pki: TestPki, options: dict[str, object], seen: str) -> None:
    """Missing EKU, wrong SAN, CA flag or another key each break CERT-1."""
    cert = certificate(pki, bits={"digitalSignature"}, **options)  # type: ignore[arg-type]
    findings = inspect_certificate(
        cert, [ALICE], requested="signing", csr_key=subscriber().public_key()
    )
    assert "CERT-1" in broken_ids(findings)
    assert any(seen in f"{f.observed} {f.expected}" for f in failures(findings))


def test_smtp_utf8_mailbox_for_ascii_local_part_breaks_ref_8398_1(pki: TestPki) -> None:
    """The issued side is held to the same form rules as the CSR (REF-8398-1, I18N-3)."""
    name = x509.OtherName(SMTP_UTF8_MAILBOX, encode_utf8_string(ALICE))
    findings = inspect_certificate(
        certificate(pki, san=[name], bits={"digitalSignature"}), [ALICE], requested="signing"
    )
    assert {"REF-8398-1", "I18N-3"} <= broken_ids(findings)
    assert "CERT-1" not in broken_ids(findings)


def pem(*certs: x509.Certificate) -> str:
    return "".join(cert.public_bytes(serialization.Encoding.PEM).decode() for cert in certs)


def test_pem_chain_parses_leaf_first(pki: TestPki) -> None:
    """A chain with LF or CRLF line ends and surrounding blank lines parses in order."""
    leaf = certificate(pki)
    text = pem(leaf, pki.acme_issuing.cert)
    assert parse_pem_chain(text) == [leaf, pki.acme_issuing.cert]
    assert parse_pem_chain("\n" + text.replace("\n", "\r\n") + "\n") == [
        leaf,
        pki.acme_issuing.cert,
    ]


def test_pem_chain_is_strict(pki: TestPki) -> None:
    """Explanatory text, other labels, long lines and bad base64 are refused (RFC 8555 §9.1)."""
    good = pem(certificate(pki))
    body = good.splitlines()
    key_pem = (
        subscriber()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    cases = {
        "": "no PEM CERTIFICATE block",
        "Subject: alice\n" + good: "text before block 1",
        good + "trailing words\n": "text after the last block",
        good + key_pem: "labelled 'PRIVATE KEY'",
        "\n".join([body[0], body[1] + body[2], *body[3:]]): "line 1",
        "\n".join([body[0], "!" + body[1][1:], *body[2:]]): "line 1",
        "\n".join([body[0], body[-1]]): "block 1 is empty",
        "\n".join([body[0], "QUJD", body[-1]]): "not a DER certificate",
    }
    for text, message in cases.items():
        with pytest.raises(ValueError, match=message):
            parse_pem_chain(text)
