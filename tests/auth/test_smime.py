"""S/MIME sign (cryptography) and verify (openssl cms) of challenges (RFC 8551, RFC 8823 §3.1)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given
from hypothesis import strategies as st

from rfc8823.auth.smime import (
    PROTECTED_FIELDS,
    SmimeForm,
    SmimeResult,
    header_protection_mismatches,
    sign,
    signer_matches_from,
    verify,
)
from rfc8823.world.keys import cached_key
from rfc8823.world.pki import SmimeIdentity, TestPki

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


def signed_by(identity: SmimeIdentity, form: SmimeForm = "multipart-signed", **kw: bool) -> bytes:
    return sign(MESSAGE, identity.cert, identity.key, identity.chain, form=form, **kw)


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
    signed = signed_by(signer, form, header_protection=False)
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
    signed = signed_by(signer, header_protection=False)
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
