"""The reference CA's issuer: faithful certificates (CERT-1, RFC 8823 §3.3) and badCSR refusals."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from rfc8823.certificates import inspect_certificate, parse_pem_chain
from rfc8823.csr import (
    SMTP_UTF8_MAILBOX,
    Usage,
    build_csr,
    encode_utf8_string,
    key_usage_bits,
    key_usage_from_bits,
)
from rfc8823.findings import failures
from rfc8823.server.issuer import CsrRejected, IssuedCertificate, Issuer
from rfc8823.world.keys import KeyKind, PrivateKey, cached_key
from rfc8823.world.pki import TestPki

ALICE = "alice@example.com"
BOB = "bob@example.com"
EAI = "üser@bücher.example"
IO_TIMEOUT = 10.0


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return TestPki.load()


@pytest.fixture(scope="module")
def issuer(pki: TestPki) -> Issuer:
    return Issuer.from_pki(pki)


def applicant(kind: KeyKind = "p256") -> PrivateKey:
    return cached_key("csr-applicant", kind)


def der(csr: x509.CertificateSigningRequest) -> bytes:
    return csr.public_bytes(serialization.Encoding.DER)


def write_pem(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certs))
    return path


def openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", *args], capture_output=True, text=True, timeout=IO_TIMEOUT, check=False
    )


def verify(pki: TestPki, issued: IssuedCertificate, folder: Path, purpose: str) -> bool:
    """openssl's verdict on the leaf for ``purpose``, chained to the S/MIME root."""
    result = openssl(
        "verify",
        "-x509_strict",
        "-purpose",
        purpose,
        "-CAfile",
        str(pki.trust_anchor_path),
        "-untrusted",
        str(write_pem(folder / "chain.pem", *issued.chain)),
        str(write_pem(folder / "leaf.pem", issued.cert)),
    )
    return result.returncode == 0


def cms_round_trip(issued: IssuedCertificate, key: PrivateKey, folder: Path) -> str:
    """Encrypt a message to the certificate with openssl cms and decrypt it with the key."""
    (folder / "message.txt").write_text("encrypted for the subscriber\n")
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    leaf = str(write_pem(folder / "recipient.pem", issued.cert))
    message, sealed = str(folder / "message.txt"), str(folder / "message.p7m")
    encrypted = openssl(
        "cms", "-encrypt", "-aes256", "-in", message, "-recip", leaf, "-out", sealed
    )
    assert encrypted.returncode == 0, encrypted.stderr
    key_file = str(folder / "key.pem")
    decrypted = openssl("cms", "-decrypt", "-in", sealed, "-recip", leaf, "-inkey", key_file)
    assert decrypted.returncode == 0, decrypted.stderr
    return decrypted.stdout


ISSUED_BITS: dict[tuple[KeyKind, Usage | None], set[str]] = {
    ("rsa2048", "signing"): {"digitalSignature"},
    ("rsa2048", "encryption"): {"keyEncipherment"},
    ("rsa2048", "both"): {"digitalSignature", "keyEncipherment"},
    ("rsa2048", None): {"digitalSignature", "keyEncipherment"},
    ("p256", "signing"): {"digitalSignature"},
    ("p256", "encryption"): {"keyAgreement"},
    ("p256", "both"): {"digitalSignature", "keyAgreement"},
    ("p256", None): {"digitalSignature", "keyAgreement"},
}


@pytest.mark.parametrize(("kind", "usage"), list(ISSUED_BITS))
def test_certificate_is_what_the_csr_asked_for(
    issuer: Issuer, pki: TestPki, tmp_path: Path, kind: KeyKind, usage: Usage | None
) -> None:
    """SAN, EKU and keyUsage match the request; openssl agrees on each S/MIME purpose.

    OpenSSL's smimeencrypt purpose wants keyEncipherment, so EC keys (keyAgreement, AMB-7)
    prove they can receive mail by a CMS encrypt/decrypt round trip instead.
    """
    key = applicant(kind)
    plan = issuer.check(der(build_csr(key, [ALICE], usage)), [ALICE])
    issued = issuer.issue(plan)
    findings = inspect_certificate(issued.cert, [ALICE], requested=usage, csr_key=key.public_key())
    assert not failures(findings), [str(f) for f in failures(findings)]
    usage_ext = issued.cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage_ext.critical
    assert key_usage_bits(usage_ext.value) == ISSUED_BITS[kind, usage]
    signs = usage in ("signing", "both", None)
    encrypts = usage in ("encryption", "both", None)
    assert verify(pki, issued, tmp_path, "smimesign") is signs
    assert verify(pki, issued, tmp_path, "any")
    if kind == "rsa2048":
        assert verify(pki, issued, tmp_path, "smimeencrypt") is encrypts
    if encrypts:
        assert cms_round_trip(issued, key, tmp_path) == "encrypted for the subscriber\n"


