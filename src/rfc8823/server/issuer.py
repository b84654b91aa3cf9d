"""The reference CA's issuer: refuse unacceptable CSRs, issue S/MIME certificates exactly as asked.

RFC 8555 §7.4 (the CSR names exactly the ordered identifiers, A-FIN-2; unacceptable contents are
badCSR, A-FIN-3), RFC 8823 §3.3 (signing-only, encryption-only or both, never wider than asked,
CSR-KU-5), CERT-1 for the certificate's contents, A-ACCTKEY-1 for the account key. The
certificates follow RFC 5280 and the S/MIME BR mailbox-validated profile of the configured
generation (REF-5280-*, REF-SMBR-*): reserved policy OID, CRL distribution point and caIssuers.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
    PublicKeyTypes,
)
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from rfc8823.csr import (
    SIGNING_BITS,
    Usage,
    encryption_bit,
    inspect_csr,
    key_description,
    key_usage_bits,
    key_usage_from_bits,
    mailbox_general_name,
    signature_hash,
    spki_der,
)
from rfc8823.findings import Finding, failures
from rfc8823.messages.headers import normalize_address
from rfc8823.requirements import load_catalog
from rfc8823.smime_br import MAX_VALIDITY, POLICY_OIDS, BrProfile, br_profile
from rfc8823.world.pki import TestPki

ProblemType = Literal["badCSR", "badPublicKey"]

_SUPPORTED_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
_BACKDATE = timedelta(minutes=5)
_MAX_COMMON_NAME = 64
_SERIAL_BITS = 128


class CsrRejected(Exception):
    """A CSR the CA refuses: the RFC 8555 §6.7 problem type and a detail naming each rule broken.

    Short or unsupported CSR keys are ``badCSR`` too: RFC 8555 §6.7 gives a short key as its
    example of badCSR and keeps badPublicKey for the JWS key (A-FIN-3).
    """

    def __init__(self, problem_type: ProblemType, detail: str) -> None:
        super().__init__(f"{problem_type}: {detail}")
        self.problem_type: ProblemType = problem_type
        self.detail = detail


@dataclass(frozen=True)
class IssuePlan:
    """An accepted CSR and what the certificate will hold: key, SAN, keyUsage and EKU (CERT-1)."""

    csr_der: bytes
    public_key: CertificatePublicKeyTypes
    identifiers: tuple[str, ...]
    san: tuple[x509.GeneralName, ...]
    usage: Usage
    key_usage: x509.KeyUsage
    extended_key_usage: tuple[x509.ObjectIdentifier, ...] = (ExtendedKeyUsageOID.EMAIL_PROTECTION,)
    subject: x509.Name | None = None
    """None: the first address as CN when it fits, else the empty name."""
    san_critical: bool | None = None
    """None: critical exactly when the subject is empty (RFC 5280 §4.2.1.6)."""
    certificate_policies: bool = True
    """Whether the certificate carries the profile's reserved policy OID."""


@dataclass(frozen=True)
class IssuedCertificate:
    """An issued leaf, its chain up to (not including) the root, and the PEM download body."""

    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    pem_chain: str
    serial: int
    not_after: datetime


@dataclass(frozen=True)
class Publication:
    """Where the CA publishes its CRL and certificate over HTTP (RFC 5280 §4.2.1.13, §4.2.2.1)."""

    crl_url: str
    ca_issuers_url: str


