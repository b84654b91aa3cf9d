"""An asynchronous ACME client for email identifiers, on httpx and the shared wire layer.

RFC 8555 end to end: directory, nonces (with ``badNonce`` retries, A-NONCE-2), account
create-or-reuse (optionally with external account binding), newOrder for ``email`` identifiers
(FLOW-1), POST-as-GET of authorizations (FLOW-2), the ``{}`` readiness POST to the challenge URL
(A-CHAL-2, CHAL-OBJ-4), polling that honours ``Retry-After``, finalize and download. Every
failure is an :class:`~rfc8823.client.errors.EnrollmentError` naming the step, the URL and the
server's problem document; malformed JSON and wrong content types are reported as such.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
from cryptography import x509

from rfc8823.acme.identifier import Identifier
from rfc8823.acme.jws import JOSE_CONTENT_TYPE, AccountPrivateKey, eab_binding, public_jwk, sign_jws
from rfc8823.acme.objects import (
    Account,
    AccountStatus,
    Authorization,
    AuthorizationStatus,
    Challenge,
    Directory,
    Order,
    OrderStatus,
)
from rfc8823.acme.problems import PROBLEM_CONTENT_TYPE, Problem, ProblemType
from rfc8823.client.errors import EnrollmentError, EnrollmentTimeout
from rfc8823.faults import NO_FAULTS, FaultSet
from rfc8823.faults import client as client_faults
from rfc8823.tokens import b64url_encode
from rfc8823.world.service import AsyncService

JSON_CONTENT_TYPE = "application/json"
PEM_CHAIN_CONTENT_TYPE = "application/pem-certificate-chain"
USER_AGENT = "rfc8823-reference-client"

_T = TypeVar("_T")


@dataclass(frozen=True)
class PollPolicy:
    """How often to re-fetch a resource: back off from ``first`` to ``ceiling`` seconds.

    A ``Retry-After`` from the server replaces the back-off (RFC 8555 §7.5.1, §8.2), capped
    at ``retry_after_cap`` so a hostile value cannot stall the client beyond its deadline.
    """

    first: float = 0.05
    factor: float = 2.0
    ceiling: float = 2.0
    retry_after_cap: float = 10.0


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP-date, RFC 9110 §10.2.3).

    None when the header is absent or unreadable; never negative.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def next_poll_delay(previous: float | None, retry_after: float | None, policy: PollPolicy) -> float:
    """The wait before the next poll: the server's ``Retry-After`` if given, else back-off."""
    if retry_after is not None:
        return min(retry_after, policy.retry_after_cap)
    if previous is None:
        return policy.first
    return min(previous * policy.factor, policy.ceiling)


class NoncePool:
    """Replay-Nonces received and not yet used; the freshest is used first (RFC 8555 §6.5)."""

    def __init__(self, capacity: int = 16) -> None:
        self._nonces: deque[str] = deque(maxlen=capacity)

    def add(self, nonce: str | None) -> None:
        """Remember a nonce from a ``Replay-Nonce`` header (ignored when absent or empty)."""
        if nonce:
            self._nonces.append(nonce.strip())

    def take(self) -> str | None:
        """The freshest unused nonce, or None when the pool is empty."""
        return self._nonces.pop() if self._nonces else None

    def __len__(self) -> int:
        return len(self._nonces)


@dataclass(frozen=True)
class ExternalAccountBinding:
    """A key identifier and MAC key from the CA, bound to the account at creation (§7.3.4)."""

    kid: str
    hmac_key: bytes


@dataclass(frozen=True)
class AccountHandle:
    """The account in use: its URL (the ``kid`` of later requests) and whether it is new."""

    url: str
    account: Account
    created: bool


@dataclass(frozen=True)
class OrderHandle:
    """An order and its URL (the ``Location`` of newOrder)."""

    url: str
    order: Order


