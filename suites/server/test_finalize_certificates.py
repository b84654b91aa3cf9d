"""Finalize, issuance and revocation after email-reply-00: the CSR rules and the certificate.

RFC 8823 §3.3; RFC 8555 §7.4, §7.4.2, §7.6, §9.1, §11.1; RFC 8550; RFC 5280 §4.2.1.3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from rfc8823.acme.driver import Account, csr_field
from rfc8823.acme.problems import ProblemType
from rfc8823.certificates import inspect_certificate
from rfc8823.csr import Usage, build_csr, key_usage_from_bits
from rfc8823.findings import broken, passed
from rfc8823.report.plugin import Conformance
from rfc8823.requirements import covers
from rfc8823.tokens import b64url_encode
from rfc8823.world.keys import KeyKind

from .helpers import ServerSuite
from .issuance import (
    REFUSED_CSR,
    IssuanceFailed,
    certificate,
    csr_key,
    finalize_refused_or_issued,
    revoke,
    try_issue,
)

NAMING = ("CSR-ID-1", "A-FIN-2")
"""The rules a CSR's names are judged by: exactly the ordered addresses (RFC 8555 §7.4)."""


@covers("A-FIN-1", "A-ERR-1")
@pytest.mark.needs("challenge-email")
async def test_finalize_before_ready_is_order_not_ready(ca: ServerSuite) -> None:
    """Finalizing while the email challenge is pending: 403 orderNotReady."""
    account = await ca.account()
    flow = await ca.flow(account)
    csr = build_csr(csr_key("p256"), [flow.address], None)
    response = await account.finalize(flow.order.body, csr)
    ca.expect_refused("A-FIN-1", response, ProblemType.ORDER_NOT_READY, status=403)


@pytest.mark.needs("order-ready")
@pytest.mark.parametrize(
    "shape",
    [
        pytest.param("PEM instead of DER", marks=covers("A-FIN-1", "A-ERR-1", "A-FIN-4")),
        pytest.param("padded base64url", marks=covers("A-HTTPS-1", "A-ERR-1", "A-FIN-4")),
    ],
)
async def test_csr_encoding_rules(ca: ServerSuite, shape: str) -> None:
    """The ``csr`` member is unpadded base64url of DER: PEM or padding is refused, and the
    refusal leaves the order ready (A-FIN-4)."""
    order, body = await ca.ready_order()
    csr = build_csr(csr_key("p256"), list(order.addresses), None)
    if shape == "PEM instead of DER":
        value = b64url_encode(csr.public_bytes(serialization.Encoding.PEM))
        rule = "A-FIN-1"
    else:
        value = csr_field(csr)
        value += "=" * (-len(value) % 4) or "===="
        rule = "A-HTTPS-1"
    response = await order.account.post(str(body["finalize"]), {"csr": value})
    ca.expect_refused(rule, response, *REFUSED_CSR)
    after = await order.refresh()
    ca.check(
        "A-FIN-4",
        after.get("status") == "ready",
        f"order {after.get('status')!r} (error {after.get('error')}) after a {shape} CSR "
        "was refused",
        "ready",
    )


@covers("A-FIN-4")
@pytest.mark.needs("certificate")
async def test_refused_csr_leaves_the_order_finalizable(
    ca: ServerSuite, conformance: Conformance
) -> None:
    """A finalize refused for its CSR (it also names an address not ordered) leaves the order
    ready, and a conforming CSR then gets the certificate (RFC 8555 §7.4, §7.1.6)."""
    order, body = await ca.ready_order()
    stranger = ca.new_address("other.test")
    key = csr_key("p256")
    refused = await order.account.finalize(body, build_csr(key, [*order.addresses, stranger], None))
    if refused.status_code < 400:
        conformance.info(
            "A-FIN-4",
            f"a CSR also naming {stranger} was accepted (HTTP {refused.status_code}), so there "
            "is no refused finalize to follow (CSR-ID-1 and A-FIN-2 judge the acceptance)",
        )
        return
    shown = f"finalize refused with HTTP {refused.status_code} {refused.text[:200]}"
    after = await order.refresh()
    ca.check(
        "A-FIN-4",
        after.get("status") == "ready",
        f"order {after.get('status')!r} (error {after.get('error')}) after a {shown}",
        "ready",
    )
    try:
        outcome = await try_issue(ca, order, after, build_csr(key, list(order.addresses), None))
    except IssuanceFailed as error:
        ca.fail("A-FIN-4", f"a conforming CSR after the refused one: {error.observed}", "issued")
    if isinstance(outcome, httpx.Response):
        ca.fail(
            "A-FIN-4",
            f"a conforming CSR after the refused one: HTTP {outcome.status_code} "
            f"{outcome.text[:200]}",
            "a certificate",
        )
    conformance.record(
        passed(
            "A-FIN-4",
            f"order ready after a finalize refused with HTTP {refused.status_code}; "
            "a conforming CSR then issued",
        )
    )


USAGE_CASES: list[tuple[KeyKind, Usage | None]] = [
    ("p256", "signing"),
    ("p256", "encryption"),
    ("p256", "both"),
    ("p256", None),
    ("rsa2048", "signing"),
    ("rsa2048", "encryption"),
    ("rsa2048", "both"),
]
CAPABILITY = {"signing": "signing_only", "encryption": "encryption_only"}


