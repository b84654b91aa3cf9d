"""pkilint findings on catalog rows: the data table, the verdict mapping, the reference profile.

RFC 5280 lints on REF-5280 rows (FAIL for ERROR, WARN for WARNING), S/MIME BR lints on
REF-SMBR rows (WARN), unmapped codes INFO naming the code, test-environment findings INFO with
the reason; the reference CA's certificates pass with nothing above INFO.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from pkilint import report
from pkilint.bin import lint_pkix_signer_signee_cert_chain as chain_lint
from pkilint.cabf.smime import smime_constants

from rfc8823.certificate_lint import pkilint_version
from rfc8823.certificate_lint.judge import CHAIN_ROW, lint_certificate, lint_finding
from rfc8823.certificate_lint.runner import LintResult, _pkix_validator, _smime_validator
from rfc8823.certificate_lint.table import lint_table, parse_lint_table
from rfc8823.certificates import crl_signed_by
from rfc8823.csr import Usage, build_csr, key_usage_bits, key_usage_from_bits
from rfc8823.findings import Finding, Verdict, failures
from rfc8823.server.issuer import IssuedCertificate, IssuePlan, Issuer
from rfc8823.server.publication import build_crl, publication_at
from rfc8823.smime_br import BR_PROFILES, POLICY_OIDS, BrProfile, br_profile
from rfc8823.world.keys import KeyKind, cached_key
from rfc8823.world.pki import TestPki

ALICE = "alice@example.test"
LABEL = "test certificate"


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return TestPki.load()


@pytest.fixture(scope="module")
def issuer(pki: TestPki) -> Issuer:
    issuer = Issuer.from_pki(pki)
    issuer.publish(publication_at("http://127.0.0.1:8089"))
    return issuer


def plan_for(issuer: Issuer, kind: KeyKind = "p256", usage: Usage = "both") -> IssuePlan:
    key = cached_key("csr-applicant", kind)
    csr = build_csr(key, [ALICE], usage)
    return issuer.check(csr.public_bytes(serialization.Encoding.DER), [ALICE])


def lint(
    pki: TestPki, issued: IssuedCertificate, profile: BrProfile | None = "mailbox-strict"
) -> tuple[Finding, ...]:
    return lint_certificate(
        issued.cert,
        issued.chain,
        anchors=[pki.smime_root.cert],
        profile=profile,
        label=LABEL,
    )


def broken_rows(findings: Sequence[Finding]) -> dict[str, Verdict]:
    return {f.requirement: f.verdict for f in failures(findings)}


@pytest.mark.parametrize(("kind", "usage"), [("p256", "both"), ("rsa2048", "encryption")])
@pytest.mark.parametrize("profile", [None, *BR_PROFILES])
def test_reference_certificates_pass_with_nothing_above_info(
    pki: TestPki, issuer: Issuer, kind: KeyKind, usage: Usage, profile: BrProfile | None
) -> None:
    generation = Issuer.from_pki(pki, profile=profile or "mailbox-strict")
    generation.publish(issuer.publication)  # type: ignore[arg-type]
    findings = lint(pki, generation.issue(plan_for(generation, kind, usage)), profile)
    broken = failures(findings)
    if profile == "mailbox-legacy":
        assert [f.requirement for f in broken] == ["REF-SMBR-5"]
        assert "legacy_generation_certificate_issued_after_prohibition" in broken[0].observed
    else:
        assert broken == []
    passed = {f.requirement for f in findings if f.verdict is Verdict.PASS}
    expected = set(lint_table().judged["pkix"])
    if profile is not None:
        expected |= set(lint_table().judged["smime-br"]) - {f.requirement for f in broken}
    assert passed == expected


def test_test_environment_findings_are_info_with_the_reason(pki: TestPki, issuer: Issuer) -> None:
    findings = lint(pki, issuer.issue(plan_for(issuer)))
    internal = [f for f in findings if "cabf.internal_domain_name" in f.observed]
    assert {f.verdict for f in internal} == {Verdict.INFO}
    assert any("example.test" in f.observed and "RFC 6761" in f.detail for f in internal)
    assert any("127.0.0.1" in f.observed and "loopback" in f.detail for f in internal)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"subject": x509.Name([]), "san_critical": False},
            {"REF-5280-6": Verdict.FAIL},
        ),
        (
            {
                "key_usage": key_usage_from_bits(
                    {"digitalSignature", "keyAgreement", "keyEncipherment"}
                )
            },
            {"REF-5280-7": Verdict.FAIL, "REF-SMBR-3": Verdict.WARN},
        ),
        (
            {
                "extended_key_usage": (
                    ExtendedKeyUsageOID.EMAIL_PROTECTION,
                    ExtendedKeyUsageOID.SERVER_AUTH,
                )
            },
            {"REF-SMBR-3": Verdict.WARN},
        ),
        ({"certificate_policies": False}, {"REF-SMBR-1": Verdict.WARN}),
    ],
    ids=["empty-subject-non-critical-san", "ec-key-encipherment", "server-auth", "no-policies"],
)
def test_each_fault_breaks_its_rows_alone(
    pki: TestPki, issuer: Issuer, change: dict[str, object], expected: dict[str, Verdict]
) -> None:
    plan = dataclasses.replace(plan_for(issuer), **change)  # type: ignore[arg-type]
    assert broken_rows(lint(pki, issuer.issue(plan))) == expected


def test_non_critical_san_with_a_subject_warns_not_fails(pki: TestPki, issuer: Issuer) -> None:
    plan = dataclasses.replace(plan_for(issuer), san_critical=True)
    assert broken_rows(lint(pki, issuer.issue(plan), None)) == {"REF-5280-6": Verdict.WARN}


def test_without_a_profile_no_br_row_is_judged(pki: TestPki, issuer: Issuer) -> None:
    plan = dataclasses.replace(plan_for(issuer), certificate_policies=False)
    findings = lint(pki, issuer.issue(plan), None)
    assert failures(findings) == []
    assert not any(f.requirement.startswith("REF-SMBR") for f in findings)


def test_a_chain_to_another_anchor_breaks_the_chain_row(pki: TestPki, issuer: Issuer) -> None:
    issued = issuer.issue(plan_for(issuer))
    findings = lint_certificate(
        issued.cert, issued.chain, anchors=[pki.untrusted_root.cert], profile=None, label=LABEL
    )
    assert broken_rows(findings) == {CHAIN_ROW: Verdict.FAIL}
    assert "no path to a declared anchor" in failures(findings)[0].observed


def test_a_missing_intermediate_breaks_the_chain_row(pki: TestPki, issuer: Issuer) -> None:
    issued = issuer.issue(plan_for(issuer))
    findings = lint_certificate(
        issued.cert, [], anchors=[pki.smime_root.cert], profile=None, label=LABEL
    )
    assert broken_rows(findings) == {CHAIN_ROW: Verdict.FAIL}


def test_no_declared_anchor_is_recorded_not_judged(pki: TestPki, issuer: Issuer) -> None:
    issued = issuer.issue(plan_for(issuer))
    findings = lint_certificate(issued.cert, issued.chain, anchors=[], profile=None, label=LABEL)
    chain = [f for f in findings if f.requirement == CHAIN_ROW]
    assert [f.verdict for f in chain] == [Verdict.INFO, Verdict.PASS]
    assert "no trust anchor declared" in chain[0].observed


@pytest.mark.parametrize(
    ("severity", "code", "row", "verdict"),
    [
        ("ERROR", "pkix.san_extension_not_critical_empty_subject", "REF-5280-6", Verdict.FAIL),
        ("FATAL", "itu.invalid_asn1_syntax", "REF-5280-3", Verdict.FAIL),
        ("WARNING", "pkix.key_usage_extension_not_critical", "REF-5280-7", Verdict.WARN),
        ("NOTICE", "pkix.unknown_extension", "REF-5280-3", Verdict.INFO),
        ("ERROR", "cabf.smime.prohibited_eku_present", "REF-SMBR-3", Verdict.WARN),
        (
            "ERROR",
            "cabf.smime.certificate_validity_period_exceeds_825_days",
            "REF-SMBR-5",
            Verdict.WARN,
        ),
        ("ERROR", "pkix.some_future_lint", "REF-5280-9", Verdict.INFO),
        ("ERROR", "cabf.smime.some_future_lint", "REF-SMBR-7", Verdict.INFO),
    ],
)
def test_severity_and_code_decide_row_and_verdict(
    severity: str, code: str, row: str, verdict: Verdict
) -> None:
    finding = lint_finding(LintResult(severity, code, "", "certificate"), lint_table(), LABEL)
    assert (finding.requirement, finding.verdict) == (row, verdict)
    assert code in finding.observed + finding.detail


def test_unmapped_code_says_so() -> None:
    result = LintResult("ERROR", "pkix.some_future_lint", "m", "certificate.tbsCertificate.x")
    finding = lint_finding(result, lint_table(), LABEL)
    assert "not mapped" in finding.detail
    assert finding.observed == f"{LABEL}: pkilint ERROR pkix.some_future_lint at x: m"


def test_an_exemption_needs_its_message() -> None:
    table = lint_table()
    public = LintResult("ERROR", "cabf.internal_domain_name", 'Internal: "corp.local"', "p")
    assert lint_finding(public, table, LABEL).verdict is Verdict.WARN


def declared_codes() -> set[str]:
    """Every code pkilint's validators declare, as its `validations` commands list them."""
    containers = [_pkix_validator(), *chain_lint_containers()]
    containers += [_smime_validator(profile) for profile in BR_PROFILES]
    text = report.report_included_validations(*containers)
    return {line.split(",")[1] for line in text.splitlines()[1:] if "," in line}


