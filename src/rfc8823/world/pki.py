"""The test PKI: a TLS CA and S/MIME CAs, cached on disk; leaf certificates issued on demand.

Layout under the cache root: `keys/<name>.<kind>.pem` (see `keys.cached_key`) and
`pki/<name>.pem` for the CA certificates (tls-ca, smime-root, smime-intermediate, acme-issuing,
untrusted-root).
"""

from __future__ import annotations

import ipaddress
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from rfc8823.values import KeyKind, PrivateKey, SmimeIdentity
from rfc8823.world.keys import cache_dir, cached_file, cached_key

CaChoice = Literal["trusted", "untrusted"]

_CA_LIFETIME = timedelta(days=3650)
_LEAF_LIFETIME = timedelta(days=90)
_RENEW_BEFORE = timedelta(days=1)
_BACKDATE = timedelta(hours=1)
_ORGANIZATION = "rfc8823 test PKI"
_loaded: dict[Path, TestPki] = {}


@dataclass(frozen=True)
class Authority:
    """A CA: its certificate, its key, and the PEM file holding the certificate."""

    cert: x509.Certificate
    key: PrivateKey
    path: Path


@dataclass(frozen=True)
class TestPki:
    """Every CA of the test world, loaded from (or created in) the cache."""

    __test__: ClassVar[bool] = False

    cache: Path
    tls_ca: Authority
    smime_root: Authority
    smime_intermediate: Authority
    acme_issuing: Authority
    untrusted_root: Authority

    @classmethod
    def load(cls, cache: Path | None = None) -> TestPki:
        """The PKI cached under `cache` (default: `cache_dir()`), created on first use."""
        root = cache or cache_dir()
        if root not in _loaded:
            smime_root = _authority(root, "smime-root", "rfc8823 S/MIME root CA", "p384", None)
            _loaded[root] = cls(
                cache=root,
                tls_ca=_authority(root, "tls-ca", "rfc8823 TLS CA", "p256", None),
                smime_root=smime_root,
                smime_intermediate=_authority(
                    root, "smime-intermediate", "rfc8823 S/MIME intermediate CA", "p256", smime_root
                ),
                acme_issuing=_authority(
                    root, "acme-issuing", "rfc8823 ACME S/MIME issuing CA", "p256", smime_root
                ),
                untrusted_root=_authority(
                    root, "untrusted-root", "rfc8823 untrusted S/MIME root CA", "p256", None
                ),
            )
        return _loaded[root]

    def tls_server_cert(self, names: Sequence[str]) -> tuple[x509.Certificate, PrivateKey]:
        """A server certificate for host names and IP addresses, issued by the TLS CA."""
        if not names:
            raise ValueError("a TLS server certificate needs at least one host name or address")
        key = cached_key("tls-server", "p256", cache=self.cache)
        now = datetime.now(UTC)
        cert = _issue(
            _name(names[0]),
            key,
            self.tls_ca.cert.subject,
            self.tls_ca.key,
            (now - _BACKDATE, min(now + _LEAF_LIFETIME, self.tls_ca.cert.not_valid_after_utc)),
            [
                (x509.BasicConstraints(ca=False, path_length=None), True),
                (_key_usage(digital_signature=True), True),
                (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
                (x509.SubjectAlternativeName([_host_name(name) for name in names]), False),
            ],
        )
        return cert, key

    def server_ssl_context(self, names: Sequence[str]) -> ssl.SSLContext:
        """A TLS server context presenting a fresh certificate for `names`."""
        cert, key = self.tls_server_cert(names)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        with tempfile.TemporaryDirectory(prefix="rfc8823-tls-") as folder:
            pem = Path(folder) / "server.pem"
            pem.write_bytes(
                cert.public_bytes(serialization.Encoding.PEM)
                + key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            context.load_cert_chain(pem)
        return context

    def client_ssl_context(self) -> ssl.SSLContext:
        """A TLS client context that trusts the test TLS CA and nothing else."""
        return ssl.create_default_context(cafile=self.ca_bundle_path())

    def ca_bundle_path(self) -> Path:
        """PEM file of the TLS CA, for httpx, openssl and other programs."""
        return self.tls_ca.path

    @property
    def trust_anchor_path(self) -> Path:
        """PEM file of the trusted S/MIME root."""
        return self.smime_root.path

    def smime_trust_anchor_pem(self) -> bytes:
        """The trusted S/MIME root certificate as PEM."""
        return self.smime_root.cert.public_bytes(serialization.Encoding.PEM)

    def smime_signer(
        self,
        address: str,
        *,
        key_kind: KeyKind = "p256",
        san: Sequence[str] | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        ca: CaChoice = "trusted",
    ) -> SmimeIdentity:
        """An S/MIME signing certificate whose SAN rfc822Names are `san` (default: `address`).

        `san=[]` leaves out the SAN extension; `ca="untrusted"` issues from the root no test
        trusts. Signers of one key kind share a cached key. RFC 8823 §3.1 (6), RFC 8550 §3.
        """
        chain: tuple[x509.Certificate, ...]
        if ca == "trusted":
            issuer, chain = self.smime_intermediate, (self.smime_intermediate.cert,)
        elif ca == "untrusted":
            issuer, chain = self.untrusted_root, ()
        else:
            raise ValueError(f"ca must be 'trusted' or 'untrusted', not {ca!r}")
        key = cached_key("smime-signer", key_kind, cache=self.cache)
        addresses = [address] if san is None else list(san)
        extensions: list[tuple[x509.ExtensionType, bool]] = [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (
                _key_usage(
                    digital_signature=True, key_encipherment=isinstance(key, rsa.RSAPrivateKey)
                ),
                True,
            ),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False),
        ]
        if addresses:
            san_ext = x509.SubjectAlternativeName([x509.RFC822Name(a) for a in addresses])
            extensions.append((san_ext, False))
        now = datetime.now(UTC)
        cert = _issue(
            _name(address),
            key,
            issuer.cert.subject,
            issuer.key,
            (
                not_before or now - _BACKDATE,
                not_after or min(now + _LEAF_LIFETIME, issuer.cert.not_valid_after_utc),
            ),
            extensions,
        )
        return SmimeIdentity(cert=cert, key=key, chain=chain, address=address)


def _authority(
    cache: Path, name: str, common_name: str, kind: KeyKind, parent: Authority | None
) -> Authority:
    """A CA whose key and certificate are cached; the certificate is renewed near expiry."""
    key = cached_key(name, kind, cache=cache)
    subject = _name(common_name)
    public_der = _spki(key)

    def parse(data: bytes) -> x509.Certificate | None:
        try:
            cert = x509.load_pem_x509_certificate(data)
            cert.verify_directly_issued_by(parent.cert if parent else cert)
        except (ValueError, TypeError, InvalidSignature):
            return None
        fresh = cert.not_valid_after_utc - datetime.now(UTC) > _RENEW_BEFORE
        ours = cert.subject == subject and _spki(cert) == public_der
        return cert if fresh and ours else None

    def create() -> tuple[x509.Certificate, bytes]:
        now = datetime.now(UTC)
        cert = _issue(
            subject,
            key,
            parent.cert.subject if parent else subject,
            parent.key if parent else key,
            (now - _BACKDATE, now + _CA_LIFETIME),
            [
                (x509.BasicConstraints(ca=True, path_length=None if parent is None else 0), True),
                (_key_usage(key_cert_sign=True, crl_sign=True), True),
            ],
        )
        return cert, cert.public_bytes(serialization.Encoding.PEM)

    path = cache / "pki" / f"{name}.pem"
    return Authority(cert=cached_file(path, parse, create), key=key, path=path)


def _issue(
    subject: x509.Name,
    subject_key: PrivateKey,
    issuer_name: x509.Name,
    issuer_key: PrivateKey,
    validity: tuple[datetime, datetime],
    extensions: Sequence[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    """A certificate for `subject_key`'s public key, with key identifiers, signed with SHA-256."""
    public_key = subject_key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _host_name(name: str) -> x509.GeneralName:
    """A SAN entry: iPAddress for IP literals, dNSName otherwise."""
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _key_usage(
    *,
    digital_signature: bool = False,
    key_encipherment: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _spki(source: PrivateKey | x509.Certificate) -> bytes:
    """DER SubjectPublicKeyInfo of a key or certificate, to check that they belong together."""
    return source.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
