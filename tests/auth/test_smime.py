"""S/MIME sign (cryptography) and verify (openssl cms) of challenges (RFC 8551, RFC 8823 §3.1)."""

from __future__ import annotations

import base64
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms, core
from cryptography.hazmat.primitives import serialization
from hypothesis import given
from hypothesis import strategies as st

from rfc8823.auth.secure_headers import (
    Canonicalization,
    FieldStatus,
    Malformed,
    SecureField,
    SecureHeaders,
)
from rfc8823.auth.smime import (
    PROTECTED_FIELDS,
    HeaderProtection,
    SmimeForm,
    SmimeResult,
    header_protection_mismatches,
    secure_headers_in,
    sign,
    signer_matches_from,
    verify,
)
from rfc8823.values import SmimeIdentity
from rfc8823.world.keys import KeyKind, cached_key
from rfc8823.world.pki import TestPki

FROM = "acme-challenge@ca.test"
TOKEN_PART1 = "LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME"
BODY = b"This is an automatically generated ACME challenge for alice@mail.test.\r\n"
MESSAGE = (
    b"From: ACME CA <acme-challenge@ca.test>\r\n"
    b"To: alice@mail.test\r\n"
    b"Subject: ACME: " + TOKEN_PART1.encode() + b"\r\n"
    b"Date: Tue, 02 Jan 2024 10:00:00 +0000\r\n"
    b"Message-ID: <challenge-1@ca.test>\r\n"
    b"Auto-Submitted: auto-generated; type=acme\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"\r\n" + BODY
)
FORMS: tuple[SmimeForm, ...] = ("multipart-signed", "opaque")
OUTER_FIELDS = ["From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted"]
IO_TIMEOUT = 10.0
SMIME_SIGNED = (
    b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; boundary=b\r\n'
)


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return TestPki.load()


@pytest.fixture(scope="module")
def signer(pki: TestPki) -> SmimeIdentity:
    return pki.smime_signer(FROM)


@pytest.fixture(scope="module")
def signed_message(signer: SmimeIdentity) -> bytes:
    """One signed message, fixed for the module (signatures and boundaries are random)."""
    return signed_by(signer)


def signed_by(
    identity: SmimeIdentity,
    form: SmimeForm = "multipart-signed",
    header_protection: HeaderProtection = "rfc8551",
    canonicalization: Canonicalization = "relaxed",
    secure_fields: list[SecureField] | None = None,
    message: bytes = MESSAGE,
) -> bytes:
    return sign(
        message,
        identity.cert,
        identity.key,
        identity.chain,
        form=form,
        header_protection=header_protection,
        canonicalization=canonicalization,
        secure_fields=secure_fields,
    )


