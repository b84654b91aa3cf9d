"""CSR building and inspection: keyUsage classes (RFC 8823 §3.3), names (CSR-ID-1, I18N-3)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from rfc8823.csr import (
    SMTP_UTF8_MAILBOX,
    USAGE_REQUIREMENT,
    CsrReport,
    Usage,
    build_csr,
    decode_csr_field,
    decode_utf8_string,
    encode_utf8_string,
    inspect_csr,
    key_usage_bits,
    key_usage_for,
    key_usage_from_bits,
    signature_hash,
)
from rfc8823.findings import Verdict, failures
from rfc8823.tokens import b64url_encode
from rfc8823.world.keys import KeyKind, PrivateKey, cached_key

ALICE = "alice@example.com"
BOB = "bob@example.com"
EAI = "üser@bücher.example"
EAI_IN_SAN = "üser@xn--bcher-kva.example"
IDN = "user@bücher.example"
RFC822_TAG = 0x81


def der(csr: x509.CertificateSigningRequest) -> bytes:
    return csr.public_bytes(serialization.Encoding.DER)


def broken_ids(report: CsrReport) -> set[str]:
    return {finding.requirement for finding in failures(report.findings)}


def passed_ids(report: CsrReport) -> set[str]:
    return {f.requirement for f in report.findings if f.verdict is Verdict.PASS}


def raw_san(*entries: tuple[int, bytes]) -> x509.UnrecognizedExtension:
    """A subjectAltName written byte by byte, for values cryptography refuses to build."""
    body = b"".join(bytes([tag, len(value)]) + value for tag, value in entries)
    assert len(body) < 0x80
    value = bytes([0x30, len(body)]) + body
    return x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, value)


def custom_san(*names: x509.GeneralName) -> tuple[x509.ExtensionType, bool]:
    return x509.SubjectAlternativeName(list(names)), False


def applicant(kind: KeyKind = "p256") -> PrivateKey:
    return cached_key("csr-applicant", kind)


@pytest.mark.parametrize(
    ("kind", "usage", "bits"),
    [
        ("rsa2048", "signing", {"digitalSignature"}),
        ("rsa2048", "encryption", {"keyEncipherment"}),
        ("rsa2048", "both", {"digitalSignature", "keyEncipherment"}),
        ("p256", "signing", {"digitalSignature"}),
        ("p256", "encryption", {"keyAgreement"}),
        ("p256", "both", {"digitalSignature", "keyAgreement"}),
        ("ed25519", "signing", {"digitalSignature"}),
    ],
)
def test_built_csr_passes_inspection(kind: KeyKind, usage: Usage, bits: set[str]) -> None:
    """build_csr makes what inspect_csr accepts: SAN per address, critical keyUsage, EKU."""
    key = cached_key("csr-applicant", kind)
    csr = build_csr(key, [ALICE, EAI], usage)
    report = inspect_csr(der(csr), [ALICE, EAI], requested=usage)
    assert report.acceptable, [str(f) for f in failures(report.findings)]
    assert report.usage == usage
    assert report.signature_valid
    assert report.key_usage is not None
    assert key_usage_bits(report.key_usage) == bits
    assert {USAGE_REQUIREMENT[usage], "CSR-ID-1", "I18N-3", "A-FIN-1"} <= passed_ids(report)
    assert csr.extensions.get_extension_for_class(x509.KeyUsage).critical
    eku = csr.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.EMAIL_PROTECTION]
    san = list(csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    assert san == [
        x509.RFC822Name(ALICE),
        x509.OtherName(SMTP_UTF8_MAILBOX, encode_utf8_string(EAI_IN_SAN)),
    ]
    assert report.addresses == (ALICE, EAI_IN_SAN)
    assert csr.subject == x509.Name([])


def test_no_usage_means_no_key_usage_and_dual_use() -> None:
    """usage=None leaves keyUsage out, which asks for both (CSR-KU-4)."""
    csr = build_csr(applicant(), [ALICE], None)
    with pytest.raises(x509.ExtensionNotFound):
        csr.extensions.get_extension_for_class(x509.KeyUsage)
    report = inspect_csr(der(csr), [ALICE], requested="both")
    assert report.acceptable
    assert report.usage == "both"
    assert "CSR-KU-4" in passed_ids(report)


def test_signing_may_add_non_repudiation() -> None:
    """nonRepudiation is the second signing bit (CSR-KU-2)."""
    csr = build_csr(applicant(), [ALICE], "signing", non_repudiation=True)
    report = inspect_csr(der(csr), [ALICE], requested="signing")
    assert report.acceptable
    assert report.key_usage is not None
    assert key_usage_bits(report.key_usage) == {"digitalSignature", "nonRepudiation"}


def test_options_subject_cn_and_no_eku() -> None:
    """subject_cn sets CN (accepted when ordered, docs/decisions.md#decision-7); include_eku=False
    drops EKU."""
    csr = build_csr(applicant(), [ALICE], "signing", subject_cn=ALICE, include_eku=False)
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == ALICE
    with pytest.raises(x509.ExtensionNotFound):
        csr.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert inspect_csr(der(csr), [ALICE]).acceptable


def test_idn_domain_is_written_as_a_labels() -> None:
    """An ASCII local part with an IDN domain is an rfc822Name with A-labels (I18N-3, I18N-2)."""
    csr = build_csr(applicant(), [IDN], "signing")
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert list(san) == [x509.RFC822Name("user@xn--bcher-kva.example")]
    assert inspect_csr(der(csr), [IDN]).acceptable
    assert inspect_csr(der(csr), ["user@xn--bcher-kva.example"]).acceptable


def test_key_usage_for_follows_the_key_type() -> None:
    """Encryption is keyEncipherment for RSA, keyAgreement for EC and X25519 (AMB-7)."""
    rsa_key, ec_key = cached_key("csr-applicant", "rsa2048"), applicant()
    assert key_usage_bits(key_usage_for("encryption", rsa_key)) == {"keyEncipherment"}
    assert key_usage_bits(key_usage_for("encryption", ec_key.public_key())) == {"keyAgreement"}
    agreement_only = x25519.X25519PrivateKey.generate()
    assert key_usage_bits(key_usage_for("encryption", agreement_only)) == {"keyAgreement"}
    with pytest.raises(ValueError, match="cannot sign"):
        key_usage_for("signing", agreement_only)


@pytest.mark.parametrize("usage", ["encryption", "both"])
def test_ed25519_cannot_ask_for_encryption(usage: Usage) -> None:
    """An Ed25519 key only signs: encryption or dual use is refused early (CSR-KU-3)."""
    with pytest.raises(ValueError, match=r"Ed25519 key cannot encrypt.*CSR-KU-3"):
        build_csr(cached_key("csr-applicant", "ed25519"), [ALICE], usage)


def test_builders_refuse_bad_input() -> None:
    """Unknown usages, unknown bits and non-addresses raise ValueError."""
    with pytest.raises(ValueError, match="usage must be one of"):
        key_usage_for("sign", applicant())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown keyUsage bits"):
        key_usage_from_bits({"digitalSignature", "everything"})
    with pytest.raises(ValueError, match="not a usable address"):
        build_csr(applicant(), ["no-at-sign"], "signing")


def test_signature_hash_by_key_type() -> None:
    """SHA-256 for ECDSA and RSA; no separate hash for Ed25519."""
    assert signature_hash(applicant()) is not None
    assert signature_hash(cached_key("csr-applicant", "ed25519")) is None


def test_utf8_string_round_trip() -> None:
    """SmtpUTF8Mailbox values are DER UTF8Strings, with short and long form lengths."""
    for text in (EAI_IN_SAN, "ü" * 100 + "@example.com"):
        assert decode_utf8_string(encode_utf8_string(text)) == text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a DER UTF8String"),
        (b"\x16\x01a", "not a DER UTF8String"),
        (b"\x0c\x05ab", "does not match"),
        (b"\x0c\x81\x01a", "non-minimal"),
        (b"\x0c\x01\xff", "utf-8"),
    ],
)
def test_utf8_string_decoding_is_strict(data: bytes, message: str) -> None:
    """Other tags, wrong or non-minimal lengths and invalid UTF-8 are refused."""
    with pytest.raises(ValueError, match=message):
        decode_utf8_string(data)


Violation = tuple[Callable[[PrivateKey], x509.CertificateSigningRequest], str, str]

VIOLATIONS: dict[str, Violation] = {
    "extra address": (lambda key: build_csr(key, [ALICE, BOB], "signing"), "CSR-ID-1", BOB),
    "missing address": (lambda key: build_csr(key, [ALICE], "signing"), "CSR-ID-1", BOB),
    "dNSName with @": (
        lambda key: build_csr(
            key,
            [],
            "signing",
            extra_extensions=[custom_san(x509.RFC822Name(ALICE), x509.DNSName(ALICE))],
        ),
        "CSR-ID-1",
        "dNSName",
    ),
    "dNSName host": (
        lambda key: build_csr(
            key,
            [],
            "signing",
            extra_extensions=[custom_san(x509.RFC822Name(ALICE), x509.DNSName("example.com"))],
        ),
        "CSR-ID-1",
        "dNSName",
    ),
    "keyCertSign": (
        lambda key: build_csr(
            key,
            [ALICE],
            None,
            extra_extensions=[(key_usage_from_bits({"digitalSignature", "keyCertSign"}), True)],
        ),
        "CSR-KU-5",
        "keyCertSign",
    ),
    "dataEncipherment": (
        lambda key: build_csr(
            key,
            [ALICE],
            None,
            extra_extensions=[(key_usage_from_bits({"dataEncipherment"}), True)],
        ),
        "CSR-KU-5",
        "dataEncipherment",
    ),
    "cRLSign": (
        lambda key: build_csr(
            key, [ALICE], None, extra_extensions=[(key_usage_from_bits({"cRLSign"}), True)]
        ),
        "CSR-KU-5",
        "cRLSign",
    ),
    "no bit at all": (
        lambda key: build_csr(
            key, [ALICE], None, extra_extensions=[(key_usage_from_bits(()), True)]
        ),
        "CSR-KU-5",
        "no bit",
    ),
    "keyEncipherment on EC": (
        lambda key: build_csr(
            key, [ALICE], None, extra_extensions=[(key_usage_from_bits({"keyEncipherment"}), True)]
        ),
        "CSR-KU-3",
        "keyAgreement alone",
    ),
    "SmtpUTF8Mailbox for ASCII local part": (
        lambda key: build_csr(
            key,
            [],
            "signing",
            extra_extensions=[
                custom_san(x509.OtherName(SMTP_UTF8_MAILBOX, encode_utf8_string(ALICE)))
            ],
        ),
        "REF-8398-1",
        "ASCII local part",
    ),
    "SmtpUTF8Mailbox with U-labels": (
        lambda key: build_csr(
            key,
            [],
            "signing",
            extra_extensions=[
                custom_san(x509.OtherName(SMTP_UTF8_MAILBOX, encode_utf8_string(EAI)))
            ],
        ),
        "I18N-3",
        "U-labels",
    ),
    "SmtpUTF8Mailbox not a UTF8String": (
        lambda key: build_csr(
            key,
            [],
            "signing",
            extra_extensions=[custom_san(x509.OtherName(SMTP_UTF8_MAILBOX, b"\x16\x03a@b"))],
        ),
        "I18N-3",
        "UTF8String",
    ),
    "rfc822Name with display name": (
        lambda key: build_csr(
            key,
            [],
            "signing",
            extra_extensions=[(raw_san((RFC822_TAG, f"Alice <{ALICE}>".encode())), False)],
        ),
        "REF-5280-1",
        "bare addr-spec",
    ),
    "rfc822Name with non-ASCII local part": (
        lambda key: build_csr(
            key,
            [],
            "signing",
            extra_extensions=[(raw_san((RFC822_TAG, EAI_IN_SAN.encode())), False)],
        ),
        "I18N-3",
        "SmtpUTF8Mailbox",
    ),
    "unordered CN address": (
        lambda key: build_csr(key, [ALICE], "signing", subject_cn=BOB),
        "CSR-ID-1",
        "subject CN",
    ),
    "CN that is a name": (
        lambda key: build_csr(key, [ALICE], "signing", subject_cn="Alice Example"),
        "CSR-ID-1",
        "Alice Example",
    ),
    "serverAuth EKU": (
        lambda key: build_csr(
            key,
            [ALICE],
            "signing",
            include_eku=False,
            extra_extensions=[(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)],
        ),
        "A-FIN-3",
        "extendedKeyUsage",
    ),
    "unexpected extension": (
        lambda key: build_csr(
            key, [ALICE], "signing", extra_extensions=[(x509.OCSPNoCheck(), False)]
        ),
        "A-FIN-3",
        "extension",
    ),
    "CA certificate": (
        lambda key: build_csr(
            key,
            [ALICE],
            "signing",
            extra_extensions=[(x509.BasicConstraints(ca=True, path_length=None), True)],
        ),
        "A-FIN-3",
        "basicConstraints",
    ),
}


@pytest.mark.parametrize("case", VIOLATIONS, ids=list(VIOLATIONS))
def test_violation_fails_on_its_requirement(case: str) -> None:
    """Each broken rule is reported under its catalog ID, with what was seen."""
    build, requirement, seen = VIOLATIONS[case]
    ordered = [ALICE, BOB] if case == "missing address" else [ALICE]
    report = inspect_csr(der(build(applicant())), ordered)
    assert requirement in broken_ids(report), [str(f) for f in report.findings]
    assert not report.acceptable
    texts = [f"{f.observed} {f.expected}" for f in report.findings if f.requirement == requirement]
    assert any(seen in text for text in texts), texts


@pytest.mark.parametrize(
    ("kind", "bits"),
    [("rsa2048", {"keyAgreement"}), ("ed25519", {"keyAgreement"}), ("p256", {"keyEncipherment"})],
)
def test_encryption_bit_must_fit_the_key(kind: KeyKind, bits: set[str]) -> None:
    """keyAgreement is meaningless for RSA, keyEncipherment for EC; Ed25519 has none (CSR-KU-3)."""
    extension = (key_usage_from_bits(bits), True)
    csr = build_csr(cached_key("csr-applicant", kind), [ALICE], None, extra_extensions=[extension])
    report = inspect_csr(der(csr), [ALICE])
    assert report.usage == "invalid"
    assert "CSR-KU-3" in broken_ids(report)


def test_ed25519_without_key_usage_asks_for_impossible_dual_use() -> None:
    """No keyUsage asks for both, which an Ed25519 key cannot serve (CSR-KU-4, CSR-KU-3)."""
    csr = build_csr(cached_key("csr-applicant", "ed25519"), [ALICE], None)
    report = inspect_csr(der(csr), [ALICE])
    assert report.usage == "invalid"
    assert broken_ids(report) == {"CSR-KU-3"}


@pytest.mark.parametrize(
    ("built", "requested", "requirement"),
    [
        ("both", "signing", "CSR-KU-2"),
        ("signing", "encryption", "CSR-KU-3"),
        (None, "signing", "CSR-KU-2"),
    ],
)
def test_usage_other_than_requested_is_reported(
    built: Usage | None, requested: Usage, requirement: str
) -> None:
    """A client asked for one usage and a CSR asking for another breaks that usage's rule."""
    report = inspect_csr(der(build_csr(applicant(), [ALICE], built)), [ALICE], requested=requested)
    assert requirement in broken_ids(report)


def test_subject_email_address_holding_an_ordered_address_is_accepted() -> None:
    """acme_email style: CN and emailAddress equal to the address (docs/decisions.md#decision-7)."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, ALICE),
            x509.NameAttribute(NameOID.EMAIL_ADDRESS, ALICE),
        ]
    )
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(ALICE)]), critical=False)
        .sign(applicant(), signature_hash(applicant()))
    )
    report = inspect_csr(der(csr), [ALICE])
    assert report.acceptable
    assert report.addresses == (ALICE,)


def test_other_subject_attributes_are_not_ordered_identifiers() -> None:
    """O= is a name the order does not hold (docs/decisions.md#decision-7)."""
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Corp")])
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(ALICE)]), critical=False)
        .sign(applicant(), signature_hash(applicant()))
    )
    assert "CSR-ID-1" in broken_ids(inspect_csr(der(csr), [ALICE]))


