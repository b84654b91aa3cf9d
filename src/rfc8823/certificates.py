"""Issued S/MIME certificates: judge one against the order and the CSR, and read a PEM chain.

CERT-1 (RFC 8550 §3/§4.4, RFC 5280, RFC 9598): the SAN names exactly the ordered addresses in
the right form, EKU emailProtection, keyUsage as the CSR asked (RFC 8823 §3.3, CSR-KU-2..5),
and the certificate is for the CSR's key. A-CERT-1 / RFC 8555 §9.1 for the chain format.
"""

from __future__ import annotations

import base64
import binascii
import re
import warnings
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID

from rfc8823.csr.inspector import PARSE_ERRORS, extension_value
from rfc8823.csr.key_usage import Usage, describe_key_usage, judge_key_usage, usage_bits_text
from rfc8823.csr.keys import key_description, spki_der
from rfc8823.csr.name_rules import NAME_PASSES, review_names, unwritten_name_forms, with_passes
from rfc8823.findings import Finding, broken, info, passed

_PEM_BLOCK = re.compile(
    r"-----BEGIN (?P<begin>[^-\r\n]*)-----\r?\n(?P<body>.*?)-----END (?P<end>[^-\r\n]*)-----",
    re.DOTALL,
)
_BASE64_LINE = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_PEM_LINE = 64
_PASSES = {
    **NAME_PASSES,
    "CERT-1": "SAN names exactly the ordered addresses; EKU emailProtection; the CSR's key",
}


def inspect_certificate(
    cert: x509.Certificate,
    ordered: Sequence[str],
    *,
    requested: Usage | None,
    csr_key: PublicKeyTypes | None = None,
) -> tuple[Finding, ...]:
    """Judge an issued certificate against the ordered addresses and the CSR's request.

    ``requested`` is the usage the CSR asked for; None means the CSR had no keyUsage, which
    asks for both (CSR-KU-4). A certificate wider or narrower than asked breaks CSR-KU-5; an
    encryption class without the bit the key calls for breaks CSR-KU-3 (a bit beside it that the
    key does not allow is REF-5280-7's). EKUs beside emailProtection are recorded on CERT-1
    (INFO): RFC 8550 asks for emailProtection, not for it alone; a declared S/MIME BR profile
    forbids some (REF-SMBR-3, judged by the lints). Never raises on odd certificates.
    """
    try:
        extensions = cert.extensions
        public_key = cert.public_key()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            subject = cert.subject
    except PARSE_ERRORS as error:
        return (broken("CERT-1", f"the certificate cannot be read: {error}", "a parseable leaf"),)
    san = extension_value(extensions, x509.SubjectAlternativeName)
    names = review_names(subject, san, ordered, requirement="CERT-1")
    findings = [*names.findings, *unwritten_name_forms(names), *_eku_findings(extensions)]
    findings.extend(_leaf_findings(extensions, public_key, csr_key))
    findings.extend(_key_usage_findings(extensions, public_key, requested or "both"))
    key_usage = extension_value(extensions, x509.KeyUsage)
    findings.append(
        info(
            "REF-5280-2",
            f"keyUsage {describe_key_usage(key_usage)}" if key_usage else "no keyUsage extension",
        )
    )
    judged = {rid: _PASSES[rid] for rid in sorted(names.judged)}
    return with_passes(findings, judged)


def _eku_findings(extensions: x509.Extensions) -> list[Finding]:
    eku = extension_value(extensions, x509.ExtendedKeyUsage)
    if eku is None or ExtendedKeyUsageOID.EMAIL_PROTECTION not in eku:
        return [
            broken(
                "CERT-1",
                "no extendedKeyUsage"
                if eku is None
                else "extendedKeyUsage without emailProtection",
                "extendedKeyUsage id-kp-emailProtection (RFC 8550 §4.4, S/MIME BR)",
            )
        ]
    others = [oid.dotted_string for oid in eku if oid != ExtendedKeyUsageOID.EMAIL_PROTECTION]
    if others:
        return [
            info(
                "CERT-1",
                f"extendedKeyUsage also grants {', '.join(others)} (a declared S/MIME BR "
                "profile judges which it allows, REF-SMBR-3)",
            )
        ]
    return []


