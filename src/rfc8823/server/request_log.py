"""The log of requests the reference CA answered, kept for test peers (RFC 8555 §6)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from rfc8823.acme.jws import JwsRequest
from rfc8823.acme.problems import Problem
from rfc8823.events import ChangeFeed

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
