"""Internationalised addresses: EAI identifiers end to end, U-/A-label domains, comparisons.

RFC 8823 §3, §4; RFC 6531, RFC 6532; RFC 5890; RFC 9598 (was RFC 8398).
"""

from __future__ import annotations

import secrets

import httpx
import pytest

from rfc8823.acme.driver import OrderHandle, json_object
from rfc8823.acme.problems import ProblemType
from rfc8823.certificates import inspect_certificate, parse_pem_chain
from rfc8823.csr import Usage, build_csr
from rfc8823.domains import a_label_form
from rfc8823.findings import Verdict
from rfc8823.report.plugin import Conformance
from rfc8823.requirements import covers
from rfc8823.world.keys import cached_key

from .helpers import ServerSuite

IDN_DOMAIN = "bücher.test"
"""The world's IDN domain in U-labels; ``xn--bcher-kva.test`` in A-labels."""


def eai_address(domain: str = "example.test") -> str:
    """A fresh address with a non-ASCII (Greek) local part."""
    return f"δοκιμή-{secrets.token_hex(4)}@{domain}"


def a_labels(address: str) -> str:
    """The address with its domain in A-labels."""
    local, _, domain = address.rpartition("@")
    converted, error = a_label_form(domain)
    assert error is None, f"{domain!r} has no A-label form: {error}"
    return f"{local}@{converted}"


async def issue(
    ca: ServerSuite, order: OrderHandle, csr_addresses: list[str], usage: Usage = "both"
) -> httpx.Response | list[str]:
    """Finalize with a CSR naming ``csr_addresses``: the refusal, or the cert's findings."""
    body = await order.refresh()
    key = cached_key("server-suite-csr-p256", "p256")
    response = await order.account.finalize(body, build_csr(key, csr_addresses, usage))
    if response.status_code >= 400:
        return response
    json_object(response)
    done = await order.account.wait_for_status(order.url, ("valid",), ca.timeouts.state)
    assert isinstance(done.get("certificate"), str), f"observed {done}; expected a certificate"
    chain = parse_pem_chain((await order.account.post(str(done["certificate"]), None)).text)
    findings = inspect_certificate(chain[0], list(order.addresses), requested=usage)
    return [str(f) for f in findings if f.verdict in (Verdict.FAIL, Verdict.WARN)]


@covers("I18N-1", "I18N-3", "I18N-4", "REF-8398-1")
@pytest.mark.capability("eai")
async def test_eai_address_end_to_end(ca: ServerSuite) -> None:
    """A UTF-8 local part: ordered, mailed with SMTPUTF8, validated, certified (SmtpUTF8Mailbox)."""
    address = eai_address()
    account = await ca.account()
    order = await account.new_order(address)
    flow = (await ca.flows(order))[0]
    email = await flow.receive()
    assert email.smtputf8, "observed the challenge to an EAI mailbox sent without SMTPUTF8"
    await flow.complete()
    outcome = await issue(ca, order, [address])
    assert not isinstance(outcome, httpx.Response), (
        f"observed finalize HTTP {outcome.status_code}: {outcome.text[:200]}"
    )
    assert not outcome, "certificate: " + "; ".join(outcome)


@covers("I18N-1", "A-ERR-1")
async def test_eai_order_answered_as_declared(ca: ServerSuite, conformance: Conformance) -> None:
    """An EAI identifier is accepted by a CA declaring EAI, else refused cleanly (no 5xx)."""
    account = await ca.account()
    response = await account.new_order_raw([{"type": "email", "value": eai_address()}])
    if ca.capabilities.eai:
        json_object(response, 201)
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
async def test_u_label_order_a_label_csr_and_reply(ca: ServerSuite) -> None:
    """Ordered with U-labels; the reply From and the CSR use A-labels: both match (I18N-2)."""
    address = ca.new_address(IDN_DOMAIN).replace("xn--bcher-kva.test", IDN_DOMAIN)
    account = await ca.account()
    order = await account.new_order(address)
    flow = (await ca.flows(order))[0]
    await flow.receive()
    await flow.complete(flow.reply().with_from(a_labels(address)))
    outcome = await issue(ca, order, [a_labels(address)])
    assert not isinstance(outcome, httpx.Response), (
        f"observed finalize HTTP {outcome.status_code}: {outcome.text[:200]}"
    )
    assert not outcome, "certificate: " + "; ".join(outcome)


@covers("ID-EMAIL-2", "I18N-3", "CERT-1")
async def test_a_label_domain_address(ca: ServerSuite) -> None:
    """An all-ASCII address in an IDN domain's A-labels is an ordinary address: certified."""
    address = ca.new_address(IDN_DOMAIN)
    order, _ = await ca.ready_order(None, address)
    outcome = await issue(ca, order, [address])
    assert not isinstance(outcome, httpx.Response), (
        f"observed finalize HTTP {outcome.status_code}: {outcome.text[:200]}"
    )
    assert not outcome, "certificate: " + "; ".join(outcome)


@covers("I18N-5")
async def test_reply_from_domain_case_is_ignored(ca: ServerSuite, conformance: Conformance) -> None:
    """A reply whose From domain differs only in case validates; local-part case is recorded."""
    flow = await ca.flow()
    local, _, domain = flow.address.rpartition("@")
    await flow.complete(flow.reply().with_from(f"{local}@{domain.upper()}"))
    other = await ca.flow()
    local, _, domain = other.address.rpartition("@")
    await other.answer(other.reply().with_from(f"{local.upper()}@{domain}"))
    await other.post()
    await ca.settle()
    status = (await other.account.fetch(other.challenge_url)).get("status")
    conformance.info(
        "I18N-5",
        f"a reply whose From local part differs in case left the challenge {status}",
    )