def test_certificate_profile(issuer: Issuer, pki: TestPki) -> None:
    """CN and SAN as ordered, EKU emailProtection, cA FALSE, key IDs, chain and PEM download."""
    key = applicant()
    now = datetime(2030, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
    issued = issuer.issue(
        issuer.check(der(build_csr(key, [ALICE, BOB], "signing")), [ALICE, BOB]), now=now
    )
    cert = issued.cert
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == ALICE
    assert cert.issuer == pki.acme_issuing.cert.subject
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert list(san.value) == [x509.RFC822Name(ALICE), x509.RFC822Name(BOB)]
    assert not san.critical
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.EMAIL_PROTECTION]
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca is False
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_ski = pki.acme_issuing.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert aki.key_identifier == ca_ski.value.digest
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    assert issued.serial == cert.serial_number
    assert 0 < issued.serial < 2**128
    expiry = now.replace(microsecond=0) + timedelta(days=90)
    assert cert.not_valid_after_utc == issued.not_after == expiry
    assert cert.not_valid_before_utc < now
    assert issued.chain == (pki.acme_issuing.cert,)
    assert parse_pem_chain(issued.pem_chain) == [cert, pki.acme_issuing.cert]
    cert.verify_directly_issued_by(pki.acme_issuing.cert)


def test_serials_differ(issuer: Issuer) -> None:
    """Every certificate gets its own random serial."""
    plan = issuer.check(der(build_csr(applicant(), [ALICE], "signing")), [ALICE])
    assert len({issuer.issue(plan).serial for _ in range(4)}) == 4


def test_non_ascii_local_part_is_an_smtp_utf8_mailbox(
    issuer: Issuer, pki: TestPki, tmp_path: Path
) -> None:
    """üser@bücher.example becomes SmtpUTF8Mailbox with A-labels (I18N-3, RFC 9598 §3)."""
    key = applicant()
    issued = issuer.issue(issuer.check(der(build_csr(key, [EAI], "signing")), [EAI]))
    san = issued.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    expected = encode_utf8_string("üser@xn--bcher-kva.example")
    assert list(san) == [x509.OtherName(SMTP_UTF8_MAILBOX, expected)]
    findings = inspect_certificate(
        issued.cert, [EAI], requested="signing", csr_key=key.public_key()
    )
    assert not failures(findings)
    assert {f.requirement for f in findings} >= {"I18N-3", "REF-8398-1", "CERT-1"}
    assert verify(pki, issued, tmp_path, "smimesign")


def test_long_address_leaves_the_subject_empty_and_san_critical(issuer: Issuer) -> None:
    """An address longer than a CN allows goes in the SAN only, then critical (RFC 5280)."""
    address = "a" * 60 + "@example.com"
    issued = issuer.issue(issuer.check(der(build_csr(applicant(), [address], None)), [address]))
    assert issued.cert.subject == x509.Name([])
    assert issued.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical


def test_non_repudiation_is_kept(issuer: Issuer) -> None:
    """A signing request with nonRepudiation gets exactly digitalSignature+nonRepudiation."""
    csr = build_csr(applicant(), [ALICE], "signing", non_repudiation=True)
    issued = issuer.issue(issuer.check(der(csr), [ALICE]))
    bits = key_usage_bits(issued.cert.extensions.get_extension_for_class(x509.KeyUsage).value)
    assert bits == {"digitalSignature", "nonRepudiation"}


def test_ed25519_signing_certificate(issuer: Issuer, pki: TestPki, tmp_path: Path) -> None:
    """An Ed25519 key gets a signing-only certificate that openssl accepts for S/MIME signing."""
    key = applicant("ed25519")
    issued = issuer.issue(issuer.check(der(build_csr(key, [ALICE], "signing")), [ALICE]))
    findings = inspect_certificate(
        issued.cert, [ALICE], requested="signing", csr_key=key.public_key()
    )
    assert not failures(findings)
    assert verify(pki, issued, tmp_path, "smimesign")


def test_order_with_u_label_domain_matches_a_label_csr(issuer: Issuer) -> None:
    """An identifier with a U-label domain accepts the A-label rfc822Name (I18N-2)."""
    csr = build_csr(applicant(), ["user@xn--bcher-kva.example"], "signing")
    issued = issuer.issue(issuer.check(der(csr), ["user@bücher.example"]))
    san = issued.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert list(san) == [x509.RFC822Name("user@xn--bcher-kva.example")]


def tampered(csr: x509.CertificateSigningRequest) -> bytes:
    data = bytearray(der(csr))
    data[-3] ^= 0x01
    return bytes(data)


def with_key_usage(*bits: str) -> Callable[[PrivateKey], bytes]:
    extension = (key_usage_from_bits(bits), True)
    return lambda key: der(build_csr(key, [ALICE], None, extra_extensions=[extension]))


