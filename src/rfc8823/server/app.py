"""The reference CA's HTTP side: an RFC 8555 server for ``email`` identifiers (Starlette ASGI).

Every POST is a flattened JWS checked in one pipeline (content type, size, structure, ``url``,
nonce, key, signature); every answer carries ``Replay-Nonce`` and ``Link: rel="index"``; every
refusal is an ``application/problem+json`` document naming the rule broken. Bad input never
reaches the last-resort ``serverInternal`` handler, which exists only for bugs (A-ERR-1).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rfc8823.acme.identifier import EMAIL_REPLY_00, Identifier
from rfc8823.acme.jws import (
    JOSE_CONTENT_TYPE,
    AccountPublicKey,
    JwsRequest,
    encode_json,
    key_from_jwk,
    parse_jws,
    public_jwk,
    verify_eab,
)
from rfc8823.acme.nonces import NonceSource
from rfc8823.acme.objects import (
    Account,
    AccountStatus,
    Authorization,
    AuthorizationStatus,
    Challenge,
    ChallengeStatus,
    Directory,
    DirectoryMeta,
    Order,
    OrderStatus,
)
from rfc8823.acme.problems import (
    ERROR_URN_PREFIX,
    PROBLEM_CONTENT_TYPE,
    AcmeProblemError,
    Problem,
    ProblemType,
)
from rfc8823.csr import (
    ENCRYPTION_BITS,
    encryption_bit,
    inspect_csr,
    key_usage_bits,
    key_usage_from_bits,
)
from rfc8823.events import ChangeFeed
from rfc8823.messages.headers import normalize_address
from rfc8823.server.config import ServerConfig
from rfc8823.server.engine import ChallengeEngine
from rfc8823.server.identifiers import check_email_identifier, check_order_identifiers
from rfc8823.server.issuer import CsrRejected, IssuedCertificate, IssuePlan
from rfc8823.server.records import (
    AccountRecord,
    AuthzRecord,
    ChallengeRecord,
    IllegalTransition,
    OrderRecord,
)
from rfc8823.server.store import Store
from rfc8823.tokens import (
    b64url_decode,
    b64url_encode,
    jwk_thumbprint,
    jwk_thumbprint_from_jwk,
    new_token_part,
)

log = logging.getLogger(__name__)

PEM_CHAIN_TYPE = "application/pem-certificate-chain"
MAX_CONTACTS = 10
REVOCATION_REASONS = frozenset(range(11)) - {7}
"""RFC 5280 §5.3.1 CRLReason codes (7 is unused)."""

Endpoint = Callable[[Request], Awaitable[Response]]
KeyMode = Literal["jwk", "kid", "either"]
T = TypeVar("T")


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the CA received and answered it (a test peer's record of its client).

    ``protected`` and ``payload`` are the JWS protected header and payload bytes of a POST that
    parsed as a flattened JWS (None otherwise; an empty payload is a POST-as-GET); ``problem``
    is the type of the problem answered, ``replay_nonce`` the nonce handed out and
    ``retry_after`` the ``Retry-After`` sent with the answer.
    """

    seq: int
    received_at: float
    method: str
    url: str
    status: int
    protected: Mapping[str, Any] | None
    payload: bytes | None
    problem: str | None
    replay_nonce: str | None
    retry_after: str | None

    @property
    def nonce(self) -> str | None:
        """The ``nonce`` of the protected header."""
        value = (self.protected or {}).get("nonce")
        return value if isinstance(value, str) else None

    @property
    def is_post_as_get(self) -> bool:
        """A JWS POST with an empty payload (RFC 8555 §6.3)."""
        return self.payload == b""

    def payload_json(self) -> Any:
        """The payload parsed as JSON; None for POST-as-GET, no JWS, or unparsable bytes."""
        if not self.payload:
            return None
        try:
            return json.loads(self.payload)
        except ValueError:
            return None


