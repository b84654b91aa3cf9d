"""A scripted ACME server over HTTPS, for server behaviour the reference CA never shows.

Each path answers with a plausible default (a directory, a valid account, a pending order with
one email-reply-00 authorization ...) unless a test scripted replies for it: scripted replies
are served in turn, then the default again. Every request is recorded with its decoded JWS
protected header, so a test can see which nonce the client used and when it asked.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import socket
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from cryptography.hazmat.primitives import serialization
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rfc8823.world.pki import TestPki

CHALLENGE_FROM = "acme@ca.test"


@dataclass(frozen=True)
class Reply:
    """One scripted HTTP answer; a dict body is sent as JSON."""

    status: int = 200
    body: bytes | dict[str, Any] = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def problem(kind: str, detail: str, status: int = 400, **headers: str) -> Reply:
    """An RFC 7807 problem document of an RFC 8555 error type."""
    body = {"type": f"urn:ietf:params:acme:error:{kind}", "detail": detail, "status": status}
    return Reply(status, body, "application/problem+json", dict(headers))


@dataclass(frozen=True)
class Seen:
    """One request as the fake received it."""

    method: str
    path: str
    protected: dict[str, Any]
    at: float


def _protected(body: bytes) -> dict[str, Any]:
    try:
        encoded = json.loads(body)["protected"]
        padded = encoded + "=" * (-len(encoded) % 4)
        header: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, KeyError, TypeError):
        return {}
    return header


class FakeAcme:
    """The scripted server; :meth:`serve` runs it on an ephemeral loopback port."""

    def __init__(self) -> None:
        self.base = ""
        self.requests: list[Seen] = []
        self.nonces_given: list[str] = []
        self._scripts: dict[str, list[Reply]] = {}
        self._fixed: dict[str, Reply] = {}
        self._counter = itertools.count(1)
        self.app = Starlette(
            routes=[Route("/{path:path}", self._handle, methods=["GET", "HEAD", "POST"])]
        )

    def script(self, path: str, *replies: Reply) -> None:
        """Serve ``replies`` in turn on ``path``, then its default."""
        self._scripts.setdefault(path, []).extend(replies)

    def always(self, path: str, reply: Reply) -> None:
        """Answer ``path`` with ``reply`` from now on (after any scripted replies)."""
        self._fixed[path] = reply

    def seen(self, path: str) -> list[Seen]:
        """The requests made to ``path``."""
        return [request for request in self.requests if request.path == path]

    def url(self, path: str) -> str:
        """The absolute URL of ``path``."""
        return self.base + path

    async def _handle(self, request: Request) -> Response:
        path = request.path_params["path"]
        body = await request.body()
        self.requests.append(Seen(request.method, path, _protected(body), time.monotonic()))
        scripted = self._scripts.get(path)
        reply = scripted.pop(0) if scripted else self._fixed.get(path) or self.default(path)
        nonce = f"nonce-{next(self._counter)}"
        self.nonces_given.append(nonce)
        content = json.dumps(reply.body).encode() if isinstance(reply.body, dict) else reply.body
        headers = {"Replay-Nonce": nonce, "Cache-Control": "no-store", **reply.headers}
        return Response(content, reply.status, headers=headers, media_type=reply.content_type)

    def default(self, path: str) -> Reply:
        """What ``path`` answers when nothing is scripted."""
        identifier = {"type": "email", "value": "user@example.test"}
        order = {
            "status": "pending",
            "identifiers": [identifier],
            "authorizations": [self.url("authz/1")],
            "finalize": self.url("order/1/finalize"),
        }
        defaults: dict[str, Reply] = {
            "dir": Reply(
                body={
                    "newNonce": self.url("nonce"),
                    "newAccount": self.url("account"),
                    "newOrder": self.url("order"),
                    "revokeCert": self.url("revoke"),
                    "keyChange": self.url("key-change"),
                }
            ),
            "nonce": Reply(content_type="text/plain"),
            "account": Reply(201, {"status": "valid"}, headers={"Location": self.url("acct/1")}),
            "order": Reply(201, order, headers={"Location": self.url("order/1")}),
            "order/1": Reply(body=order),
            "authz/1": Reply(
                body={
                    "identifier": identifier,
                    "status": "pending",
                    "challenges": [
                        {
                            "type": "email-reply-00",
                            "url": self.url("chall/1"),
                            "status": "pending",
                            "token": "dG9rZW4tcGFydC10d28tMTIzNDU2",
                            "from": CHALLENGE_FROM,
                        }
                    ],
                }
            ),
            "chall/1": Reply(
                body={"type": "email-reply-00", "url": self.url("chall/1"), "status": "processing"}
            ),
        }
        return defaults.get(path, problem("malformed", f"no such resource {path!r}", 404))

    def body(self, path: str, **changes: Any) -> dict[str, Any]:
        """The default JSON body of ``path`` with some members changed."""
        body = self.default(path).body
        assert isinstance(body, dict)
        return {**body, **changes}

    @asynccontextmanager
    async def serve(self, pki: TestPki) -> AsyncIterator[str]:
        """Serve HTTPS in the running loop; yields the directory URL.

        The socket listens before uvicorn starts, so early connections wait in the backlog.
        """
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        self.base = f"https://localhost:{sock.getsockname()[1]}/"
        cert, key = pki.tls_server_cert(["localhost", "127.0.0.1"])
        with tempfile.TemporaryDirectory(prefix="rfc8823-fake-acme-") as folder:
            cert_path, key_path = Path(folder) / "cert.pem", Path(folder) / "key.pem"
            cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            key_path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            server = uvicorn.Server(
                uvicorn.Config(
                    self.app,
                    ssl_certfile=str(cert_path),
                    ssl_keyfile=str(key_path),
                    log_config=None,
                    access_log=False,
                    lifespan="off",
                    timeout_graceful_shutdown=1,
                )
            )
            task = asyncio.create_task(server.serve(sockets=[sock]))
            try:
                yield self.url("dir")
            finally:
                server.should_exit = True
                await task
                sock.close()
