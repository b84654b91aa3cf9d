"""Answers carrying the headers every ACME response needs (RFC 8555 §6.5, §7.1, §8.2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from rfc8823.acme.jws import encode_json
from rfc8823.acme.nonces import NonceSource
from rfc8823.acme.problems import PROBLEM_CONTENT_TYPE, Problem
from rfc8823.server.config import ServerConfig


def resource_url(request: Request, path: str) -> str:
    """The absolute URL of ``path`` on the server that received ``request``."""
    return str(request.base_url) + path


class Responder:
    """Builds the CA's answers: each hands out a fresh ``Replay-Nonce`` and links the directory."""

    def __init__(self, config: ServerConfig, nonces: NonceSource) -> None:
        self.config = config
        self.nonces = nonces

    def headers(self, request: Request, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """``Replay-Nonce``, ``Link: rel="index"`` and no caching, plus ``extra``."""
        headers = {
            "Replay-Nonce": self.nonces.new(),
            "Link": f'<{resource_url(request, "directory")}>;rel="index"',
            "Cache-Control": "no-store",
        }
        headers.update(extra or {})
        return headers

    def problem(
        self, request: Request, problem: Problem, extra: Mapping[str, str] | None = None
    ) -> Response:
        """A problem document (RFC 8555 §6.7)."""
        return Response(
            encode_json(problem.to_json()),
            status_code=problem.status,
            media_type=PROBLEM_CONTENT_TYPE,
            headers=self.headers(request, extra),
        )

    def json(
        self,
        request: Request,
        data: Mapping[str, Any],
        *,
        status: int = 200,
        location: str | None = None,
        links: Sequence[str] = (),
        retry_after: int | None = None,
    ) -> Response:
        """A JSON resource with optional ``Location``, extra ``Link`` and ``Retry-After``."""
        headers = self.headers(request)
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

    def retry_after(self, processing: bool) -> int | None:
        """``Retry-After`` for a resource still being validated or issued (RFC 8555 §8.2)."""
        return self.config.retry_after if processing and self.config.retry_after > 0 else None