class RequestLog:
    """Every request in arrival order, with an awaitable wait for the ones a test expects."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LoggedRequest] = []
        self.feed = ChangeFeed()

    def add(
        self,
        request: Request,
        response: Response,
        problem: Problem | None,
        received_at: float,
    ) -> None:
        """Record one answered request."""
        jws: JwsRequest | None = getattr(request.state, "jws", None)
        with self._lock:
            entry = LoggedRequest(
                seq=len(self._entries),
                received_at=received_at,
                method=request.method,
                url=str(request.url),
                status=response.status_code,
                protected=dict(jws.protected) if jws is not None else None,
                payload=jws.payload if jws is not None else None,
                problem=str(problem.type) if problem is not None else None,
                replay_nonce=response.headers.get("Replay-Nonce"),
                retry_after=response.headers.get("Retry-After"),
            )
            self._entries.append(entry)
        self.feed.notify()

    def entries(self) -> tuple[LoggedRequest, ...]:
        """The requests so far."""
        with self._lock:
            return tuple(self._entries)

    async def wait_until(
        self,
        predicate: Callable[[tuple[LoggedRequest, ...]], T | None],
        timeout: float,  # noqa: ASYNC109
        *,
        what: str = "",
    ) -> T:
        """The first non-None value of ``predicate`` over the log, re-checked as requests come."""
        return await self.feed.wait_until(lambda: predicate(self.entries()), timeout, what=what)


class CertificateIssuer(Protocol):
    """What finalize needs from the issuer (``server.issuer.Issuer``)."""

    def check(
        self, csr_der: bytes, identifiers: Sequence[str], *, account_key: Any = None
    ) -> IssuePlan:
        """Accept a CSR for the identifiers or raise ``CsrRejected``."""

    def issue(self, plan: IssuePlan, *, now: datetime | None = None) -> IssuedCertificate:
        """Sign the certificate of an accepted plan."""


class Refusal(AcmeProblemError):
    """A problem answer with extra response headers (e.g. ``Retry-After``, ``Location``)."""

    def __init__(self, problem: Problem, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(problem)
        self.headers = dict(headers or {})


def refuse(kind: ProblemType, detail: str, *, status: int | None = None) -> AcmeProblemError:
    """An exception carrying one problem document."""
    return AcmeProblemError(Problem.of(kind, detail, status=status))


@dataclass(frozen=True)
class Signed:
    """A verified request: the JWS, and the account when it was signed with ``kid``."""

    jws: JwsRequest
    key: AccountPublicKey
    account: AccountRecord | None

    def require_account(self) -> AccountRecord:
        """The signing account (``kid`` requests)."""
        if self.account is None:
            raise refuse(ProblemType.MALFORMED, "this request must be signed with 'kid'")
        return self.account


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
        self.requests = RequestLog() if config.record_requests else None
        self._nonce_lock = threading.Lock()
        self._nonces_to_reject = config.reject_nonces
        self.app = Starlette(
            routes=self._routes(),
            exception_handlers={HTTPException: self._http_exception},
        )

    def _routes(self) -> list[Route]:
        post = ["POST"]
        table: list[tuple[str, Endpoint, list[str]]] = [
            ("/directory", self.directory, ["GET"]),
            ("/acme/new-nonce", self.new_nonce, ["GET", "HEAD"]),
            ("/acme/new-account", self.new_account, post),
            ("/acme/new-order", self.new_order, post),
            ("/acme/revoke-cert", self.revoke_cert, post),
            ("/acme/key-change", self.key_change, post),
            ("/acme/acct/{id}", self.account, post),
            ("/acme/acct/{id}/orders", self.account_orders, post),
            ("/acme/order/{id}", self.order, post),
            ("/acme/order/{id}/finalize", self.finalize, post),
            ("/acme/authz/{id}", self.authorization, post),
            ("/acme/chall/{id}", self.challenge, post),
            ("/acme/cert/{id}", self.certificate, post),
        ]
        routes = [
            Route(path, self._guarded(handler), methods=methods) for path, handler, methods in table
        ]
        if self.config.faults.on("plain-get-serves-resources"):
            served = ("/acme/order/{id}", "/acme/authz/{id}", "/acme/chall/{id}")
            plain_get = self._guarded(self._plain_get)
            routes += [Route(path, plain_get, methods=["GET"]) for path in served]
        return routes

    # -- plumbing ----------------------------------------------------------------------

    def _guarded(self, handler: Endpoint) -> Endpoint:
        """Turn problems into problem documents, any bug into ``serverInternal``; log requests."""

        async def endpoint(request: Request) -> Response:
            received_at = time.time()
            problem: Problem | None = None
            try:
                response = await handler(request)
            except Refusal as refusal:
                problem = refusal.problem
                response = self._problem(request, problem, refusal.headers)
            except AcmeProblemError as error:
                problem = error.problem
                response = self._problem(request, problem)
            except Exception:
                self.internal_errors += 1
                log.exception("unhandled error in %s %s", request.method, request.url.path)
                problem = Problem.of(ProblemType.SERVER_INTERNAL, "internal error; see the log")
                response = self._problem(request, problem)
            if self.requests is not None:
                self.requests.add(request, response, problem, received_at)
            return response

        return endpoint

    async def _plain_get(self, request: Request) -> Response:
        """An order, authorization or challenge read by plain GET, unauthenticated.

        Only under the ``plain-get-serves-resources`` fault, which breaks A-GET-1.
        """
        kind, now = request.url.path.split("/")[2], self.clock()
        key = request.path_params["id"]
        if kind == "order" and (order := self.store.order(key, now)) is not None:
            return self._json(request, self._order_json(request, order))
        if kind == "authz" and (authz := self.store.authorization(key, now)) is not None:
            return self._json(request, self._authz_json(request, authz))
        if kind == "chall" and (challenge := self.store.challenge(key, now)) is not None:
            return self._json(request, self._challenge_object(request, challenge).to_json())
        raise refuse(ProblemType.MALFORMED, f"no resource at {request.url.path}", status=404)

    def reject_next_nonces(self, count: int) -> None:
        """Answer the next ``count`` signed requests ``badNonce`` whatever their nonce (A-NONCE-2).

        A test peer's fault: the nonce is used up and a fresh one is handed out, as for a
        nonce that really expired.
        """
        with self._nonce_lock:
            self._nonces_to_reject += count

    def _take_rejection(self) -> bool:
        with self._nonce_lock:
            if self._nonces_to_reject <= 0:
                return False
            self._nonces_to_reject -= 1
            return True

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
        return self._problem(
            request, Problem.of(ProblemType.MALFORMED, detail, status=status), headers
        )

    @staticmethod
    def _base(request: Request) -> str:
        return str(request.base_url)

    def _url(self, request: Request, path: str) -> str:
        return self._base(request) + path

    def _headers(self, request: Request, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {
            "Replay-Nonce": self.nonces.new(),
            "Link": f'<{self._url(request, "directory")}>;rel="index"',
            "Cache-Control": "no-store",
        }
        headers.update(extra or {})
        return headers

    def _problem(
        self, request: Request, problem: Problem, extra: Mapping[str, str] | None = None
    ) -> Response:
        return Response(
            encode_json(problem.to_json()),
            status_code=problem.status,
            media_type=PROBLEM_CONTENT_TYPE,
            headers=self._headers(request, extra),
        )

    def _json(
        self,
        request: Request,
        data: Mapping[str, Any],
        *,
        status: int = 200,
        location: str | None = None,
        links: Sequence[str] = (),
        retry_after: int | None = None,
    ) -> Response:
        headers = self._headers(request)
        if self.config.faults.on("no-replay-nonce-on-success"):
            del headers["Replay-Nonce"]
        if location is not None:
            headers["Location"] = location
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        response = JSONResponse(dict(data), status_code=status, headers=headers)
        for link in links:
            response.headers.append("Link", link)
        return response

    async def _body(self, request: Request) -> bytes:
        """The request body, refusing oversize bodies before reading them whole."""
        limit = self.config.max_body
        declared = request.headers.get("content-length")
        if declared is not None and not declared.isdigit():
            raise refuse(ProblemType.MALFORMED, f"bad Content-Length {declared!r}")
        if declared is not None and int(declared) > limit:
            raise refuse(ProblemType.MALFORMED, f"request body over {limit} octets", status=413)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise refuse(ProblemType.MALFORMED, f"request body over {limit} octets", status=413)
            chunks.append(chunk)
        return b"".join(chunks)

    async def _verified(self, request: Request, mode: KeyMode) -> Signed:
        """Run the RFC 8555 §6.2-§6.5 checks on a POST and verify its signature."""
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        lenient = self.config.faults.on("accept-json-content-type") and media == "application/json"
        if media != JOSE_CONTENT_TYPE and not lenient:
            raise refuse(
                ProblemType.MALFORMED,
                f"Content-Type must be {JOSE_CONTENT_TYPE}, not {media or 'none'} (A-JWS-1)",
                status=415,
            )
        body = await self._body(request)
        checked = parse_jws(body)
        unsigned = None
        if isinstance(checked, Problem) and self.config.faults.on("accept-alg-none"):
            unsigned = _alg_none_request(body)
        if unsigned is not None:
            parsed = unsigned
        elif isinstance(checked, Problem):
            if self.config.faults.on("bad-jws-is-internal-error"):
                raise RuntimeError(f"unhandled bad JWS: {checked.detail}")
            raise AcmeProblemError(checked)
        else:
            parsed = checked
        request.state.jws = parsed
        url_checked = not self.config.faults.on("accept-wrong-url")
        if parsed.url != str(request.url) and url_checked:
            raise refuse(
                ProblemType.UNAUTHORIZED,
                f"the JWS 'url' {parsed.url!r} is not the request URL "
                f"{str(request.url)!r} (A-URL-1)",
            )
        nonce_ok = self.nonces.consume(parsed.nonce) or self.config.faults.on("accept-bad-nonce")
        if not nonce_ok:
            raise refuse(ProblemType.BAD_NONCE, "unknown, used or expired nonce (A-NONCE-2)")
        if self._take_rejection():
            raise refuse(ProblemType.BAD_NONCE, "this nonce has expired; retry with a fresh one")
        account: AccountRecord | None = None
        if parsed.kid is not None:
            if mode == "jwk":
                raise refuse(
                    ProblemType.MALFORMED, "this request must carry 'jwk', not 'kid' (A-JWS-2)"
                )
            account = self._account_for_kid(request, parsed.kid)
            key: AccountPublicKey | Problem = key_from_jwk(account.jwk)
        else:
            jwk_for_kid = mode == "kid" and self.config.faults.on("accept-jwk-for-kid")
            if mode == "kid" and not jwk_for_kid:
                raise refuse(
                    ProblemType.MALFORMED, "this request must carry 'kid', not 'jwk' (A-JWS-2)"
                )
            key = parsed.embedded_key()
            if jwk_for_kid and not isinstance(key, Problem):
                account = self.store.account_by_thumbprint(jwk_thumbprint(key))
        if isinstance(key, Problem):
            raise AcmeProblemError(key)
        problem = None if unsigned is not None else parsed.verify_with(key)
        if problem is not None:
            raise AcmeProblemError(problem)
        return Signed(parsed, key, account)

    def _account_for_kid(self, request: Request, kid: str) -> AccountRecord:
        prefix = self._url(request, "acme/acct/")
        account = self.store.account(kid.removeprefix(prefix)) if kid.startswith(prefix) else None
        if account is None:
            raise refuse(ProblemType.ACCOUNT_DOES_NOT_EXIST, f"no account {kid!r}")
        if account.status is not AccountStatus.VALID:
            raise refuse(ProblemType.UNAUTHORIZED, f"the account is {account.status.value}")
        return account

    @staticmethod
    def _payload(signed: Signed) -> dict[str, Any]:
        payload = signed.jws.json_payload()
        if isinstance(payload, Problem):
            raise AcmeProblemError(payload)
        return payload

    @staticmethod
    def _post_as_get(signed: Signed) -> None:
        if not signed.jws.is_post_as_get:
            raise refuse(
                ProblemType.MALFORMED, "this resource takes POST-as-GET (empty payload; A-GET-1)"
            )

    @staticmethod
    def _owned(account: AccountRecord, owner: str, what: str) -> None:
        if owner != account.id:
            raise refuse(ProblemType.UNAUTHORIZED, f"this {what} belongs to another account")

    # -- rendering ---------------------------------------------------------------------

    def _account_json(self, request: Request, record: AccountRecord) -> dict[str, Any]:
        return Account(
            status=record.status,
            contact=record.contact,
            orders=self._url(request, f"acme/acct/{record.id}/orders"),
        ).to_json()

    def _order_json(self, request: Request, record: OrderRecord) -> dict[str, Any]:
        authz_ids = record.authz_ids
        if self.config.faults.on("order-drops-valid-authorizations"):
            now = self.clock()
            authorizations = [self.store.authorization(a, now) for a in authz_ids]
            authz_ids = tuple(
                a.id for a in authorizations if a and a.status is not AuthorizationStatus.VALID
            )
        return Order(
            status=record.status,
            identifiers=record.identifiers,
            authorizations=tuple(self._url(request, f"acme/authz/{a}") for a in authz_ids),
            finalize=self._url(request, f"acme/order/{record.id}/finalize"),
            expires=_time(record.expires),
            error=record.error,
            certificate=(
                self._url(request, f"acme/cert/{record.certificate_id}")
                if record.certificate_id is not None
                else None
            ),
        ).to_json()

    def _challenge_object(self, request: Request, record: ChallengeRecord) -> Challenge:
        return Challenge(
            type=record.type,
            url=self._url(request, f"acme/chall/{record.id}"),
            status=record.status,
            token=record.token_part2,
            from_=self.config.challenge_from,
            validated=(
                _time(record.validated)
                if record.validated is not None
                and not self.config.faults.on("valid-challenge-without-validated")
                else None
            ),
            error=record.error,
        )

    def _authz_json(self, request: Request, record: AuthzRecord) -> dict[str, Any]:
        challenges = self.store.challenges_of(record.id)
        decoys: tuple[Challenge, ...] = ()
        if record.status is AuthorizationStatus.VALID:
            challenges = [c for c in challenges if c.status is ChallengeStatus.VALID]
        else:
            kinds = self.config.decoy_challenge_types
            decoys = tuple(self._decoy(request, record, kind) for kind in kinds)
        hide_expiry = record.status is AuthorizationStatus.VALID and self.config.faults.on(
            "valid-authz-without-expires"
        )
        return Authorization(
            identifier=record.identifier,
            status=record.status,
            challenges=(*decoys, *(self._challenge_object(request, c) for c in challenges)),
            expires=None if hide_expiry else _time(record.expires),
        ).to_json()

    def _decoy(self, request: Request, record: AuthzRecord, kind: str) -> Challenge:
        """A challenge of another type, listed before email-reply-00, that leads nowhere."""
        return Challenge(
            type=kind,
            url=self._url(request, f"acme/chall/decoy-{kind}-{record.id}"),
            status=ChallengeStatus.PENDING,
            token=new_token_part(16),
        )

    def _retry_after(self, processing: bool) -> int | None:
        """``Retry-After`` for a resource still being validated or issued (RFC 8555 §8.2)."""
        return self.config.retry_after if processing and self.config.retry_after > 0 else None

    # -- directory, nonces, accounts ----------------------------------------------------

    async def directory(self, request: Request) -> Response:
        """The directory (RFC 8555 §7.1.1; A-DIR-1)."""
        meta = DirectoryMeta(
            terms_of_service=self.config.terms_of_service,
            website=self.config.website,
            external_account_required=self.config.eab_required,
        )
        directory = Directory(
            new_nonce=self._url(request, "acme/new-nonce"),
            new_account=self._url(request, "acme/new-account"),
            new_order=self._url(request, "acme/new-order"),
            revoke_cert=self._url(request, "acme/revoke-cert"),
            key_change=self._url(request, "acme/key-change"),
            meta=meta if meta.to_json() else None,
        ).to_json()
        if self.config.faults.on("directory-without-key-change"):
            del directory["keyChange"]
        return self._json(request, directory)

    async def new_nonce(self, request: Request) -> Response:
        """HEAD → 200, GET → 204, never cached (RFC 8555 §7.2; A-NONCE-1)."""
        status = 200 if request.method == "HEAD" else 204
        return Response(status_code=status, headers=self._headers(request))

    async def new_account(self, request: Request) -> Response:
        """Create or find an account (RFC 8555 §7.3, §7.3.1, §7.3.4; A-ACCT-1)."""
        signed = await self._verified(request, "jwk")
        payload = self._payload(signed)
        jwk = public_jwk(signed.key)
        thumbprint = jwk_thumbprint(signed.key)
        if self.config.faults.on("account-thumbprint-not-canonical"):
            digest = hashlib.sha256(json.dumps(jwk, sort_keys=True).encode("utf-8")).digest()
            thumbprint = b64url_encode(digest)
        existing = self.store.account_by_thumbprint(thumbprint)
        if existing is not None:
            location = self._url(request, f"acme/acct/{existing.id}")
            return self._json(request, self._account_json(request, existing), location=location)
        if payload.get("onlyReturnExisting") is True:
            raise refuse(ProblemType.ACCOUNT_DOES_NOT_EXIST, "no account has this key")
        contact = _contacts(payload.get("contact", []))
        eab_kid = self._external_binding(request, payload, jwk)
        record = self.store.create_account(
            jwk=jwk, thumbprint=thumbprint, contact=contact, eab_kid=eab_kid, now=self.clock()
        )
        created = self._url(request, f"acme/acct/{record.id}")
        if self.config.faults.on("new-account-without-location"):
            return self._json(request, self._account_json(request, record), status=201)
        return self._json(
            request, self._account_json(request, record), status=201, location=created
        )

    def _external_binding(
        self, request: Request, payload: Mapping[str, Any], jwk: Mapping[str, Any]
    ) -> str | None:
        binding = payload.get("externalAccountBinding")
        if binding is None:
            if self.config.eab_required:
                raise refuse(
                    ProblemType.EXTERNAL_ACCOUNT_REQUIRED,
                    "this CA requires an external account binding (RFC 8555 §7.3.4)",
                )
            return None
        verdict = verify_eab(
            binding,
            account_jwk=jwk,
            url=self._url(request, "acme/new-account"),
            keys=self.config.eab_keys,
        )
        if isinstance(verdict, Problem):
            raise AcmeProblemError(verdict)
        return verdict

    async def account(self, request: Request) -> Response:
        """Fetch, update contacts of, or deactivate an account (RFC 8555 §7.3.2, §7.3.6)."""
        signed = await self._verified(request, "kid")
        account = signed.require_account()
        self._owned(account, request.path_params["id"], "account URL")
        if not signed.jws.is_post_as_get:
            payload = self._payload(signed)
            status = payload.get("status")
            if status == AccountStatus.DEACTIVATED.value:
                self.store.deactivate_account(account.id)
            elif status is not None:
                raise refuse(ProblemType.MALFORMED, f"an account cannot be set to {status!r}")
            if "contact" in payload:
                self.store.update_contact(account.id, _contacts(payload["contact"]))
        record = self.store.account(account.id)
        assert record is not None
        return self._json(request, self._account_json(request, record))

    async def account_orders(self, request: Request) -> Response:
        """The account's orders list (RFC 8555 §7.1.2.1)."""
        signed = await self._verified(request, "kid")
        account = signed.require_account()
        self._owned(account, request.path_params["id"], "orders list")
        self._post_as_get(signed)
        urls = [self._url(request, f"acme/order/{o}") for o in self.store.orders_of(account.id)]
        return self._json(request, {"orders": urls})

    async def key_change(self, request: Request) -> Response:
        """Roll the account key over (RFC 8555 §7.3.5)."""
        signed = await self._verified(request, "kid")
        account = signed.require_account()
        inner = parse_jws(encode_json(self._payload(signed)), nested=True)
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
        if old_thumbprint != account.thumbprint:
            raise refuse(ProblemType.UNAUTHORIZED, "'oldKey' is not the account's current key")
        thumbprint = jwk_thumbprint(new_key)
        holder = self.store.account_by_thumbprint(thumbprint)
        if holder is not None:
            raise Refusal(
                Problem.of(ProblemType.MALFORMED, "the new key belongs to an account", status=409),
                {"Location": self._url(request, f"acme/acct/{holder.id}")},
            )
        self.store.change_key(account.id, public_jwk(new_key), thumbprint)
        record = self.store.account(account.id)
        assert record is not None
        return self._json(request, self._account_json(request, record))

    # -- orders, authorizations, challenges --------------------------------------------

    async def new_order(self, request: Request) -> Response:
        """Create an order for ``email`` identifiers; no mail yet (RFC 8555 §7.4; ID-EMAIL-*)."""
        signed = await self._verified(request, "kid")
        account = signed.require_account()
        payload = self._payload(signed)
        if "notBefore" in payload or "notAfter" in payload:
            raise refuse(ProblemType.MALFORMED, "notBefore/notAfter are not supported")
        identifiers = check_order_identifiers(payload.get("identifiers"), self.config.faults)
        if isinstance(identifiers, Problem):
            raise AcmeProblemError(identifiers)
        addresses = [normalize_address(i.value) for i in identifiers]
        now = self.clock()
        if not self.config.faults.on("no-rate-limit"):
            self._rate_limit(addresses, now)
        record = self.store.create_order(
            account_id=account.id,
            identifiers=identifiers,
            addresses=addresses,
            challenge_type=EMAIL_REPLY_00,
            token_part2s=[new_token_part(self.config.token_part2_octets) for _ in identifiers],
            now=now,
            order_expires=now + self.config.order_lifetime,
            authz_expires=now + self.config.authz_lifetime,
        )
        location = self._url(request, f"acme/order/{record.id}")
        body = self._order_json(request, record)
        if self.config.faults.on("new-order-without-expires"):
            del body["expires"]
        return self._json(request, body, status=201, location=location)

    def _rate_limit(self, addresses: Sequence[str], now: float) -> None:
        """SEC-8: at most N challenge emails per address per window (``rateLimited``, §6.6)."""
        window, limit = self.config.rate_window, self.config.challenge_mails_per_window
        for address in addresses:
            times = self.store.mails_for_address_since(address, now - window)
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

    async def order(self, request: Request) -> Response:
        """An order (POST-as-GET; RFC 8555 §7.1.3)."""
        signed = await self._verified(request, "kid")
        self._post_as_get(signed)
        record = self._order_of(request, signed.require_account())
        retry = self._retry_after(record.status is OrderStatus.PROCESSING)
        return self._json(request, self._order_json(request, record), retry_after=retry)

    def _order_of(self, request: Request, account: AccountRecord) -> OrderRecord:
        record = self.store.order(request.path_params["id"], self.clock())
        if record is None:
            raise refuse(ProblemType.MALFORMED, "no such order", status=404)
        self._owned(account, record.account_id, "order")
        return record

    def _authz_of(self, authz_id: str, account: AccountRecord) -> AuthzRecord:
        record = self.store.authorization(authz_id, self.clock())
        if record is None:
            raise refuse(ProblemType.MALFORMED, "no such authorization", status=404)
        self._owned(account, record.account_id, "authorization")
        return record

    async def authorization(self, request: Request) -> Response:
        """Fetch (sends the challenge email the first time, unless ``mail_at`` is "post";
        decision 4) or deactivate (RFC 8555 §7.5, §7.5.2; FLOW-3, A-AUTHZ-1, A-AUTHZ-2)."""
        signed = await self._verified(request, "kid")
        record = self._authz_of(request.path_params["id"], signed.require_account())
        if signed.jws.is_post_as_get:
            if record.status is AuthorizationStatus.PENDING and self.config.mail_at == "authz":
                for challenge in self.store.challenges_of(record.id):
                    if challenge.status is ChallengeStatus.PENDING:
                        self.engine.request_send(challenge, record)
        else:
            payload = self._payload(signed)
            if not payload and self.config.faults.on("authz-post-triggers-challenge"):
                for challenge in self.store.challenges_of(record.id):
                    self.store.mark_client_ready(challenge.id, self.clock())
                return self._json(request, self._authz_json(request, record))
            if payload.get("status") != AuthorizationStatus.DEACTIVATED.value:
                raise refuse(
                    ProblemType.MALFORMED,
                    'an authorization takes POST-as-GET or {"status": "deactivated"}',
                )
            if self.config.faults.on("deactivation-not-kept"):
                record = dataclasses.replace(record, status=AuthorizationStatus.DEACTIVATED)
                return self._json(request, self._authz_json(request, record))
            try:
                self.store.deactivate_authorization(record.id, self.clock())
            except IllegalTransition as error:
                raise refuse(ProblemType.MALFORMED, str(error)) from error
            record = self._authz_of(record.id, signed.require_account())
        waiting = record.status is AuthorizationStatus.PENDING and any(
            c.status is ChallengeStatus.PROCESSING for c in self.store.challenges_of(record.id)
        )
        return self._json(
            request, self._authz_json(request, record), retry_after=self._retry_after(waiting)
        )

    async def challenge(self, request: Request) -> Response:
        """Fetch (POST-as-GET) or signal readiness with ``{}`` (RFC 8555 §7.5.1, Erratum 5729;
        CHAL-OBJ-4, A-CHAL-2); valid once the authentic reply is in too (decision 4)."""
        signed = await self._verified(request, "kid")
        account = signed.require_account()
        record = self.store.challenge(request.path_params["id"], self.clock())
        if record is None:
            raise refuse(ProblemType.MALFORMED, "no such challenge", status=404)
        authz = self._authz_of(record.authz_id, account)
        if not signed.jws.is_post_as_get:
            self._payload(signed)
            processing = record.status is ChallengeStatus.PROCESSING
            if processing and self.config.faults.on("repost-while-processing-refused"):
                raise refuse(ProblemType.MALFORMED, "this challenge is already being validated")
            if authz.status is AuthorizationStatus.PENDING:
                record = self.engine.request_send(record, authz)
                record = self.store.mark_client_ready(record.id, self.clock())
                self.engine.schedule_expiry_check()
        if (
            not signed.jws.is_post_as_get
            and record.status is ChallengeStatus.VALID
            and self.config.faults.on("valid-challenge-repost-goes-back")
        ):
            record = dataclasses.replace(record, status=ChallengeStatus.PENDING)
        retry = self._retry_after(record.status is ChallengeStatus.PROCESSING)
        up = f'<{self._url(request, f"acme/authz/{authz.id}")}>;rel="up"'
        return self._json(
            request,
            self._challenge_object(request, record).to_json(),
            links=[up],
            retry_after=retry,
        )

    # -- finalize, certificates, revocation ---------------------------------------------

    async def finalize(self, request: Request) -> Response:
        """Check the CSR and issue (RFC 8555 §7.4; A-FIN-1..3, CSR-*, CERT-1)."""
        signed = await self._verified(request, "kid")
        account = signed.require_account()
        record = self._order_of(request, account)
        payload = self._payload(signed)
        faults = self.config.faults
        if record.status is not OrderStatus.READY and not faults.on("finalize-before-ready"):
            raise refuse(
                ProblemType.ORDER_NOT_READY,
                f"the order is {record.status.value}, not ready (A-FIN-1)",
            )
        csr = payload.get("csr")
        if isinstance(csr, str) and faults.on("padded-csr-accepted"):
            csr = csr.rstrip("=")
        csr_der = _csr_der(csr)
        if self.issuer is None:
            raise refuse(ProblemType.SERVER_INTERNAL, "this CA has no issuer configured")
        values = [identifier.value for identifier in record.identifiers]
        if faults.on("issue-for-csr-addresses"):
            values = list(inspect_csr(csr_der, values).addresses) or values
        try:
            plan = self.issuer.check(csr_der, values, account_key=signed.key)
        except CsrRejected as rejection:
            raise AcmeProblemError(_csr_problem(rejection)) from rejection
        if faults:
            plan = self._plan_with_faults(plan)
        self.store.start_processing(record.id)
        try:
            issued = self.issuer.issue(plan, now=datetime.fromtimestamp(self.clock(), UTC))
        except Exception:
            problem = Problem.of(ProblemType.SERVER_INTERNAL, "issuance failed")
            self.store.fail_processing(record.id, problem)
            raise
        self.store.store_certificate(
            record.id,
            account_id=account.id,
            serial=f"{issued.serial:x}",
            der=issued.cert.public_bytes(serialization.Encoding.DER),
            pem_chain=issued.pem_chain,
            not_after=issued.not_after.timestamp(),
        )
        final = self._order_of(request, account)
        location = self._url(request, f"acme/order/{final.id}")
        return self._json(request, self._order_json(request, final), location=location)

    async def certificate(self, request: Request) -> Response:
        """Download the PEM chain (POST-as-GET; RFC 8555 §7.4.2; A-CERT-1)."""
        signed = await self._verified(request, "kid")
        self._post_as_get(signed)
        record = self.store.certificate(request.path_params["id"])
        if record is None:
            raise refuse(ProblemType.MALFORMED, "no such certificate", status=404)
        self._owned(signed.require_account(), record.account_id, "certificate")
        media = PEM_CHAIN_TYPE
        if self.config.faults.on("certificate-as-x-pem-file"):
            media = "application/x-pem-file"
        return Response(
            record.pem_chain.encode("ascii"), media_type=media, headers=self._headers(request)
        )

    async def revoke_cert(self, request: Request) -> Response:
        """Revoke with the account key or the certificate key (RFC 8555 §7.6; A-REV-1)."""
        signed = await self._verified(request, "either")
        payload = self._payload(signed)
        text = payload.get("certificate")
        der = _strict_b64(text, "certificate")
        record = self.store.certificate_by_der(der)
        if record is None:
            raise refuse(
                ProblemType.MALFORMED, "this CA did not issue that certificate", status=404
            )
        reason = payload.get("reason", 0)
        if (
            not isinstance(reason, int)
            or isinstance(reason, bool)
            or reason not in REVOCATION_REASONS
        ):
            raise refuse(
                ProblemType.BAD_REVOCATION_REASON,
                f"reason {reason!r} is not an RFC 5280 CRLReason this CA accepts",
            )
        if not self._may_revoke(signed, record.account_id, record.order_id, der):
            raise refuse(
                ProblemType.UNAUTHORIZED, "neither the certificate key nor an authorized account"
            )
        revoked = self.store.revoke(record.id, reason, self.clock())
        if not revoked and not self.config.faults.on("already-revoked-not-reported"):
            raise refuse(ProblemType.ALREADY_REVOKED, "the certificate is already revoked")
        return Response(status_code=200, headers=self._headers(request))

    def _plan_with_faults(self, plan: IssuePlan) -> IssuePlan:
        """What a CA with the configured faults would certify for an accepted CSR."""
        faults = self.config.faults
        bits = key_usage_bits(plan.key_usage)
        if faults.on("dual-use-for-signing-only") and plan.usage == "signing":
            bits |= {encryption_bit(plan.public_key) or "keyEncipherment"}
        if faults.on("encryption-bit-for-other-key-type") and bits & ENCRYPTION_BITS:
            bits = (bits - ENCRYPTION_BITS) | (ENCRYPTION_BITS - bits)
        plan = dataclasses.replace(plan, key_usage=key_usage_from_bits(bits))
        if faults.on("no-email-protection-eku"):
            plan = dataclasses.replace(plan, extended_key_usage=(ExtendedKeyUsageOID.CLIENT_AUTH,))
        return plan

    def _may_revoke(self, signed: Signed, owner: str, order_id: str, der: bytes) -> bool:
        if signed.account is None:
            cert_key = x509.load_der_x509_certificate(der).public_key()
            return _spki(cert_key) == _spki(signed.key)
        if signed.account.id == owner:
            return True
        order = self.store.order(order_id, self.clock())
        return order is not None and all(
            self.store.has_valid_authorization(
                signed.account.id, normalize_address(identifier.value), self.clock()
            )
            for identifier in order.identifiers
        )


