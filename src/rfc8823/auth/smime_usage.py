"""An issued certificate put to its S/MIME use with openssl cms, as a mail client would.

Signing: a message signed with the certificate's key verifies to the trust anchors under the
``smimesign`` purpose. Encryption: the certificate passes the ``smimeencrypt`` purpose and a
message encrypted to it decrypts with its key. RFC 5280 §6.1, RFC 8550 §4.4, RFC 8551 §2.4;
REF-5280-11. Every openssl run has a timeout; nothing raises.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from rfc8823.auth.smime import openssl_reason
from rfc8823.findings import Finding, broken, failures, info, passed

USAGE_ROW = "REF-5280-11"
_MESSAGE = b"Content-Type: text/plain\r\n\r\nrfc8823: this certificate at work.\r\n"
_PEM = serialization.Encoding.PEM


class _Workspace:
    """A private folder with the certificate, its key, the chain and the anchors as PEM."""

    def __init__(
        self,
        folder: Path,
        cert: x509.Certificate,
        key: PrivateKeyTypes,
        chain: Sequence[x509.Certificate],
        anchors: Sequence[Path],
    ) -> None:
        self.folder = folder
        self.cert = self._write("cert.pem", cert.public_bytes(_PEM))
        self.key = self._write(
            "key.pem",
            key.private_bytes(
                _PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )
        self.chain = self._write("chain.pem", b"".join(c.public_bytes(_PEM) for c in chain))
        self.anchors = self._write("anchors.pem", b"\n".join(a.read_bytes() for a in anchors))
        self.message = self._write("message.txt", _MESSAGE)

    def _write(self, name: str, data: bytes) -> str:
        path = self.folder / name
        path.write_bytes(data)
        return str(path)

    def path(self, name: str) -> str:
        return str(self.folder / name)


def check_smime_use(
    cert: x509.Certificate,
    key: PrivateKeyTypes,
    chain: Sequence[x509.Certificate],
    anchors: Sequence[Path],
    *,
    label: str,
    signing: bool,
    encryption: bool,
    timeout: float = 10.0,
) -> tuple[Finding, ...]:
    """Sign/verify (``signing``) and encrypt/decrypt (``encryption``) with ``cert`` and ``key``.

    ``chain`` is the issuer chain the CA served (leaf excluded), ``anchors`` PEM files of the
    roots the CA declares. Findings on REF-5280-11, each naming ``label``.
    """
    findings: list[Finding] = []
    with tempfile.TemporaryDirectory(prefix="rfc8823-usage-") as folder:
        try:
            work = _Workspace(Path(folder), cert, key, chain, anchors)
        except (OSError, ValueError, TypeError) as error:
            return (broken(USAGE_ROW, f"{label}: cannot prepare openssl input: {error}", ""),)
        if signing:
            findings.append(_signing(work, label, timeout))
        if encryption:
            findings += _encryption(work, cert, label, timeout)
    return tuple(findings)


def _signing(work: _Workspace, label: str, timeout: float) -> Finding:
    expected = "a signature that verifies to the anchors under the smimesign purpose"
    signed, verified = work.path("signed.eml"), work.path("verified.txt")
    failure = _openssl(
        [
            "cms",
            "-sign",
            "-binary",
            "-in",
            work.message,
            "-signer",
            work.cert,
            "-inkey",
            work.key,
            "-certfile",
            work.chain,
            "-out",
            signed,
        ],
        timeout,
    ) or _openssl(
        [
            "cms",
            "-verify",
            "-binary",
            "-purpose",
            "smimesign",
            "-CAfile",
            work.anchors,
            "-no-CApath",
            "-no-CAstore",
            "-in",
            signed,
            "-out",
            verified,
        ],
        timeout,
    )
    if failure is not None:
        return broken(USAGE_ROW, f"{label}: signing: {failure}", expected)
    if Path(verified).read_bytes() != _MESSAGE:
        return broken(USAGE_ROW, f"{label}: the verified content differs from the signed", expected)
    return passed(USAGE_ROW, f"{label}: signed with openssl cms, verified under smimesign")


def _encryption(
    work: _Workspace, cert: x509.Certificate, label: str, timeout: float
) -> list[Finding]:
    expected = "a message encrypted to the certificate decrypts with its key"
    findings: list[Finding] = []
    if isinstance(cert.public_key(), ec.EllipticCurvePublicKey):
        findings.append(
            info(
                USAGE_ROW,
                f"{label}: smimeencrypt purpose not checked",
                "openssl's smimeencrypt purpose asks for keyEncipherment, which an EC key never "
                "carries (RFC 5480 §3: keyAgreement); the round trip below judges it",
            )
        )
    else:
        failure = _openssl(
            [
                "verify",
                "-purpose",
                "smimeencrypt",
                "-CAfile",
                work.anchors,
                "-no-CApath",
                "-no-CAstore",
                "-untrusted",
                work.chain,
                work.cert,
            ],
            timeout,
        )
        if failure is not None:
            findings.append(
                broken(
                    USAGE_ROW,
                    f"{label}: smimeencrypt purpose: {failure}",
                    "a certificate path to the anchors valid for S/MIME encryption",
                )
            )
    encrypted, decrypted = work.path("encrypted.eml"), work.path("decrypted.txt")
    failure = _openssl(
        [
            "cms",
            "-encrypt",
            "-binary",
            "-aes256",
            "-in",
            work.message,
            "-out",
            encrypted,
            "-recip",
            work.cert,
        ],
        timeout,
    ) or _openssl(
        [
            "cms",
            "-decrypt",
            "-binary",
            "-in",
            encrypted,
            "-recip",
            work.cert,
            "-inkey",
            work.key,
            "-out",
            decrypted,
        ],
        timeout,
    )
    if failure is not None:
        findings.append(broken(USAGE_ROW, f"{label}: encryption: {failure}", expected))
    elif Path(decrypted).read_bytes() != _MESSAGE:
        findings.append(broken(USAGE_ROW, f"{label}: decrypted content differs", expected))
    elif not failures(findings):
        findings.append(passed(USAGE_ROW, f"{label}: encrypted and decrypted with openssl cms"))
    return findings


def _openssl(arguments: list[str], timeout: float) -> str | None:
    """Run openssl; None on success, else what went wrong."""
    try:
        done = subprocess.run(  # noqa: S603 - fixed argument list, no shell
            ["openssl", *arguments],  # noqa: S607 - openssl from PATH, as auth.smime does
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"cannot run openssl {arguments[0]}: {error}"
    if done.returncode != 0:
        return f"openssl {arguments[0]} {arguments[1]}: {openssl_reason(done.stderr)}"
    return None
