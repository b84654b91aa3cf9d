"""Test-side ACME driving for the server suite: the few requests a test needs, rules bent on demand.

Not an ACME client: requests are signed with ``rfc8823.acme.jws`` and sent with httpx, responses
are handed back raw so a test asserts on exactly what the CA answered. The user's side of the
mail goes through the world: challenge emails land in ``world.store``, replies are built with
``ResponseEmail`` and submitted through the world's submission port, whose provider DKIM-signs
them and relays them to the CA's reply listener (RFC 8823 §3.2 (8)).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from rfc8823.acme.identifier import EMAIL_REPLY_00
from rfc8823.acme.jws import AccountPrivateKey, eab_binding, public_jwk, sign_jws
from rfc8823.acme.problems import PROBLEM_CONTENT_TYPE, Problem, ProblemType
from rfc8823.domains import to_a_label
from rfc8823.messages.challenge import ChallengeAuth, authenticate_challenge
from rfc8823.messages.headers import parse_acme_subject
from rfc8823.messages.mime import parse_message
from rfc8823.messages.response import ResponseEmail
from rfc8823.targets import ServerCapabilities, ServerEndpoints
from rfc8823.tokens import Concatenation, b64url_encode, jwk_thumbprint
from rfc8823.world.keys import KeyKind, cached_key
from rfc8823.world.mailstore import ReceivedMessage
from rfc8823.world.sendmail import SendResult, send_message_async
from rfc8823.world.world import World

JOSE = "application/jose+json"
SHARED_ACCOUNT_KEY = "server-suite-account"
MAIL_BEFORE_POST = 2.0
"""Seconds to wait for the challenge email after the authz fetch before POSTing first (AMB-3)."""

_FIRST_POLL = 0.05
_MAX_POLL = 1.0
_TERMINAL = frozenset({"valid", "invalid", "deactivated", "expired", "revoked"})


@dataclass(frozen=True)
class Timeouts:
    """Bounds on every wait: mail delivery, state changes, and HTTP requests (seconds)."""

    mail: float = 10.0
    state: float = 10.0
    http: float = 10.0


def problem_of(response: httpx.Response) -> Problem | None:
    """The RFC 7807 problem document in ``response``, or None when the body is not one."""
    try:
        return Problem.from_json(response.json(), status=response.status_code)
    except ValueError:
        return None


def expect_problem(
    response: httpx.Response, *types: ProblemType, status: int | None = None
) -> Problem:
    """Assert ``response`` is an ACME problem of one of ``types`` (A-ERR-1); return it."""
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
    """The JSON object body of a successful response, asserting its status."""
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


def token_part1_of(raw: bytes) -> str | None:
    """token-part1 as a receiver reads it from a challenge email's Subject (CHAL-SUBJ-1..3)."""
    subject = parse_message(raw).first("Subject")
    return parse_acme_subject(subject).token_part1 if subject is not None else None


def same_mailbox(address: str) -> str:
    """An address as a mailbox key: local part exact, domain in lower-case A-labels."""
    local, at, domain = address.rpartition("@")
    return f"{local}@{to_a_label(domain)}" if at else address


def csr_field(csr: x509.CertificateSigningRequest | bytes) -> str:
    """The finalize ``csr`` value: base64url of the DER request (RFC 8555 §7.4)."""
    der = csr if isinstance(csr, bytes) else csr.public_bytes(serialization.Encoding.DER)
    return b64url_encode(der)


def fresh_key() -> ec.EllipticCurvePrivateKey:
    """A new P-256 account key: a fresh account without a key cache entry (ES256, A-JWS-3)."""
    return ec.generate_private_key(ec.SECP256R1())


