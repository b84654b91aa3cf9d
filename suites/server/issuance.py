"""Finalize and download, as the server suite's tests need them (RFC 8555 §7.4, §7.4.2).

A test either judges issuance (``finalize_refused_or_issued`` with the rows a failed issuance
breaks) or only needs a certificate to go on (``certificate``: BLOCKED on CERTIFICATE when
there is none, docs/decisions.md#decision-9). ``try_issue`` does the work without judging, for the
happy path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from rfc8823.acme.driver import Account, OrderHandle, json_object
from rfc8823.acme.problems import ProblemType
from rfc8823.certificate_lint.judge import lint_certificate
from rfc8823.certificates import parse_pem_chain
from rfc8823.findings import Finding
from rfc8823.report.outcomes import Blocked
from rfc8823.tokens import b64url_encode
from rfc8823.world.keys import KeyKind, PrivateKey, cached_key

from .helpers import ServerSuite
from .prerequisites import CERTIFICATE

PEM_CHAIN = "application/pem-certificate-chain"
REFUSED_CSR = (ProblemType.BAD_CSR, ProblemType.MALFORMED)


def csr_key(kind: KeyKind) -> PrivateKey:
    """A cached key for CSRs, never an account key."""
    return cached_key(f"server-suite-csr-{kind}", kind)


@dataclass
class Issued:
    """A finalized order and what came of it."""

    order: dict[str, Any]
    response: httpx.Response
    chain: list[x509.Certificate]

    @property
    def media_type(self) -> str:
        """The download's Content-Type without parameters (A-CERT-1)."""
        return str(self.response.headers.get("Content-Type", "")).split(";")[0].strip()


class IssuanceFailed(Exception):
    """Finalize was accepted but no certificate came of it; ``observed`` says what happened."""

    def __init__(self, observed: str) -> None:
        self.observed = observed
        super().__init__(observed)


async def try_download(ca: ServerSuite, order: OrderHandle) -> Issued:
    """Wait for the finalized order to be valid, then POST-as-GET its chain; no judging."""
    account = order.account
    try:
        done = await account.wait_for_status(order.url, ("valid",), ca.timeouts.state)
    except AssertionError as error:
        raise IssuanceFailed(f"reading the order: {error}") from error
    if done.get("status") != "valid":
        raise IssuanceFailed(
            f"order {done.get('status')!r} after finalize (error {done.get('error')})"
        )
    url = done.get("certificate")
    if not isinstance(url, str):
        raise IssuanceFailed(f"a valid order without a certificate URL: {done}")
    response = await account.post(url, None)
    if response.status_code != 200:
        raise IssuanceFailed(f"certificate download HTTP {response.status_code}")
    try:
        chain = parse_pem_chain(response.text)
    except ValueError as error:
        raise IssuanceFailed(f"a download that is no PEM chain: {error}") from error
    if not chain:
        raise IssuanceFailed("a download without a certificate")
    return Issued(done, response, chain)


async def try_issue(
    ca: ServerSuite, order: OrderHandle, body: dict[str, Any], csr: x509.CertificateSigningRequest
) -> Issued | httpx.Response:
    """Finalize: the issued certificate, or the refusal; IssuanceFailed in between."""
    response = await order.account.finalize(body, csr)
    if response.status_code >= 400:
        return response
    try:
        json_object(response)
    except AssertionError as error:
        raise IssuanceFailed(f"finalize answered {error}") from error
    return await try_download(ca, order)


async def finalize_refused_or_issued(
    ca: ServerSuite,
    order: OrderHandle,
    body: dict[str, Any],
    csr: x509.CertificateSigningRequest,
    rules: str | tuple[str, ...],
) -> Issued | httpx.Response:
    """Finalize, judged: the certificate, or the refusal response. Accepted but never issued
    breaks ``rules``; a download that is not a PEM chain breaks A-CERT-1."""
    try:
        outcome = await try_issue(ca, order, body, csr)
    except IssuanceFailed as error:
        ca.fail(rules, f"finalize accepted, then {error.observed}", "a certificate")
    if not isinstance(outcome, httpx.Response):
        media = outcome.media_type
        ca.check("A-CERT-1", media == PEM_CHAIN, f"certificate Content-Type {media!r}", PEM_CHAIN)
        record_lint(ca, outcome)
    return outcome


def anchors(ca: ServerSuite) -> list[x509.Certificate]:
    """The trust anchors the CA declares, read from their PEM files."""
    return [
        cert
        for path in ca.endpoints.smime_trust_anchors
        for cert in x509.load_pem_x509_certificates(Path(path).read_bytes())
    ]


def lint(ca: ServerSuite, issued: Issued, label: str = "") -> tuple[Finding, ...]:
    """pkilint's findings on the issued leaf and its chain (RFC 5280; S/MIME BR if declared)."""
    leaf = issued.chain[0]
    return lint_certificate(
        leaf,
        issued.chain[1:],
        anchors=anchors(ca),
        profile=ca.capabilities.smime_br_profile,
        label=label or f"certificate {leaf.serial_number:x}",
    )


def record_lint(ca: ServerSuite, issued: Issued) -> None:
    """Record the lint findings of a certificate a test obtained (they judge its profile)."""
    ca.conformance.record(*lint(ca, issued))


async def revoke(
    account: Account, cert: x509.Certificate, *, reason: int | None, key: Any = None
) -> httpx.Response:
    """revokeCert for ``cert``: with the account (``kid``) or, given ``key``, the cert key (jwk)."""
    payload: dict[str, Any] = {
        "certificate": b64url_encode(cert.public_bytes(serialization.Encoding.DER))
    }
    if reason is not None:
        payload["reason"] = reason
    url = await account.driver.url("revokeCert")
    if key is None:
        return await account.post(url, payload)
    return await account.driver.post(url, payload, key=key, kid=None)


async def certificate(
    ca: ServerSuite,
    order: OrderHandle,
    body: dict[str, Any],
    csr: x509.CertificateSigningRequest,
    *,
    linted: bool = True,
) -> Issued:
    """A certificate the test needs (it judges something else): BLOCKED on CERTIFICATE when
    the CA refuses the conforming CSR or issues nothing. Its lint findings are recorded unless
    the test judges them itself (``linted=False``)."""
    try:
        outcome = await try_issue(ca, order, body, csr)
    except IssuanceFailed as error:
        raise Blocked(CERTIFICATE, f"finalize accepted, then {error.observed}") from error
    if isinstance(outcome, httpx.Response):
        raise Blocked(
            CERTIFICATE, f"finalize refused: HTTP {outcome.status_code} {outcome.text[:300]}"
        )
    if linted:
        record_lint(ca, outcome)
    return outcome