def chain_lint_containers() -> list[object]:
    return [
        chain_lint.create_decoder_validation_container(),
        chain_lint.create_issuer_validation_container(),
        chain_lint.create_subject_validation_container(),
    ]


def test_every_code_pkilint_declares_has_a_row() -> None:
    table = lint_table()
    unmapped = sorted(
        code
        for code in declared_codes()
        if table.row_for(code) is None and code != "base.unhandled_exception"
    )
    assert unmapped == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[linters.pkix]\nprefixes=['pkix.']\nfallback='REF-5280-9'\n", "must name exactly"),
        (
            "[linters.pkix]\nprefixes=['pkix.']\nfallback='REF-5280-9'\n"
            "[linters.smime-br]\nprefixes=['cabf.']\nfallback='REF-SMBR-7'\n"
            "[[row]]\nid='REF-5280-3'\nlinter='x'\ncodes=['a']\n",
            "linter must be one of",
        ),
        (
            "[linters.pkix]\nprefixes=['pkix.']\nfallback='REF-5280-9'\n"
            "[linters.smime-br]\nprefixes=['cabf.']\nfallback='REF-SMBR-7'\n"
            "[[row]]\nid='REF-5280-3'\nlinter='pkix'\ncodes=['a']\n"
            "[[row]]\nid='REF-5280-4'\nlinter='pkix'\ncodes=['a']\n",
            "listed on REF-5280-3 already",
        ),
        (
            "[linters.pkix]\nprefixes=['pkix.']\nfallback='REF-5280-9'\n"
            "[linters.smime-br]\nprefixes=['cabf.']\nfallback='REF-SMBR-7'\n"
            "[[row]]\nid='REF-NOPE-1'\nlinter='pkix'\ncodes=['a']\n",
            "unknown requirement",
        ),
    ],
)
def test_malformed_tables_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_lint_table(text)


