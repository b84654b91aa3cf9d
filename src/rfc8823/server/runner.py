"""Run the reference CA: HTTPS (uvicorn), its CRL/certificate over plain HTTP, and its replies,
on one loop in a thread.

Replies reach it on its own SMTP listener, or, with ``reply_imap`` configured, are read from
an IMAP mailbox (:mod:`rfc8823.server.reply_reader`) and no listener is opened.

``ReferenceServer`` works as ``with`` / ``start()``/``stop()`` and as ``async with``; it exposes
where to reach it (``directory_url``, ``ca_bundle``, ``reply_endpoint``), its ``store`` and its
change feed, and awaitable waits for challenge and order states (no polling in tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, Self

import uvicorn
from cryptography.hazmat.primitives import serialization

from rfc8823.acme.objects import ChallengeStatus, OrderStatus
from rfc8823.events import ChangeFeed
from rfc8823.server.app import AcmeServerApp
from rfc8823.server.config import ServerConfig
from rfc8823.server.engine import ChallengeEngine
from rfc8823.server.issuer import Issuer
from rfc8823.server.publication import publication_app, publication_at
from rfc8823.server.records import ChallengeRecord, OrderRecord, ReplyRecord
from rfc8823.server.reply_reader import ImapReplyReader
from rfc8823.server.store import Store
from rfc8823.smime_br import br_profile
from rfc8823.world.mailstore import MailStore
from rfc8823.world.pki import TestPki
from rfc8823.world.service import Service
from rfc8823.world.smtp import SmtpServer

log = logging.getLogger(__name__)

TLS_NAMES = ("localhost", "127.0.0.1")
_READY_TIMEOUT = 10.0


def resource_id(url: str) -> str:
    """The id at the end of a resource URL (or the id itself)."""
    return url.rstrip("/").rpartition("/")[2]


class ReferenceServer(Service):
    """The reference CA as a running service on loopback (ephemeral ports by default).

    ``clock`` (seconds since the epoch) drives lifetimes, so tests can move time forward.
    """

    def __init__(
        self,
        config: ServerConfig,
        *,
        pki: TestPki | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.pki = pki or TestPki.load()
        self.clock = clock
        self.events = ChangeFeed()
        self.store = Store(
            config.db_path,
            self.events,
            reply_wait=config.reply_wait_after_post,
            faults=config.faults,
        )
        self.engine = ChallengeEngine(config, self.store, clock=clock, pki=self.pki)
        validity = timedelta(seconds=config.certificate_lifetime)
        self.issuer = Issuer.from_pki(
            self.pki, validity=validity, profile=br_profile(config.br_profile)
        )
        self.acme = AcmeServerApp(config, self.store, self.engine, issuer=self.issuer, clock=clock)
        self.replies = SmtpServer(
            name="ca-replies",
            host=config.reply_host,
            port=config.reply_port,
            max_size=config.reply_max_size,
            accept_domains=[config.challenge_domain],
            store=MailStore(),
            on_message=self.engine.on_reply,
            hostname=f"mx.{config.challenge_domain}",
        )
        self.reply_reader: ImapReplyReader | None = None
        if config.reply_imap is not None:
            self.reply_reader = ImapReplyReader(
                config, self.engine.on_reply, ssl_context=self.pki.client_ssl_context()
            )
        self._tls_dir: tempfile.TemporaryDirectory[str] | None = None
        self._socket: socket.socket | None = None
        self._pki_socket: socket.socket | None = None
        self._uvicorn: uvicorn.Server | None = None
        self._pki_uvicorn: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def internal_errors(self) -> list[str]:
        """The CA's own failures so far: HTTP requests answered 500 and crashes of the engine
        while sending challenges or judging replies. Empty while the CA works as designed."""
        answered = [f"answered serverInternal to {d}" for d in self.acme.internal_error_details]
        return [*answered, *self.engine.internal_errors]

    # -- where to reach it -----------------------------------------------------------

    @property
    def http_port(self) -> int:
        """The HTTPS port."""
        if self._socket is None:
            raise RuntimeError("the reference server is not running")
        port: int = self._socket.getsockname()[1]
        return port

    @property
    def base_url(self) -> str:
        """``https://localhost:<port>/`` (the TLS certificate names localhost and 127.0.0.1)."""
        return f"https://localhost:{self.http_port}/"

    @property
    def directory_url(self) -> str:
        """The ACME directory URL."""
        return self.base_url + "directory"

    @property
    def pki_base_url(self) -> str:
        """``http://<host>:<port>``, where the CRL and the issuing CA's certificate are served."""
        if self._pki_socket is None:
            raise RuntimeError("the reference server is not running")
        host, port = self._pki_socket.getsockname()[:2]
        return f"http://{host}:{port}"

    @property
    def ca_bundle(self) -> Path:
        """PEM file of the CA that signed the HTTPS certificate (for httpx ``verify=``)."""
        return self.pki.ca_bundle_path()

    @property
    def reply_endpoint(self) -> tuple[str, int]:
        """Where replies are delivered: the MX of the ``from`` domain (route the world here).

        RuntimeError when the CA reads its replies from an IMAP mailbox instead.
        """
        if self.reply_reader is not None:
            raise RuntimeError("this CA reads replies from IMAP; it has no reply listener")
        return self.replies.address

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> Self:
        """Bind the HTTPS socket, then serve HTTPS and SMTP on a loop in a daemon thread."""
        if self._thread is not None:
            raise RuntimeError("the reference server is already running")
        self._tls_dir = tempfile.TemporaryDirectory(prefix="rfc8823-ca-")
        cert_path, key_path = self._write_tls(Path(self._tls_dir.name))
        self._socket = _listening(self.config.http_host, self.config.http_port)
        self._pki_socket = _listening(self.config.pki_host, self.config.pki_port)
        self.issuer.publish(publication_at(self.pki_base_url))
        self._uvicorn = _server(self.acme.app, (cert_path, key_path))
        self._pki_uvicorn = _server(
            publication_app(self.issuer, self.store, self.clock, self.config.faults), None
        )
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(ready, failure),), name="rfc8823-ca", daemon=True
        )
        self._thread.start()
        if not ready.wait(_READY_TIMEOUT) or failure:
            self.stop()
            raise failure[0] if failure else TimeoutError("the reference server did not start")
        return self

    def _write_tls(self, folder: Path) -> tuple[Path, Path]:
        cert, key = self.pki.tls_server_cert(list(TLS_NAMES))
        cert_path, key_path = folder / "cert.pem", folder / "key.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_path, key_path

    async def _serve(self, ready: threading.Event, failure: list[BaseException]) -> None:
        """Start SMTP, resume unsent mail, then serve HTTPS and HTTP on the sockets of start()."""
        server, sock = self._uvicorn, self._socket
        pki_server, pki_sock = self._pki_uvicorn, self._pki_socket
        if server is None or sock is None or pki_server is None or pki_sock is None:
            raise RuntimeError("start() prepares the server before the thread runs")
        reader = self.reply_reader
        try:
            if reader is None:
                await self.replies.start_async()
            self.engine.resume()
        except BaseException as error:  # noqa: BLE001 - re-raised by start() in the caller
            failure.append(error)
            ready.set()
            return
        reading = asyncio.create_task(reader.run()) if reader is not None else None
        ready.set()
        try:
            await asyncio.gather(
                server.serve(sockets=[sock]), pki_server.serve(sockets=[pki_sock])
            )
        finally:
            if reading is not None:
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reading
            await self.engine.drain(timeout=5.0)
            await self.replies.stop_async()

    def stop(self) -> None:
        """Stop serving, wait for the thread, close the store; safe to call twice."""
        thread, self._thread = self._thread, None
        for server in (self._uvicorn, self._pki_uvicorn):
            if server is not None:
                server.should_exit = True
        if thread is not None:
            thread.join(_READY_TIMEOUT)
            if thread.is_alive():
                log.error("the reference server thread did not stop in %s s", _READY_TIMEOUT)
        for sock in (self._socket, self._pki_socket):
            if sock is not None:
                sock.close()
        if self._tls_dir is not None:
            self._tls_dir.cleanup()
            self._tls_dir = None
        self.store.close()

    # -- waits for tests -------------------------------------------------------------

    async def wait_for_challenge(
        self,
        url: str,
        status: ChallengeStatus | str,
        timeout: float,  # noqa: ASYNC109
    ) -> ChallengeRecord:
        """The challenge once it has ``status`` (awaiting the change feed)."""
        wanted = ChallengeStatus(status)
        challenge_id = resource_id(url)

        def reached() -> ChallengeRecord | None:
            record = self.store.challenge(challenge_id, self.clock())
            return record if record is not None and record.status is wanted else None

        return await self.events.wait_until(
            reached, timeout, what=f"challenge {challenge_id} to be {wanted.value}"
        )

    async def wait_for_order(
        self,
        url: str,
        status: OrderStatus | str,
        timeout: float,  # noqa: ASYNC109
    ) -> OrderRecord:
        """The order once it has ``status``."""
        wanted = OrderStatus(status)
        order_id = resource_id(url)

        def reached() -> OrderRecord | None:
            record = self.store.order(order_id, self.clock())
            return record if record is not None and record.status is wanted else None

        return await self.events.wait_until(
            reached, timeout, what=f"order {order_id} to be {wanted.value}"
        )

    async def wait_for_challenge_sent(
        self,
        url: str,
        timeout: float,  # noqa: ASYNC109
    ) -> ChallengeRecord:
        """The challenge once its email was handed to the next hop (or the send failed)."""
        challenge_id = resource_id(url)

        def sent() -> ChallengeRecord | None:
            record = self.store.challenge(challenge_id, self.clock())
            if record is None or (record.sent_at is None and record.send_error is None):
                return None
            return record

        return await self.events.wait_until(
            sent, timeout, what=f"the email of challenge {challenge_id}"
        )

    async def wait_for_reply(
        self,
        challenge_url: str | None,
        timeout: float,  # noqa: ASYNC109
        *,
        after: int = 0,
    ) -> ReplyRecord:
        """The first reply-log entry with id > ``after`` for a challenge (None: any)."""
        challenge_id = resource_id(challenge_url) if challenge_url is not None else None

        def logged() -> ReplyRecord | None:
            entries = self.store.replies(challenge_id)
            return next((entry for entry in entries if entry.id > after), None)

        return await self.events.wait_until(
            logged, timeout, what=f"a reply for challenge {challenge_id}"
        )


def _listening(host: str, port: int) -> socket.socket:
    """A TCP socket bound and listening (ephemeral port for 0)."""
    # proto IPPROTO_TCP: asyncio sets TCP_NODELAY only then (else 40 ms delayed-ACK stalls)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def _server(app: Any, tls: tuple[Path, Path] | None) -> uvicorn.Server:
    """A uvicorn server of ``app`` for sockets bound elsewhere; HTTPS with a (cert, key) pair."""
    settings = uvicorn.Config(
        app,
        ssl_certfile=None if tls is None else str(tls[0]),
        ssl_keyfile=None if tls is None else str(tls[1]),
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    settings.load()
    return uvicorn.Server(settings)
