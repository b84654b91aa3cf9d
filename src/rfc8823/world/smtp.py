"""SMTP listeners of the test world: aiosmtpd servers on loopback that record every message.

A server runs either in the caller's event loop (``async with``) or on its own loop in a daemon
thread (``with`` / ``start()``), and hands each accepted message to a :class:`MailStore`.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import logging
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, Literal, Self

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from rfc8823.world.mailstore import MailStore, ReceivedMessage
from rfc8823.world.service import AsyncService, Service

__all__ = ["DEFAULT_MAX_SIZE", "MessageHook", "SmtpServer", "TlsMode"]

log = logging.getLogger(__name__)

TlsMode = Literal["none", "starttls", "implicit"]
MessageHook = Callable[[ReceivedMessage], Awaitable[None] | None]

DEFAULT_MAX_SIZE = 32 * 1024 * 1024


class SmtpServer(AsyncService, Service):
    """One SMTP listener (an MX, a submission port, a relay) recording what it accepts.

    ``tls`` picks plain, STARTTLS (RFC 3207) or implicit TLS (RFC 8314); ``auth`` maps user to
    password for AUTH PLAIN/LOGIN (RFC 4954), offered only under TLS unless ``auth_over_plain``;
    ``accept_domains`` limits recipient domains; SMTPUTF8 (RFC 6531) and 8BITMIME are offered.
    ``on_message`` runs on the server's loop after each delivery to ``store``; if it raises, the
    client gets a 451 (the message stays in the store). ``ready_timeout`` bounds starting and
    stopping.
    """

    def __init__(
        self,
        *,
        name: str = "smtp",
        host: str = "127.0.0.1",
        port: int = 0,
        tls: TlsMode = "none",
        ssl_context: ssl.SSLContext | None = None,
        require_starttls: bool = False,
        auth: Mapping[str, str] | None = None,
        auth_required: bool = False,
        auth_over_plain: bool = False,
        max_size: int | None = DEFAULT_MAX_SIZE,
        accept_domains: Collection[str] | None = None,
        store: MailStore | None = None,
        on_message: MessageHook | None = None,
        hostname: str | None = None,
        ready_timeout: float = 10.0,
    ) -> None:
        _check_options(tls, ssl_context, require_starttls, auth, auth_required, auth_over_plain)
        self.name = name
        self.host = host
        self.store = store if store is not None else MailStore()
        self.tls: TlsMode = tls
        self._requested_port = port
        self._ssl_context = ssl_context
        self._require_starttls = require_starttls
        self._auth = dict(auth) if auth is not None else None
        self._auth_required = auth_required
        self._auth_over_plain = auth_over_plain
        self._max_size = max_size
        self._accept_domains = (
            frozenset(d.lower() for d in accept_domains) if accept_domains is not None else None
        )
        self._on_message = on_message
        self._hostname = hostname or name
        self._ready_timeout = ready_timeout
        self._handler = _Handler(self)
        self._server: asyncio.Server | None = None
        self._connections = _Connections()
        self._thread: threading.Thread | None = None
        self._thread_stop: Callable[[], object] | None = None

    @property
    def port(self) -> int:
        """The bound port (ephemeral when constructed with ``port=0``)."""
        if self._server is None:
            raise RuntimeError(f"SMTP server {self.name!r} is not running")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` to connect to."""
        return self.host, self.port

    async def start_async(self) -> None:
        """Listen in the running event loop."""
        if self._server is not None:
            raise RuntimeError(f"SMTP server {self.name!r} is already running")
        loop = asyncio.get_running_loop()
        connections = self._connections = _Connections()
        options = self._smtp_options()
        self._server = await loop.create_server(
            lambda: _TrackedSMTP(connections, self._handler, loop=loop, **options),
            host=self.host,
            port=self._requested_port,
            ssl=self._ssl_context if self.tls == "implicit" else None,
        )

    async def stop_async(self) -> None:
        """Stop listening and drop open connections; the store keeps its messages."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        async with asyncio.timeout(self._ready_timeout):
            await self._connections.drop_all()
            await server.wait_closed()

    def start(self) -> Self:
        """Listen on a private event loop in a daemon thread (for sync code)."""
        if self._thread is not None or self._server is not None:
            raise RuntimeError(f"SMTP server {self.name!r} is already running")
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=asyncio.run,
            args=(self._serve_in_thread(ready, failure),),
            name=f"smtp-{self.name}",
            daemon=True,
        )
        self._thread.start()
        if not ready.wait(self._ready_timeout):
            raise TimeoutError(
                f"SMTP server {self.name!r} did not start in {self._ready_timeout} s"
            )
        if failure:
            self._thread.join(self._ready_timeout)
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop the threaded server and wait for its thread to end."""
        thread, stop = self._thread, self._thread_stop
        if thread is None or stop is None:
            return
        stop()
        thread.join(self._ready_timeout)
        if thread.is_alive():
            raise TimeoutError(f"SMTP server {self.name!r} did not stop in {self._ready_timeout} s")
        self._thread = None
        self._thread_stop = None

    async def _serve_in_thread(self, ready: threading.Event, failure: list[BaseException]) -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        try:
            await self.start_async()
        except BaseException as error:  # noqa: BLE001 - re-raised by start() in the caller
            failure.append(error)
            ready.set()
            return
        self._thread_stop = lambda: loop.call_soon_threadsafe(stopping.set)
        ready.set()
        await stopping.wait()
        await self.stop_async()

    def _smtp_options(self) -> dict[str, Any]:
        """Keyword arguments for aiosmtpd's ``SMTP`` protocol, one instance per connection."""
        options: dict[str, Any] = {
            "hostname": self._hostname,
            "data_size_limit": self._max_size,
            "enable_SMTPUTF8": True,
            "decode_data": False,
            "auth_require_tls": self.tls == "starttls" and not self._auth_over_plain,
        }
        if self.tls == "starttls":
            options["tls_context"] = self._ssl_context
            options["require_starttls"] = self._require_starttls
        if self._auth is not None:
            options["authenticator"] = self._authenticate
        return options

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """Check AUTH PLAIN/LOGIN credentials against the configured users (RFC 4954)."""
        refused = AuthResult(success=False, handled=False)
        if self._auth is None or not isinstance(data, LoginPassword):
            return refused
        try:
            user = data.login.decode("utf-8")
        except UnicodeDecodeError:
            return refused
        expected = self._auth.get(user)
        if expected is None or not hmac.compare_digest(expected.encode("utf-8"), data.password):
            return refused
        return AuthResult(success=True, auth_data=user)

    def set_password(self, user: str, password: str) -> None:
        """Add or change one AUTH user while the server runs (the world adds users per test)."""
        if self._auth is None:
            raise ValueError(f"{self.name} was built without AUTH")
        self._auth[user] = password

    def _ehlo_lines(self, responses: list[str]) -> list[str]:
        if self._auth is None:
            return [line for line in responses if not line.startswith("250-AUTH")]
        return responses

    def _refuse_mail(self, session: Session) -> str | None:
        if self._auth_required and not session.authenticated:
            return "530 5.7.0 Authentication required"
        return None

    def _refuse_rcpt(self, address: str) -> str | None:
        if self._accept_domains is None:
            return None
        _, at, domain = address.rpartition("@")
        if at and domain.lower() in self._accept_domains:
            return None
        return f"550 5.1.1 <{address}>: recipient domain not served by {self.name}"

    async def _received(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        transport = server.transport
        peer = session.peer
        mail_from = envelope.mail_from or ""
        msg = ReceivedMessage(
            mail_from="" if mail_from == "<>" else mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=bytes(envelope.original_content or b""),
            peer=(str(peer[0]), int(peer[1])) if peer else ("", 0),
            helo=session.host_name or "",
            tls=transport is not None and transport.get_extra_info("ssl_object") is not None,
            auth_user=session.auth_data if session.authenticated else None,
            smtputf8=envelope.smtp_utf8,
            listener=self.name,
            received_at=time.time(),
        )
        stored = self.store.deliver(msg)
        if self._on_message is not None:
            try:
                outcome = self._on_message(stored)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception as error:
                log.exception("on_message hook of %s failed for message %d", self.name, stored.seq)
                return f"451 4.3.0 message hook failed: {type(error).__name__}"
        return f"250 2.0.0 OK queued as {stored.seq}"


def _check_options(
    tls: TlsMode,
    ssl_context: ssl.SSLContext | None,
    require_starttls: bool,
    auth: Mapping[str, str] | None,
    auth_required: bool,
    auth_over_plain: bool,
) -> None:
    """Refuse option combinations that could not behave as asked."""
    if tls not in ("none", "starttls", "implicit"):
        raise ValueError(f"tls must be 'none', 'starttls' or 'implicit', not {tls!r}")
    if tls != "none" and ssl_context is None:
        raise ValueError(f"tls={tls!r} needs an ssl_context")
    if require_starttls and tls != "starttls":
        raise ValueError("require_starttls needs tls='starttls'")
    if auth_required and auth is None:
        raise ValueError("auth_required needs auth (user -> password)")
    if auth is not None and tls == "none" and not auth_over_plain:
        raise ValueError("AUTH without TLS is never offered; pass auth_over_plain=True to allow it")


class _Handler:
    """aiosmtpd hooks delegating every decision to the owning :class:`SmtpServer`."""

    def __init__(self, owner: SmtpServer) -> None:
        self._owner = owner

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        return self._owner._ehlo_lines(responses)

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        refusal = self._owner._refuse_mail(session)
        if refusal is not None:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        refusal = self._owner._refuse_rcpt(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return await self._owner._received(server, session, envelope)


class _TrackedSMTP(SMTP):
    """aiosmtpd's protocol, reporting when its connection opens and closes."""

    def __init__(self, connections: _Connections, handler: _Handler, **options: Any) -> None:
        super().__init__(handler, **options)
        self._connections = connections

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._connections.opened(self)

    def connection_lost(self, error: Exception | None) -> None:
        self._connections.closed(self)
        super().connection_lost(error)


class _Connections:
    """The live connections of one listener, so that stopping can drop them and wait."""

    def __init__(self) -> None:
        self._open: set[_TrackedSMTP] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    def opened(self, protocol: _TrackedSMTP) -> None:
        self._open.add(protocol)
        self._idle.clear()

    def closed(self, protocol: _TrackedSMTP) -> None:
        self._open.discard(protocol)
        if not self._open:
            self._idle.set()

    async def drop_all(self) -> None:
        for protocol in list(self._open):
            transport = protocol.transport
            if isinstance(transport, asyncio.Transport):
                transport.abort()
            elif transport is not None:
                transport.close()
        await self._idle.wait()
