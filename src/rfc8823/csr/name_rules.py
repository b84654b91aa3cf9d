"""Rules for the names in a CSR or certificate: exactly the ordered addresses, each well written.

RFC 8823 §3.3, RFC 9598 §3, RFC 5280 §4.2.1.6; CSR-ID-1, CERT-1, I18N-3, REF-8398-1,
REF-5280-1 (docs/decisions.md#decision-7).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from rfc8823.csr.mailbox_names import (
    SMTP_UTF8_MAILBOX,
    decode_utf8_string,
    describe_general_name,
    mailbox_hint,
)
from rfc8823.findings import Finding, broken, info, passed
from rfc8823.messages.headers import normalize_address, parse_single_address

NAME_PASSES: Mapping[str, str] = {
    "CSR-ID-1": "the CSR names exactly the ordered addresses",
    "I18N-3": "every address is written in the form its local part calls for",
    "REF-5280-1": "every rfc822Name is a bare addr-spec",
    "REF-8398-1": "SmtpUTF8Mailbox only for non-ASCII local parts",
}

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
class NameReview:
    """The addresses found in a subject and subjectAltName, and the findings about them."""

    findings: tuple[Finding, ...]
    addresses: tuple[str, ...]
    problems: tuple[str, ...]
    judged: frozenset[str]


class _NameReviewer:
    """Collects findings about names against the ordered addresses (CSR-ID-1 / CERT-1)."""

    def __init__(self, ordered: Sequence[str], requirement: str, dns_addresses: bool) -> None:
        self.requirement = requirement
        self.dns_addresses = dns_addresses
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
        if value.isascii():
            self.judged.add("REF-8398-1")
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
            if self.dns_addresses and normalize_address(name.value) in self.ordered:
                return
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
                    "docs/decisions.md#decision-7 (AMB-6)",
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
                    "docs/decisions.md#decision-7 (AMB-6)",
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
    dns_addresses: bool = False,
) -> NameReview:
    """Judge the names of a CSR or certificate against the ordered addresses.

    ``requirement`` is the identity rule being checked (CSR-ID-1 or CERT-1). Form rules:
    I18N-3, REF-8398-1, REF-5280-1. Only broken findings are returned; ``judged`` lists the IDs
    examined, for ``with_passes``. ``dns_addresses`` lets a dNSName repeat an ordered address
    (a CA's compatibility mode, AMB-4).
    """
    reviewer = _NameReviewer(ordered, requirement, dns_addresses)
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


NAME_FORM_ROWS = ("I18N-3", "REF-5280-1", "REF-8398-1")
"""The rows about how each name is written: judged only where there is a name."""


def unwritten_name_forms(review: NameReview) -> tuple[Finding, ...]:
    """INFO for each name-form row the review had no name to judge (no rfc822Name or
    SmtpUTF8Mailbox at all): nothing was written, so nothing was written wrongly."""
    return tuple(
        info(rid, "no email address in subjectAltName: no name form to judge")
        for rid in NAME_FORM_ROWS
        if rid not in review.judged
    )


def with_passes(findings: Iterable[Finding], judged: Mapping[str, str]) -> tuple[Finding, ...]:
    """``findings`` plus a PASS for each judged requirement (ID → observation) none broke."""
    result = list(findings)
    seen = {finding.requirement for finding in result}
    result.extend(passed(rid, observed) for rid, observed in judged.items() if rid not in seen)
    return tuple(result)
