"""Order resources of the reference CA: new order, fetch, finalize, certificate (RFC 8555 §7.4)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from starlette.requests import Request
from starlette.responses import Response

from rfc8823.acme.identifier import EMAIL_REPLY_00, Identifier
from rfc8823.acme.jws import AccountPublicKey
from rfc8823.acme.objects import OrderStatus
from rfc8823.acme.problems import ERROR_URN_PREFIX, AcmeProblemError, Problem, ProblemType
from rfc8823.csr import (
    ENCRYPTION_BITS,
    encryption_bit,
    inspect_csr,
    key_usage_bits,
    key_usage_from_bits,
)
from rfc8823.messages.headers import normalize_address
from rfc8823.server.handler_context import CertificateIssuer, HandlerContext
from rfc8823.server.identifiers import check_order_identifiers
from rfc8823.server.issuer import CsrRejected, IssuePlan
from rfc8823.server.payload_fields import strict_b64url
from rfc8823.server.records import AccountRecord, OrderRecord
from rfc8823.server.refusals import Refusal, refuse
from rfc8823.server.request_auth import require_owner
from rfc8823.server.responses import resource_url
from rfc8823.tokens import b64url_encode, new_token_part

PEM_CHAIN_TYPE = "application/pem-certificate-chain"


async def new_order(ctx: HandlerContext, request: Request) -> Response:
    """Create an order for ``email`` identifiers; no mail yet (RFC 8555 §7.4; ID-EMAIL-*)."""
    signed = await ctx.auth.verified(request, "kid")
    account = signed.require_account()
    payload = signed.payload()
    if "notBefore" in payload or "notAfter" in payload:
        raise refuse(ProblemType.MALFORMED, "notBefore/notAfter are not supported")
    identifiers = check_order_identifiers(
        payload.get("identifiers"),
        ctx.config.faults,
        dns_addresses=ctx.config.accept_dns_address_identifiers,
    )
    if isinstance(identifiers, Problem):
        raise AcmeProblemError(identifiers)
    addresses = [normalize_address(i.value) for i in identifiers]
    now = ctx.clock()
    if not ctx.config.faults.on("no-rate-limit"):
        _rate_limit(ctx, addresses, now)
    record = ctx.store.create_order(
        account_id=account.id,
        identifiers=identifiers,
        addresses=addresses,
        challenge_type=EMAIL_REPLY_00,
        token_part2s=[_token_part2(ctx, address) for address in addresses],
        now=now,
        order_expires=now + ctx.config.order_lifetime,
        authz_expires=now + ctx.config.authz_lifetime,
    )
    location = resource_url(request, f"acme/order/{record.id}")
    body = ctx.views.order(request, record)
    if ctx.config.faults.on("new-order-without-expires"):
        del body["expires"]
    return ctx.answers.json(request, body, status=201, location=location)


def _token_part2(ctx: HandlerContext, address: str) -> str:
    """A fresh token-part2 for a new challenge (TOK-1, TOK-6), or under ``token-part2-reused``
    one derived from the address, the same for every challenge to it."""
    if ctx.config.faults.on("token-part2-reused"):
        digest = hashlib.sha256(f"token-part2:{address}".encode()).digest()
        return b64url_encode(digest[: ctx.config.token_part2_octets])
    return new_token_part(ctx.config.token_part2_octets)


async def order(ctx: HandlerContext, request: Request) -> Response:
    """An order (POST-as-GET; RFC 8555 §7.1.3)."""
    signed = await ctx.auth.verified(request, "kid")
    signed.require_post_as_get()
    record = _order_of(ctx, request, signed.require_account())
    retry = ctx.answers.retry_after(record.status is OrderStatus.PROCESSING)
    return ctx.answers.json(request, ctx.views.order(request, record), retry_after=retry)


async def finalize(ctx: HandlerContext, request: Request) -> Response:
    """Check the CSR and issue (RFC 8555 §7.4; A-FIN-1..3, CSR-*, CERT-1)."""
    signed = await ctx.auth.verified(request, "kid")
    account = signed.require_account()
    record = _order_of(ctx, request, account)
    payload = signed.payload()
    faults = ctx.config.faults
    if record.status is not OrderStatus.READY:
        if faults.on("finalize-before-ready"):  # no refusal; the issuance then cannot start
            raise refuse(
                ProblemType.SERVER_INTERNAL,
                f"issuance failed: the order is {record.status.value} (finalize-before-ready)",
            )
        raise refuse(
            ProblemType.ORDER_NOT_READY,
            f"the order is {record.status.value}, not ready (A-FIN-1)",
        )
    if faults.on("refuse-every-csr"):
        raise refuse(ProblemType.BAD_CSR, "this CA refuses every CSR (fault refuse-every-csr)")
    issuer = ctx.issuer
    if issuer is None:
        raise refuse(ProblemType.SERVER_INTERNAL, "this CA has no issuer configured")
    try:
        plan = _checked_csr(ctx, issuer, record, payload.get("csr"), signed.key)
    except AcmeProblemError as refusal:
        if faults.on("refused-csr-ends-order"):
            ctx.store.fail_processing(record.id, refusal.problem)
        raise
    if faults:
        plan = _plan_with_faults(ctx, plan)
    ctx.store.start_processing(record.id)
    try:
        issued = issuer.issue(plan, now=datetime.fromtimestamp(ctx.clock(), UTC))
    except Exception:
        problem = Problem.of(ProblemType.SERVER_INTERNAL, "issuance failed")
        ctx.store.fail_processing(record.id, problem)
        raise
    ctx.store.store_certificate(
        record.id,
        account_id=account.id,
        serial=f"{issued.serial:x}",
        der=issued.cert.public_bytes(serialization.Encoding.DER),
        pem_chain=issued.pem_chain,
        not_after=issued.not_after.timestamp(),
    )
    final = _order_of(ctx, request, account)
    location = resource_url(request, f"acme/order/{final.id}")
    return ctx.answers.json(request, ctx.views.order(request, final), location=location)


async def certificate(ctx: HandlerContext, request: Request) -> Response:
    """Download the PEM chain (POST-as-GET; RFC 8555 §7.4.2; A-CERT-1)."""
    signed = await ctx.auth.verified(request, "kid")
    signed.require_post_as_get()
    record = ctx.store.certificate(request.path_params["id"])
    if record is None:
        raise refuse(ProblemType.MALFORMED, "no such certificate", status=404)
    require_owner(signed.require_account(), record.account_id, "certificate")
    media = PEM_CHAIN_TYPE
    if ctx.config.faults.on("certificate-as-x-pem-file"):
        media = "application/x-pem-file"
    return Response(
        record.pem_chain.encode("ascii"), media_type=media, headers=ctx.answers.headers(request)
    )


def _order_of(ctx: HandlerContext, request: Request, account: AccountRecord) -> OrderRecord:
    """The order named in the URL, if it is the account's."""
    record = ctx.store.order(request.path_params["id"], ctx.clock())
    if record is None:
        raise refuse(ProblemType.MALFORMED, "no such order", status=404)
    require_owner(account, record.account_id, "order")
    return record


