"""Account and certificate keys: generate, load and serialise the kinds the client offers.

Account keys sign ACME requests (ES256 by default; RS256 and EdDSA optional, RFC 8555 §6.2).
Certificate keys go in the CSR: EC P-256 by default, RSA-2048, or Ed25519 for signing only
(an Ed25519 key cannot encrypt, RFC 8823 §3.3; CSR-KU-3).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeAlias, get_args

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from rfc8823.acme.jws import AccountPrivateKey
from rfc8823.client.errors import UsageError
from rfc8823.client.files import write_atomically

AccountKeyType = Literal["es256", "rs256", "eddsa"]
CertKeyType = Literal["ec", "rsa", "ed25519"]
CertificateKey: TypeAlias = (
    rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
)

_RSA_BITS = 2048
_ACCOUNT_KEY_KINDS: dict[AccountKeyType, CertKeyType] = {
    "es256": "ec",
    "rs256": "rsa",
    "eddsa": "ed25519",
}


def _generate(kind: CertKeyType) -> CertificateKey:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS)
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def new_account_key(kind: AccountKeyType = "es256") -> AccountPrivateKey:
    """A fresh account key for ``alg`` ES256, RS256 or EdDSA (A-JWS-3)."""
    if kind not in get_args(AccountKeyType):
        raise UsageError("account key", f"unknown account key type {kind!r}")
    return _generate(_ACCOUNT_KEY_KINDS[kind])


def new_certificate_key(kind: CertKeyType = "ec") -> CertificateKey:
    """A fresh key for the certificate (EC P-256, RSA-2048 or Ed25519)."""
    if kind not in get_args(CertKeyType):
        raise UsageError("certificate key", f"unknown key type {kind!r}")
    return _generate(kind)


def private_key_pem(key: CertificateKey) -> bytes:
    """Unencrypted PKCS#8 PEM (the file is protected by mode 0600 instead)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(path: Path) -> CertificateKey:
    """A PEM private key of a supported kind; UsageError naming the file otherwise."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        raise UsageError("account key", f"cannot read a private key from {path}: {error}") from None
    if not isinstance(
        key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    ):
        raise UsageError("account key", f"{path} holds a {type(key).__name__}, not RSA/EC/Ed25519")
    return key


def account_key_at(path: Path | None, kind: AccountKeyType) -> tuple[AccountPrivateKey, bool]:
    """The account key stored at ``path`` (made and saved there, mode 0600, if absent).

    Returns the key and whether it was new; ``path`` None gives an unsaved fresh key.
    """
    if path is not None and path.exists():
        return load_private_key(path), False
    key = new_account_key(kind)
    if path is not None:
        write_atomically([(path, private_key_pem(key), 0o600)])
    return key, True