def _leaf_findings(
    extensions: x509.Extensions, public_key: PublicKeyTypes, csr_key: PublicKeyTypes | None
) -> list[Finding]:
    findings: list[Finding] = []
    constraints = extension_value(extensions, x509.BasicConstraints)
    if constraints is not None and constraints.ca:
        findings.append(
            broken("CERT-1", "basicConstraints cA=TRUE", "an end-entity certificate (cA FALSE)")
        )
    if csr_key is not None and spki_der(public_key) != spki_der(csr_key):
        findings.append(
            broken(
                "CERT-1",
                f"the certificate's {key_description(public_key)} key is not the CSR's "
                f"{key_description(csr_key)} key",
                "the public key of the finalized CSR (RFC 8555 §7.4)",
            )
        )
    return findings


def _key_usage_findings(
    extensions: x509.Extensions, public_key: PublicKeyTypes, wanted: Usage
) -> list[Finding]:
    """keyUsage against the requested class (CSR-KU-2..5); an absent keyUsage is unrestricted."""
    asked = f"{wanted} use: keyUsage {usage_bits_text(wanted, public_key)}"
    key_usage = extension_value(extensions, x509.KeyUsage)
    if key_usage is None:
        if wanted == "both":
            return [passed("CSR-KU-4", "no keyUsage: usable for signing and encryption")]
        return [broken("CSR-KU-5", "no keyUsage: the certificate is unrestricted", asked)]
    granted, findings = judge_key_usage(key_usage, public_key, issued=True)
    if granted == "invalid":
        return list(findings)
    if granted != wanted:
        observed = f"{describe_key_usage(key_usage)} grants {granted} use"
        return [broken("CSR-KU-5", observed, asked)]
    return list(findings)


def parse_pem_chain(text: str) -> list[x509.Certificate]:
    """The certificates of an application/pem-certificate-chain body, leaf first.

    Strict (RFC 8555 §9.1, RFC 7468 §3): only CERTIFICATE blocks, nothing but whitespace
    around them, base64 lines of 64 characters (the last may be shorter). ValueError names the
    block and what is wrong.
    """
    certificates: list[x509.Certificate] = []
    position = 0
    for index, match in enumerate(_PEM_BLOCK.finditer(text), start=1):
        between = text[position : match.start()]
        if between.strip():
            raise ValueError(f"text before block {index}: {between.strip()[:40]!r}")
        position = match.end()
        certificates.append(_pem_certificate(index, match))
    if text[position:].strip():
        raise ValueError(f"text after the last block: {text[position:].strip()[:40]!r}")
    if not certificates:
        raise ValueError("no PEM CERTIFICATE block found")
    return certificates


def _pem_certificate(index: int, match: re.Match[str]) -> x509.Certificate:
    begin, end = match["begin"], match["end"]
    if begin != "CERTIFICATE" or end != "CERTIFICATE":
        raise ValueError(f"block {index} is labelled {begin!r}/{end!r}, not 'CERTIFICATE'")
    lines = match["body"].splitlines()
    if not lines:
        raise ValueError(f"block {index} is empty")
    for number, line in enumerate(lines, start=1):
        last = number == len(lines)
        fits = len(line) == _PEM_LINE or (last and 0 < len(line) < _PEM_LINE)
        if not fits or not _BASE64_LINE.fullmatch(line):
            raise ValueError(
                f"block {index} line {number} is not a base64 line of {_PEM_LINE} characters "
                "(only the last may be shorter)"
            )
    try:
        der = base64.b64decode("".join(lines), validate=True)
        return x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"block {index} is not a DER certificate: {error}") from error


def parse_crl(data: bytes) -> x509.CertificateRevocationList | None:
    """A CRL served as DER (RFC 5280 §4.2.1.13) or, leniently, PEM; None for anything else."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError:
        return None


_CRL_SIGNER_KEYS = (
    rsa.RSAPublicKey,
    ec.EllipticCurvePublicKey,
    ed25519.Ed25519PublicKey,
    ed448.Ed448PublicKey,
    dsa.DSAPublicKey,
)


def crl_signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` issued ``crl``: its name and a signature by its key (RFC 5280 §5)."""
    key = issuer.public_key()
    if not isinstance(key, _CRL_SIGNER_KEYS):
        return False
    return crl.issuer == issuer.subject and crl.is_signature_valid(key)
