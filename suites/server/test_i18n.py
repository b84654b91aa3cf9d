"""Internationalised addresses: EAI identifiers end to end, U-/A-label domains, comparisons.

RFC 8823 §3, §4; RFC 6531, RFC 6532; RFC 5890; RFC 9598 (was RFC 8398).
"""

from __future__ import annotations

import secrets

import httpx
import pytest

from rfc8823.acme.driver import OrderHandle
from rfc8823.acme.problems import ProblemType
from rfc8823.certificates import inspect_certificate
from rfc8823.csr import build_csr
from rfc8823.domains import a_label_form
from rfc8823.findings import passed
from rfc8823.report.outcomes import HarnessError
from rfc8823.report.plugin import Conformance
from rfc8823.requirements import covers

from .helpers import ServerSuite
from .issuance import csr_key, finalize_refused_or_issued
from .replies import expect_validated, post_once

IDN_DOMAIN = "bücher.test"
"""The world's IDN domain in U-labels; ``xn--bcher-kva.test`` in A-labels."""


def eai_address(domain: str = "example.test") -> str:
    """A fresh address with a non-ASCII (Greek) local part."""
    return f"δοκιμή-{secrets.token_hex(4)}@{domain}"


def a_labels(address: str) -> str:
    """The address with its domain in A-labels."""
    local, _, domain = address.rpartition("@")
    converted, error = a_label_form(domain)
    if error is not None:
        raise HarnessError(f"the world's domain {domain!r} has no A-label form: {error}")
    return f"{local}@{converted}"


async def issue(
    ca: ServerSuite,
    conformance: Conformance,
    order: OrderHandle,
    csr_addresses: list[str],
    rules: tuple[str, ...],
) -> None:
    """Finalize with a CSR naming ``csr_addresses`` (no keyUsage) and judge the certificate:
    refused or not issued breaks ``rules``; the certificate's findings are recorded."""
    body = await order.refresh()
    csr = build_csr(csr_key("p256"), csr_addresses, None)
    outcome = await finalize_refused_or_issued(ca, order, body, csr, rules)
    if isinstance(outcome, httpx.Response):
        ca.fail(
            rules,
            f"a CSR naming {csr_addresses} refused: HTTP {outcome.status_code} "
            f"{outcome.text[:200]}",
            "a certificate",
        )
    conformance.conclude(
        *inspect_certificate(outcome.chain[0], list(order.addresses), requested=None)
    )


@covers("I18N-1", "I18N-3", "I18N-4", "REF-8398-1", "CERT-1")
@pytest.mark.capability("eai")
@pytest.mark.needs("certificate")
async def test_eai_address_end_to_end(ca: ServerSuite, conformance: Conformance) -> None:
    """A UTF-8 local part: ordered, mailed with SMTPUTF8, validated, certified (SmtpUTF8Mailbox)."""
    address = eai_address()
    account = await ca.account()
    order = await ca.order(account, address)
    flow = (await ca.flows(order))[0]
    email = await flow.receive()
    ca.check(
        "I18N-4",
        email.smtputf8,
        f"the challenge to {address} sent {'with' if email.smtputf8 else 'without'} SMTPUTF8",
        "SMTPUTF8 (RFC 6531)",
    )
    await flow.answer()
    await expect_validated(conformance, flow, "I18N-1", f"a reply from {address}")
    await issue(ca, conformance, order, [address], ("I18N-1", "I18N-3"))


@covers("I18N-1", "A-ERR-1")
@pytest.mark.needs("account")
async def test_eai_order_answered_as_declared(ca: ServerSuite, conformance: Conformance) -> None:
    """An EAI identifier is accepted by a CA declaring EAI, else refused cleanly (no 5xx)."""
    account = await ca.account()
    response = await account.new_order_raw([{"type": "email", "value": eai_address()}])
    if ca.capabilities.eai:
        ca.check(
            "I18N-1",
            response.status_code == 201,
            f"newOrder for an EAI address HTTP {response.status_code}: {response.text[:200]}",
            "201 from a CA declaring eai",
        )
        conformance.info("A-ERR-1", "no error to judge: the order was created")
        return
    ca.expect_refused(
        "I18N-1",
        response,
        ProblemType.REJECTED_IDENTIFIER,
        ProblemType.UNSUPPORTED_IDENTIFIER,
        ProblemType.MALFORMED,
    )
    conformance.info("I18N-1", "EAI identifiers refused (not declared)")


@covers("I18N-2", "I18N-3", "CERT-1")
@pytest.mark.capability("eai")
@pytest.mark.needs("certificate")
async def test_u_label_order_a_label_csr_and_reply(
    ca: ServerSuite, conformance: Conformance
) -> None:
    """Ordered with U-labels; the reply From and the CSR use A-labels: both match (I18N-2)."""
    address = ca.new_address(IDN_DOMAIN).replace("xn--bcher-kva.test", IDN_DOMAIN)
    account = await ca.account()
    order = await ca.order(account, address)
    flow = (await ca.flows(order))[0]
    await flow.receive()
    await flow.answer(flow.reply().with_from(a_labels(address)))
    await expect_validated(
        conformance, flow, "I18N-2", f"a reply From {a_labels(address)} for {address}"
    )
    await issue(ca, conformance, order, [a_labels(address)], ("I18N-2",))


@covers("ID-EMAIL-2", "I18N-3", "CERT-1")
@pytest.mark.needs("certificate")
async def test_a_label_domain_address(ca: ServerSuite, conformance: Conformance) -> None:
    """An all-ASCII address in an IDN domain's A-labels is an ordinary address: certified."""
    address = ca.new_address(IDN_DOMAIN)
    order, _ = await ca.ready_order(None, address)
    conformance.record(passed("ID-EMAIL-2", f"{address} ordered and validated"))
    await issue(ca, conformance, order, [address], ("ID-EMAIL-2",))


@covers("I18N-5")
@pytest.mark.needs("barrier")
async def test_reply_from_domain_case_is_ignored(ca: ServerSuite, conformance: Conformance) -> None:
    """A reply whose From domain differs only in case validates; local-part case is recorded."""
    flow = await ca.flow()
    local, _, domain = flow.address.rpartition("@")
    await flow.answer(flow.reply().with_from(f"{local}@{domain.upper()}"))
    await expect_validated(conformance, flow, "I18N-5", f"a reply From {local}@{domain.upper()}")
    other = await ca.flow()
    local, _, domain = other.address.rpartition("@")
    await other.answer(other.reply().with_from(f"{local.upper()}@{domain}"))
    await post_once(other)
    await ca.settle(other)
    challenge, _ = await other.read()
    conformance.info(
        "I18N-5",
        f"a reply whose From local part differs in case left the challenge "
        f"{challenge.get('status')}",
    )