class Issuer:
    """Issues RFC 8823 S/MIME certificates from one CA key, faithful to each CSR's request."""

    def __init__(
        self,
        ca_cert: x509.Certificate,
        ca_key: CertificateIssuerPrivateKeyTypes,
        chain: Sequence[x509.Certificate],
        *,
        validity: timedelta = timedelta(days=90),
        min_rsa_bits: int = 2048,
        profile: BrProfile = "mailbox-strict",
    ) -> None:
        if spki_der(ca_cert.public_key()) != spki_der(ca_key.public_key()):
            raise ValueError("the CA key does not belong to the CA certificate")
        profile = br_profile(profile)
        if validity > MAX_VALIDITY[profile]:
            raise ValueError(
                f"a validity of {validity.days} days exceeds the {MAX_VALIDITY[profile].days} "
                f"days {profile} allows (S/MIME BR §6.3.2)"
            )
        self.ca_cert = ca_cert
        self.ca_key = ca_key
        self.chain = tuple(chain)
        self.validity = validity
        self.min_rsa_bits = min_rsa_bits
        self.profile = profile
        self.publication: Publication | None = None

    def publish(self, publication: Publication) -> None:
        """Name the CRL and issuer-certificate URLs in every certificate issued from now on."""
        self.publication = publication

    @classmethod
    def from_pki(
        cls,
        pki: TestPki,
        *,
        validity: timedelta = timedelta(days=90),
        min_rsa_bits: int = 2048,
        profile: BrProfile = "mailbox-strict",
    ) -> Issuer:
        """The issuer of the test world: the ACME issuing CA under the S/MIME root."""
        authority = pki.acme_issuing
        return cls(
            authority.cert,
            authority.key,
            (authority.cert,),
            validity=validity,
            min_rsa_bits=min_rsa_bits,
            profile=profile,
        )

    def check(
        self,
        csr_der: bytes,
        identifiers: Sequence[str],
        *,
        account_key: PublicKeyTypes | None = None,
        dns_addresses: bool = False,
    ) -> IssuePlan:
        """Accept the CSR for the order's ``identifiers``, or raise CsrRejected naming every rule.

        Refused: an unreadable or wrongly signed CSR (A-FIN-1), addresses other than the ordered
        ones or a dNSName (CSR-ID-1, A-FIN-2, AMB-4), keyUsage outside RFC 8823 §3.3 or not
        fitting the key (CSR-KU-5, CSR-KU-3), extensions the CA will not include, short RSA or
        unsupported keys (A-FIN-3), the account key (A-ACCTKEY-1). ValueError when an
        identifier is not an address (the order should not hold it). ``dns_addresses`` lets a
        dNSName repeat an ordered address (the compatibility mode of AMB-4); the certificate
        names the address as rfc822Name all the same.
        """
        san = tuple(mailbox_general_name(address) for address in _distinct(identifiers))
        report = inspect_csr(csr_der, identifiers, dns_addresses=dns_addresses)
        if report.public_key is None:
            raise CsrRejected("badCSR", _detail(failures(report.findings)))
        reasons = self._key_reasons(report.public_key, account_key)
        broken = failures(report.findings)
        if broken:
            reasons.append(_detail(broken))
        if reasons or report.usage == "invalid":
            raise CsrRejected("badCSR", "; ".join(reasons))
        return IssuePlan(
            csr_der=csr_der,
            public_key=report.public_key,
            identifiers=tuple(identifiers),
            san=san,
            usage=report.usage,
            key_usage=_granted_key_usage(report.usage, report.key_usage, report.public_key),
        )

    def issue(self, plan: IssuePlan, *, now: datetime | None = None) -> IssuedCertificate:
        """Sign the certificate of an accepted plan: SAN as ordered, keyUsage as asked (CERT-1).

        Random 128-bit serial; subject CN = the first address when it fits in a CN (else an
        empty subject and a critical SAN, RFC 5280 §4.2.1.6); the plan's EKU (emailProtection);
        cA FALSE; the profile's mailbox-validated policy OID (S/MIME BR §7.1.6.1); the CRL
        and issuer-certificate URLs once published.
        """
        moment = (now or datetime.now(UTC)).replace(microsecond=0)
        not_after = min(moment + self.validity, self.ca_cert.not_valid_after_utc)
        serial = 1 + secrets.randbelow(2**_SERIAL_BITS - 1)
        subject = _subject(plan.identifiers) if plan.subject is None else plan.subject
        san_critical = not subject if plan.san_critical is None else plan.san_critical
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.ca_cert.subject)
            .public_key(plan.public_key)
            .serial_number(serial)
            .not_valid_before(moment - _BACKDATE)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(plan.key_usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage(plan.extended_key_usage), critical=False)
            .add_extension(x509.SubjectAlternativeName(plan.san), critical=san_critical)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(plan.public_key), False)
            .add_extension(self._authority_key_identifier(), critical=False)
        )
        for extension in self._profile_extensions(plan):
            builder = builder.add_extension(extension, critical=False)
        cert = builder.sign(self.ca_key, signature_hash(self.ca_key))
        pem = "".join(
            item.public_bytes(serialization.Encoding.PEM).decode("ascii")
            for item in (cert, *self.chain)
        )
        return IssuedCertificate(
            cert=cert, chain=self.chain, pem_chain=pem, serial=serial, not_after=not_after
        )

    def _key_reasons(
        self, public_key: CertificatePublicKeyTypes, account_key: PublicKeyTypes | None
    ) -> list[str]:
        reasons: list[str] = []
        kind = key_description(public_key)
        accepted = f"RSA of {self.min_rsa_bits} bits or more, EC P-256/P-384/P-521 or Ed25519"
        if isinstance(public_key, rsa.RSAPublicKey):
            if public_key.key_size < self.min_rsa_bits:
                reasons.append(f"A-FIN-3 (RFC 8555 §7.4): the CSR's key is {kind}; use {accepted}")
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            if not isinstance(public_key.curve, _SUPPORTED_CURVES):
                reasons.append(
                    f"A-FIN-3 (RFC 8555 §7.4): the curve {public_key.curve.name} is not "
                    f"supported; use {accepted}"
                )
        elif not isinstance(public_key, ed25519.Ed25519PublicKey):
            reasons.append(
                f"A-FIN-3 (RFC 8555 §7.4): {kind} keys are not supported; use {accepted}"
            )
        if account_key is not None and spki_der(account_key) == spki_der(public_key):
            reasons.append(
                "A-ACCTKEY-1 (RFC 8555 §11.1): the CSR's key is the ACME account key; "
                "certify a separate key"
            )
        return reasons

    def _profile_extensions(self, plan: IssuePlan) -> list[x509.ExtensionType]:
        """certificatePolicies, CRL distribution point and AIA caIssuers (S/MIME BR §7.1.2.3)."""
        extensions: list[x509.ExtensionType] = []
        if plan.certificate_policies:
            oid = x509.ObjectIdentifier(POLICY_OIDS[self.profile])
            extensions.append(x509.CertificatePolicies([x509.PolicyInformation(oid, None)]))
        if self.publication is not None:
            crl = x509.UniformResourceIdentifier(self.publication.crl_url)
            issuers = x509.UniformResourceIdentifier(self.publication.ca_issuers_url)
            extensions += [
                x509.CRLDistributionPoints([x509.DistributionPoint([crl], None, None, None)]),
                x509.AuthorityInformationAccess(
                    [x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS, issuers)]
                ),
            ]
        return extensions

    def _authority_key_identifier(self) -> x509.AuthorityKeyIdentifier:
        try:
            ski = self.ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        except x509.ExtensionNotFound:
            return x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key())
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value)


