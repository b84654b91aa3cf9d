"""pkilint findings on a certificate and its chain, judged on the catalog rows.

RFC 5280 §4 and §6.1 lints on the REF-5280 rows; S/MIME BR §7.1 lints on the REF-SMBR rows
under a declared profile; the data table (``rows.toml``) says which code goes where.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from rfc8823.certificate_lint import pkilint_version
from rfc8823.certificate_lint.runner import LintResult, lint_leaf, lint_pair
from rfc8823.certificate_lint.table import Linter, LintTable, lint_table
from rfc8823.findings import Finding, Verdict, broken, info, passed, risk
from rfc8823.requirements import load_catalog
from rfc8823.smime_br import BrProfile

CHAIN_ROW = "REF-5280-10"
"""The row of the chain: issuer names, key identifiers, signatures, path to an anchor."""
_BREAKING = frozenset({"FATAL", "ERROR"})
_PATH_PREFIX = "certificate.tbsCertificate."


def lint_certificate(
    leaf: x509.Certificate,
    chain: Sequence[x509.Certificate],
    *,
    anchors: Sequence[x509.Certificate],
    profile: BrProfile | None,
    label: str,
) -> tuple[Finding, ...]:
    """Every lint finding on ``leaf`` and its ``chain`` (leaf's issuer first), as Findings.

    Each row the run judges gets a PASS when nothing breaks it. ``label`` names the
    certificate in each finding (the reports list findings under their rows). RFC 5280 §4,
    §6.1; S/MIME BR §7.1.
    """
    table = lint_table()
    findings = [
        *_findings(lint_leaf(_der(leaf), profile), table, label),
        *_chain_findings(leaf, chain, anchors, table, label),
    ]
    linters: tuple[Linter, ...] = ("pkix",) if profile is None else ("pkix", "smime-br")
    judged = {f.requirement for f in findings if f.verdict is not Verdict.INFO}
    version = pkilint_version()
    for linter in linters:
        for row in table.judged[linter]:
            if row not in judged:
                findings.append(
                    passed(row, f"{label}: pkilint {version} found nothing against this row")
                )
    return tuple(findings)


def _findings(results: Sequence[LintResult], table: LintTable, label: str) -> list[Finding]:
    return [lint_finding(result, table, label) for result in results]


def lint_finding(result: LintResult, table: LintTable, label: str) -> Finding:
    """One pkilint finding on its row: FATAL/ERROR break it, WARNING warns, the rest inform."""
    where = result.path.removeprefix(_PATH_PREFIX)
    text = f": {result.message}" if result.message else ""
    observed = f"{label}: pkilint {result.severity} {result.code} at {where}{text}"
    row = table.row_for(result.code)
    if row is None:
        return info(
            table.fallback_for(result.code),
            observed,
            f"pkilint code {result.code} is not mapped to a catalog row",
        )
    exemption = table.exemption(result.code, result.message)
    if exemption is not None:
        return info(row, observed, f"caused by the test environment: {exemption.reason}")
    expected = f"no pkilint {result.severity} finding ({load_catalog()[row].reference})"
    if result.severity in _BREAKING:
        return broken(row, observed, expected)
    if result.severity == "WARNING":
        return risk(row, observed, expected)
    return info(row, observed)


def _chain_findings(
    leaf: x509.Certificate,
    chain: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    table: LintTable,
    label: str,
) -> list[Finding]:
    """pkilint's chain lints along the path, and whether the path reaches a declared anchor."""
    path, gap = _path(leaf, chain, anchors)
    findings: list[Finding] = []
    for subject, issuer in itertools.pairwise(path):
        findings += _findings(lint_pair(_der(issuer), _der(subject)), table, label)
    end = path[-1]
    if not anchors:
        findings.append(info(CHAIN_ROW, f"{label}: no trust anchor declared; path not checked"))
    elif gap is not None:
        findings.append(
            broken(
                CHAIN_ROW,
                f"{label}: no path to a declared anchor: {gap}",
                "each certificate issued and signed by the next, up to a declared trust anchor "
                "(RFC 5280 §6.1)",
            )
        )
    else:
        findings.append(
            passed(
                CHAIN_ROW,
                f"{label}: {len(path) - 1} signature(s) up to {end.subject.rfc4514_string()}",
            )
        )
    return findings


def _path(
    leaf: x509.Certificate,
    chain: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
) -> tuple[list[x509.Certificate], str | None]:
    """The certificates from ``leaf`` up to an anchor, and what stopped the walk (None: none)."""
    path, spare = [leaf], list(chain)
    while True:
        current = path[-1]
        anchor = next((a for a in anchors if _issued_by(current, a)), None)
        if anchor is not None:
            return [*path, anchor], None
        parent = next((c for c in spare if _issued_by(current, c)), None)
        if parent is None:
            return path, (
                f"nothing in the chain or the anchors issued and signed "
                f"{current.subject.rfc4514_string() or 'the empty subject'} "
                f"(issuer {current.issuer.rfc4514_string()})"
            )
        spare.remove(parent)
        path.append(parent)


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)
