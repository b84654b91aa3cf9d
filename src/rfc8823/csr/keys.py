"""Key types: which can sign or encrypt, their names, signature hash and SPKI (RFC 8823 §3.3)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    PrivateKeyTypes,
    PublicKeyTypes,
)


def encryption_bit(key: PrivateKeyTypes | PublicKeyTypes) -> str | None:
    """The keyUsage bit that lets this key type encrypt; None for keys that cannot.

    RSA transports keys (keyEncipherment); EC and X25519/X448 agree on them (keyAgreement).
    RFC 8823 §3.3 allows either bit; the key type decides which one makes sense (AMB-7).
    """
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "keyEncipherment"
    agreeing = (
        ec.EllipticCurvePrivateKey,
        ec.EllipticCurvePublicKey,
        x25519.X25519PrivateKey,
        x25519.X25519PublicKey,
        x448.X448PrivateKey,
        x448.X448PublicKey,
    )
    if isinstance(key, agreeing):
        return "keyAgreement"
    return None


def key_description(key: PrivateKeyTypes | PublicKeyTypes) -> str:
    """A short name for a key such as ``RSA-2048``, ``EC P-256`` or ``Ed25519``."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PrivateKey | ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(key, x25519.X25519PrivateKey | x25519.X25519PublicKey):
        return "X25519"
    if isinstance(key, x448.X448PrivateKey | x448.X448PublicKey):
        return "X448"
    if isinstance(key, dsa.DSAPrivateKey | dsa.DSAPublicKey):
        return f"DSA-{key.key_size}"
    return type(key).__name__


def can_sign(key: PrivateKeyTypes | PublicKeyTypes) -> bool:
    """False for the key-agreement-only types (X25519, X448)."""
    agreement_only = (
        x25519.X25519PrivateKey,
        x25519.X25519PublicKey,
        x448.X448PrivateKey,
        x448.X448PublicKey,
    )
    return not isinstance(key, agreement_only)


def signature_hash(key: CertificateIssuerPrivateKeyTypes) -> hashes.SHA256 | None:
    """SHA-256 for RSA, ECDSA and DSA; None for EdDSA, which hashes internally."""
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return None
    return hashes.SHA256()


def spki_der(public_key: PublicKeyTypes) -> bytes:
    """DER SubjectPublicKeyInfo of a public key, to compare keys whatever their type."""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
