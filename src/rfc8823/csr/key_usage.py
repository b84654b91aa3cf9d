"""keyUsage for the three RFC 8823 §3.3 usages: the bits, building one, judging one.

RFC 8823 §3.3, RFC 5280 §4.2.1.3; CSR-KU-2..5, REF-5280-2, AMB-7.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal, TypeAlias, get_args

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from rfc8823.csr.keys import can_sign, encryption_bit, key_description
from rfc8823.findings import Finding, broken, passed

Usage = Literal["signing", "encryption", "both"]
UsageVerdict: TypeAlias = Usage | Literal["invalid"]

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
        if not can_sign(key):
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


def judge_key_usage(
    key_usage: x509.KeyUsage | None, public_key: PublicKeyTypes, *, issued: bool = False
) -> tuple[UsageVerdict, tuple[Finding, ...]]:
    """Which RFC 8823 §3.3 usage a keyUsage asks for, with the findings that say so.

    Bits outside the signing and encryption sets break CSR-KU-5; an encryption bit that does
    not fit the key type (or any, for a key that cannot encrypt) breaks CSR-KU-3; otherwise the
    usage passes its requirement (CSR-KU-2, -3, or -4 for both or absent). For an ``issued``
    certificate CSR-KU-3 judges the class only: the bit the key type calls for is there. A bit
    the key's algorithm does not allow beside it is REF-5280-7's (RFC 5280 §4.2.1.3, RFC 5480
    §3), which the certificate lints judge; one defect, one broken row.
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
    if issued and fitting in encryption:
        encryption = frozenset({fitting})
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
    unfit = bits & ENCRYPTION_BITS - encryption
    aside = f" ({format_bits(unfit)} beside {fitting} is REF-5280-7's)" if unfit else ""
    detail = f"keyUsage {format_bits(bits)}: {usage}{aside}"
    return usage, (passed(USAGE_REQUIREMENT[usage], detail),)


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


def describe_key_usage(key_usage: x509.KeyUsage | None) -> str:
    """A keyUsage extension (or its absence) as text for details."""
    if key_usage is None:
        return "no keyUsage"
    return f"keyUsage {format_bits(key_usage_bits(key_usage)) or 'with no bit'}"
