"""Why an enrollment stopped: one typed error per outcome, each with its process exit status.

Every error names the step that failed and, for ACME, the URL and the problem document, so a
user (or a conformance report) sees what went wrong and where without reading a traceback.
"""

from __future__ import annotations

from enum import IntEnum

from rfc8823.acme.problems import Problem


class ExitCode(IntEnum):
    """Exit statuses of ``rfc8823 enroll`` (documented in its ``--help``)."""

    ISSUED = 0
    PROTOCOL = 1
    USAGE = 2
    CHALLENGE = 3
    TIMEOUT = 4


class EnrollmentError(Exception):
    """An enrollment step failed; ``problem`` is the server's problem document, if any.

    ``step`` is the ACME or mail step (``newOrder``, ``finalize``, ``challenge email`` ...),
    ``url`` the resource it concerned, ``status`` the HTTP status when there was a response.
    """

    exit_code: ExitCode = ExitCode.PROTOCOL

    def __init__(
        self,
        step: str,
        detail: str,
        *,
        url: str | None = None,
        problem: Problem | None = None,
        status: int | None = None,
    ) -> None:
        self.step = step
        self.detail = detail
        self.url = url
        self.problem = problem
        self.status = status
        super().__init__(self._text())

    def _text(self) -> str:
        where = f" {self.url}" if self.url else ""
        status = f" (HTTP {self.status})" if self.status is not None else ""
        text = f"{self.step}{where}{status}: {self.detail}"
        if self.problem is not None:
            text += f" [problem {self.problem.type}: {self.problem.detail}]"
        return text


class UsageError(EnrollmentError):
    """The configuration asks for something impossible (e.g. an Ed25519 encryption key)."""

    exit_code = ExitCode.USAGE


class ChallengeError(EnrollmentError):
    """The challenge email was refused (FLOW-4, CHAL-*) or never arrived."""

    exit_code = ExitCode.CHALLENGE


class EnrollmentTimeout(EnrollmentError):
    """A bounded wait ran out (order or authorization never reached the wanted state)."""

    exit_code = ExitCode.TIMEOUT
