"""pkilint run on DER certificates: the RFC 5280 linter, the S/MIME BR linter, the chain linter.

The validator objects are built once per process and profile (building the S/MIME BR one takes
a noticeable fraction of a second); linting a certificate with them takes milliseconds. pkilint
is DigiCert's linter for RFC 5280 and the CA/Browser Forum S/MIME Baseline Requirements.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from pkilint import document, loader
from pkilint.bin import lint_pkix_signer_signee_cert_chain as chain_lint
from pkilint.cabf import smime
from pkilint.cabf.smime import smime_constants
from pkilint.pkix import certificate, extension, name

from rfc8823.smime_br import BrProfile

_GENERATIONS = {
    "mailbox-strict": smime_constants.Generation.STRICT,
    "mailbox-multipurpose": smime_constants.Generation.MULTIPURPOSE,
    "mailbox-legacy": smime_constants.Generation.LEGACY,
}
_PARSE_FAILED = "itu.invalid_asn1_syntax"


@dataclass(frozen=True)
class LintResult:
    """One pkilint finding: severity name, code, message, and the ASN.1 path it is about."""

    severity: str
    code: str
    message: str
    path: str


def lint_leaf(der: bytes, profile: BrProfile | None) -> tuple[LintResult, ...]:
    """pkilint's findings on one certificate: RFC 5280 only, or with the BR profile's lints.

    The S/MIME BR validator runs every RFC 5280 lint too, so one run gives both.
    """
    try:
        leaf = _load(der, "leaf")
    except ValueError as error:
        return (LintResult("FATAL", _PARSE_FAILED, str(error), "certificate"),)
    validator = _pkix_validator() if profile is None else _smime_validator(profile)
    return _results(validator.validate(leaf.root))


def lint_pair(issuer_der: bytes, subject_der: bytes) -> tuple[LintResult, ...]:
    """pkilint's chain findings on a certificate and its issuer: names, key identifiers,
    signature (RFC 5280 §4.1.2.4, §4.2.1.1, §6.1.3)."""
    collection: dict[str, Any] = {}
    try:
        collection["issuer"] = _load(issuer_der, "issuer", collection)
        collection["subject"] = _load(subject_der, "subject", collection)
    except ValueError as error:
        return (LintResult("FATAL", _PARSE_FAILED, str(error), "certificate"),)
    decoding, issuer_checks, subject_checks = _chain_validators()
    results = decoding.validate(collection["issuer"].root)
    results += decoding.validate(collection["subject"].root)
    results += issuer_checks.validate(collection["issuer"].root)
    results += subject_checks.validate(collection["subject"].root)
    return _results(results)


def _load(der: bytes, label: str, collection: dict[str, Any] | None = None) -> Any:
    try:
        return loader.RFC5280CertificateDocumentLoader().load_der_document(
            der, label, label, collection
        )
    except document.SubstrateDecodingFailedError as error:
        raise ValueError(f"not a DER certificate: {error}") from error


def _results(results: Iterable[Any]) -> tuple[LintResult, ...]:
    return tuple(
        LintResult(
            description.finding.severity.name,
            description.finding.code,
            description.message or "",
            result.node.path,
        )
        for result in results
        for description in result.finding_descriptions
    )


@cache
def _pkix_validator() -> Any:
    return certificate.create_pkix_certificate_validator_container(
        certificate.create_decoding_validators(
            name.ATTRIBUTE_TYPE_MAPPINGS, extension.EXTENSION_MAPPINGS
        ),
        [
            certificate.create_issuer_validator_container([]),
            certificate.create_validity_validator_container(),
            certificate.create_subject_validator_container([]),
            certificate.create_extensions_validator_container([]),
            certificate.create_spki_validator_container([]),
        ],
    )


@cache
def _smime_validator(profile: BrProfile) -> Any:
    return certificate.create_pkix_certificate_validator_container(
        smime.create_decoding_validators(),
        smime.create_subscriber_validators(
            smime_constants.ValidationLevel.MAILBOX, _GENERATIONS[profile]
        ),
    )


@cache
def _chain_validators() -> tuple[Any, Any, Any]:
    return (
        chain_lint.create_decoder_validation_container(),
        chain_lint.create_issuer_validation_container(),
        chain_lint.create_subject_validation_container(),
    )