USAGE_ROWS: dict[Usage | None, tuple[str, ...]] = {
    "signing": ("CSR-KU-2",),
    "encryption": ("CSR-KU-3",),
    "both": ("CSR-KU-4",),
    None: ("CSR-KU-4",),
}
CERTIFICATE_ROWS = ("CERT-1", "A-CERT-1", "A-FIN-2", "REF-5280-1", "REF-5280-2", "CSR-KU-5")


@pytest.mark.needs("certificate")
@pytest.mark.parametrize(
    ("kind", "usage"),
    [
        pytest.param(kind, usage, marks=covers(*USAGE_ROWS[usage], *CERTIFICATE_ROWS))
        for kind, usage in USAGE_CASES
    ],
    ids=lambda v: str(v),
)
async def test_issued_certificate_matches_the_request(
    ca: ServerSuite, conformance: Conformance, kind: KeyKind, usage: Usage | None
) -> None:
    """Signing-only, encryption-only or dual-use CSR: the certificate grants exactly that, or the
    CA refuses with badCSR when it does not offer that class (CSR-KU-5)."""
    order, body = await ca.ready_order()
    key = csr_key(kind)
    csr = build_csr(key, list(order.addresses), usage)
    rules = (*USAGE_ROWS[usage], "CSR-KU-5")
    outcome = await finalize_refused_or_issued(ca, order, body, csr, rules)
    asked = f"a {usage or 'no-keyUsage'} {kind} CSR"
    if isinstance(outcome, httpx.Response):
        problem = ca.expect_refused("CSR-KU-5", outcome, ProblemType.BAD_CSR)
        capability = CAPABILITY.get(usage or "")
        declared = capability is None or ca.capabilities.declared(capability)
        ca.check(
            USAGE_ROWS[usage],
            not declared,
            f"{problem} for {asked}",
            "a certificate (the CA declares this class)",
        )
        conformance.info("CSR-KU-5", f"{usage} CSRs refused: {problem.detail}")
        for rid in CERTIFICATE_ROWS[:-1]:
            conformance.info(rid, f"no certificate to judge: {asked} refused")
        return
    leaf = outcome.chain[0]
    findings = inspect_certificate(
        leaf, list(order.addresses), requested=usage, csr_key=key.public_key()
    )
    judged = {f.requirement for f in findings}
    for rid in USAGE_ROWS[usage]:
        if rid not in judged:  # the certificate grants another class: CSR-KU-5 says so
            conformance.info(rid, f"{asked}: the certificate grants another class (CSR-KU-5)")
    conformance.conclude(*findings)
    conformance.record(passed("A-FIN-2", f"{asked} for the ordered address: issued"))
    if "CSR-KU-5" not in judged:
        conformance.record(passed("CSR-KU-5", f"{asked}: honoured"))


@covers("CSR-KU-5", "A-FIN-3")
@pytest.mark.needs("order-ready")
async def test_key_usage_outside_smime_is_refused(
    ca: ServerSuite, conformance: Conformance
) -> None:
    """keyUsage asking for keyCertSign (with digitalSignature): badCSR, no CA-capable cert."""
    order, body = await ca.ready_order()
    usage = key_usage_from_bits({"digitalSignature", "keyCertSign"})
    csr = build_csr(csr_key("p256"), list(order.addresses), None, extra_extensions=[(usage, True)])
    outcome = await finalize_refused_or_issued(ca, order, body, csr, ("CSR-KU-5", "A-FIN-3"))
    if isinstance(outcome, httpx.Response):
        ca.expect_refused(("CSR-KU-5", "A-FIN-3"), outcome, ProblemType.BAD_CSR)
        return
    try:
        granted = outcome.chain[0].extensions.get_extension_for_class(x509.KeyUsage).value
        cert_sign = granted.key_cert_sign
    except x509.ExtensionNotFound:
        cert_sign = False
    ca.check(
        "CSR-KU-5",
        not cert_sign,
        f"keyCertSign {'granted' if cert_sign else 'dropped'} in an S/MIME certificate",
        "badCSR, or at least no keyCertSign",
    )
    conformance.record(
        broken("A-FIN-3", "a CSR asking for keyCertSign was issued (bit dropped)", "badCSR")
    )


@dataclass(frozen=True)
class NameCase:
    """A CSR naming case: addresses ordered, and the SAN/subject the CSR carries."""

    ordered: int
    san: Sequence[str]
    cn: str | None
    accepted: bool


def name_case(shape: str, addresses: Sequence[str], stranger: str) -> NameCase:
    """The CSR names for one CSR-ID-1 shape, given the ordered addresses."""
    first = addresses[0]
    return {
        "SAN only": NameCase(1, [first], None, True),
        "CN and SAN": NameCase(1, [first], first, True),
        "extra SAN address": NameCase(1, [first, stranger], None, False),
        "CN not ordered": NameCase(1, [first], stranger, False),
        "ordered address missing": NameCase(2, [first], None, False),
    }[shape]


