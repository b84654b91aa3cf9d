"""Problem documents a handler raises to refuse a request (RFC 8555 §6.7)."""

from __future__ import annotations

from collections.abc import Mapping

from rfc8823.acme.problems import AcmeProblemError, Problem, ProblemType


class Refusal(AcmeProblemError):
    """A problem answer with extra response headers (e.g. ``Retry-After``, ``Location``)."""

    def __init__(self, problem: Problem, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(problem)
        self.headers = dict(headers or {})


def refuse(kind: ProblemType, detail: str, *, status: int | None = None) -> AcmeProblemError:
    """An exception carrying one problem document."""
    return AcmeProblemError(Problem.of(kind, detail, status=status))
