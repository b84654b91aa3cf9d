"""Authorization and challenge resources of the reference CA (RFC 8555 §7.5; RFC 8823 §3)."""

from __future__ import annotations

import asyncio
import dataclasses

from starlette.requests import Request
from starlette.responses import Response

from rfc8823.acme.objects import AuthorizationStatus, ChallengeStatus
from rfc8823.acme.problems import ProblemType
from rfc8823.server.handler_context import HandlerContext
from rfc8823.server.records import AccountRecord, AuthzRecord, IllegalTransition
from rfc8823.server.refusals import refuse
from rfc8823.server.request_auth import require_owner
from rfc8823.server.responses import resource_url


async def authorization(ctx: HandlerContext, request: Request) -> Response:
    """Fetch (sends the challenge email the first time, unless ``mail_at`` is "post";
    docs/decisions.md#decision-4) or deactivate (RFC 8555 §7.5, §7.5.2; FLOW-3, A-AUTHZ-1,
    A-AUTHZ-2)."""
    signed = await ctx.auth.verified(request, "kid")
    record = _authz_of(ctx, request.path_params["id"], signed.require_account())
    if signed.jws.is_post_as_get:
        if record.status is AuthorizationStatus.PENDING and ctx.config.mail_at == "authz":
            pending = [
                c for c in ctx.store.challenges_of(record.id) if c.status is ChallengeStatus.PENDING
            ]
            for challenge in pending:
                ctx.engine.request_send(challenge, record)
            gate = ctx.config.authorization_gate
            if gate is not None and any(c.sent_at is None for c in pending):
                await asyncio.to_thread(gate.wait, ctx.config.send_timeout)
    else:
        payload = signed.payload()
        if not payload and ctx.config.faults.on("authz-post-triggers-challenge"):
            for challenge in ctx.store.challenges_of(record.id):
                ctx.store.mark_client_ready(challenge.id, ctx.clock())
            return ctx.answers.json(request, ctx.views.authorization(request, record))
        if payload.get("status") != AuthorizationStatus.DEACTIVATED.value:
            raise refuse(
                ProblemType.MALFORMED,
                'an authorization takes POST-as-GET or {"status": "deactivated"}',
            )
        if ctx.config.faults.on("deactivation-not-kept"):
            record = dataclasses.replace(record, status=AuthorizationStatus.DEACTIVATED)
            return ctx.answers.json(request, ctx.views.authorization(request, record))
        try:
            ctx.store.deactivate_authorization(record.id, ctx.clock())
        except IllegalTransition as error:
            raise refuse(ProblemType.MALFORMED, str(error)) from error
        record = _authz_of(ctx, record.id, signed.require_account())
    waiting = record.status is AuthorizationStatus.PENDING and any(
        c.status is ChallengeStatus.PROCESSING for c in ctx.store.challenges_of(record.id)
    )
    return ctx.answers.json(
        request,
        ctx.views.authorization(request, record),
        retry_after=ctx.answers.retry_after(waiting),
    )


async def challenge(ctx: HandlerContext, request: Request) -> Response:
    """Fetch (POST-as-GET) or signal readiness with ``{}`` (RFC 8555 §7.5.1, Erratum 5729;
    CHAL-OBJ-4, A-CHAL-2); valid once the authentic reply is in too
    (docs/decisions.md#decision-4)."""
    signed = await ctx.auth.verified(request, "kid")
    account = signed.require_account()
    record = ctx.store.challenge(request.path_params["id"], ctx.clock())
    if record is None:
        raise refuse(ProblemType.MALFORMED, "no such challenge", status=404)
    authz = _authz_of(ctx, record.authz_id, account)
    if not signed.jws.is_post_as_get:
        signed.payload()
        processing = record.status is ChallengeStatus.PROCESSING
        if processing and ctx.config.faults.on("repost-while-processing-refused"):
            raise refuse(ProblemType.MALFORMED, "this challenge is already being validated")
        if record.status is ChallengeStatus.INVALID and ctx.config.faults.on(
            "invalid-challenge-retried"
        ):
            ctx.store.reopen(record.id)
            authz = _authz_of(ctx, record.authz_id, account)
        if authz.status is AuthorizationStatus.PENDING:
            record = ctx.engine.request_send(record, authz)
            record = ctx.store.mark_client_ready(record.id, ctx.clock())
            ctx.engine.schedule_expiry_check()
    if (
        not signed.jws.is_post_as_get
        and record.status is ChallengeStatus.VALID
        and ctx.config.faults.on("valid-challenge-repost-goes-back")
    ):
        record = dataclasses.replace(record, status=ChallengeStatus.PENDING)
    retry = ctx.answers.retry_after(record.status is ChallengeStatus.PROCESSING)
    up = f'<{resource_url(request, f"acme/authz/{authz.id}")}>;rel="up"'
    return ctx.answers.json(
        request,
        ctx.views.challenge(request, record).to_json(),
        links=[up],
        retry_after=retry,
    )


def _authz_of(ctx: HandlerContext, authz_id: str, account: AccountRecord) -> AuthzRecord:
    """The authorization ``authz_id``, if it is the account's."""
    record = ctx.store.authorization(authz_id, ctx.clock())
    if record is None:
        raise refuse(ProblemType.MALFORMED, "no such authorization", status=404)
    require_owner(account, record.account_id, "authorization")
    return record