@dataclass
class AcmeStats:
    """Counters a caller or test can read: requests, ``badNonce`` retries, polls."""

    requests: int = 0
    bad_nonce_retries: int = 0
    polls: int = 0
    retry_after_waits: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class AcmeResponse:
    """One HTTP response as the client needs it."""

    status: int
    headers: httpx.Headers
    body: bytes
    url: str

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-case ('' when absent)."""
        value: str = self.headers.get("content-type", "")
        return value.split(";")[0].strip().lower()

    @property
    def location(self) -> str | None:
        """The ``Location`` header, if any."""
        value: str | None = self.headers.get("location")
        return value

    @property
    def retry_after(self) -> float | None:
        """The ``Retry-After`` header in seconds, if any and readable."""
        return parse_retry_after(self.headers.get("retry-after"))


def _problem_of(response: AcmeResponse) -> Problem | None:
    """The problem document of an error response, or None when the body is not one."""
    if response.content_type != PROBLEM_CONTENT_TYPE:
        return None
    try:
        return Problem.from_json(json.loads(response.body), status=response.status)
    except (ValueError, RecursionError):
        return None


def _snippet(body: bytes) -> str:
    text = body[:120].decode("utf-8", "replace")
    return repr(text) + ("…" if len(body) > 120 else "")


class AcmeClient(AsyncService):
    """ACME requests for one account key against one directory; ``async with`` closes it.

    ``verify`` is the TLS context that trusts the CA's HTTPS certificate (``True``: system
    trust). ``max_nonce_retries`` bounds the retries after ``badNonce`` (A-NONCE-2).
    ``faults`` are off unless a self-validation run switches some on.
    """

    def __init__(
        self,
        directory_url: str,
        account_key: AccountPrivateKey,
        *,
        verify: ssl.SSLContext | bool = True,
        timeout: float = 10.0,
        max_nonce_retries: int = 5,
        poll: PollPolicy | None = None,
        faults: FaultSet = NO_FAULTS,
    ) -> None:
        self.directory_url = directory_url
        self.faults = faults
        self.account_key = account_key
        self.max_nonce_retries = max_nonce_retries
        self.poll = poll or PollPolicy()
        self.nonces = NoncePool()
        self.stats = AcmeStats()
        self.account_url: str | None = None
        self._directory: Directory | None = None
        self._http = httpx.AsyncClient(
            verify=verify,
            timeout=timeout,
            trust_env=False,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )

    async def start_async(self) -> None:
        """Nothing to open: connections are made on the first request."""

    async def stop_async(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    async def _send(self, step: str, method: str, url: str, **options: Any) -> AcmeResponse:
        self.stats.requests += 1
        try:
            response = await self._http.request(method, url, **options)
        except httpx.HTTPError as error:
            detail = f"{method} failed: {type(error).__name__}: {error}"
            raise EnrollmentError(step, detail, url=url) from error
        self.nonces.add(response.headers.get("replay-nonce"))
        return AcmeResponse(response.status_code, response.headers, response.content, url)

    def _fail(self, step: str, response: AcmeResponse, what: str) -> EnrollmentError:
        problem = _problem_of(response)
        if problem is not None:
            return EnrollmentError(
                step, f"{what} failed", url=response.url, problem=problem, status=response.status
            )
        detail = (
            f"{what} failed with {response.content_type or 'no content type'} "
            f"(not an {PROBLEM_CONTENT_TYPE} document): {_snippet(response.body)}"
        )
        return EnrollmentError(step, detail, url=response.url, status=response.status)

    def _json(self, step: str, response: AcmeResponse) -> Any:
        if response.content_type != JSON_CONTENT_TYPE:
            detail = (
                f"expected content type {JSON_CONTENT_TYPE}, got "
                f"{response.content_type or 'none'}: {_snippet(response.body)}"
            )
            raise EnrollmentError(step, detail, url=response.url, status=response.status)
        try:
            return json.loads(response.body)
        except (ValueError, RecursionError) as error:
            detail = f"malformed JSON in the response: {error}: {_snippet(response.body)}"
            raise EnrollmentError(step, detail, url=response.url, status=response.status) from None

    def _parse(
        self, step: str, response: AcmeResponse, parse: Callable[[object], _T], what: str
    ) -> _T:
        data = self._json(step, response)
        try:
            return parse(data)
        except (ValueError, TypeError) as error:
            detail = f"the response is not a valid {what} object: {error}"
            raise EnrollmentError(step, detail, url=response.url, status=response.status) from None

    async def directory(self) -> Directory:
        """The directory, fetched once (RFC 8555 §7.1.1)."""
        if self._directory is None:
            response = await self._send("directory", "GET", self.directory_url)
            if response.status != 200:
                raise self._fail("directory", response, "GET directory")
            self._directory = self._parse("directory", response, Directory.from_json, "directory")
        return self._directory

    async def _nonce(self) -> str:
        nonce = self.nonces.take()
        if nonce is not None:
            return nonce
        url = (await self.directory()).new_nonce
        response = await self._send("newNonce", "HEAD", url)
        if response.status not in (200, 204):
            raise self._fail("newNonce", response, "HEAD newNonce")
        nonce = self.nonces.take()
        if nonce is None:
            raise EnrollmentError("newNonce", "no Replay-Nonce header in the response", url=url)
        return nonce

    async def post(
        self,
        step: str,
        url: str,
        payload: Mapping[str, Any] | None,
        *,
        use_jwk: bool = False,
        expect: Collection[int] = (200, 201),
    ) -> AcmeResponse:
        """A signed POST (``payload`` None: POST-as-GET), retried after ``badNonce``.

        Signed with ``kid`` (the account URL) unless ``use_jwk``; a status outside ``expect``
        raises with the problem document (A-ERR-1).
        """
        kid = None if use_jwk else self.account_url
        if kid is None and not use_jwk:
            raise EnrollmentError(step, "no account yet: call account() first", url=url)
        retries = 0
        while True:
            nonce = await self._nonce()
            body = sign_jws(payload, key=self.account_key, url=url, nonce=nonce, kid=kid)
            response = await self._send(
                step, "POST", url, content=body, headers={"Content-Type": JOSE_CONTENT_TYPE}
            )
            problem = _problem_of(response) if response.status >= 400 else None
            bad_nonce = problem is not None and problem.type == ProblemType.BAD_NONCE
            retry = not self.faults.on(client_faults.NO_BAD_NONCE_RETRY)
            if bad_nonce and retry and retries < self.max_nonce_retries:
                retries += 1
                self.stats.bad_nonce_retries += 1
                continue
            if response.status in expect:
                return response
            raise self._fail(step, response, f"POST {step}")

    async def account(
        self,
        *,
        contact: tuple[str, ...] = (),
        eab: ExternalAccountBinding | None = None,
    ) -> AccountHandle:
        """Reuse the account of this key if the server knows it, else create it (RFC 8555 §7.3).

        ``onlyReturnExisting`` first (A-ACCT-1); a new account agrees to the terms of service
        and carries ``contact`` and the external account binding, if given.
        """
        url = (await self.directory()).new_account
        response = await self.post(
            "newAccount",
            url,
            {"onlyReturnExisting": True},
            use_jwk=True,
            expect=(200, 201, 400),
        )
        created = False
        if response.status == 400:
            problem = _problem_of(response)
            if problem is None or problem.type != ProblemType.ACCOUNT_DOES_NOT_EXIST:
                raise self._fail("newAccount", response, "POST newAccount (onlyReturnExisting)")
            payload: dict[str, Any] = {"termsOfServiceAgreed": True}
            if contact:
                payload["contact"] = list(contact)
            if eab is not None:
                payload["externalAccountBinding"] = eab_binding(
                    account_jwk=public_jwk(self.account_key),
                    eab_kid=eab.kid,
                    hmac_key=eab.hmac_key,
                    url=url,
                )
            response = await self.post("newAccount", url, payload, use_jwk=True)
            created = True
        location = response.location
        if not location:
            raise EnrollmentError(
                "newAccount", "no Location header naming the account", url=url, status=200
            )
        account = self._parse("newAccount", response, Account.from_json, "account")
        if account.status != AccountStatus.VALID:
            raise EnrollmentError("newAccount", f"account status is {account.status}", url=location)
        self.account_url = location
        return AccountHandle(location, account, created)

    async def new_order(self, identifiers: Collection[Identifier]) -> OrderHandle:
        """Order a certificate for these identifiers (RFC 8555 §7.4; FLOW-1)."""
        url = (await self.directory()).new_order
        payload = {"identifiers": [identifier.to_json() for identifier in identifiers]}
        response = await self.post("newOrder", url, payload, expect=(201, 200))
        if not response.location:
            raise EnrollmentError("newOrder", "no Location header naming the order", url=url)
        order = self._parse("newOrder", response, Order.from_json, "order")
        return OrderHandle(response.location, order)

    async def _fetch(
        self, step: str, url: str, parse: Callable[[object], _T], what: str
    ) -> tuple[_T, float | None]:
        response = await self.post(step, url, None, expect=(200,))
        return self._parse(step, response, parse, what), response.retry_after

    async def authorization(self, url: str) -> Authorization:
        """POST-as-GET an authorization (RFC 8555 §7.5; FLOW-2)."""
        return (await self._fetch("authorization", url, Authorization.from_json, "authorization"))[
            0
        ]

    async def order(self, url: str) -> Order:
        """POST-as-GET an order."""
        return (await self._fetch("order", url, Order.from_json, "order"))[0]

    async def respond(self, challenge_url: str) -> Challenge:
        """Tell the server to validate: POST ``{}`` to the challenge URL (A-CHAL-2, CHAL-OBJ-4)."""
        response = await self.post("challenge", challenge_url, {}, expect=(200,))
        return self._parse("challenge", response, Challenge.from_json, "challenge")

    async def _poll(
        self,
        step: str,
        url: str,
        parse: Callable[[object], _T],
        what: str,
        done: Callable[[_T], bool],
        timeout: float,  # noqa: ASYNC109
        describe: Callable[[_T], str],
    ) -> _T:
        deadline = time.monotonic() + timeout
        delay: float | None = None
        while True:
            value, retry_after = await self._fetch(step, url, parse, what)
            if self.faults.on(client_faults.IGNORES_RETRY_AFTER):
                retry_after = None
            self.stats.polls += 1
            if done(value):
                return value
            delay = next_poll_delay(delay, retry_after, self.poll)
            if retry_after is not None:
                self.stats.retry_after_waits.append(delay)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise EnrollmentTimeout(
                    step, f"still {describe(value)} after {timeout:.1f} s of polling", url=url
                )
            await asyncio.sleep(min(delay, remaining))

    async def wait_authorization(self, url: str, timeout: float) -> Authorization:  # noqa: ASYNC109
        """Poll until the authorization is no longer pending; raise unless it is valid."""
        authz = await self._poll(
            "authorization",
            url,
            Authorization.from_json,
            "authorization",
            lambda a: a.status != AuthorizationStatus.PENDING,
            timeout,
            lambda a: f"authorization {a.status.value}",
        )
        if authz.status != AuthorizationStatus.VALID:
            errors = [c.error for c in authz.challenges if c.error is not None]
            raise EnrollmentError(
                "authorization",
                f"authorization became {authz.status.value}",
                url=url,
                problem=errors[0] if errors else None,
            )
        return authz

    async def wait_order(
        self,
        url: str,
        wanted: Collection[OrderStatus],
        timeout: float,  # noqa: ASYNC109
    ) -> Order:
        """Poll until the order reaches one of ``wanted``; ``invalid`` raises with its error."""
        order = await self._poll(
            "order",
            url,
            Order.from_json,
            "order",
            lambda o: o.status in wanted or o.status == OrderStatus.INVALID,
            timeout,
            lambda o: f"order {o.status.value}",
        )
        if order.status not in wanted:
            raise EnrollmentError(
                "order", f"order became {order.status.value}", url=url, problem=order.error
            )
        return order

    async def finalize(self, handle: OrderHandle, csr_der: bytes) -> Order:
        """Send the CSR (base64url DER, A-FIN-1) to the order's finalize URL (RFC 8555 §7.4)."""
        url = handle.order.finalize
        standard = self.faults.on(client_faults.CSR_IN_STANDARD_BASE64)
        csr = base64.b64encode(csr_der).decode("ascii") if standard else b64url_encode(csr_der)
        payload = {"csr": csr}
        response = await self.post("finalize", url, payload, expect=(200,))
        return self._parse("finalize", response, Order.from_json, "order")

    async def certificate(self, url: str) -> bytes:
        """Download the PEM chain by POST-as-GET (RFC 8555 §7.4.2, A-CERT-1)."""
        response = await self.post("certificate", url, None, expect=(200,))
        if response.content_type != PEM_CHAIN_CONTENT_TYPE:
            detail = (
                f"expected content type {PEM_CHAIN_CONTENT_TYPE}, got "
                f"{response.content_type or 'none'}: {_snippet(response.body)}"
            )
            raise EnrollmentError("certificate", detail, url=url, status=response.status)
        try:
            certificates = x509.load_pem_x509_certificates(response.body)
        except ValueError as error:
            raise EnrollmentError(
                "certificate", f"the chain holds no readable certificate: {error}", url=url
            ) from None
        if not certificates:
            raise EnrollmentError("certificate", "the chain is empty", url=url)
        return response.body
