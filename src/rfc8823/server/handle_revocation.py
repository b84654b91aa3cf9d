"""Certificate revocation at the reference CA, by account or certificate key (RFC 8555 §7.6)."""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from starlette.requests import Request
from starlette.responses import Response

from rfc8823.acme.problems import ProblemType
from rfc8823.messages.headers import normalize_address
from rfc8823.server.handler_context import HandlerContext
from rfc8823.server.payload_fields import strict_b64url
from rfc8823.server.refusals import refuse
from rfc8823.server.request_auth import VerifiedRequest

REVOCATION_REASONS = frozenset(range(11)) - {7}
"""RFC 5280 §5.3.1 CRLReason codes (7 is unused)."""


async def revoke_cert(ctx: HandlerContext, request: Request) -> Response:
    """Revoke with the account key or the certificate key (RFC 8555 §7.6; A-REV-1)."""
    signed = await ctx.auth.verified(request, "either")
    payload = signed.payload()
    der = strict_b64url(payload.get("certificate"), "certificate")
    record = ctx.store.certificate_by_der(der)
    if record is None:
        raise refuse(ProblemType.MALFORMED, "this CA did not issue that certificate", status=404)
    reason = payload.get("reason", 0)
    if not isinstance(reason, int) or isinstance(reason, bool) or reason not in REVOCATION_REASONS:
        raise refuse(
            ProblemType.BAD_REVOCATION_REASON,
            f"reason {reason!r} is not an RFC 5280 CRLReason this CA accepts",
        )
    if not _may_revoke(ctx, signed, record.account_id, record.order_id, der):
        raise refuse(
            ProblemType.UNAUTHORIZED, "neither the certificate key nor an authorized account"
        )
    revoked = ctx.store.revoke(record.id, reason, ctx.clock())
    if not revoked and not ctx.config.faults.on("already-revoked-not-reported"):
        raise refuse(ProblemType.ALREADY_REVOKED, "the certificate is already revoked")
    return Response(status_code=200, headers=ctx.answers.headers(request))


def _may_revoke(
    ctx: HandlerContext, signed: VerifiedRequest, owner: str, order_id: str, der: bytes
) -> bool:
    """Signed by the certificate's key, its account, or an account holding all its identifiers."""
    if signed.account is None:
        cert_key = x509.load_der_x509_certificate(der).public_key()
        return _spki(cert_key) == _spki(signed.key)
    if signed.account.id == owner:
        return True
    order = ctx.store.order(order_id, ctx.clock())
    return order is not None and all(
        ctx.store.has_valid_authorization(
            signed.account.id, normalize_address(identifier.value), ctx.clock()
        )
        for identifier in order.identifiers
    )


def _spki(key: Any) -> bytes:
    data: bytes = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data