class AcmeClient:
    """One test's HTTP client on the CA: directory, nonces, signed and raw POSTs."""

    def __init__(self, http: httpx.AsyncClient, endpoints: ServerEndpoints) -> None:
        self.http = http
        self.endpoints = endpoints
        self._directory: dict[str, Any] | None = None
        self._nonces: list[str] = []

    async def directory(self) -> dict[str, Any]:
        """The directory object (fetched once)."""
        if self._directory is None:
            response = await self.http.get(self.endpoints.directory_url)
            self._directory = json_object(response)
        return self._directory

    async def url(self, name: str) -> str:
        """A directory entry such as ``newOrder``."""
        value = (await self.directory()).get(name)
        assert isinstance(value, str), f"observed directory {name}={value!r}; expected a URL"
        return value

    async def fresh_nonce(self) -> str:
        """A nonce straight from newNonce (HEAD), never a saved one (A-NONCE-1)."""
        response = await self.http.head(await self.url("newNonce"))
        nonce = str(response.headers.get("Replay-Nonce", ""))
        assert nonce, f"observed HEAD newNonce without Replay-Nonce (HTTP {response.status_code})"
        return nonce

    async def nonce(self) -> str:
        """A nonce saved from an earlier response, else a fresh one."""
        return self._nonces.pop() if self._nonces else await self.fresh_nonce()

    def _keep_nonce(self, response: httpx.Response) -> None:
        nonce = response.headers.get("Replay-Nonce")
        if nonce:
            self._nonces.append(nonce)

    async def post_raw(self, url: str, body: bytes, *, content_type: str = JOSE) -> httpx.Response:
        """POST exactly these bytes."""
        response = await self.http.post(url, content=body, headers={"Content-Type": content_type})
        self._keep_nonce(response)
        return response

    async def post_signed(
        self,
        url: str,
        payload: Mapping[str, Any] | bytes | None,
        *,
        key: AccountPrivateKey,
        kid: str | None,
        nonce: str | None = None,
        signed_url: str | None = None,
    ) -> httpx.Response:
        """One signed POST, no retry (``payload`` None: POST-as-GET; ``kid`` None: ``jwk``)."""
        body = sign_jws(
            payload,
            key=key,
            url=signed_url or url,
            nonce=nonce or await self.nonce(),
            kid=kid,
        )
        return await self.post_raw(url, body)

    async def post(
        self,
        url: str,
        payload: Mapping[str, Any] | bytes | None,
        *,
        key: AccountPrivateKey,
        kid: str | None,
    ) -> httpx.Response:
        """A signed POST, retried once with the fresh nonce of a ``badNonce`` (RFC 8555 §6.5)."""
        response = await self.post_signed(url, payload, key=key, kid=kid)
        problem = problem_of(response) if response.status_code == 400 else None
        if problem is not None and problem.type == ProblemType.BAD_NONCE:
            response = await self.post_signed(url, payload, key=key, kid=kid)
        return response

    async def new_account_raw(
        self, key: AccountPrivateKey, payload: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        """newAccount for ``key`` (terms agreed; EAB added when the CA gave credentials)."""
        url = await self.url("newAccount")
        body: dict[str, Any] = {"termsOfServiceAgreed": True, **(payload or {})}
        eab = self.endpoints.eab
        if eab is not None and "externalAccountBinding" not in body:
            body["externalAccountBinding"] = eab_binding(
                account_jwk=public_jwk(key), eab_kid=eab.kid, hmac_key=eab.hmac_key, url=url
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
    """An ACME account: its key, its URL (the ``kid``) and ``kid``-signed requests."""

    client: AcmeClient
    key: AccountPrivateKey
    url: str

    @property
    def thumbprint(self) -> str:
        """RFC 7638 thumbprint of the account key (KA-2)."""
        return jwk_thumbprint(self.key)

    async def post(self, url: str, payload: Mapping[str, Any] | bytes | None) -> httpx.Response:
        """A ``kid``-signed POST (``payload`` None: POST-as-GET)."""
        return await self.client.post(url, payload, key=self.key, kid=self.url)

    async def fetch(self, url: str) -> dict[str, Any]:
        """POST-as-GET a resource, asserting 200 and a JSON object (A-GET-1)."""
        return json_object(await self.post(url, None))

    async def new_order_raw(self, identifiers: Sequence[Mapping[str, Any]]) -> httpx.Response:
        """newOrder with these identifier objects, as given."""
        payload = {"identifiers": [dict(identifier) for identifier in identifiers]}
        return await self.post(await self.client.url("newOrder"), payload)

    async def new_order(self, *addresses: str) -> OrderHandle:
        """newOrder for ``email`` identifiers, asserting 201 and a Location (A-ORD-1)."""
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

        Polling is how ACME reports progress (RFC 8555 §7.5.1); the interval starts short and
        grows to Retry-After (capped at 1 s) so a fast CA is not slowed down. Returns the last
        object seen; the caller asserts on its status.
        """
        wanted = frozenset(statuses)
        deadline = time.monotonic() + timeout
        interval = _FIRST_POLL
        while True:
            response = await self.post(url, None)
            body = json_object(response)
            status = body.get("status")
            if status in wanted or status in _TERMINAL or time.monotonic() >= deadline:
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
    """An order as created: its URL, its object at creation and the addresses ordered."""

    account: Account
    url: str
    body: dict[str, Any]
    addresses: tuple[str, ...]

    @property
    def authorizations(self) -> list[str]:
        """The authorization URLs of the order (A-ORD-1)."""
        value = self.body.get("authorizations")
        assert isinstance(value, list), f"observed authorizations={value!r}; expected an array"
        return [str(url) for url in value]

    async def refresh(self) -> dict[str, Any]:
        """The order object now."""
        return await self.account.fetch(self.url)


@dataclass
class ChallengeFlow:
    """One email identifier's authorization, from fetch to reply (RFC 8823 §3 steps 3-8)."""

    suite: ServerSuite
    order: OrderHandle
    authz_url: str
    address: str
    authz: dict[str, Any] = field(default_factory=dict)
    challenge: dict[str, Any] = field(default_factory=dict)
    email: ReceivedMessage | None = None
    posted: bool = False

    @property
    def account(self) -> Account:
        """The account that ordered."""
        return self.order.account

    @property
    def challenge_url(self) -> str:
        """The email-reply-00 challenge URL."""
        return str(self.challenge["url"])

    @property
    def token_part2(self) -> str:
        """The challenge object's ``token`` (CHAL-OBJ-2)."""
        return str(self.challenge["token"])

    @property
    def token_part1(self) -> str:
        """token-part1 from the challenge email's Subject."""
        assert self.email is not None, "no challenge email received yet"
        token = token_part1_of(self.email.data)
        assert token is not None, "observed a challenge Subject without token-part1"
        return token

    async def fetch_authz(self) -> dict[str, Any]:
        """POST-as-GET the authorization and pick its email-reply-00 challenge (FLOW-2)."""
        self.authz = await self.account.fetch(self.authz_url)
        challenges = self.authz.get("challenges", [])
        found = [c for c in challenges if isinstance(c, dict) and c.get("type") == EMAIL_REPLY_00]
        assert found, f"observed challenges {challenges!r}; expected an {EMAIL_REPLY_00} one"
        self.challenge = found[0]
        return self.authz

    async def receive(self, *, post_if_silent: bool = True) -> ReceivedMessage:
        """The challenge email; POSTs the challenge first if none came soon after the fetch.

        Decision 4 / AMB-3: some CAs mail only at the challenge POST.
        """
        timeouts = self.suite.timeouts
        if not self.challenge:
            await self.fetch_authz()
        if self.email is not None:
            return self.email
        first_wait = MAIL_BEFORE_POST if post_if_silent and not self.posted else timeouts.mail
        try:
            self.email = await self.suite.next_mail(self.address, first_wait)
        except TimeoutError:
            if not post_if_silent or self.posted:
                raise
            await self.post()
            self.email = await self.suite.next_mail(self.address, timeouts.mail)
        return self.email

    def reply(
        self, *, reading: Concatenation = Concatenation.STRING, thumbprint: str | None = None
    ) -> ResponseEmail:
        """The conforming reply builder for the received email (unsigned: the provider signs)."""
        assert self.email is not None, "no challenge email received yet"
        return ResponseEmail.answering(
            self.email.data,
            identifier=self.address,
            thumbprint=thumbprint or self.account.thumbprint,
            token_part2=self.token_part2,
            reading=reading,
        )

    async def answer(self, builder: ResponseEmail | None = None) -> SendResult:
        """Submit the reply as the user; the provider DKIM-signs it and relays it to the CA."""
        data = (builder or self.reply()).build()
        return await self.suite.submit(self.address, data)

    async def post(self, payload: Mapping[str, Any] | None = None) -> httpx.Response:
        """The readiness POST of the challenge, ``{}`` by default (RFC 8555 §7.5.1)."""
        response = await self.account.post(self.challenge_url, dict(payload or {}))
        self.posted = True
        return response

    async def wait_challenge(self, *statuses: str) -> dict[str, Any]:
        """The challenge once its status is one of ``statuses`` (default: valid) or terminal."""
        return await self.account.wait_for_status(
            self.challenge_url, statuses or ("valid",), self.suite.timeouts.state
        )

    async def complete(self, builder: ResponseEmail | None = None) -> dict[str, Any]:
        """Receive, answer, POST, and return the challenge once valid (asserted)."""
        await self.receive()
        await self.answer(builder)
        if not self.posted:
            response = await self.post()
            assert response.status_code == 200, (
                f"observed challenge POST HTTP {response.status_code}: {response.text[:300]}"
            )
        challenge = await self.wait_challenge("valid")
        assert challenge.get("status") == "valid", (
            f"observed challenge {challenge.get('status')!r} after a conforming reply and POST "
            f"(error: {challenge.get('error')}); expected valid"
        )
        return challenge


class ServerSuite:
    """What a server test works with: the world, the CA's endpoints and capabilities, ACME."""

    def __init__(
        self,
        world: World,
        endpoints: ServerEndpoints,
        capabilities: ServerCapabilities,
        client: AcmeClient,
        timeouts: Timeouts,
    ) -> None:
        self.world = world
        self.endpoints = endpoints
        self.capabilities = capabilities
        self.acme = client
        self.timeouts = timeouts
        self._taken: set[int] = set()

    async def account(self, *, fresh: bool = False, kind: KeyKind = "p256") -> Account:
        """The suite's shared account, or (``fresh``) a new one with a new key."""
        key = fresh_key() if fresh else cached_key(f"{SHARED_ACCOUNT_KEY}-{kind}", kind)
        return await self.acme.account(key)

    def new_address(self, domain: str = "example.test") -> str:
        """A mailbox nobody has used (tests isolate by address)."""
        return self.world.new_address(domain)

    async def order(self, account: Account, *addresses: str) -> OrderHandle:
        """newOrder for these addresses (default: one fresh address)."""
        return await account.new_order(*(addresses or (self.new_address(),)))

    async def flows(self, order: OrderHandle) -> list[ChallengeFlow]:
        """One flow per authorization of ``order``, each authorization fetched."""
        flows: list[ChallengeFlow] = []
        for url in order.authorizations:
            authz = await order.account.fetch(url)
            value = authz.get("identifier", {}).get("value")
            flow = ChallengeFlow(self, order, url, str(value))
            flow.authz = authz
            await flow.fetch_authz()
            flows.append(flow)
        return flows

    async def flow(
        self, account: Account | None = None, address: str | None = None, *, receive: bool = True
    ) -> ChallengeFlow:
        """An order for one address (default: fresh), its authz fetched, email received."""
        account = account or await self.account()
        order = await self.order(account, address or self.new_address())
        flow = (await self.flows(order))[0]
        if receive:
            await flow.receive()
        return flow

    async def ready_order(
        self, account: Account | None = None, *addresses: str
    ) -> tuple[OrderHandle, dict[str, Any]]:
        """An order whose every authorization was validated by a conforming reply: ``ready``."""
        account = account or await self.account()
        order = await self.order(account, *addresses)
        for flow in await self.flows(order):
            await flow.complete()
        body = await account.wait_for_status(order.url, ("ready",), self.timeouts.state)
        assert body.get("status") == "ready", (
            f"observed order {body.get('status')!r} with every authorization valid; expected ready"
        )
        return order, body

    async def next_mail(self, address: str, timeout: float) -> ReceivedMessage:  # noqa: ASYNC109
        """The next message to ``address`` this test has not taken yet.

        Addresses compare with the local part exact and the domain in lower-case A-labels, so
        a CA may write an IDN domain either way (RFC 5890).
        """
        wanted = same_mailbox(address)

        def unseen_for_address(message: ReceivedMessage) -> bool:
            return message.seq not in self._taken and any(
                same_mailbox(rcpt) == wanted for rcpt in message.rcpt_tos
            )

        found = await self.world.store.wait_until(unseen_for_address, timeout)
        self._taken.add(found.seq)
        return found

    async def submit(
        self, sender: str, data: bytes, rcpts: Sequence[str] | None = None
    ) -> SendResult:
        """Send as the user through submission (AUTH); the sender's provider DKIM-signs.

        A non-ASCII sender cannot log in over SMTP AUTH, so its message is signed with its
        provider's key here and handed over as the provider's MX would.
        """
        domain = sender.rpartition("@")[2]
        self.world.sign_outbound(domain)
        return await send_message_async(
            self.world.submission.host,
            self.world.submission.port,
            mail_from=sender,
            rcpt_tos=list(rcpts or [self.endpoints.challenge_from]),
            data=data,
            tls="starttls",
            ssl_context=self.world.client_ssl_context(),
            auth=self.world.submission_login(sender),
            smtputf8=not sender.isascii(),
            timeout=self.timeouts.mail,
        )

    async def deliver_direct(
        self,
        sender: str,
        data: bytes,
        *,
        source_domain: str | None = None,
        source_address: str | None = None,
        rcpts: Sequence[str] | None = None,
    ) -> SendResult:
        """Hand a message straight to the CA's reply SMTP, unsigned by any provider.

        It comes from the SPF-authorised address of ``source_domain`` (default: the sender's
        domain), as if that domain's MX relayed it untouched; or from ``source_address``, an
        address that SPF may not allow (e.g. ``UNAUTHORISED_SOURCE``).
        """
        host, port = self.endpoints.reply_smtp
        if source_address is None:
            origin = self.world.domain((source_domain or sender.rpartition("@")[2]).lower())
            source_address, helo = origin.source_ip, f"mx.{origin.name}"
        else:
            helo = "relay.invalid"
        return await send_message_async(
            host,
            port,
            mail_from=sender,
            rcpt_tos=list(rcpts or [self.endpoints.challenge_from]),
            data=data,
            source_address=source_address,
            helo=helo,
            smtputf8=not sender.isascii(),
            timeout=self.timeouts.mail,
        )

    async def settle(self) -> None:
        """Wait until the CA has dealt with the mail sent so far: a control reply validates.

        A black-box barrier: a fresh order's conforming reply goes out after the mail under
        test, so once it validates, a CA that handles mail in arrival order has judged the
        earlier mail too.
        """
        flow = await self.flow()
        await flow.complete()

    async def mail_barrier(self) -> ReceivedMessage:
        """Wait until a control order's challenge email arrives: earlier mail would be in too."""
        flow = await self.flow()
        assert flow.email is not None
        return flow.email

    def challenge_auth(self, raw: bytes) -> ChallengeAuth:
        """DKIM and S/MIME verdicts on a challenge email (world DNS; the CA's S/MIME roots)."""
        return authenticate_challenge(
            raw,
            resolver=self.world.resolver,
            trust_anchors=list(self.endpoints.smime_trust_anchors),
        )

    def mail_to(self, *addresses: str) -> list[ReceivedMessage]:
        """Every message delivered so far to any of ``addresses`` (taken or not)."""
        wanted = {same_mailbox(address) for address in addresses}
        return [
            message
            for message in self.world.store.messages()
            if any(same_mailbox(rcpt) in wanted for rcpt in message.rcpt_tos)
        ]