def _distinct(identifiers: Sequence[str]) -> list[str]:
    """The identifiers without repeats of the same address (I18N-5 comparison)."""
    return list({normalize_address(address): address for address in identifiers}.values())


def _subject(identifiers: Sequence[str]) -> x509.Name:
    if identifiers:
        first = normalize_address(identifiers[0])
        if len(first) <= _MAX_COMMON_NAME:
            return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, first)])
    return x509.Name([])


def _granted_key_usage(
    usage: Usage, requested: x509.KeyUsage | None, public_key: CertificatePublicKeyTypes
) -> x509.KeyUsage:
    """The keyUsage to issue: the requested class and nothing wider (RFC 8823 §3.3, CSR-KU-5).

    Signing keeps the CSR's signing bits (digitalSignature and/or nonRepudiation); encryption is
    the bit that fits the key (keyEncipherment for RSA, keyAgreement for EC; AMB-7); an absent
    keyUsage asks for both (CSR-KU-4), granted as digitalSignature plus the encryption bit.
    """
    signing = key_usage_bits(requested) & SIGNING_BITS if requested else {"digitalSignature"}
    fitting = encryption_bit(public_key)
    encrypting = {fitting} if fitting and usage != "signing" else set()
    return key_usage_from_bits((signing if usage != "encryption" else set()) | encrypting)


def _detail(findings: Sequence[Finding]) -> str:
    """Each broken requirement with its RFC reference, what was seen and what was expected."""
    catalog = load_catalog()
    return "; ".join(
        f"{finding.requirement} ({catalog[finding.requirement].reference}): {finding.observed}"
        + (f", expected {finding.expected}" if finding.expected else "")
        for finding in findings
    )
