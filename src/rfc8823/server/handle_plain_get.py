"""Orders, authorizations and challenges served to plain GET, a fault breaking RFC 8555 §6.3."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from rfc8823.acme.problems import ProblemType
from rfc8823.server.handler_context import HandlerContext
from rfc8823.server.refusals import refuse

PLAIN_GET_PATHS = ("/acme/order/{id}", "/acme/authz/{id}", "/acme/chall/{id}")


async def plain_get(ctx: HandlerContext, request: Request) -> Response:
    """An order, authorization or challenge read by plain GET, unauthenticated.

    Only under the ``plain-get-serves-resources`` fault, which breaks A-GET-1.
    """
    kind, now = request.url.path.split("/")[2], ctx.clock()
    key = request.path_params["id"]
    if kind == "order" and (order := ctx.store.order(key, now)) is not None:
        return ctx.answers.json(request, ctx.views.order(request, order))
    if kind == "authz" and (authz := ctx.store.authorization(key, now)) is not None:
        return ctx.answers.json(request, ctx.views.authorization(request, authz))
    if kind == "chall" and (challenge := ctx.store.challenge(key, now)) is not None:
        return ctx.answers.json(request, ctx.views.challenge(request, challenge).to_json())
    raise refuse(ProblemType.MALFORMED, f"no resource at {request.url.path}", status=404)