def test_missing_san_is_reported() -> None:
    """A CSR with the address only in the CN misses the SAN (CSR-ID-1)."""
    report = inspect_csr(der(build_csr(applicant(), [], "signing", subject_cn=ALICE)), [ALICE])
    assert "CSR-ID-1" in broken_ids(report)
    assert report.addresses == (ALICE,)


def test_bad_signature_is_reported() -> None:
    """A tampered CSR keeps its contents readable but fails A-FIN-1."""
    data = bytearray(der(build_csr(applicant(), [ALICE], "signing")))
    data[-5] ^= 0x01
    report = inspect_csr(bytes(data), [ALICE])
    assert not report.signature_valid
    assert "A-FIN-1" in broken_ids(report)
    assert report.addresses == (ALICE,)
    assert not report.acceptable


@pytest.mark.parametrize("data", [b"", b"garbage", b"\x30\x03\x02\x01\x01", b"\x30\x80" * 50])
def test_garbage_is_a_report_not_a_crash(data: bytes) -> None:
    """Undecodable bytes give a report with problems and A-FIN-1 broken."""
    report = inspect_csr(data, [ALICE])
    assert report.usage == "invalid"
    assert report.problems
    assert broken_ids(report) == {"A-FIN-1"}


@functools.cache
def fuzz_seed() -> bytes:
    """One real CSR, built once so every example mutates the same bytes."""
    return der(build_csr(applicant(), [ALICE, EAI], "both"))


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_mutated_csrs_never_crash(data: st.DataObject) -> None:
    """Random byte flips, truncations and junk in a real CSR still yield a report."""
    original = bytearray(fuzz_seed())
    flips = data.draw(st.lists(st.integers(0, len(original) - 1), max_size=6))
    for position in flips:
        original[position] ^= data.draw(st.integers(1, 255))
    cut = data.draw(st.integers(0, len(original)))
    mutated = bytes(original[:cut]) + data.draw(st.binary(max_size=8))
    report = inspect_csr(mutated, [ALICE, EAI])
    assert isinstance(report, CsrReport)
    assert report.usage in ("signing", "encryption", "both", "invalid")


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    """Any octets give a CsrReport."""
    assert isinstance(inspect_csr(data, [ALICE]), CsrReport)


def test_decode_csr_field_accepts_unpadded_base64url() -> None:
    """The finalize csr field is base64url of the DER (A-FIN-1)."""
    data = der(build_csr(applicant(), [ALICE], "signing"))
    assert decode_csr_field(b64url_encode(data)) == data


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----", "PEM"),
        ("MIIBIjAN==", "padded"),
        ("MIIB+jAN", "not base64url"),
        ("MIIB jAN", "not base64url"),
        ("", "empty"),
    ],
)
def test_decode_csr_field_refuses_other_encodings(field: str, message: str) -> None:
    """PEM, padding, standard base64 characters and whitespace are refused with a reason."""
    with pytest.raises(ValueError, match=message):
        decode_csr_field(field)
