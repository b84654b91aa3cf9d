"""CSRs for RFC 8823 certificates: build one for a usage, and judge one against an order.

The rules: the CSR names exactly the ordered addresses (CSR-ID-1, decision 7), as rfc822Name
with an A-label domain or, for a non-ASCII local part, as SmtpUTF8Mailbox (I18N-3, RFC 9598);
its keyUsage says signing-only, encryption-only or both (RFC 8823 §3.3, CSR-KU-2..5).
Inspectors never raise on malformed bytes; they report findings and problems.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias, TypeVar, get_args

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
    PublicKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID, ObjectIdentifier

from rfc8823.findings import Finding, broken, failures, passed
from rfc8823.messages.headers import inspect_address, normalize_address, parse_single_address
from rfc8823.tokens import b64url_decode

Usage = Literal["signing", "encryption", "both"]
UsageVerdict: TypeAlias = Usage | Literal["invalid"]

SMTP_UTF8_MAILBOX = ObjectIdentifier("1.3.6.1.5.5.7.8.9")
SIGNING_BITS = frozenset({"digitalSignature", "nonRepudiation"})
ENCRYPTION_BITS = frozenset({"keyEncipherment", "keyAgreement"})
USAGE_REQUIREMENT: Mapping[Usage, str] = {
    "signing": "CSR-KU-2",
    "encryption": "CSR-KU-3",
    "both": "CSR-KU-4",
}

_KEY_USAGE_BITS = (
    ("digital_signature", "digitalSignature"),
    ("content_commitment", "nonRepudiation"),
    ("key_encipherment", "keyEncipherment"),
    ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"),
    ("key_cert_sign", "keyCertSign"),
    ("crl_sign", "cRLSign"),
    ("encipher_only", "encipherOnly"),
    ("decipher_only", "decipherOnly"),
)
_BIT_NAMES = frozenset(name for _, name in _KEY_USAGE_BITS)
_REQUESTABLE_EXTENSIONS = frozenset(
    {
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
    }
)
NAME_PASSES: Mapping[str, str] = {
    "CSR-ID-1": "the CSR names exactly the ordered addresses",
    "I18N-3": "every address is written in the form its local part calls for",
    "REF-5280-1": "every rfc822Name is a bare addr-spec",
    "REF-8398-1": "SmtpUTF8Mailbox only for non-ASCII local parts",
}
_E = TypeVar("_E", bound=x509.ExtensionType)
PARSE_ERRORS = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)
_UTF8_STRING_TAG = 0x0C
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_UTEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\x80-\U0010ffff]"
_QUOTED = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"'
_UQUOTED = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e\x80-\U0010ffff]|\\[\x20-\x7e])*"'
_LDH_DOMAIN = (
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
_ADDR_SPEC = re.compile(rf"(?:{_ATEXT}+(?:\.{_ATEXT}+)*|{_QUOTED})@{_LDH_DOMAIN}")
_SMTP_UTF8_MAILBOX = re.compile(rf"(?:{_UTEXT}+(?:\.{_UTEXT}+)*|{_UQUOTED})@{_LDH_DOMAIN}")


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


def key_usage_bits(key_usage: x509.KeyUsage) -> frozenset[str]:
    """The RFC 5280 §4.2.1.3 names of the bits set in ``key_usage`` (REF-5280-2)."""
    bits = set()
    for attribute, name in _KEY_USAGE_BITS:
        if attribute in ("encipher_only", "decipher_only") and not key_usage.key_agreement:
            continue
        if getattr(key_usage, attribute):
            bits.add(name)
    return frozenset(bits)


def key_usage_from_bits(bits: Iterable[str]) -> x509.KeyUsage:
    """A keyUsage with exactly the named RFC 5280 §4.2.1.3 bits set (REF-5280-2)."""
    wanted = frozenset(bits)
    unknown = wanted - _BIT_NAMES
    if unknown:
        raise ValueError(f"unknown keyUsage bits {sorted(unknown)}; known: {sorted(_BIT_NAMES)}")
    return x509.KeyUsage(**{attribute: name in wanted for attribute, name in _KEY_USAGE_BITS})


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


def _can_sign(key: PrivateKeyTypes | PublicKeyTypes) -> bool:
    """False for the key-agreement-only types (X25519, X448)."""
    agreement_only = (
        x25519.X25519PrivateKey,
        x25519.X25519PublicKey,
        x448.X448PrivateKey,
        x448.X448PublicKey,
    )
    return not isinstance(key, agreement_only)


def key_usage_for(
    usage: Usage, key: PrivateKeyTypes | PublicKeyTypes, *, non_repudiation: bool = False
) -> x509.KeyUsage:
    """The keyUsage a CSR carries to ask for ``usage`` with ``key`` (RFC 8823 §3.3).

    Signing: digitalSignature (plus nonRepudiation on request), CSR-KU-2. Encryption:
    keyEncipherment for RSA, keyAgreement for EC (CSR-KU-3, AMB-7). Both: the union (CSR-KU-4).
    Raises ValueError for a usage the key type cannot serve.
    """
    if usage not in get_args(Usage):
        raise ValueError(f"usage must be one of {get_args(Usage)}, not {usage!r}")
    bits: set[str] = set()
    if usage in ("signing", "both"):
        if not _can_sign(key):
            raise ValueError(f"a {key_description(key)} key cannot sign; ask for 'encryption'")
        bits.add("digitalSignature")
        if non_repudiation:
            bits.add("nonRepudiation")
    if usage in ("encryption", "both"):
        bit = encryption_bit(key)
        if bit is None:
            raise ValueError(
                f"a {key_description(key)} key cannot encrypt; ask for 'signing' "
                "(RFC 8823 §3.3, CSR-KU-3)"
            )
        bits.add(bit)
    return key_usage_from_bits(bits)


def encode_utf8_string(text: str) -> bytes:
    """DER UTF8String, the value of an SmtpUTF8Mailbox otherName (RFC 9598 §3)."""
    data = text.encode("utf-8")
    size = len(data)
    if size < 0x80:
        length = bytes([size])
    else:
        octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(octets)]) + octets
    return bytes([_UTF8_STRING_TAG]) + length + data


def decode_utf8_string(der: bytes) -> str:
    """The text of a DER UTF8String; ValueError for any other encoding (RFC 9598 §3)."""
    if len(der) < 2 or der[0] != _UTF8_STRING_TAG:
        raise ValueError("not a DER UTF8String (tag 12)")
    offset, size = 2, der[1]
    if size & 0x80:
        count = size & 0x7F
        octets = der[2 : 2 + count]
        if not 0 < count <= 4 or len(octets) != count or octets[0] == 0:
            raise ValueError("UTF8String with a malformed DER length")
        offset, size = 2 + count, int.from_bytes(octets, "big")
        if size < 0x80:
            raise ValueError("UTF8String with a non-minimal DER length")
    if len(der) != offset + size:
        raise ValueError(f"UTF8String length {size} does not match the {len(der) - offset} octets")
    return der[offset:].decode("utf-8")


def mailbox_general_name(address: str) -> x509.GeneralName:
    """The SAN entry for an address: rfc822Name, or SmtpUTF8Mailbox for a non-ASCII local part.

    The domain is written as A-labels in both forms (I18N-3, REF-8398-1; RFC 9598 §3 replaced
    RFC 8398's U-labels with A-labels). Raises ValueError for an address that is not one.
    """
    normal = inspect_address(address)
    if not normal.domain or normal.problems:
        raise ValueError(f"{address!r} is not a usable address: {'; '.join(normal.problems)}")
    if normal.local_part.isascii():
        return x509.RFC822Name(normal.value)
    return x509.OtherName(SMTP_UTF8_MAILBOX, encode_utf8_string(normal.value))


def build_csr(
    key: CertificateIssuerPrivateKeyTypes,
    addresses: Sequence[str],
    usage: Usage | None,
    *,
    subject_cn: str | None = None,
    include_eku: bool = True,
    non_repudiation: bool = False,
    extra_extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> x509.CertificateSigningRequest:
    """A PKCS#10 request for an S/MIME certificate for ``addresses`` (RFC 8823 §3.3).

    SAN per address (``mailbox_general_name``); a critical keyUsage from ``key_usage_for``, or
    none for ``usage=None`` (dual use by absence, CSR-KU-4); EKU emailProtection unless
    ``include_eku`` is false. No addresses means no SAN, so a test can supply its own through
    ``extra_extensions`` (pairs of extension and criticality). Signed with SHA-256 (EdDSA: none).
    """
    subject = (
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
        if subject_cn is not None
        else x509.Name([])
    )
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    if addresses:
        names = [mailbox_general_name(address) for address in addresses]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if usage is not None:
        key_usage = key_usage_for(usage, key, non_repudiation=non_repudiation)
        builder = builder.add_extension(key_usage, critical=True)
    if include_eku:
        eku = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION])
        builder = builder.add_extension(eku, critical=False)
    for extension, critical in extra_extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(key, signature_hash(key))


def signature_hash(key: CertificateIssuerPrivateKeyTypes) -> hashes.SHA256 | None:
    """SHA-256 for RSA, ECDSA and DSA; None for EdDSA, which hashes internally."""
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return None
    return hashes.SHA256()


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


def spki_der(public_key: PublicKeyTypes) -> bytes:
    """DER SubjectPublicKeyInfo of a public key, to compare keys whatever their type."""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass(frozen=True)
class NameReview:
    """The addresses found in a subject and subjectAltName, and the findings about them."""

    findings: tuple[Finding, ...]
    addresses: tuple[str, ...]
    problems: tuple[str, ...]
    judged: frozenset[str]


class _NameReviewer:
    """Collects findings about names against the ordered addresses (CSR-ID-1 / CERT-1)."""

    def __init__(self, ordered: Sequence[str], requirement: str) -> None:
        self.requirement = requirement
        self.ordered = {normalize_address(address): address for address in ordered}
        self.findings: list[Finding] = []
        self.addresses: list[str] = []
        self.problems: list[str] = []
        self.judged: set[str] = {requirement}
        self.in_san: dict[str, str] = {}

    def expected_text(self) -> str:
        listed = ", ".join(sorted(self.ordered.values())) or "no address"
        return f"exactly the ordered addresses ({listed})"

    def flag(self, requirement: str, observed: str, expected: str, detail: str = "") -> None:
        self.judged.add(requirement)
        self.findings.append(broken(requirement, observed, expected, detail))

    def found(self, address: str) -> None:
        if address not in self.addresses:
            self.addresses.append(address)

    def rfc822(self, value: str) -> None:
        self.judged.update({"I18N-3", "REF-5280-1"})
        bare = _ADDR_SPEC.fullmatch(value) is not None
        address = value if bare else parse_single_address(value).addr_spec or value
        self.found(address)
        self.in_san.setdefault(normalize_address(address), address)
        if not value.isascii():
            hint = mailbox_hint(address)
            self.flag(
                "I18N-3",
                f"rfc822Name {value!r} holds non-ASCII characters",
                f"an ASCII rfc822Name with an A-label domain, or SmtpUTF8Mailbox for a "
                f"non-ASCII local part ({hint})",
                "RFC 5280 §4.2.1.6 makes rfc822Name an IA5String; RFC 9598 §3",
            )
        elif not bare:
            self.flag(
                "REF-5280-1",
                f"rfc822Name {value!r} is not a bare addr-spec",
                f"{address!r} alone, without display name or angle brackets",
            )

    def smtp_utf8(self, der: bytes) -> None:
        self.judged.update({"I18N-3", "REF-8398-1"})
        try:
            value = decode_utf8_string(der)
        except ValueError as error:
            self.problems.append(f"SmtpUTF8Mailbox value {der!r} cannot be read: {error}")
            self.flag(
                "I18N-3",
                f"an SmtpUTF8Mailbox whose value is not a DER UTF8String ({error})",
                "a UTF8String holding the mailbox",
            )
            return
        self.found(value)
        self.in_san.setdefault(normalize_address(value), value)
        local, _, domain = value.rpartition("@")
        if local.isascii():
            self.flag(
                "REF-8398-1",
                f"SmtpUTF8Mailbox {value!r} has an ASCII local part",
                f"rfc822Name {normalize_address(value)!r}",
                "RFC 9598 §3 keeps SmtpUTF8Mailbox for non-ASCII local parts",
            )
            self.flag(
                "I18N-3",
                f"SmtpUTF8Mailbox used for the ASCII local part of {value!r}",
                "rfc822Name for an ASCII local part",
            )
        elif not domain.isascii():
            self.flag(
                "I18N-3",
                f"SmtpUTF8Mailbox {value!r} writes its domain in U-labels",
                f"the domain as A-labels: {normalize_address(value)!r}",
                "RFC 9598 §3 (changed from RFC 8398, which used U-labels)",
            )
        elif _SMTP_UTF8_MAILBOX.fullmatch(value) is None:
            self.flag(
                "I18N-3",
                f"SmtpUTF8Mailbox {value!r} is not a mailbox",
                "local-part@domain with an LDH/A-label domain (RFC 9598 §3)",
            )

    def general_name(self, name: x509.GeneralName) -> None:
        if isinstance(name, x509.RFC822Name):
            self.rfc822(name.value)
        elif isinstance(name, x509.OtherName) and name.type_id == SMTP_UTF8_MAILBOX:
            self.smtp_utf8(name.value)
        elif isinstance(name, x509.DNSName) and "@" in name.value:
            self.found(name.value)
            self.flag(
                self.requirement,
                f"dNSName {name.value!r} holds an email address",
                "the address as rfc822Name only; a dNSName is a host name",
                "acme_email does this (AMB-4); a strict CA refuses it",
            )
        else:
            self.flag(
                self.requirement,
                f"subjectAltName entry {describe_general_name(name)} is not an ordered address",
                self.expected_text(),
            )

    def subject(self, subject: x509.Name) -> None:
        for attribute in subject:
            value = attribute.value if isinstance(attribute.value, str) else repr(attribute.value)
            if attribute.oid not in (NameOID.COMMON_NAME, NameOID.EMAIL_ADDRESS):
                self.flag(
                    self.requirement,
                    f"subject attribute {attribute.oid.dotted_string}={value!r} "
                    "is not an ordered identifier",
                    "a subject with at most CN/emailAddress holding an ordered address",
                    "decision 7 (AMB-6)",
                )
                continue
            label = "CN" if attribute.oid == NameOID.COMMON_NAME else "emailAddress"
            if "@" in value:
                self.found(value)
            if normalize_address(value) not in self.ordered:
                self.flag(
                    self.requirement,
                    f"subject {label}={value!r} is not an ordered address",
                    f"no {label}, or {label} holding one of the ordered addresses",
                    "decision 7 (AMB-6)",
                )

    def compare(self, has_san: bool) -> None:
        if not has_san:
            self.flag(
                self.requirement,
                "no subjectAltName extension",
                f"a subjectAltName with {self.expected_text()}",
            )
            return
        for normal, address in self.ordered.items():
            if normal not in self.in_san:
                self.flag(
                    self.requirement,
                    f"ordered address {address!r} is missing from the subjectAltName",
                    "rfc822Name or SmtpUTF8Mailbox for every ordered address",
                )
        for normal, address in self.in_san.items():
            if normal not in self.ordered:
                self.flag(
                    self.requirement,
                    f"the subjectAltName names {address!r}, which the order does not hold",
                    self.expected_text(),
                )


def review_names(
    subject: x509.Name,
    san: x509.SubjectAlternativeName | None,
    ordered: Sequence[str],
    *,
    requirement: str,
) -> NameReview:
    """Judge the names of a CSR or certificate against the ordered addresses.

    ``requirement`` is the identity rule being checked (CSR-ID-1 or CERT-1). Form rules:
    I18N-3, REF-8398-1, REF-5280-1. Only broken findings are returned; ``judged`` lists the IDs
    examined, for ``with_passes``.
    """
    reviewer = _NameReviewer(ordered, requirement)
    for name in san or ():
        reviewer.general_name(name)
    reviewer.subject(subject)
    reviewer.compare(san is not None)
    return NameReview(
        findings=tuple(reviewer.findings),
        addresses=tuple(reviewer.addresses),
        problems=tuple(reviewer.problems),
        judged=frozenset(reviewer.judged),
    )


def with_passes(findings: Iterable[Finding], judged: Mapping[str, str]) -> tuple[Finding, ...]:
    """``findings`` plus a PASS for each judged requirement (ID → observation) none broke."""
    result = list(findings)
    seen = {finding.requirement for finding in result}
    result.extend(passed(rid, observed) for rid, observed in judged.items() if rid not in seen)
    return tuple(result)


def mailbox_hint(address: str) -> str:
    """How an address is written in a SAN, e.g. ``SmtpUTF8Mailbox 'ü@xn--bcher-kva.example'``."""
    try:
        name = mailbox_general_name(address)
    except ValueError:
        return f"{address!r} is not a usable address"
    return describe_general_name(name)


def describe_general_name(name: x509.GeneralName) -> str:
    """A GeneralName as text, for details: ``rfc822Name 'a@b.example'``, ``dNSName 'x'``."""
    if isinstance(name, x509.OtherName):
        if name.type_id == SMTP_UTF8_MAILBOX:
            try:
                return f"SmtpUTF8Mailbox {decode_utf8_string(name.value)!r}"
            except ValueError:
                return f"SmtpUTF8Mailbox {name.value!r}"
        return f"otherName {name.type_id.dotted_string}"
    kinds = {
        x509.RFC822Name: "rfc822Name",
        x509.DNSName: "dNSName",
        x509.UniformResourceIdentifier: "uniformResourceIdentifier",
        x509.IPAddress: "iPAddress",
        x509.DirectoryName: "directoryName",
        x509.RegisteredID: "registeredID",
    }
    return f"{kinds.get(type(name), type(name).__name__)} {str(name.value)!r}"


def judge_key_usage(
    key_usage: x509.KeyUsage | None, public_key: PublicKeyTypes
) -> tuple[UsageVerdict, tuple[Finding, ...]]:
    """Which RFC 8823 §3.3 usage a keyUsage asks for, with the findings that say so.

    Bits outside the signing and encryption sets break CSR-KU-5; an encryption bit that does
    not fit the key type (or any, for a key that cannot encrypt) breaks CSR-KU-3; otherwise the
    usage passes its requirement (CSR-KU-2, -3, or -4 for both or absent).
    """
    fitting = encryption_bit(public_key)
    kind = key_description(public_key)
    if key_usage is None:
        if fitting is None:
            return "invalid", (
                broken(
                    "CSR-KU-3",
                    f"no keyUsage (dual use, CSR-KU-4) for a {kind} key, which cannot encrypt",
                    "a signing-only keyUsage (digitalSignature and/or nonRepudiation)",
                ),
            )
        return "both", (passed("CSR-KU-4", "no keyUsage: signing and encryption"),)
    bits = key_usage_bits(key_usage)
    findings: list[Finding] = []
    outside = bits - SIGNING_BITS - ENCRYPTION_BITS
    if not bits:
        findings.append(
            broken("CSR-KU-5", "a keyUsage with no bit set", "at least one bit (RFC 5280 §4.2.1.3)")
        )
    if outside:
        findings.append(
            broken(
                "CSR-KU-5",
                f"keyUsage asks for {format_bits(outside)}, outside RFC 8823 §3.3's sets",
                "only digitalSignature/nonRepudiation and keyEncipherment/keyAgreement",
            )
        )
    encryption = bits & ENCRYPTION_BITS
    if encryption and encryption != {fitting}:
        expected = (
            f"{fitting} alone for a {kind} key (AMB-7)"
            if fitting
            else f"no encryption bit: a {kind} key cannot encrypt"
        )
        findings.append(
            broken("CSR-KU-3", f"keyUsage {format_bits(encryption)} for a {kind} key", expected)
        )
    if findings:
        return "invalid", tuple(findings)
    signing = bits & SIGNING_BITS
    usage: Usage = "both" if signing and encryption else "signing" if signing else "encryption"
    return usage, (passed(USAGE_REQUIREMENT[usage], f"keyUsage {format_bits(bits)}: {usage}"),)


def format_bits(bits: Iterable[str]) -> str:
    """keyUsage bit names in RFC 5280 order, joined with '+' (``digitalSignature+keyAgreement``)."""
    order = [name for _, name in _KEY_USAGE_BITS]
    return "+".join(sorted(bits, key=order.index))


def usage_bits_text(usage: Usage, public_key: PublicKeyTypes) -> str:
    """The keyUsage bits that ask for ``usage`` with this key, as text for details."""
    try:
        return format_bits(key_usage_bits(key_usage_for(usage, public_key)))
    except ValueError as error:
        return str(error)


def inspect_csr(
    csr_der: bytes, ordered: Sequence[str], *, requested: Usage | None = None
) -> CsrReport:
    """Judge a DER CSR against the ordered addresses and, if given, the usage asked for.

    CSR-ID-1 (exactly the ordered addresses; decision 7), I18N-3 / REF-8398-1 / REF-5280-1
    (the form of each name), CSR-KU-2..5 (keyUsage; ``requested`` is what the user asked the
    client for), A-FIN-3 (extensions a CA will not include), A-FIN-1 (a readable, correctly
    self-signed PKCS#10). Never raises on malformed input.
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
    names = review_names(subject, san, ordered, requirement="CSR-ID-1")
    problems.extend(names.problems)
    findings.extend(names.findings)
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


def describe_key_usage(key_usage: x509.KeyUsage | None) -> str:
    """A keyUsage extension (or its absence) as text for details."""
    if key_usage is None:
        return "no keyUsage"
    return f"keyUsage {format_bits(key_usage_bits(key_usage)) or 'with no bit'}"


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
