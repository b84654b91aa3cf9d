"""The directory and new-nonce resources of the reference CA (RFC 8555 §7.1.1, §7.2)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from rfc8823.acme.objects import Directory, DirectoryMeta
from rfc8823.server.handler_context import HandlerContext
from rfc8823.server.responses import resource_url


async def directory(ctx: HandlerContext, request: Request) -> Response:
    """The directory (RFC 8555 §7.1.1; A-DIR-1)."""
    meta = DirectoryMeta(
        terms_of_service=ctx.config.terms_of_service,
        website=ctx.config.website,
        external_account_required=ctx.config.eab_required,
    )
    body = Directory(
        new_nonce=resource_url(request, "acme/new-nonce"),
        new_account=resource_url(request, "acme/new-account"),
        new_order=resource_url(request, "acme/new-order"),
        revoke_cert=resource_url(request, "acme/revoke-cert"),
        key_change=resource_url(request, "acme/key-change"),
        meta=meta if meta.to_json() else None,
    ).to_json()
    if ctx.config.faults.on("directory-without-key-change"):
        del body["keyChange"]
    return ctx.answers.json(request, body)


async def new_nonce(ctx: HandlerContext, request: Request) -> Response:
    """HEAD → 200, GET → 204, never cached (RFC 8555 §7.2; A-NONCE-1)."""
    status = 200 if request.method == "HEAD" else 204
    return Response(status_code=status, headers=ctx.answers.headers(request))
