"""The test PKI: TLS over loopback, S/MIME signer certificates, and openssl's view of them."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from rfc8823.world.keys import KeyKind, cached_key
from rfc8823.world.pki import TestPki

ADDRESS = "alice@mail.test"
IO_TIMEOUT = 5.0


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return TestPki.load()


def write_pem(folder: Path, name: str, *certs: x509.Certificate) -> Path:
    path = folder / name
    path.write_bytes(b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certs))
    return path


def openssl_verify(
    anchor: Path, leaf: Path, purpose: str, untrusted: Path | None = None
) -> subprocess.CompletedProcess[str]:
    command = ["openssl", "verify", "-x509_strict", "-purpose", purpose, "-CAfile", str(anchor)]
    if untrusted is not None:
        command += ["-untrusted", str(untrusted)]
    return subprocess.run(
        [*command, str(leaf)], capture_output=True, text=True, timeout=IO_TIMEOUT, check=False
    )


@pytest.mark.parametrize("server_name", ["localhost", "127.0.0.1"])
async def test_tls_handshake_over_loopback(pki: TestPki, server_name: str) -> None:
    """A client trusting only the test CA completes a verified handshake with a test server."""

    async def echo_upper(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write((await reader.readline()).upper())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(
        echo_upper, "127.0.0.1", 0, ssl=pki.server_ssl_context(["localhost", "127.0.0.1"])
    )
    port = server.sockets[0].getsockname()[1]
    try:
        async with asyncio.timeout(IO_TIMEOUT):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=pki.client_ssl_context(), server_hostname=server_name
            )
            writer.write(b"ping\n")
            assert await reader.readline() == b"PING\n"
            writer.close()
            await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()


async def test_tls_client_rejects_a_name_the_certificate_lacks(pki: TestPki) -> None:
    """Host name checking is on: a certificate for localhost does not serve other.test."""
    server = await asyncio.start_server(
        lambda _r, w: w.close(), "127.0.0.1", 0, ssl=pki.server_ssl_context(["localhost"])
    )
    port = server.sockets[0].getsockname()[1]
    try:
        async with asyncio.timeout(IO_TIMEOUT):
            with pytest.raises(ssl.SSLCertVerificationError, match=r"other\.test"):
                await asyncio.open_connection(
                    "127.0.0.1", port, ssl=pki.client_ssl_context(), server_hostname="other.test"
                )
    finally:
        server.close()
        await server.wait_closed()


def test_client_context_trusts_the_test_ca_only(pki: TestPki) -> None:
    """No system roots are loaded: the test TLS CA is the one trust anchor."""
    anchors = pki.client_ssl_context().get_ca_certs(binary_form=True)
    assert anchors == [pki.tls_ca.cert.public_bytes(serialization.Encoding.DER)]
    assert x509.load_pem_x509_certificate(pki.ca_bundle_path().read_bytes()) == pki.tls_ca.cert


def test_tls_server_cert_names_hosts_and_addresses(pki: TestPki, tmp_path: Path) -> None:
    """DNS names and IP literals land in the SAN; openssl accepts the cert as a TLS server."""
    cert, _ = pki.tls_server_cert(["localhost", "127.0.0.1", "::1"])
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    checked = openssl_verify(
        pki.ca_bundle_path(), write_pem(tmp_path, "tls.pem", cert), "sslserver"
    )
    assert checked.returncode == 0, checked.stderr


def test_tls_server_cert_needs_a_name(pki: TestPki) -> None:
    """An empty name list is refused early."""
    with pytest.raises(ValueError, match="at least one"):
        pki.tls_server_cert([])


@pytest.mark.parametrize(("key_kind", "key_encipherment"), [("p256", False), ("rsa2048", True)])
def test_smime_signer_has_the_email_profile(
    pki: TestPki, key_kind: KeyKind, key_encipherment: bool
) -> None:
    """SAN rfc822Name, EKU emailProtection, digitalSignature (+keyEncipherment if RSA), CA:false."""
    signer = pki.smime_signer(ADDRESS, key_kind=key_kind)
    extensions = signer.cert.extensions
    san = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == [ADDRESS]
    eku = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.EMAIL_PROTECTION]
    usage = extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert usage.key_encipherment is key_encipherment
    assert extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert signer.chain == (pki.smime_intermediate.cert,)
    assert signer.address == ADDRESS


def test_smime_signer_san_overrides(pki: TestPki) -> None:
    """`san` lists the rfc822Names; an empty list leaves the SAN extension out."""
    several = pki.smime_signer(ADDRESS, san=["other@mail.test", ADDRESS])
    san = several.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["other@mail.test", ADDRESS]
    bare = pki.smime_signer(ADDRESS, san=[])
    with pytest.raises(x509.ExtensionNotFound):
        bare.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)


def test_smime_signer_chains_to_the_trust_anchor(pki: TestPki, tmp_path: Path) -> None:
    """openssl verifies the leaf for S/MIME signing via the intermediate to the root."""
    signer = pki.smime_signer(ADDRESS)
    checked = openssl_verify(
        pki.trust_anchor_path,
        write_pem(tmp_path, "leaf.pem", signer.cert),
        "smimesign",
        write_pem(tmp_path, "chain.pem", *signer.chain),
    )
    assert checked.returncode == 0, checked.stderr
    assert pki.trust_anchor_path.read_bytes() == pki.smime_trust_anchor_pem()


def test_untrusted_signer_fails_against_the_trust_anchor(pki: TestPki, tmp_path: Path) -> None:
    """The untrusted root issues valid certificates that the test trust anchor does not accept."""
    signer = pki.smime_signer(ADDRESS, ca="untrusted")
    assert signer.chain == ()
    leaf = write_pem(tmp_path, "leaf.pem", signer.cert)
    rejected = openssl_verify(pki.trust_anchor_path, leaf, "smimesign")
    assert rejected.returncode != 0
    assert "unable to get local issuer certificate" in rejected.stdout + rejected.stderr
    assert openssl_verify(pki.untrusted_root.path, leaf, "smimesign").returncode == 0


def test_expired_signer_fails_verification(pki: TestPki, tmp_path: Path) -> None:
    """not_before/not_after overrides make an expired certificate that openssl refuses."""
    now = datetime.now(UTC)
    signer = pki.smime_signer(
        ADDRESS, not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)
    )
    rejected = openssl_verify(
        pki.trust_anchor_path,
        write_pem(tmp_path, "leaf.pem", signer.cert),
        "smimesign",
        write_pem(tmp_path, "chain.pem", *signer.chain),
    )
    assert rejected.returncode != 0
    assert "certificate has expired" in rejected.stdout + rejected.stderr


def test_load_reuses_the_cached_ca_material(tmp_path: Path) -> None:
    """A second load of the same cache returns the same CA certificates and keys."""
    first = TestPki.load(tmp_path / "first")
    assert TestPki.load(tmp_path / "first") is first
    shutil.copytree(tmp_path / "first", tmp_path / "copy")
    again = TestPki.load(tmp_path / "copy")
    assert again.smime_root.cert == first.smime_root.cert
    assert again.smime_intermediate.cert == first.smime_intermediate.cert
    assert again.tls_ca.cert == first.tls_ca.cert


def test_ca_certificate_near_expiry_is_renewed(tmp_path: Path) -> None:
    """A cached CA certificate with less than a day left is replaced, keeping the cached key."""
    original = TestPki.load(tmp_path / "original").tls_ca
    renewing = tmp_path / "renewing"
    shutil.copytree(tmp_path / "original" / "keys", renewing / "keys")
    key = cached_key("tls-ca", "p256", cache=renewing)
    now = datetime.now(UTC)
    dying = (
        x509.CertificateBuilder()
        .subject_name(original.cert.subject)
        .issuer_name(original.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=10))
        .not_valid_after(now + timedelta(hours=12))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(original.key, hashes.SHA256())
    )
    (renewing / "pki").mkdir()
    write_pem(renewing / "pki", "tls-ca.pem", dying)
    renewed = TestPki.load(renewing).tls_ca
    assert renewed.cert.serial_number != dying.serial_number
    assert renewed.cert.not_valid_after_utc > now + timedelta(days=365)
    assert renewed.cert.public_key() == original.cert.public_key()
