"""A raw ACME driver for tests: requests signed or hand-made, answers handed back as they came.

Not a client that hides errors (that is :mod:`rfc8823.client`): every response is returned as
httpx gave it, so a test asserts on exactly what the CA answered, and a test can send any bytes,
any nonce, any signed ``url`` (RFC 8555 §6.2-§6.5). The helpers that assert (``json_object``,
``expect_problem``, ``Account.fetch``, ...) fail with what was observed versus expected.
Nothing here knows about mail.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from rfc8823.acme.jws import (
    JOSE_CONTENT_TYPE,
    AccountPrivateKey,
    eab_binding,
    public_jwk,
    sign_jws,
)
from rfc8823.acme.problems import PROBLEM_CONTENT_TYPE, Problem, ProblemType
from rfc8823.tokens import b64url_encode, jwk_thumbprint

Payload = Mapping[str, Any] | bytes | None
"""A request payload: a JSON object, bytes sent verbatim, or None for POST-as-GET (§6.3)."""

_FIRST_POLL = 0.05
_MAX_POLL = 1.0
TERMINAL = frozenset({"valid", "invalid", "deactivated", "expired", "revoked"})
"""Statuses an ACME object never leaves (RFC 8555 §7.1.6)."""


class ExternalAccountKey(Protocol):
    """The key identifier and MAC key a CA issued for external account binding (§7.3.4)."""

    @property
    def kid(self) -> str: ...

    @property
    def hmac_key(self) -> bytes: ...


def problem_of(response: httpx.Response) -> Problem | None:
    """The RFC 7807 problem document in ``response``, or None when the body is not one (§6.7)."""
    try:
        return Problem.from_json(response.json(), status=response.status_code)
    except (ValueError, RecursionError):
        return None


def expect_problem(
    response: httpx.Response, *types: ProblemType, status: int | None = None
) -> Problem:
    """Assert ``response`` is an ACME problem of one of ``types`` (A-ERR-1); return it (§6.7)."""
    names = " or ".join(t.short_name for t in types)
    shown = f"HTTP {response.status_code} {response.headers.get('Content-Type')}: "
    shown += response.text[:300]
    assert response.status_code >= 400, f"observed {shown}; expected an error ({names})"
    media = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    assert media == PROBLEM_CONTENT_TYPE, (
        f"observed Content-Type {media!r}; expected {PROBLEM_CONTENT_TYPE} (A-ERR-1): {shown}"
    )
    problem = problem_of(response)
    assert problem is not None, f"observed a body that is no problem document: {shown}"
    assert not types or problem.type in types, (
        f"observed problem type {problem.type}; expected {names}: {shown}"
    )
    if status is not None:
        assert response.status_code == status, (
            f"observed HTTP {response.status_code}; expected {status}: {shown}"
        )
    return problem


def json_object(response: httpx.Response, expected_status: int = 200) -> dict[str, Any]:
    """The JSON object body of a successful response, asserting its status (RFC 8555 §7)."""
    assert response.status_code == expected_status, (
        f"observed HTTP {response.status_code}: {response.text[:300]}; expected {expected_status}"
    )
    body = response.json()
    assert isinstance(body, dict), f"observed a {type(body).__name__} body; expected an object"
    return body


def retry_after(response: httpx.Response) -> float | None:
    """The Retry-After delay in seconds, when given as a number (RFC 9110 §10.2.3)."""
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def csr_field(csr: x509.CertificateSigningRequest | bytes) -> str:
    """The finalize ``csr`` value: base64url of the DER request (RFC 8555 §7.4)."""
    der = csr if isinstance(csr, bytes) else csr.public_bytes(serialization.Encoding.DER)
    return b64url_encode(der)


class AcmeDriver:
    """One test's HTTP conversation with a CA: directory, nonces, signed and raw POSTs.

    ``reuse_nonces`` spends the ``Replay-Nonce`` of earlier responses before asking newNonce
    (RFC 8555 §7.2), as a client would; off, every request gets a fresh nonce. With
    ``retry_bad_nonce``, :meth:`post` retries once after ``badNonce`` (§6.5); off, a test sees
    every ``badNonce``. ``eab`` is bound into, ``contact`` and ``agree_terms``
    (``termsOfServiceAgreed``) are written into every newAccount that does not carry its own.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        directory_url: str,
        *,
        eab: ExternalAccountKey | None = None,
        contact: Sequence[str] = (),
        agree_terms: bool = True,
        reuse_nonces: bool = True,
        retry_bad_nonce: bool = True,
    ) -> None:
        self.http = http
        self.directory_url = directory_url
        self.eab = eab
        self.contact = tuple(contact)
        self.agree_terms = agree_terms
        self.reuse_nonces = reuse_nonces
        self.retry_bad_nonce = retry_bad_nonce
        self._directory: dict[str, Any] | None = None
        self._nonces: list[str] = []

    async def directory(self) -> dict[str, Any]:
        """The directory object, fetched once (RFC 8555 §7.1.1)."""
        if self._directory is None:
            response = await self.http.get(self.directory_url)
            self._directory = json_object(response)
        return self._directory

    async def url(self, name: str) -> str:
        """A directory entry such as ``newOrder`` (RFC 8555 §7.1.1)."""
        value = (await self.directory()).get(name)
        assert isinstance(value, str), f"observed directory {name}={value!r}; expected a URL"
        return value

    async def fresh_nonce(self) -> str:
        """A nonce straight from newNonce (HEAD), never a saved one (§7.2; A-NONCE-1)."""
        response = await self.http.head(await self.url("newNonce"))
        nonce = str(response.headers.get("Replay-Nonce", ""))
        assert nonce, f"observed HEAD newNonce without Replay-Nonce (HTTP {response.status_code})"
        return nonce

    async def nonce(self) -> str:
        """A nonce saved from an earlier response when reusing, else a fresh one (§6.5)."""
        return self._nonces.pop() if self._nonces else await self.fresh_nonce()

    async def post_raw(
        self, url: str, body: bytes, *, content_type: str = JOSE_CONTENT_TYPE
    ) -> httpx.Response:
        """POST exactly these bytes (RFC 8555 §6.2 for what a CA should make of them)."""
        response = await self.http.post(url, content=body, headers={"Content-Type": content_type})
        nonce = response.headers.get("Replay-Nonce")
        if nonce and self.reuse_nonces:
            self._nonces.append(nonce)
        return response

    async def post_signed(
        self,
        url: str,
        payload: Payload,
        *,
        key: AccountPrivateKey,
        kid: str | None,
        nonce: str | None = None,
        signed_url: str | None = None,
    ) -> httpx.Response:
        """One signed POST, never retried (§6.2); ``kid`` None signs with ``jwk``.

        ``nonce`` and ``signed_url`` replace the nonce and the protected ``url``, for tests
        that break §6.4 or §6.5 on purpose.
        """
        body = sign_jws(
            payload,
            key=key,
            url=signed_url or url,
            nonce=nonce or await self.nonce(),
            kid=kid,
        )
        return await self.post_raw(url, body)

    async def post(
        self, url: str, payload: Payload, *, key: AccountPrivateKey, kid: str | None
    ) -> httpx.Response:
        """A signed POST, retried once after ``badNonce`` when the driver retries (§6.5)."""
        response = await self.post_signed(url, payload, key=key, kid=kid)
        if self.retry_bad_nonce and response.status_code == 400:
            problem = problem_of(response)
            if problem is not None and problem.type == ProblemType.BAD_NONCE:
                response = await self.post_signed(url, payload, key=key, kid=kid)
        return response

    async def new_account_raw(
        self, key: AccountPrivateKey, payload: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        """newAccount for ``key`` with the driver's contact, terms agreement and EAB binding
        unless ``payload`` gives its own (§7.3, §7.3.3, §7.3.4)."""
        url = await self.url("newAccount")
        body: dict[str, Any] = {}
        if self.agree_terms:
            body["termsOfServiceAgreed"] = True
        if self.contact:
            body["contact"] = list(self.contact)
        body.update(payload or {})
        if self.eab is not None and "externalAccountBinding" not in body:
            body["externalAccountBinding"] = eab_binding(
                account_jwk=public_jwk(key),
                eab_kid=self.eab.kid,
                hmac_key=self.eab.hmac_key,
                url=url,
            )
        return await self.post(url, body, key=key, kid=None)

    async def account(self, key: AccountPrivateKey) -> Account:
        """The account of ``key``, registered if new (201) or found (200); RFC 8555 §7.3."""
        response = await self.new_account_raw(key)
        assert response.status_code in (200, 201), (
            f"observed newAccount HTTP {response.status_code}: {response.text[:300]}; "
            "expected 201 (or 200 for a known key)"
        )
        location = response.headers.get("Location")
        assert location, "observed newAccount without Location; expected the account URL"
        return Account(self, key, location)


@dataclass
class Account:
    """An ACME account: its key, its URL (the ``kid`` it signs with) and its requests (§7.3)."""

    driver: AcmeDriver
    key: AccountPrivateKey
    url: str

    @property
    def thumbprint(self) -> str:
        """RFC 7638 thumbprint of the account key, as key authorizations use it (§8.1)."""
        return jwk_thumbprint(self.key)

    async def post(self, url: str, payload: Payload) -> httpx.Response:
        """A ``kid``-signed POST (``payload`` None: POST-as-GET, §6.3)."""
        return await self.driver.post(url, payload, key=self.key, kid=self.url)

    async def fetch(self, url: str) -> dict[str, Any]:
        """POST-as-GET a resource, asserting 200 and a JSON object (§6.3; A-GET-1)."""
        return json_object(await self.post(url, None))

    async def new_order_raw(self, identifiers: Sequence[Mapping[str, Any]]) -> httpx.Response:
        """newOrder with these identifier objects, as given (§7.4)."""
        payload = {"identifiers": [dict(identifier) for identifier in identifiers]}
        return await self.post(await self.driver.url("newOrder"), payload)

    async def new_order(self, *addresses: str) -> OrderHandle:
        """newOrder for ``email`` identifiers, asserting 201 and a Location (§7.4; A-ORD-1)."""
        identifiers = [{"type": "email", "value": address} for address in addresses]
        response = await self.new_order_raw(identifiers)
        body = json_object(response, 201)
        location = response.headers.get("Location")
        assert location, "observed newOrder 201 without Location; expected the order URL"
        return OrderHandle(self, location, body, tuple(addresses))

    async def wait_for_status(
        self,
        url: str,
        statuses: Iterable[str],
        timeout: float,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Poll ``url`` until its status is one of ``statuses`` or terminal; bounded.

        Returns the last object seen; the caller asserts on its status (see :meth:`poll`).
        """
        wanted = frozenset(statuses)

        def settled(body: Mapping[str, Any]) -> bool:
            status = body.get("status")
            return status in wanted or status in TERMINAL

        return await self.poll(url, settled, timeout)

    async def poll(
        self,
        url: str,
        done: Callable[[Mapping[str, Any]], bool],
        timeout: float,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """POST-as-GET ``url`` until ``done`` says so of its object, or ``timeout`` runs out.

        Polling is how ACME reports progress (RFC 8555 §7.5.1); the interval starts short and
        grows to Retry-After (capped at 1 s) so a fast CA is not slowed down. Returns the last
        object seen.
        """
        deadline = time.monotonic() + timeout
        interval = _FIRST_POLL
        while True:
            response = await self.post(url, None)
            body = json_object(response)
            if done(body) or time.monotonic() >= deadline:
                return body
            hint = retry_after(response)
            pause = min(interval, hint if hint is not None else _MAX_POLL, _MAX_POLL)
            await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            interval = min(interval * 2, _MAX_POLL)

    async def finalize(
        self, order: Mapping[str, Any], csr: x509.CertificateSigningRequest | bytes
    ) -> httpx.Response:
        """POST the finalize URL of ``order`` with this CSR (RFC 8555 §7.4)."""
        return await self.post(str(order["finalize"]), {"csr": csr_field(csr)})


@dataclass
class OrderHandle:
    """An order as created: its URL, its object at creation and the addresses ordered (§7.4)."""

    account: Account
    url: str
    body: dict[str, Any]
    addresses: tuple[str, ...]

    @property
    def authorizations(self) -> list[str]:
        """The authorization URLs of the order (§7.1.3; A-ORD-1)."""
        value = self.body.get("authorizations")
        assert isinstance(value, list), f"observed authorizations={value!r}; expected an array"
        return [str(url) for url in value]

    async def refresh(self) -> dict[str, Any]:
        """The order object now (POST-as-GET, §7.1.3)."""
        return await self.account.fetch(self.url)
