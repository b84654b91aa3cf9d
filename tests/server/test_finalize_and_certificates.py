"""Finalize, certificate download and revocation through the CA's HTTP API (RFC 8555 §7.4,
§7.4.2, §7.6; RFC 8823 §3.3; A-FIN-*, CSR-*, CERT-1, A-CERT-1, A-REV-1)."""

from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from rfc8823.acme.jws import sign_jws
from rfc8823.csr import build_csr
from rfc8823.requirements import covers
from rfc8823.tokens import b64url_encode
from rfc8823.world.keys import KeyKind, cached_key

ERROR = "urn:ietf:params:acme:error:"
TIMEOUT = 10.0
EXPECTED_USAGE = {
    ("p256", "signing"): {"digital_signature"},
    ("p256", "encryption"): {"key_agreement"},
    ("p256", "both"): {"digital_signature", "key_agreement"},
    ("rsa2048", "signing"): {"digital_signature"},
    ("rsa2048", "encryption"): {"key_encipherment"},
    ("rsa2048", "both"): {"digital_signature", "key_encipherment"},
}
_BITS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


def _der(csr: x509.CertificateSigningRequest) -> str:
    return b64url_encode(csr.public_bytes(serialization.Encoding.DER))


async def _ready(harness: Any) -> Any:
    account = await harness.new_account()
    flow = await harness.flow(account)
    await harness.answer(flow)
    await flow.post_challenge()
    await harness.server.wait_for_order(flow.order_url, "ready", TIMEOUT)
    return flow


def _usage(cert: x509.Certificate) -> set[str]:
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    return {bit for bit in _BITS if getattr(ku, bit)}


@covers("A-FIN-1", "A-CERT-1", "CERT-1", "CSR-KU-2", "CSR-KU-3", "CSR-KU-4")
@pytest.mark.parametrize(("kind", "usage"), sorted(EXPECTED_USAGE))
async def test_issue_and_download(harness: Any, kind: KeyKind, usage: Any) -> None:
    """Signing-only, encryption-only and dual-use CSRs (RSA and EC) get exactly that keyUsage,
    the ordered address in the SAN and EKU emailProtection; the chain downloads as PEM."""
    flow = await _ready(harness)
    key = cached_key(f"server-test-cert-{kind}", kind)
    response = await flow.account.post(
        flow.order["finalize"], {"csr": _der(build_csr(key, [flow.address], usage))}
    )
    assert response.status_code == 200, response.text
    order = response.json()
    assert order["status"] == "valid"
    assert response.headers["Location"] == flow.order_url
    download = await flow.account.post(order["certificate"], None)
    assert download.headers["Content-Type"] == "application/pem-certificate-chain"
    chain = x509.load_pem_x509_certificates(download.content)
    assert len(chain) >= 2
    cert = chain[0]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == [flow.address]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.EMAIL_PROTECTION]
    assert _usage(cert) == EXPECTED_USAGE[(kind, usage)]
    assert cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@covers("A-FIN-2", "A-FIN-3", "CSR-ID-1", "A-ACCTKEY-1", "A-HTTPS-1")
async def test_unacceptable_csrs_keep_the_order_ready(harness: Any) -> None:
    """Wrong address, padded/PEM/junk CSR, the account key: refused; the order stays ready."""
    flow = await _ready(harness)
    key = cached_key("server-test-cert-p256", "p256")
    good = _der(build_csr(key, [flow.address], "signing"))
    cases = [
        (_der(build_csr(key, ["someone@example.test"], "signing")), "badCSR"),
        (_der(build_csr(key, [flow.address, "extra@example.test"], "both")), "badCSR"),
        (_der(build_csr(flow.account.key, [flow.address], "signing")), "badCSR"),
        (b64url_encode(b"\x30\x03\x02\x01\x01"), "badCSR"),
        (good + "=" * (-len(good) % 4 or 1), "malformed"),
        ("-----BEGIN CERTIFICATE REQUEST-----", "malformed"),
        ("***", "malformed"),
    ]
    for csr, kind in cases:
        response = await flow.account.post(flow.order["finalize"], {"csr": csr})
        assert response.status_code == 400, response.text
        assert response.json()["type"] == ERROR + kind, (csr[:40], response.text)
        assert response.json()["detail"]
    assert (await flow.account.fetch(flow.order_url))["status"] == "ready"
    assert harness.server.acme.internal_errors == 0


@covers("A-REV-1")
async def test_revocation_by_account_and_by_certificate_key(harness: Any) -> None:
    """Revoke with the account key; again → alreadyRevoked; bad reason → badRevocationReason;
    a certificate-key-signed request works for another certificate."""
    for signer in ("account", "certificate"):
        flow = await _ready(harness)
        key = cached_key("server-test-cert-rsa2048", "rsa2048")
        finalized = await flow.account.post(
            flow.order["finalize"], {"csr": _der(build_csr(key, [flow.address], "both"))}
        )
        pem = (await flow.account.post(finalized.json()["certificate"], None)).content
        der = x509.load_pem_x509_certificates(pem)[0].public_bytes(serialization.Encoding.DER)
        url = await harness.acme.url("revokeCert")
        bad_reason = await flow.account.post(url, {"certificate": b64url_encode(der), "reason": 7})
        assert bad_reason.json()["type"] == ERROR + "badRevocationReason"
        payload = {"certificate": b64url_encode(der), "reason": 1}
        if signer == "account":
            revoked = await flow.account.post(url, payload)
        else:
            body = sign_jws(payload, key=key, url=url, nonce=await harness.acme.nonce())
            revoked = await harness.acme.post_raw(url, body)
        assert revoked.status_code == 200, revoked.text
        again = await flow.account.post(url, payload)
        assert again.json()["type"] == ERROR + "alreadyRevoked"


async def test_strangers_cannot_revoke(harness: Any) -> None:
    """An account that neither owns the certificate nor holds its authorizations is refused."""
    flow = await _ready(harness)
    key = cached_key("server-test-cert-p256", "p256")
    finalized = await flow.account.post(
        flow.order["finalize"], {"csr": _der(build_csr(key, [flow.address], "signing"))}
    )
    pem = (await flow.account.post(finalized.json()["certificate"], None)).content
    der = x509.load_pem_x509_certificates(pem)[0].public_bytes(serialization.Encoding.DER)
    stranger = await harness.new_account("stranger")
    response = await stranger.post(
        await harness.acme.url("revokeCert"), {"certificate": b64url_encode(der)}
    )
    assert response.status_code == 403
    assert response.json()["type"] == ERROR + "unauthorized"