def _alg_none_request(body: bytes) -> JwsRequest | None:
    """A flattened JWS with ``alg`` none taken as is, under the ``accept-alg-none`` fault."""
    try:
        outer = json.loads(body)
        header = json.loads(b64url_decode(outer["protected"]))
        payload = b64url_decode(outer["payload"])
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(header, dict) or header.get("alg") != "none":
        return None
    kid, jwk = header.get("kid"), header.get("jwk")
    return JwsRequest(
        protected=header,
        payload=payload,
        signature=b"",
        signing_input=b"",
        alg="none",
        nonce=str(header.get("nonce", "")),
        url=str(header.get("url", "")),
        jwk=jwk if isinstance(jwk, dict) else None,
        kid=kid if isinstance(kid, str) else None,
    )


def _time(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _spki(key: Any) -> bytes:
    data: bytes = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data


def _strict_b64(text: object, what: str) -> bytes:
    """A base64url JSON value: unpadded (A-HTTPS-1) and decodable, else ``malformed``."""
    if not isinstance(text, str) or not text:
        raise refuse(ProblemType.MALFORMED, f"'{what}' must be a base64url string")
    if "=" in text:
        raise refuse(ProblemType.MALFORMED, f"'{what}' carries '=' padding (A-HTTPS-1)")
    try:
        return b64url_decode(text)
    except ValueError as error:
        raise refuse(ProblemType.MALFORMED, f"'{what}': {error}") from error


def _csr_der(text: object) -> bytes:
    """The finalize ``csr``: base64url DER, never PEM (A-FIN-1)."""
    if isinstance(text, str) and text.lstrip().startswith("-----BEGIN"):
        raise refuse(ProblemType.MALFORMED, "'csr' is base64url DER, not PEM (A-FIN-1)")
    return _strict_b64(text, "csr")


def _csr_problem(rejection: CsrRejected) -> Problem:
    kind = str(rejection.problem_type)
    urn = kind if kind.startswith(ERROR_URN_PREFIX) else ERROR_URN_PREFIX + kind
    try:
        return Problem.of(ProblemType(urn), rejection.detail)
    except ValueError:
        return Problem.of(ProblemType.BAD_CSR, f"{kind}: {rejection.detail}")


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
