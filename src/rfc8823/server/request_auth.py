"""Authenticating an ACME POST into a verified request: JWS, url, nonce, key (RFC 8555 §6.2-6.5)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any, Literal

from starlette.requests import Request

from rfc8823.acme.jws import (
    JOSE_CONTENT_TYPE,
    AccountPublicKey,
    JwsRequest,
    key_from_jwk,
    parse_jws,
)
from rfc8823.acme.nonces import NonceSource
from rfc8823.acme.objects import AccountStatus
from rfc8823.acme.problems import AcmeProblemError, Problem, ProblemType
from rfc8823.server.config import ServerConfig
from rfc8823.server.records import AccountRecord
from rfc8823.server.refusals import refuse
from rfc8823.server.responses import resource_url
from rfc8823.server.store import Store
from rfc8823.tokens import b64url_decode, jwk_thumbprint

KeyMode = Literal["jwk", "kid", "either"]
"""How a resource wants its requests signed: a new key (``jwk``), an account (``kid``), either."""


@dataclass(frozen=True)
class VerifiedRequest:
    """A verified request: the JWS, its key, and the account when it was signed with ``kid``."""

    jws: JwsRequest
    key: AccountPublicKey
    account: AccountRecord | None

    def require_account(self) -> AccountRecord:
        """The signing account (``kid`` requests)."""
        if self.account is None:
            raise refuse(ProblemType.MALFORMED, "this request must be signed with 'kid'")
        return self.account

    def payload(self) -> dict[str, Any]:
        """The payload as a JSON object, or ``malformed``."""
        payload = self.jws.json_payload()
        if isinstance(payload, Problem):
            raise AcmeProblemError(payload)
        return payload

    def require_post_as_get(self) -> None:
        """Refuse anything but an empty payload (RFC 8555 §6.3; A-GET-1)."""
        if not self.jws.is_post_as_get:
            raise refuse(
                ProblemType.MALFORMED, "this resource takes POST-as-GET (empty payload; A-GET-1)"
            )


def require_owner(account: AccountRecord, owner: str, what: str) -> None:
    """Refuse an account acting on a resource of another account (``unauthorized``)."""
    if owner != account.id:
        raise refuse(ProblemType.UNAUTHORIZED, f"this {what} belongs to another account")


class RequestAuthenticator:
    """Runs every check of a signed POST, in order, and answers the first failure as a problem."""

    def __init__(self, config: ServerConfig, store: Store, nonces: NonceSource) -> None:
        self.config = config
        self.store = store
        self.nonces = nonces
        self._nonce_lock = threading.Lock()
        self._nonces_to_reject = config.reject_nonces

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

    async def verified(self, request: Request, mode: KeyMode) -> VerifiedRequest:
        """Run the RFC 8555 §6.2-§6.5 checks on a POST and verify its signature."""
        self._check_content_type(request)
        body = await _read_body(request, self.config.max_body)
        parsed, unsigned = self._parsed(body)
        request.state.jws = parsed
        self._check_url(parsed, request)
        self._check_nonce(parsed)
        account, key = self._signer(request, parsed, mode)
        problem = None if unsigned else parsed.verify_with(key)
        if problem is not None:
            raise AcmeProblemError(problem)
        return VerifiedRequest(parsed, key, account)

    def _check_content_type(self, request: Request) -> None:
        """``application/jose+json`` (A-JWS-1; RFC 8555 §6.2)."""
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        lenient = self.config.faults.on("accept-json-content-type") and media == "application/json"
        if media != JOSE_CONTENT_TYPE and not lenient:
            raise refuse(
                ProblemType.MALFORMED,
                f"Content-Type must be {JOSE_CONTENT_TYPE}, not {media or 'none'} (A-JWS-1)",
                status=415,
            )

    def _parsed(self, body: bytes) -> tuple[JwsRequest, bool]:
        """The flattened JWS, and whether it is taken unsigned (``accept-alg-none`` fault)."""
        checked = parse_jws(body)
        if not isinstance(checked, Problem):
            return checked, False
        unsigned = _alg_none_request(body) if self.config.faults.on("accept-alg-none") else None
        if unsigned is not None:
            return unsigned, True
        if self.config.faults.on("bad-jws-is-internal-error"):
            raise RuntimeError(f"unhandled bad JWS: {checked.detail}")
        raise AcmeProblemError(checked)

    def _check_url(self, parsed: JwsRequest, request: Request) -> None:
        """The protected ``url`` is the request URL (A-URL-1; RFC 8555 §6.4)."""
        url_checked = not self.config.faults.on("accept-wrong-url")
        if parsed.url != str(request.url) and url_checked:
            raise refuse(
                ProblemType.UNAUTHORIZED,
                f"the JWS 'url' {parsed.url!r} is not the request URL "
                f"{str(request.url)!r} (A-URL-1)",
            )

    def _check_nonce(self, parsed: JwsRequest) -> None:
        """The nonce is one this server issued and nobody used (A-NONCE-2; RFC 8555 §6.5)."""
        nonce_ok = self.nonces.consume(parsed.nonce) or self.config.faults.on("accept-bad-nonce")
        if not nonce_ok:
            raise refuse(ProblemType.BAD_NONCE, "unknown, used or expired nonce (A-NONCE-2)")
        if self._take_rejection():
            raise refuse(ProblemType.BAD_NONCE, "this nonce has expired; retry with a fresh one")

    def _signer(
        self, request: Request, parsed: JwsRequest, mode: KeyMode
    ) -> tuple[AccountRecord | None, AccountPublicKey]:
        """The signing account (``kid``) and key, as ``mode`` wants them (A-JWS-2; §6.2)."""
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
        return account, key

    def _account_for_kid(self, request: Request, kid: str) -> AccountRecord:
        prefix = resource_url(request, "acme/acct/")
        account = self.store.account(kid.removeprefix(prefix)) if kid.startswith(prefix) else None
        if account is None:
            raise refuse(ProblemType.ACCOUNT_DOES_NOT_EXIST, f"no account {kid!r}")
        if account.status is not AccountStatus.VALID:
            raise refuse(ProblemType.UNAUTHORIZED, f"the account is {account.status.value}")
        return account


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing oversize bodies before reading them whole."""
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
