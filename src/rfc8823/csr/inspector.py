"""Read a CSR and judge it against an order: names, keyUsage, extensions, self-signature.

RFC 8823 §3.3, RFC 8555 §7.4, RFC 2986; A-FIN-1, A-FIN-3 (names and keyUsage by their modules).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from rfc8823.csr.key_usage import (
    USAGE_REQUIREMENT,
    Usage,
    UsageVerdict,
    describe_key_usage,
    judge_key_usage,
    usage_bits_text,
)
from rfc8823.csr.name_rules import NAME_PASSES, review_names, unwritten_name_forms, with_passes
from rfc8823.findings import Finding, broken, failures, passed
from rfc8823.tokens import b64url_decode

_REQUESTABLE_EXTENSIONS = frozenset(
    {
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
    }
)
_E = TypeVar("_E", bound=x509.ExtensionType)
PARSE_ERRORS = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)


@dataclass(frozen=True)
class CsrReport:
    """What a CSR asks for, judged against an order.

    ``addresses`` lists every address found (SAN rfc822Name and SmtpUTF8Mailbox, subject CN and
    emailAddress holding an '@', dNSName holding an '@'); ``problems`` says what could not be
    read at all (undecodable DER, extensions, SmtpUTF8Mailbox values, a bad signature).
    """

    findings: tuple[Finding, ...]
    addresses: tuple[str, ...]
    usage: UsageVerdict
    problems: tuple[str, ...]
    signature_valid: bool
    public_key: CertificatePublicKeyTypes | None = None
    key_usage: x509.KeyUsage | None = None

    @property
    def acceptable(self) -> bool:
        """True when the CSR is readable, correctly signed and breaks no requirement."""
        return self.signature_valid and not self.problems and not failures(self.findings)


def decode_csr_field(b64url: str) -> bytes:
    """The DER octets of a finalize ``csr`` field; ValueError for PEM, padding or bad base64url.

    RFC 8555 §7.4 carries the CSR as unpadded base64url of the DER, unlike PEM (A-FIN-1).
    """
    if "-----BEGIN" in b64url:
        raise ValueError(
            "the csr field holds PEM; RFC 8555 §7.4 wants base64url of the DER, "
            "without header lines (A-FIN-1)"
        )
    if "=" in b64url:
        raise ValueError("the csr field is padded with '='; base64url in ACME has no padding")
    if not b64url:
        raise ValueError("the csr field is empty")
    try:
        return b64url_decode(b64url)
    except ValueError as error:
        raise ValueError(f"the csr field is not base64url (A-FIN-1): {error}") from error


def inspect_csr(
    csr_der: bytes,
    ordered: Sequence[str],
    *,
    requested: Usage | None = None,
    dns_addresses: bool = False,
) -> CsrReport:
    """Judge a DER CSR against the ordered addresses and, if given, the usage asked for.

    CSR-ID-1 (exactly the ordered addresses; docs/decisions.md#decision-7), I18N-3 / REF-8398-1 /
    REF-5280-1 (the form of each name), CSR-KU-2..5 (keyUsage; ``requested`` is what the user asked
    the client for), A-FIN-3 (extensions a CA will not include), A-FIN-1 (a readable, correctly
    self-signed PKCS#10). ``dns_addresses``: a dNSName repeating an ordered address passes (a
    CA's compatibility mode, AMB-4). Never raises on malformed input.
    """
    try:
        csr = x509.load_der_x509_csr(csr_der)
        public_key = csr.public_key()
    except PARSE_ERRORS as error:
        return _unreadable(f"not a DER PKCS#10 CSR: {error}")
    try:
        extensions = csr.extensions
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            subject = csr.subject
    except PARSE_ERRORS as error:
        return _unreadable(f"the CSR's subject or extensionRequest cannot be read: {error}")
    signature_valid = _signature_valid(csr)
    problems: list[str] = []
    if not signature_valid:
        problems.append("the CSR's self-signature does not verify with its public key")
    findings: list[Finding] = [_signature_finding(signature_valid)]
    san = extension_value(extensions, x509.SubjectAlternativeName)
    names = review_names(subject, san, ordered, requirement="CSR-ID-1", dns_addresses=dns_addresses)
    problems.extend(names.problems)
    findings.extend(names.findings)
    findings.extend(unwritten_name_forms(names))
    key_usage = extension_value(extensions, x509.KeyUsage)
    usage, usage_findings = judge_key_usage(key_usage, public_key)
    findings.extend(usage_findings)
    if requested is not None and usage != requested:
        findings.append(
            broken(
                USAGE_REQUIREMENT[requested],
                f"{describe_key_usage(key_usage)}, which asks for "
                + ("no valid usage" if usage == "invalid" else f"{usage} use"),
                f"{requested} use: keyUsage {usage_bits_text(requested, public_key)}",
            )
        )
    findings.extend(_extension_findings(extensions))
    judged = {rid: NAME_PASSES[rid] for rid in sorted(names.judged)}
    judged["A-FIN-3"] = "the CSR asks only for extensions an S/MIME CA includes"
    return CsrReport(
        findings=with_passes(findings, judged),
        addresses=names.addresses,
        usage=usage,
        problems=tuple(problems),
        signature_valid=signature_valid,
        public_key=public_key,
        key_usage=key_usage,
    )


def _unreadable(problem: str) -> CsrReport:
    finding = broken("A-FIN-1", problem, "a DER PKCS#10 certification request (RFC 2986)")
    return CsrReport(
        findings=(finding,),
        addresses=(),
        usage="invalid",
        problems=(problem,),
        signature_valid=False,
    )


def _signature_valid(csr: x509.CertificateSigningRequest) -> bool:
    try:
        return csr.is_signature_valid
    except PARSE_ERRORS:
        return False


def _signature_finding(valid: bool) -> Finding:
    if valid:
        return passed("A-FIN-1", "a DER PKCS#10 request with a valid self-signature")
    return broken(
        "A-FIN-1",
        "the CSR's self-signature does not verify",
        "a PKCS#10 request signed with the key it certifies (RFC 2986 §3)",
    )


def extension_value(extensions: x509.Extensions, kind: type[_E]) -> _E | None:
    """The value of the extension of type ``kind``, or None when absent."""
    try:
        return extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _extension_findings(extensions: x509.Extensions) -> list[Finding]:
    """Extensions an RFC 8823 CA would not put in the certificate as asked (A-FIN-3)."""
    findings: list[Finding] = []
    expected = "only subjectAltName, keyUsage, extendedKeyUsage emailProtection, basicConstraints"
    for extension in extensions:
        value = extension.value
        if extension.oid not in _REQUESTABLE_EXTENSIONS:
            findings.append(
                broken(
                    "A-FIN-3",
                    f"the CSR asks for extension {extension.oid.dotted_string}",
                    expected,
                )
            )
        elif isinstance(value, x509.ExtendedKeyUsage):
            others = [
                oid.dotted_string for oid in value if oid != ExtendedKeyUsageOID.EMAIL_PROTECTION
            ]
            if others:
                findings.append(
                    broken(
                        "A-FIN-3",
                        f"extendedKeyUsage asks for {', '.join(others)}",
                        "emailProtection only (S/MIME)",
                    )
                )
        elif isinstance(value, x509.BasicConstraints) and value.ca:
            findings.append(
                broken("A-FIN-3", "basicConstraints asks for a CA certificate", "cA FALSE")
            )
    return findings
