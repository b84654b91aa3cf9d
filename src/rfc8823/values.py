"""Value types the spec's rules, the authentication layer and the test world share.

Plain data, no I/O: a private key of the kinds the suite uses, the names of those kinds, and an
S/MIME signer. ``messages`` and ``auth`` take them as inputs; ``world`` makes and caches them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
"""A private key of a kind the suite generates (RSA, NIST P-curves, Ed25519)."""

KeyKind = Literal["rsa1024", "rsa2048", "rsa3072", "p256", "p384", "ed25519"]
"""The key kinds the test world caches, by name."""


@dataclass(frozen=True)
class SmimeIdentity:
    """An S/MIME signer: leaf certificate, key, and the chain up to (not including) the root."""

    cert: x509.Certificate
    key: PrivateKey
    chain: tuple[x509.Certificate, ...]
    address: str