def _rate_limit(ctx: HandlerContext, addresses: Sequence[str], now: float) -> None:
    """SEC-8: at most N challenge emails per address per window (``rateLimited``, §6.6)."""
    window, limit = ctx.config.rate_window, ctx.config.challenge_mails_per_window
    for address in addresses:
        times = ctx.store.mails_for_address_since(address, now - window)
        if len(times) >= limit:
            wait = max(1, int(times[len(times) - limit] + window - now) + 1)
            raise Refusal(
                Problem.of(
                    ProblemType.RATE_LIMITED,
                    f"{address} was sent {len(times)} challenge emails in the last "
                    f"{window:g} s; limit {limit} (SEC-8, A-RATE-1)",
                    identifier=Identifier.email(address),
                ),
                {"Retry-After": str(wait)},
            )


def _plan_with_faults(ctx: HandlerContext, plan: IssuePlan) -> IssuePlan:
    """What a CA with the configured faults would certify for an accepted CSR."""
    faults = ctx.config.faults
    bits = key_usage_bits(plan.key_usage)
    if faults.on("dual-use-for-signing-only") and plan.usage == "signing":
        bits |= {encryption_bit(plan.public_key) or "keyEncipherment"}
    if faults.on("encryption-bit-for-other-key-type") and bits & ENCRYPTION_BITS:
        bits = (bits - ENCRYPTION_BITS) | (ENCRYPTION_BITS - bits)
    if faults.on("key-encipherment-on-ec-key") and "keyAgreement" in bits:
        bits |= {"keyEncipherment"}
    plan = dataclasses.replace(plan, key_usage=key_usage_from_bits(bits))
    if faults.on("no-email-protection-eku"):
        plan = dataclasses.replace(plan, extended_key_usage=(ExtendedKeyUsageOID.CLIENT_AUTH,))
    if faults.on("server-auth-eku"):
        plan = dataclasses.replace(
            plan, extended_key_usage=(*plan.extended_key_usage, ExtendedKeyUsageOID.SERVER_AUTH)
        )
    if faults.on("san-not-critical-empty-subject"):
        plan = dataclasses.replace(plan, subject=x509.Name([]), san_critical=False)
    if faults.on("no-certificate-policies"):
        plan = dataclasses.replace(plan, certificate_policies=False)
    return plan


def _checked_csr(
    ctx: HandlerContext,
    issuer: CertificateIssuer,
    record: OrderRecord,
    csr: object,
    account_key: AccountPublicKey,
) -> IssuePlan:
    """What to issue for the finalize ``csr``; AcmeProblemError when it is refused
    (A-FIN-1..3, CSR-*; RFC 8555 §7.4)."""
    faults = ctx.config.faults
    if isinstance(csr, str) and faults.on("padded-csr-accepted"):
        csr = csr.rstrip("=")
    csr_der = _csr_der(csr)
    values = [identifier.value for identifier in record.identifiers]
    if faults.on("issue-for-csr-addresses"):
        values = list(inspect_csr(csr_der, values).addresses) or values
    try:
        return issuer.check(
            csr_der,
            values,
            account_key=account_key,
            dns_addresses=ctx.config.accept_dns_address_identifiers,
        )
    except CsrRejected as rejection:
        raise AcmeProblemError(_csr_problem(rejection)) from rejection


def _csr_der(text: object) -> bytes:
    """The finalize ``csr``: base64url DER, never PEM (A-FIN-1)."""
    if isinstance(text, str) and text.lstrip().startswith("-----BEGIN"):
        raise refuse(ProblemType.MALFORMED, "'csr' is base64url DER, not PEM (A-FIN-1)")
    return strict_b64url(text, "csr")


def _csr_problem(rejection: CsrRejected) -> Problem:
    """The issuer's CSR rejection as a problem of its own type, else ``badCSR``."""
    kind = str(rejection.problem_type)
    urn = kind if kind.startswith(ERROR_URN_PREFIX) else ERROR_URN_PREFIX + kind
    try:
        return Problem.of(ProblemType(urn), rejection.detail)
    except ValueError:
        return Problem.of(ProblemType.BAD_CSR, f"{kind}: {rejection.detail}")
