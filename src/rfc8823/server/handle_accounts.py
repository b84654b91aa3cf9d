"""Account resources: new account, fetch, update, orders list, key change (RFC 8555 §7.3)."""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from rfc8823.acme.identifier import Identifier
from rfc8823.acme.jws import encode_json, parse_jws, public_jwk, verify_eab
from rfc8823.acme.objects import AccountStatus
from rfc8823.acme.problems import AcmeProblemError, Problem, ProblemType
from rfc8823.server.handler_context import HandlerContext
from rfc8823.server.identifiers import check_email_identifier
from rfc8823.server.refusals import Refusal, refuse
from rfc8823.server.request_auth import require_owner
from rfc8823.server.responses import resource_url
from rfc8823.tokens import b64url_encode, jwk_thumbprint, jwk_thumbprint_from_jwk

MAX_CONTACTS = 10


async def new_account(ctx: HandlerContext, request: Request) -> Response:
    """Create or find an account (RFC 8555 §7.3, §7.3.1, §7.3.4; A-ACCT-1)."""
    signed = await ctx.auth.verified(request, "jwk")
    payload = signed.payload()
    jwk = public_jwk(signed.key)
    thumbprint = jwk_thumbprint(signed.key)
    if ctx.config.faults.on("account-thumbprint-not-canonical"):
        digest = hashlib.sha256(json.dumps(jwk, sort_keys=True).encode("utf-8")).digest()
        thumbprint = b64url_encode(digest)
    existing = ctx.store.account_by_thumbprint(thumbprint)
    if existing is not None:
        location = resource_url(request, f"acme/acct/{existing.id}")
        return ctx.answers.json(request, ctx.views.account(request, existing), location=location)
    if payload.get("onlyReturnExisting") is True:
        raise refuse(ProblemType.ACCOUNT_DOES_NOT_EXIST, "no account has this key")
    contact = _contacts(payload.get("contact", []))
    eab_kid = _external_binding(ctx, request, payload, jwk)
    record = ctx.store.create_account(
        jwk=jwk, thumbprint=thumbprint, contact=contact, eab_kid=eab_kid, now=ctx.clock()
    )
    created = resource_url(request, f"acme/acct/{record.id}")
    if ctx.config.faults.on("new-account-without-location"):
        return ctx.answers.json(request, ctx.views.account(request, record), status=201)
    return ctx.answers.json(
        request, ctx.views.account(request, record), status=201, location=created
    )


async def account(ctx: HandlerContext, request: Request) -> Response:
    """Fetch, update contacts of, or deactivate an account (RFC 8555 §7.3.2, §7.3.6)."""
    signed = await ctx.auth.verified(request, "kid")
    owner = signed.require_account()
    require_owner(owner, request.path_params["id"], "account URL")
    if not signed.jws.is_post_as_get:
        payload = signed.payload()
        status = payload.get("status")
        if status == AccountStatus.DEACTIVATED.value:
            ctx.store.deactivate_account(owner.id)
        elif status is not None:
            raise refuse(ProblemType.MALFORMED, f"an account cannot be set to {status!r}")
        if "contact" in payload:
            ctx.store.update_contact(owner.id, _contacts(payload["contact"]))
    record = ctx.store.account(owner.id)
    assert record is not None
    return ctx.answers.json(request, ctx.views.account(request, record))


async def account_orders(ctx: HandlerContext, request: Request) -> Response:
    """The account's orders list (RFC 8555 §7.1.2.1)."""
    signed = await ctx.auth.verified(request, "kid")
    owner = signed.require_account()
    require_owner(owner, request.path_params["id"], "orders list")
    signed.require_post_as_get()
    urls = [resource_url(request, f"acme/order/{o}") for o in ctx.store.orders_of(owner.id)]
    return ctx.answers.json(request, {"orders": urls})


async def key_change(ctx: HandlerContext, request: Request) -> Response:
    """Roll the account key over (RFC 8555 §7.3.5)."""
    signed = await ctx.auth.verified(request, "kid")
    owner = signed.require_account()
    inner = parse_jws(encode_json(signed.payload()), nested=True)
    if isinstance(inner, Problem):
        raise AcmeProblemError(inner)
    if inner.url != signed.jws.url:
        raise refuse(ProblemType.MALFORMED, "inner and outer 'url' differ (RFC 8555 §7.3.5)")
    new_key = inner.embedded_key()
    if isinstance(new_key, Problem):
        raise AcmeProblemError(new_key)
    problem = inner.verify_with(new_key)
    if problem is not None:
        raise AcmeProblemError(problem)
    body = inner.json_payload()
    if isinstance(body, Problem):
        raise AcmeProblemError(body)
    old = body.get("oldKey")
    if body.get("account") != signed.jws.kid or not isinstance(old, dict):
        raise refuse(ProblemType.MALFORMED, "'account' must be the kid and 'oldKey' a JWK")
    try:
        old_thumbprint = jwk_thumbprint_from_jwk(old)
    except ValueError as error:
        raise refuse(ProblemType.MALFORMED, f"bad 'oldKey': {error}") from error
    if old_thumbprint != owner.thumbprint:
        raise refuse(ProblemType.UNAUTHORIZED, "'oldKey' is not the account's current key")
    thumbprint = jwk_thumbprint(new_key)
    holder = ctx.store.account_by_thumbprint(thumbprint)
    if holder is not None:
        raise Refusal(
            Problem.of(ProblemType.MALFORMED, "the new key belongs to an account", status=409),
            {"Location": resource_url(request, f"acme/acct/{holder.id}")},
        )
    ctx.store.change_key(owner.id, public_jwk(new_key), thumbprint)
    record = ctx.store.account(owner.id)
    assert record is not None
    return ctx.answers.json(request, ctx.views.account(request, record))


def _external_binding(
    ctx: HandlerContext, request: Request, payload: Mapping[str, Any], jwk: Mapping[str, Any]
) -> str | None:
    """The EAB key id of a new account, checked; required when the CA says so (§7.3.4)."""
    binding = payload.get("externalAccountBinding")
    if binding is None:
        if ctx.config.eab_required:
            raise refuse(
                ProblemType.EXTERNAL_ACCOUNT_REQUIRED,
                "this CA requires an external account binding (RFC 8555 §7.3.4)",
            )
        return None
    verdict = verify_eab(
        binding,
        account_jwk=jwk,
        url=resource_url(request, "acme/new-account"),
        keys=ctx.config.eab_keys,
    )
    if isinstance(verdict, Problem):
        raise AcmeProblemError(verdict)
    return verdict


def _contacts(raw: object) -> tuple[str, ...]:
    """Account contacts: ``mailto:`` URLs of one valid address each (RFC 8555 §7.3)."""
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise refuse(ProblemType.MALFORMED, "'contact' must be an array of strings")
    if len(raw) > MAX_CONTACTS:
        raise refuse(ProblemType.INVALID_CONTACT, f"at most {MAX_CONTACTS} contacts")
    for url in raw:
        scheme, colon, rest = url.partition(":")
        if not colon or scheme.lower() != "mailto":
            raise refuse(ProblemType.UNSUPPORTED_CONTACT, f"only mailto: contacts, not {url!r}")
        address = urllib.parse.unquote(rest)
        if "?" in rest or "," in address:
            raise refuse(
                ProblemType.INVALID_CONTACT,
                f"{url!r}: one address, no header fields (RFC 8555 §7.3)",
            )
        problem = check_email_identifier(Identifier.email(address))
        if problem is not None:
            raise refuse(ProblemType.INVALID_CONTACT, f"{url!r}: {problem.detail}")
    return tuple(raw)
