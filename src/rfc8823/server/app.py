"""The reference CA's HTTP side: the Starlette app routing RFC 8555 resources to their handlers.

Handlers live by resource in the ``handle_*`` modules; every POST is authenticated by
``request_auth``; every answer carries ``Replay-Nonce`` and ``Link: rel="index"``
(``responses``); every refusal is an ``application/problem+json`` document naming the rule
broken. Bad input never reaches the last-resort ``serverInternal`` handler, which exists only
for bugs (A-ERR-1).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from rfc8823.acme.nonces import NonceSource
from rfc8823.acme.problems import AcmeProblemError, Problem, ProblemType
from rfc8823.server import (
    handle_accounts,
    handle_authorizations,
    handle_directory,
    handle_orders,
    handle_revocation,
)
from rfc8823.server.config import ServerConfig
from rfc8823.server.engine import ChallengeEngine
from rfc8823.server.handle_plain_get import PLAIN_GET_PATHS, plain_get
from rfc8823.server.handler_context import CertificateIssuer, HandlerContext
from rfc8823.server.refusals import Refusal
from rfc8823.server.request_auth import RequestAuthenticator
from rfc8823.server.request_log import LoggedRequest, RequestLog
from rfc8823.server.resource_views import ResourceViews
from rfc8823.server.responses import Responder
from rfc8823.server.store import Store

__all__ = ["AcmeServerApp", "LoggedRequest", "RequestLog"]

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[HandlerContext, Request], Awaitable[Response]]

_POST = ("POST",)
_ROUTES: tuple[tuple[str, Handler, tuple[str, ...]], ...] = (
    ("/directory", handle_directory.directory, ("GET",)),
    ("/acme/new-nonce", handle_directory.new_nonce, ("GET", "HEAD")),
    ("/acme/new-account", handle_accounts.new_account, _POST),
    ("/acme/new-order", handle_orders.new_order, _POST),
    ("/acme/revoke-cert", handle_revocation.revoke_cert, _POST),
    ("/acme/key-change", handle_accounts.key_change, _POST),
    ("/acme/acct/{id}", handle_accounts.account, _POST),
    ("/acme/acct/{id}/orders", handle_accounts.account_orders, _POST),
    ("/acme/order/{id}", handle_orders.order, _POST),
    ("/acme/order/{id}/finalize", handle_orders.finalize, _POST),
    ("/acme/authz/{id}", handle_authorizations.authorization, _POST),
    ("/acme/chall/{id}", handle_authorizations.challenge, _POST),
    ("/acme/cert/{id}", handle_orders.certificate, _POST),
)
"""Every URL of the CA (RFC 8555 §7.1), its handler and its methods."""


class AcmeServerApp:
    """Builds the Starlette application over a store, a nonce source, the engine and issuer.

    ``internal_errors`` counts requests that reached the last-resort handler; tests assert it
    stays zero for every malformed input they send. ``requests`` is the request log, kept when
    the configuration asks for it.
    """

    def __init__(
        self,
        config: ServerConfig,
        store: Store,
        engine: ChallengeEngine,
        *,
        issuer: CertificateIssuer | None,
        clock: Callable[[], float],
        nonces: NonceSource | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.engine = engine
        self.issuer = issuer
        self.clock = clock
        self.nonces = nonces or NonceSource()
        self.internal_errors = 0
        self.internal_error_details: list[str] = []
        self.requests = RequestLog() if config.record_requests else None
        self._auth = RequestAuthenticator(config, store, self.nonces)
        self._answers = Responder(config, self.nonces)
        self._context = HandlerContext(
            config=config,
            store=store,
            engine=engine,
            issuer=issuer,
            clock=clock,
            auth=self._auth,
            answers=self._answers,
            views=ResourceViews(config, store, clock),
        )
        self.app = Starlette(
            routes=self._routes(),
            exception_handlers={HTTPException: self._http_exception},
        )

    def reject_next_nonces(self, count: int) -> None:
        """Answer the next ``count`` signed requests ``badNonce`` whatever their nonce (A-NONCE-2).

        A test peer's fault: the nonce is used up and a fresh one is handed out, as for a
        nonce that really expired.
        """
        self._auth.reject_next_nonces(count)

    def _routes(self) -> list[Route]:
        routes = [
            Route(path, self._guarded(handler), methods=list(methods))
            for path, handler, methods in _ROUTES
        ]
        if self.config.faults.on("plain-get-serves-resources"):
            served = self._guarded(plain_get)
            routes += [Route(path, served, methods=["GET"]) for path in PLAIN_GET_PATHS]
        return routes

    def _guarded(self, handler: Handler) -> Endpoint:
        """Turn problems into problem documents, any bug into ``serverInternal``; log requests."""
        bound: Endpoint = functools.partial(handler, self._context)

        async def endpoint(request: Request) -> Response:
            received_at = time.time()
            problem: Problem | None = None
            try:
                response = await bound(request)
            except Refusal as refusal:
                problem = refusal.problem
                response = self._answers.problem(request, problem, refusal.headers)
            except AcmeProblemError as error:
                problem = error.problem
                response = self._answers.problem(request, problem)
            except ClientDisconnect:
                log.info("%s %s: the client left mid-request", request.method, request.url.path)
                problem = Problem.of(ProblemType.MALFORMED, "the request body never arrived")
                response = self._answers.problem(request, problem)
            except Exception as error:
                self.internal_errors += 1
                self.internal_error_details.append(
                    f"{request.method} {request.url.path}: {error!r}"
                )
                log.exception("unhandled error in %s %s", request.method, request.url.path)
                problem = Problem.of(ProblemType.SERVER_INTERNAL, "internal error; see the log")
                response = self._answers.problem(request, problem)
            if self.requests is not None:
                self.requests.add(request, response, problem, received_at)
            return response

        return endpoint

    async def _http_exception(self, request: Request, exc: Exception) -> Response:
        """404 and 405 from routing as problem documents (A-GET-1: plain GET → 405)."""
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
        if status == 405:
            detail = f"{request.method} is not allowed here; use POST-as-GET (A-GET-1)"
        elif status == 404:
            detail = f"no resource at {request.url.path}"
        else:
            detail = f"HTTP {status}"
        return self._answers.problem(
            request, Problem.of(ProblemType.MALFORMED, detail, status=status), headers
        )
