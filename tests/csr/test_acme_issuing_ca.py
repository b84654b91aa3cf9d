"""The test PKI's ACME issuing CA: an S/MIME sub-CA under the trusted root, cached like the rest."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from rfc8823.world.pki import TestPki

IO_TIMEOUT = 10.0


def test_acme_issuing_ca_is_a_sub_ca_of_the_smime_root(tmp_path: Path) -> None:
    """EC P-256, cA TRUE with path length 0, keyCertSign, issued by the trusted S/MIME root."""
    pki = TestPki.load(tmp_path)
    authority = pki.acme_issuing
    cert = authority.cert
    cert.verify_directly_issued_by(pki.smime_root.cert)
    assert isinstance(authority.key, ec.EllipticCurvePrivateKey)
    assert isinstance(authority.key.curve, ec.SECP256R1)
    assert cert.public_key() == authority.key.public_key()
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca
    assert constraints.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign
    assert authority.path == tmp_path / "pki" / "acme-issuing.pem"
    assert x509.load_pem_x509_certificate(authority.path.read_bytes()) == cert
    checked = subprocess.run(
        [
            "openssl",
            "verify",
            "-x509_strict",
            "-CAfile",
            str(pki.trust_anchor_path),
            str(authority.path),
        ],
        capture_output=True,
        text=True,
        timeout=IO_TIMEOUT,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


def test_acme_issuing_ca_is_reused_from_the_cache(tmp_path: Path) -> None:
    """A second load of a copied cache returns the same certificate and key."""
    first = TestPki.load(tmp_path / "first").acme_issuing
    shutil.copytree(tmp_path / "first", tmp_path / "copy")
    again = TestPki.load(tmp_path / "copy").acme_issuing
    assert again.cert == first.cert
    assert again.key.public_key() == first.key.public_key()
    assert again.cert.subject != TestPki.load(tmp_path / "copy").smime_intermediate.cert.subject