REFUSALS: dict[str, tuple[Callable[[PrivateKey], bytes], KeyKind, tuple[str, ...]]] = {
    "garbage": (lambda key: b"\x30\x03junk", "p256", ("A-FIN-1", "PKCS#10")),
    "bad signature": (
        lambda key: tampered(build_csr(key, [ALICE], "signing")),
        "p256",
        ("A-FIN-1",),
    ),
    "extra address": (
        lambda key: der(build_csr(key, [ALICE, BOB], "signing")),
        "p256",
        ("CSR-ID-1", BOB, "RFC 8555 §7.4"),
    ),
    "missing address": (
        lambda key: der(build_csr(key, [BOB], "signing")),
        "p256",
        ("CSR-ID-1", ALICE),
    ),
    "dNSName": (
        lambda key: der(
            build_csr(
                key,
                [],
                "signing",
                extra_extensions=[
                    (
                        x509.SubjectAlternativeName([x509.RFC822Name(ALICE), x509.DNSName(ALICE)]),
                        False,
                    )
                ],
            )
        ),
        "p256",
        ("CSR-ID-1", "dNSName"),
    ),
    "keyCertSign": (
        with_key_usage("digitalSignature", "keyCertSign"),
        "p256",
        ("CSR-KU-5", "keyCertSign"),
    ),
    "keyEncipherment on EC": (
        with_key_usage("keyEncipherment"),
        "p256",
        ("CSR-KU-3", "keyAgreement"),
    ),
    "keyAgreement on RSA": (
        with_key_usage("keyAgreement"),
        "rsa2048",
        ("CSR-KU-3", "keyEncipherment"),
    ),
    "Ed25519 dual use": (
        lambda key: der(build_csr(key, [ALICE], None)),
        "ed25519",
        ("CSR-KU-3", "Ed25519"),
    ),
    "short RSA key": (
        lambda key: der(build_csr(key, [ALICE], "signing")),
        "rsa1024",
        ("A-FIN-3", "RSA-1024"),
    ),
    "serverAuth": (
        lambda key: der(
            build_csr(
                key,
                [ALICE],
                "signing",
                include_eku=False,
                extra_extensions=[
                    (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
                ],
            )
        ),
        "p256",
        ("A-FIN-3", "extendedKeyUsage"),
    ),
}


@pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
def test_refusal_is_bad_csr_naming_the_requirement(issuer: Issuer, case: str) -> None:
    """An unacceptable CSR raises CsrRejected(badCSR); the detail names the rule and the fault."""
    make, kind, mentions = REFUSALS[case]
    with pytest.raises(CsrRejected) as refused:
        issuer.check(make(applicant(kind)), [ALICE])
    assert refused.value.problem_type == "badCSR"
    for text in mentions:
        assert text in refused.value.detail, refused.value.detail


def test_unsupported_curve_is_refused(issuer: Issuer) -> None:
    """Keys on curves other than P-256/P-384/P-521 are refused (A-FIN-3)."""
    key = ec.generate_private_key(ec.SECP256K1())
    with pytest.raises(CsrRejected, match=r"A-FIN-3.*secp256k1"):
        issuer.check(der(build_csr(key, [ALICE], "signing")), [ALICE])


def test_account_key_is_refused(issuer: Issuer) -> None:
    """The CSR may not certify the ACME account key (A-ACCTKEY-1)."""
    key = applicant()
    csr = der(build_csr(key, [ALICE], "signing"))
    with pytest.raises(CsrRejected, match="A-ACCTKEY-1") as refused:
        issuer.check(csr, [ALICE], account_key=key.public_key())
    assert refused.value.problem_type == "badCSR"
    assert issuer.check(csr, [ALICE], account_key=cached_key("csr-account", "p256").public_key())


def test_every_fault_is_named_at_once(issuer: Issuer) -> None:
    """A CSR with several faults gets one refusal that lists each of them."""
    extension = (key_usage_from_bits({"digitalSignature", "cRLSign"}), True)
    csr = build_csr(applicant(), [BOB], None, extra_extensions=[extension])
    with pytest.raises(CsrRejected) as refused:
        issuer.check(der(csr), [ALICE])
    for text in ("CSR-ID-1", ALICE, BOB, "CSR-KU-5", "cRLSign"):
        assert text in refused.value.detail


def test_minimum_rsa_size_is_configurable(pki: TestPki) -> None:
    """min_rsa_bits raises the bar: RSA-2048 is refused by a CA wanting 3072 bits."""
    strict = Issuer.from_pki(pki, min_rsa_bits=3072)
    with pytest.raises(CsrRejected, match="RSA-2048"):
        strict.check(der(build_csr(applicant("rsa2048"), [ALICE], "signing")), [ALICE])


def test_issuer_refuses_a_key_that_is_not_the_cas(pki: TestPki) -> None:
    """The CA key must belong to the CA certificate."""
    with pytest.raises(ValueError, match="does not belong"):
        Issuer(pki.acme_issuing.cert, pki.smime_root.key, ())
