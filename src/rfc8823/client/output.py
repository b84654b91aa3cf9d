"""The enrollment's result on disk: private key, certificate chain, optionally PKCS#12.

All files are written together or not at all (:func:`~rfc8823.client.files.write_atomically`);
private key and PKCS#12 files get mode 0600. The chain is checked first: its leaf must certify
the key the CSR was made with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from rfc8823.client.errors import EnrollmentError
from rfc8823.client.files import write_atomically
from rfc8823.client.keys import CertificateKey, private_key_pem
from rfc8823.csr import spki_der

_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")


@dataclass(frozen=True)
class Credentials:
    """The files written for one certificate."""

    key_path: Path
    chain_path: Path
    pkcs12_path: Path | None


def file_stem(address: str) -> str:
    """A file name for an address: characters outside ``[A-Za-z0-9@._+-]`` become ``_``."""
    return _UNSAFE.sub("_", address).lstrip(".") or "certificate"


def _leaf_and_chain(chain_pem: bytes, key: CertificateKey) -> list[x509.Certificate]:
    certificates = x509.load_pem_x509_certificates(chain_pem)
    if spki_der(certificates[0].public_key()) != spki_der(key.public_key()):
        raise EnrollmentError(
            "certificate", "the leaf certificate does not certify the key the CSR was made with"
        )
    return certificates


def write_credentials(
    out_dir: Path,
    address: str,
    key: CertificateKey,
    chain_pem: bytes,
    *,
    pkcs12_password: bytes | None = None,
    with_pkcs12: bool = False,
) -> Credentials:
    """Write ``<address>.key.pem``, ``<address>.chain.pem`` and optionally ``<address>.p12``."""
    certificates = _leaf_and_chain(chain_pem, key)
    stem = out_dir / file_stem(address)
    key_path = stem.with_name(stem.name + ".key.pem")
    chain_path = stem.with_name(stem.name + ".chain.pem")
    files = [(key_path, private_key_pem(key), 0o600), (chain_path, chain_pem, 0o644)]
    pkcs12_path = None
    if with_pkcs12:
        pkcs12_path = stem.with_name(stem.name + ".p12")
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(pkcs12_password)
            if pkcs12_password
            else serialization.NoEncryption()
        )
        bundle = pkcs12.serialize_key_and_certificates(
            address.encode("utf-8"), key, certificates[0], certificates[1:] or None, encryption
        )
        files.append((pkcs12_path, bundle, 0o600))
    try:
        write_atomically(files)
    except OSError as error:
        raise EnrollmentError("output", f"cannot write the key and certificate: {error}") from None
    return Credentials(key_path, chain_path, pkcs12_path)