def openssl_verifies(pki: TestPki, signed: bytes, folder: Path) -> bytes:
    """``openssl cms -verify`` on the whole message, with its own S/MIME parser; the content."""
    (folder / "signed.eml").write_bytes(signed)
    done = subprocess.run(
        [
            *("openssl", "cms", "-verify", "-purpose", "smimesign", "-no-CApath", "-no-CAstore"),
            *("-CAfile", str(pki.trust_anchor_path), "-in", str(folder / "signed.eml")),
        ],
        capture_output=True,
        timeout=IO_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def with_outer(signed: bytes, field: str, line: bytes | None) -> bytes:
    """``signed`` with its outer ``field`` line replaced by ``line`` (None: removed)."""
    header, body = signed.split(b"\r\n\r\n", 1)
    lines = [
        replacement
        for old in header.split(b"\r\n")
        for replacement in ([line] if old.startswith(field.encode() + b":") else [old])
        if replacement is not None
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def check(pki: TestPki, message: bytes) -> SmimeResult:
    return verify(message, [pki.trust_anchor_path])


@pytest.mark.parametrize("form", FORMS)
def test_header_protected_message_verifies(
    pki: TestPki, signer: SmimeIdentity, form: SmimeForm
) -> None:
    """The signed content wraps the whole message; its headers equal the outer ones."""
    result = check(pki, signed_by(signer, form))
    assert (result.status, result.form) == ("pass", form), result.reason
    assert result.signer_addresses == (FROM,)
    assert result.signer_cert == signer.cert
    assert result.inner == b"Content-Type: message/rfc822; forwarded=no\r\n\r\n" + MESSAGE
    assert result.protected_headers is not None
    assert ("Subject", f"ACME: {TOKEN_PART1}") in result.protected_headers
    assert ("Auto-Submitted", "auto-generated; type=acme") in result.protected_headers
    assert header_protection_mismatches(signed_by(signer, form), result) == []


@pytest.mark.parametrize("form", FORMS)
def test_body_only_signature_verifies(pki: TestPki, signer: SmimeIdentity, form: SmimeForm) -> None:
    """Without header protection only the body entity is signed, and nothing is protected."""
    signed = signed_by(signer, form, header_protection="none")
    result = check(pki, signed)
    assert (result.status, result.form) == ("pass", form), result.reason
    assert result.inner == b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + BODY
    assert result.protected_headers is None
    assert header_protection_mismatches(signed, result) == OUTER_FIELDS


def test_rsa_signer_verifies(pki: TestPki) -> None:
    """RSA signers work too (keyEncipherment set, SHA-256 with PKCS#1 v1.5)."""
    result = check(pki, signed_by(pki.smime_signer(FROM, key_kind="rsa2048")))
    assert result.status == "pass", result.reason


def test_outer_header_repeats_the_original_fields(signer: SmimeIdentity) -> None:
    """The outer header carries From/To/Subject/... and the S/MIME content type, not text/plain."""
    header = signed_by(signer).split(b"\r\n\r\n", 1)[0]
    for field in OUTER_FIELDS:
        assert field.encode() + b": " in header
    assert b"text/plain" not in header
    assert b'protocol="application/pkcs7-signature"' in header
    assert b"micalg=sha-256" in header


@pytest.mark.parametrize("form", FORMS)
def test_openssl_reads_our_signed_messages(
    pki: TestPki, signer: SmimeIdentity, form: SmimeForm, tmp_path: Path
) -> None:
    """openssl's own S/MIME parser accepts what sign() writes (interoperability)."""
    (tmp_path / "signed.eml").write_bytes(signed_by(signer, form))
    done = subprocess.run(
        [
            *("openssl", "cms", "-verify", "-purpose", "smimesign", "-no-CApath", "-no-CAstore"),
            *("-CAfile", str(pki.trust_anchor_path), "-in", str(tmp_path / "signed.eml")),
        ],
        capture_output=True,
        timeout=IO_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"Subject: ACME: {TOKEN_PART1}".encode() in done.stdout


@pytest.mark.parametrize("detach", [True, False])
def test_messages_signed_by_openssl_verify(
    pki: TestPki, signer: SmimeIdentity, detach: bool, tmp_path: Path
) -> None:
    """A message from `openssl cms -sign` (LF line endings) verifies; its content is exact."""
    (tmp_path / "key.pem").write_bytes(
        signer.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (tmp_path / "cert.pem").write_bytes(signer.cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "chain.pem").write_bytes(signer.chain[0].public_bytes(serialization.Encoding.PEM))
    (tmp_path / "body").write_bytes(b"Content-Type: text/plain\r\n\r\nhello\r\n")
    command = ["openssl", "cms", "-sign", "-md", "sha256", "-in", str(tmp_path / "body")]
    command += ["-signer", str(tmp_path / "cert.pem"), "-inkey", str(tmp_path / "key.pem")]
    command += ["-certfile", str(tmp_path / "chain.pem"), "-from", FROM, "-subject", "ACME: x"]
    if not detach:
        command.append("-nodetach")
    done = subprocess.run(command, capture_output=True, timeout=IO_TIMEOUT, check=True)
    result = check(pki, done.stdout)
    assert result.status == "pass", result.reason
    assert result.form == ("multipart-signed" if detach else "opaque")
    assert result.inner == b"Content-Type: text/plain\r\n\r\nhello\r\n"


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("key_kind", ["p256", "rsa2048"])
@pytest.mark.parametrize("canonicalization", ["simple", "relaxed"])
def test_rfc7508_signature_verifies_and_protects(
    pki: TestPki,
    form: SmimeForm,
    key_kind: KeyKind,
    canonicalization: Canonicalization,
    tmp_path: Path,
) -> None:
    """The SecureHeaderFields signature (ECDSA or RSA PKCS#1 v1.5) verifies in openssl and
    lists the outer fields as written, all duplicated (RFC 7508 §4.1, §4.4)."""
    identity = pki.smime_signer(FROM, key_kind=key_kind)
    signed = signed_by(identity, form, "rfc7508", canonicalization)
    content = openssl_verifies(pki, signed, tmp_path)
    assert content.endswith(BODY)
    result = check(pki, signed)
    assert (result.status, result.form) == ("pass", form), result.reason
    assert result.signer_cert == identity.cert
    assert result.inner == b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + BODY
    assert result.protected_headers is None
    assert isinstance(result.secure_headers, SecureHeaders)
    assert result.secure_headers.canonicalization == canonicalization
    listed = {(f.name, f.value, f.status) for f in result.secure_headers.fields}
    assert ("Subject", f"ACME: {TOKEN_PART1}", "duplicated") in listed
    assert ("From", "ACME CA <acme-challenge@ca.test>", "duplicated") in listed
    assert {f.name for f in result.secure_headers.fields} == set(OUTER_FIELDS)
    assert header_protection_mismatches(signed, result) == []


def test_rfc7508_signature_carries_the_signer_chain(pki: TestPki, signer: SmimeIdentity) -> None:
    """The intermediate travels in the SignedData: trusting the root alone suffices (§5.1)."""
    assert signer.chain
    result = check(pki, signed_by(signer, "opaque", "rfc7508"))
    assert result.status == "pass", result.reason
    assert result.signer_addresses == (FROM,)


@pytest.mark.parametrize(
    ("field", "forged"),
    [
        ("From", b"From: ACME CA <acme-challenge@evil.test>"),
        ("To", b"To: mallory@mail.test"),
        ("Subject", b"Subject: ACME: forged"),
        ("Subject", None),
    ],
)
def test_rfc7508_outer_change_is_a_mismatch(
    pki: TestPki, signer: SmimeIdentity, field: str, forged: bytes | None
) -> None:
    """The signature still verifies; the outer field no longer shows the protected one."""
    changed = with_outer(signed_by(signer, header_protection="rfc7508"), field, forged)
    result = check(pki, changed)
    assert result.status == "pass", result.reason
    assert header_protection_mismatches(changed, result) == [field]


@pytest.mark.parametrize(
    ("canonicalization", "mismatched"), [("relaxed", []), ("simple", ["Subject"])]
)
def test_rfc7508_refolding_counts_only_in_simple(
    pki: TestPki, signer: SmimeIdentity, canonicalization: Canonicalization, mismatched: list[str]
) -> None:
    """Folding the outer Subject is forgiven by relaxed, not by simple (RFC 7508 §4.3)."""
    signed = signed_by(signer, header_protection="rfc7508", canonicalization=canonicalization)
    refolded = with_outer(signed, "Subject", b"Subject: ACME:\r\n  " + TOKEN_PART1.encode())
    assert header_protection_mismatches(refolded, check(pki, refolded)) == mismatched


def test_rfc7508_declared_fields_are_signed_as_given(pki: TestPki, signer: SmimeIdentity) -> None:
    """``secure_fields`` replace the message's own; a modified Subject the outer header does
    not show is a mismatch, and so is a To left out of the attribute (§4.4, §4.5.2)."""
    fields = [
        SecureField("From", "ACME CA <acme-challenge@ca.test>"),
        SecureField("Subject", "ACME: the real one", "modified"),
    ]
    signed = signed_by(signer, header_protection="rfc7508", secure_fields=fields)
    result = check(pki, signed)
    assert result.status == "pass", result.reason
    assert result.secure_headers == SecureHeaders("relaxed", tuple(fields))
    assert header_protection_mismatches(signed, result, ["From", "To", "Subject"]) == [
        "To",
        "Subject",
    ]


@pytest.mark.parametrize("status", ["deleted", "modified"])
def test_rfc7508_status_shown_unchanged_outside_is_no_mismatch(
    pki: TestPki, signer: SmimeIdentity, status: FieldStatus
) -> None:
    """Signed and not encrypted, the outer header shows every field as signed whatever its
    status: no mismatch; a changed outer value still is one (RFC 7508 §4.4, §4.5.2)."""
    fields = [
        SecureField("From", "ACME CA <acme-challenge@ca.test>"),
        SecureField("To", "alice@mail.test", status),
        SecureField("Subject", f"ACME: {TOKEN_PART1}", status),
    ]
    signed = signed_by(signer, header_protection="rfc7508", secure_fields=fields)
    result = check(pki, signed)
    assert result.status == "pass", result.reason
    assert header_protection_mismatches(signed, result, ["From", "To", "Subject"]) == []
    changed = with_outer(signed, "Subject", b"Subject: Encrypted message")
    assert header_protection_mismatches(changed, check(pki, changed), ["Subject"]) == ["Subject"]


def test_both_mechanisms_must_agree(pki: TestPki, signer: SmimeIdentity) -> None:
    """A wrapped message/rfc822 body and an RFC 7508 attribute are each compared (AMB-8)."""
    inner = MESSAGE.replace(b"Subject: ACME: ", b"Subject: ACME: other", 1)
    wrapper = MESSAGE.split(b"MIME-Version", 1)[0] + (
        b"MIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n" + inner
    )
    signed = signed_by(signer, header_protection="rfc7508", message=wrapper)
    result = check(pki, signed)
    assert result.status == "pass", result.reason
    assert result.protected_headers is not None
    assert isinstance(result.secure_headers, SecureHeaders)
    assert header_protection_mismatches(signed, result) == ["Subject"]


def test_rfc7508_attribute_of_any_length_is_read_back(signer: SmimeIdentity) -> None:
    """Every length of attribute and SignedData, 0x80 length octets included, round-trips."""
    for size in range(1, 300):
        fields = [SecureField("Subject", "x" * size)]
        signed = signed_by(signer, "opaque", "rfc7508", secure_fields=fields)
        der = base64.b64decode(signed.split(b"\r\n\r\n", 1)[1])
        assert secure_headers_in(der) == SecureHeaders("relaxed", tuple(fields)), size


def test_signed_attributes_of_other_signatures(signer: SmimeIdentity) -> None:
    """cryptography's signatures carry no attribute; garbage is no SignedData (never raises)."""
    plain = signed_by(signer, "opaque")
    der = base64.b64decode(plain.split(b"\r\n\r\n", 1)[1])
    assert secure_headers_in(der) is None
    assert secure_headers_in(b"\x30\x03\x02\x01\x00") is None
    assert secure_headers_in(b"") is None


def test_header_protection_spellings(signer: SmimeIdentity) -> None:
    """True/False still mean rfc8551/none; secure_fields without rfc7508 and unknown names
    are refused."""
    assert b"message/rfc822" in signed_by(signer, header_protection="rfc8551")
    assert b"message/rfc822" not in signed_by(signer, header_protection="none")
    with pytest.raises(ValueError, match="secure_fields"):
        signed_by(signer, secure_fields=[SecureField("To", "x")])
    with pytest.raises(ValueError, match="header_protection"):
        signed_by(signer, header_protection="rfc9788")  # type: ignore[arg-type]


def test_malformed_attribute_is_reported(signer: SmimeIdentity) -> None:
    """An attribute value that is no SecureHeaderFields reads as Malformed (pure, unverified)."""
    signed = signed_by(signer, "opaque", "rfc7508")
    info = cms.ContentInfo.load(base64.b64decode(signed.split(b"\r\n\r\n", 1)[1]))
    attributes = info["content"]["signer_infos"][0]["signed_attrs"]
    [attribute] = [a for a in attributes if a["type"].dotted == "1.2.840.113549.1.9.16.2.55"]
    attribute["values"] = cms.SetOfAny([core.Any.load(b"\x31\x05\x0a\x01\x00\x30\x00")])
    result = secure_headers_in(info.dump())
    assert isinstance(result, Malformed)
    assert "empty" in result.reason


def test_bare_lf_line_endings_verify(pki: TestPki, signer: SmimeIdentity) -> None:
    """A stored copy with LF line endings is canonicalised back to CRLF before verification."""
    result = check(pki, signed_by(signer).replace(b"\r\n", b"\n"))
    assert result.status == "pass", result.reason


def test_tampered_body_fails(pki: TestPki, signer: SmimeIdentity) -> None:
    """One changed byte in the signed part breaks the signature."""
    tampered = signed_by(signer).replace(b"automatically", b"automaticaly")
    result = check(pki, tampered)
    assert result.status == "fail"
    assert "verification failure" in result.reason
    assert result.signer_addresses == ()


@pytest.mark.parametrize(
    ("field", "forged"),
    [
        ("From", b"From: ACME CA <acme-challenge@evil.test>"),
        ("To", b"To: mallory@mail.test"),
        ("Subject", b"Subject: ACME: forged"),
    ],
)
def test_changed_outer_header_is_a_mismatch(
    pki: TestPki, signer: SmimeIdentity, field: str, forged: bytes
) -> None:
    """The signature still verifies, but the outer field no longer equals the protected one."""
    signed = signed_by(signer)
    header, body = signed.split(b"\r\n\r\n", 1)
    lines = [
        forged if line.startswith(field.encode() + b":") else line for line in header.split(b"\r\n")
    ]
    outer_changed = b"\r\n".join(lines) + b"\r\n\r\n" + body
    result = check(pki, outer_changed)
    assert result.status == "pass", result.reason
    assert header_protection_mismatches(outer_changed, result) == [field]


def test_folding_and_spacing_are_not_mismatches(pki: TestPki, signer: SmimeIdentity) -> None:
    """Outer values are compared unfolded, with whitespace runs collapsed."""
    signed = signed_by(signer)
    refolded = signed.replace(
        b"Subject: ACME: " + TOKEN_PART1.encode(),
        b"Subject: ACME:\r\n \t " + TOKEN_PART1.encode(),
        1,
    )
    assert refolded != signed
    assert header_protection_mismatches(refolded, check(pki, refolded)) == []


def test_missing_outer_field_is_a_mismatch(pki: TestPki, signer: SmimeIdentity) -> None:
    """A protected field dropped from the outer header is reported."""
    signed = signed_by(signer)
    stripped = signed.replace(b"Auto-Submitted: auto-generated; type=acme\r\n", b"", 1)
    assert header_protection_mismatches(stripped, check(pki, stripped)) == ["Auto-Submitted"]


def test_mismatch_fields_can_be_chosen(pki: TestPki, signer: SmimeIdentity) -> None:
    """Only the requested fields are compared; absent on both sides is no mismatch."""
    signed = signed_by(signer, header_protection="none")
    assert header_protection_mismatches(signed, check(pki, signed), ["Subject", "Cc"]) == [
        "Subject"
    ]
    assert "Cc" in PROTECTED_FIELDS


def test_signer_san_other_than_from_does_not_match(pki: TestPki) -> None:
    """CHAL-SMIME-1: a valid signature by a certificate for another address does not match From."""
    result = check(pki, signed_by(pki.smime_signer("someone-else@ca.test")))
    assert result.status == "pass", result.reason
    assert not signer_matches_from(result, "ACME CA <acme-challenge@ca.test>")


def test_any_rfc822name_may_match(pki: TestPki) -> None:
    """The From address may be the second rfc822Name (acme4j looks at the first only)."""
    identity = pki.smime_signer(FROM, san=["first@ca.test", FROM])
    result = check(pki, signed_by(identity))
    assert result.signer_addresses == ("first@ca.test", FROM)
    assert signer_matches_from(result, f"ACME CA <{FROM}>")


@pytest.mark.parametrize(
    ("from_addr", "matches"),
    [
        ("acme-challenge@CA.Test", True),
        ("ACME-challenge@ca.test", False),
        ("acme-challenge@ca.test.evil", False),
        ("", False),
    ],
)
def test_from_comparison_ignores_domain_case_only(from_addr: str, matches: bool) -> None:
    """Domains compare case-insensitively, local parts exactly (CHAL-SMIME-1)."""
    result = SmimeResult("pass", "", signer_addresses=(FROM,))
    assert signer_matches_from(result, from_addr) is matches


def test_signer_without_san_has_no_addresses(pki: TestPki) -> None:
    """CHAL-SMIME-1: a certificate without SAN names nobody, so From cannot match."""
    result = check(pki, signed_by(pki.smime_signer(FROM, san=[])))
    assert result.status == "pass", result.reason
    assert result.signer_addresses == ()
    assert not signer_matches_from(result, FROM)


@pytest.mark.parametrize("form", FORMS)
def test_untrusted_signer_fails(pki: TestPki, form: SmimeForm) -> None:
    """CHAL-SMIME-2: a signer that does not chain to a trust anchor is rejected."""
    result = check(pki, signed_by(pki.smime_signer(FROM, ca="untrusted"), form))
    assert (result.status, result.form) == ("fail", form)
    assert "unable to get local issuer certificate" in result.reason


def test_expired_signer_fails(pki: TestPki) -> None:
    """CHAL-SMIME-2: an expired signer certificate is rejected."""
    now = datetime.now(UTC)
    expired = pki.smime_signer(
        FROM, not_before=now - timedelta(days=30), not_after=now - timedelta(seconds=1)
    )
    result = check(pki, signed_by(expired))
    assert result.status == "fail"
    assert "certificate has expired" in result.reason


def test_no_trust_anchor_means_no_trust(signer: SmimeIdentity) -> None:
    """With no anchors given, system roots are not consulted and the path fails."""
    result = verify(signed_by(signer), [])
    assert result.status == "fail"


def test_tls_certificate_is_not_an_smime_signer(pki: TestPki) -> None:
    """`-purpose smimesign`: a TLS server certificate from a trusted CA cannot sign mail."""
    cert, key = pki.tls_server_cert(["ca.test"])
    result = verify(sign(MESSAGE, cert, key, []), [pki.ca_bundle_path()])
    assert result.status == "fail"
    assert "unsuitable certificate purpose" in result.reason


def test_unsigned_message_is_none(pki: TestPki) -> None:
    """A plain message is reported as not S/MIME signed."""
    result = check(pki, MESSAGE)
    assert result.status == "none"
    assert result.form is None


@pytest.mark.parametrize(
    "message",
    [
        b'Content-Type: multipart/signed; protocol="application/pgp-signature"; boundary=b\r\n\r\n',
        b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\r\nMIIB\r\n",
    ],
)
def test_other_protected_types_are_none(pki: TestPki, message: bytes) -> None:
    """PGP signatures and encrypted S/MIME are not S/MIME signatures."""
    assert check(pki, message).status == "none"


@pytest.mark.parametrize(
    "message",
    [
        SMIME_SIGNED + b"\r\n",
        SMIME_SIGNED + b"\r\n--b\r\nhi\r\n--b\r\nContent-Type: text/plain\r\n\r\nMIIB\r\n--b--\r\n",
        SMIME_SIGNED
        + b"\r\n--b\r\nhi\r\n--b\r\nContent-Type: application/pkcs7-signature\r\n\r\n--b--\r\n",
        SMIME_SIGNED + b"\r\n--b\r\nhi\r\n--b\r\nContent-Type: application/pkcs7-signature\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nMIIBAAAA\r\n--b--\r\n",
        b"Content-Type: application/pkcs7-mime; smime-type=signed-data\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!!\r\n",
    ],
)
def test_broken_signed_structures_fail(pki: TestPki, message: bytes) -> None:
    """Claims of a signature that do not hold up are failures, not crashes."""
    assert check(pki, message).status == "fail"


def test_missing_openssl_is_an_error(signer: SmimeIdentity, tmp_path: Path) -> None:
    """A harness problem (no openssl binary) is an error, not a failed signature."""
    result = verify(signed_by(signer), [], openssl=str(tmp_path / "no-openssl"))
    assert result.status == "error"


def test_sign_refuses_ed25519(pki: TestPki) -> None:
    """cryptography's PKCS#7 builder signs with RSA or EC keys only; refuse early and clearly."""
    identity = pki.smime_signer(FROM, key_kind="ed25519")
    assert identity.key == cached_key("smime-signer", "ed25519")
    with pytest.raises(TypeError, match="RSA or EC"):
        signed_by(identity)


@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(pki: TestPki, garbage: bytes) -> None:
    """Any bytes at all give a verdict, never an exception."""
    assert check(pki, garbage).status in {"none", "fail", "error"}


@given(st.data())
def test_damaged_signed_messages_never_raise(
    pki: TestPki, signed_message: bytes, data: st.DataObject
) -> None:
    """Random byte damage to a signed message gives a verdict, never an exception."""
    signed = bytearray(signed_message)
    for _ in range(data.draw(st.integers(1, 4))):
        signed[data.draw(st.integers(0, len(signed) - 1))] = data.draw(st.integers(0, 255))
    result = check(pki, bytes(signed))
    assert result.status in {"pass", "fail", "none", "error"}
    header_protection_mismatches(bytes(signed), result)