def test_br_profiles_match_pkilint_policy_oids() -> None:
    generations = {
        "mailbox-strict": smime_constants.Generation.STRICT,
        "mailbox-multipurpose": smime_constants.Generation.MULTIPURPOSE,
        "mailbox-legacy": smime_constants.Generation.LEGACY,
    }
    for profile, generation in generations.items():
        oid = smime_constants.get_policy_oid(smime_constants.ValidationLevel.MAILBOX, generation)
        assert POLICY_OIDS[br_profile(profile)] == str(oid)
    assert br_profile("legacy") == "mailbox-legacy"
    with pytest.raises(ValueError, match="unknown S/MIME BR profile"):
        br_profile("sponsored-strict")


def test_issuer_refuses_a_lifetime_beyond_the_profile(pki: TestPki) -> None:
    from datetime import timedelta

    with pytest.raises(ValueError, match="825 days"):
        Issuer.from_pki(pki, validity=timedelta(days=826))
    assert Issuer.from_pki(pki, validity=timedelta(days=900), profile="mailbox-legacy")


def test_the_certificate_names_policy_crl_and_ca_issuers(issuer: Issuer) -> None:
    cert = issuer.issue(plan_for(issuer)).cert
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in policies] == ["2.23.140.1.5.1.3"]
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert points[0].full_name[0].value == "http://127.0.0.1:8089/crl/acme-issuing.crl"
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert aia[0].access_location.value == "http://127.0.0.1:8089/ca/acme-issuing.cer"
    assert key_usage_bits(cert.extensions.get_extension_for_class(x509.KeyUsage).value)


def test_pkilint_version_is_the_installed_one() -> None:
    assert pkilint_version().count(".") >= 1


def test_crl_lists_revoked_serials_with_reasons(pki: TestPki) -> None:
    from datetime import UTC, datetime

    from rfc8823.server.records import CertificateRecord

    authority = pki.acme_issuing
    records = [
        CertificateRecord("a", "o", "acct", "1f", b"", "", 2e9, 1.7e9, 4),
        CertificateRecord("b", "o", "acct", "20", b"", "", 2e9, 1.7e9, 0),
    ]
    crl = x509.load_der_x509_crl(
        build_crl(authority.cert, authority.key, records, datetime.now(UTC))
    )
    assert crl_signed_by(crl, authority.cert)
    first = crl.get_revoked_certificate_by_serial_number(0x1F)
    assert first is not None
    assert first.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
        x509.ReasonFlags.superseded
    )
    second = crl.get_revoked_certificate_by_serial_number(0x20)
    assert second is not None
    assert len(second.extensions) == 0