@pytest.mark.needs("certificate")
@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(shape, marks=covers(*NAMING, "CERT-1") if case else covers(*NAMING))
        for shape, case in (
            ("SAN only", True),
            ("CN and SAN", True),
            ("extra SAN address", False),
            ("CN not ordered", False),
            ("ordered address missing", False),
        )
    ],
)
async def test_csr_names_exactly_the_ordered_addresses(
    ca: ServerSuite, conformance: Conformance, shape: str
) -> None:
    """Only CSRs naming exactly the ordered addresses are issued; others get badCSR."""
    count = 2 if shape == "ordered address missing" else 1
    addresses = [ca.new_address() for _ in range(count)]
    order, body = await ca.ready_order(None, *addresses)
    case = name_case(shape, addresses, ca.new_address("other.test"))
    csr = build_csr(csr_key("p256"), list(case.san), None, subject_cn=case.cn)
    outcome = await finalize_refused_or_issued(ca, order, body, csr, NAMING)
    shown = f"a CSR with {shape}: " + (
        f"HTTP {outcome.status_code} {outcome.text[:200]}"
        if isinstance(outcome, httpx.Response)
        else "a certificate"
    )
    issued = not isinstance(outcome, httpx.Response)
    ca.check(NAMING, issued == case.accepted, shown, "a certificate" if case.accepted else "badCSR")
    if isinstance(outcome, httpx.Response):
        ca.expect_refused(NAMING, outcome, ProblemType.BAD_CSR)
        return
    conformance.conclude(*inspect_certificate(outcome.chain[0], addresses, requested=None))


@covers("CSR-ID-1", "A-FIN-2")
@pytest.mark.needs("order-ready")
async def test_dns_name_holding_an_address(ca: ServerSuite, conformance: Conformance) -> None:
    """A dNSName SAN holding the address (acme_email style): badCSR, or dropped from the cert."""
    order, body = await ca.ready_order()
    address = order.addresses[0]
    extra = x509.SubjectAlternativeName([x509.RFC822Name(address), x509.DNSName(address)])
    csr = build_csr(csr_key("p256"), [], None, extra_extensions=[(extra, False)])
    outcome = await finalize_refused_or_issued(ca, order, body, csr, NAMING)
    if isinstance(outcome, httpx.Response):
        ca.expect_refused(NAMING, outcome, ProblemType.BAD_CSR)
        conformance.info("CSR-ID-1", "a dNSName holding the address: badCSR")
        return
    try:
        san = outcome.chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName)
        dns_names = san.value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        dns_names = []
    ca.check(
        NAMING,
        not dns_names,
        f"dNSName {dns_names} in an S/MIME certificate for a CSR that asked for it",
        "badCSR, or the dNSName dropped",
    )
    conformance.info("CSR-ID-1", "a dNSName holding the address was dropped from the certificate")


@covers("A-ACCTKEY-1")
@pytest.mark.needs("order-ready")
async def test_csr_with_the_account_key(ca: ServerSuite, conformance: Conformance) -> None:
    """A CSR whose key is the account key is refused (badCSR/badPublicKey); else WARN."""
    account = await ca.account(fresh=True)
    order, body = await ca.ready_order(account)
    csr = build_csr(account.key, list(order.addresses), None)
    outcome = await finalize_refused_or_issued(ca, order, body, csr, "A-ACCTKEY-1")
    if isinstance(outcome, httpx.Response):
        ca.expect_refused("A-ACCTKEY-1", outcome, ProblemType.BAD_CSR, ProblemType.BAD_PUBLIC_KEY)
    else:
        conformance.record(
            broken("A-ACCTKEY-1", "issued a certificate for the account key", "badCSR")
        )


@covers("A-REV-1", "A-ERR-1")
@pytest.mark.capability("revocation")
@pytest.mark.needs("certificate")
async def test_revocation(ca: ServerSuite) -> None:
    """Revoke by account (then alreadyRevoked); a bad reason is refused; the cert key revokes."""
    issued: list[tuple[Account, x509.Certificate, Any]] = []
    kinds: tuple[KeyKind, ...] = ("p256", "rsa2048")
    for kind in kinds:
        order, body = await ca.ready_order()
        key = csr_key(kind)
        result = await certificate(ca, order, body, build_csr(key, list(order.addresses), None))
        issued.append((order.account, result.chain[0], key))
    (account, first, _), (_, second, second_key) = issued
    response = await revoke(account, first, reason=4)
    ca.check(
        "A-REV-1", response.status_code == 200, f"revokeCert HTTP {response.status_code}", "200"
    )
    again = await revoke(account, first, reason=4)
    ca.expect_refused("A-REV-1", again, ProblemType.ALREADY_REVOKED)
    bad_reason = await revoke(account, second, reason=7)
    ca.expect_refused("A-REV-1", bad_reason, ProblemType.BAD_REVOCATION_REASON)
    by_key = await revoke(account, second, reason=None, key=second_key)
    ca.check(
        "A-REV-1",
        by_key.status_code == 200,
        f"HTTP {by_key.status_code} {by_key.text[:200]} revoking with the certificate key",
        "200",
    )
