"""ACME problem documents: RFC 7807 bodies with RFC 8555 error types (RFC 8555 §6.7; A-ERR-1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from rfc8823.acme.identifier import Identifier

PROBLEM_CONTENT_TYPE = "application/problem+json"
ERROR_URN_PREFIX = "urn:ietf:params:acme:error:"


class ProblemType(StrEnum):
    """Every error type of RFC 8555 §6.7, valued as its full URN."""

    ACCOUNT_DOES_NOT_EXIST = ERROR_URN_PREFIX + "accountDoesNotExist"
    ALREADY_REVOKED = ERROR_URN_PREFIX + "alreadyRevoked"
    BAD_CSR = ERROR_URN_PREFIX + "badCSR"
    BAD_NONCE = ERROR_URN_PREFIX + "badNonce"
    BAD_PUBLIC_KEY = ERROR_URN_PREFIX + "badPublicKey"
    BAD_REVOCATION_REASON = ERROR_URN_PREFIX + "badRevocationReason"
    BAD_SIGNATURE_ALGORITHM = ERROR_URN_PREFIX + "badSignatureAlgorithm"
    CAA = ERROR_URN_PREFIX + "caa"
    COMPOUND = ERROR_URN_PREFIX + "compound"
    CONNECTION = ERROR_URN_PREFIX + "connection"
    DNS = ERROR_URN_PREFIX + "dns"
    EXTERNAL_ACCOUNT_REQUIRED = ERROR_URN_PREFIX + "externalAccountRequired"
    INCORRECT_RESPONSE = ERROR_URN_PREFIX + "incorrectResponse"
    INVALID_CONTACT = ERROR_URN_PREFIX + "invalidContact"
    MALFORMED = ERROR_URN_PREFIX + "malformed"
    ORDER_NOT_READY = ERROR_URN_PREFIX + "orderNotReady"
    RATE_LIMITED = ERROR_URN_PREFIX + "rateLimited"
    REJECTED_IDENTIFIER = ERROR_URN_PREFIX + "rejectedIdentifier"
    SERVER_INTERNAL = ERROR_URN_PREFIX + "serverInternal"
    TLS = ERROR_URN_PREFIX + "tls"
    UNAUTHORIZED = ERROR_URN_PREFIX + "unauthorized"
    UNSUPPORTED_CONTACT = ERROR_URN_PREFIX + "unsupportedContact"
    UNSUPPORTED_IDENTIFIER = ERROR_URN_PREFIX + "unsupportedIdentifier"
    USER_ACTION_REQUIRED = ERROR_URN_PREFIX + "userActionRequired"

    @property
    def short_name(self) -> str:
        """The name after the URN prefix, e.g. ``badNonce``."""
        return self.value.removeprefix(ERROR_URN_PREFIX)

    @property
    def default_status(self) -> int:
        """The HTTP status a server answers with this type unless it has a reason not to."""
        return _STATUS.get(self, 400)


_STATUS: Mapping[ProblemType, int] = {
    ProblemType.UNAUTHORIZED: 403,
    ProblemType.ORDER_NOT_READY: 403,
    ProblemType.USER_ACTION_REQUIRED: 403,
    ProblemType.RATE_LIMITED: 429,
    ProblemType.SERVER_INTERNAL: 500,
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem document; ``type`` is a URN, usually a :class:`ProblemType`.

    ``subproblems`` name the identifier each concerns (RFC 8555 §6.7.1; A-ERR-2);
    ``algorithms`` lists acceptable JWS algorithms for ``badSignatureAlgorithm`` (§6.2).
    """

    type: str
    detail: str
    status: int = 400
    subproblems: tuple[Problem, ...] = ()
    identifier: Identifier | None = None
    algorithms: tuple[str, ...] | None = field(default=None)

    @classmethod
    def of(
        cls,
        kind: ProblemType,
        detail: str,
        *,
        status: int | None = None,
        subproblems: Sequence[Problem] = (),
        identifier: Identifier | None = None,
        algorithms: Sequence[str] | None = None,
    ) -> Problem:
        """A problem of a known type, its status defaulting to the type's usual one."""
        return cls(
            type=kind.value,
            detail=detail,
            status=kind.default_status if status is None else status,
            subproblems=tuple(subproblems),
            identifier=identifier,
            algorithms=tuple(algorithms) if algorithms is not None else None,
        )

    @property
    def kind(self) -> ProblemType | None:
        """The RFC 8555 type, or None for a type outside §6.7."""
        try:
            return ProblemType(self.type)
        except ValueError:
            return None

    def to_json(self) -> dict[str, Any]:
        """The RFC 7807 JSON object (``status`` included; subproblems carry no status)."""
        data: dict[str, Any] = {"type": self.type, "detail": self.detail, "status": self.status}
        if self.identifier is not None:
            data["identifier"] = self.identifier.to_json()
        if self.algorithms is not None:
            data["algorithms"] = list(self.algorithms)
        if self.subproblems:
            data["subproblems"] = [sub.to_json() for sub in self.subproblems]
        return data

    @classmethod
    def from_json(cls, data: object, *, status: int | None = None) -> Problem:
        """Parse a problem document; ``ValueError`` when it is not one.

        ``status`` (the HTTP status) fills in a missing ``status`` member.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a problem document is a JSON object, not {type(data).__name__}")
        fields: Mapping[str, Any] = data
        kind = fields.get("type", "about:blank")
        detail = fields.get("detail", "")
        code = fields.get("status", status if status is not None else 400)
        if not isinstance(kind, str) or not isinstance(detail, str):
            raise ValueError("problem members 'type' and 'detail' must be strings")
        if not isinstance(code, int) or isinstance(code, bool):
            raise ValueError(f"problem member 'status' must be an integer, not {code!r}")
        subs = fields.get("subproblems", [])
        if not isinstance(subs, list):
            raise ValueError("problem member 'subproblems' must be an array")
        algorithms = fields.get("algorithms")
        if algorithms is not None and not (
            isinstance(algorithms, list) and all(isinstance(a, str) for a in algorithms)
        ):
            raise ValueError("problem member 'algorithms' must be an array of strings")
        identifier = fields.get("identifier")
        return cls(
            type=kind,
            detail=detail,
            status=code,
            subproblems=tuple(cls.from_json(sub, status=code) for sub in subs),
            identifier=Identifier.from_json(identifier) if identifier is not None else None,
            algorithms=tuple(algorithms) if algorithms is not None else None,
        )

    def __str__(self) -> str:
        name = self.kind.short_name if self.kind is not None else self.type
        return f"{name} ({self.status}): {self.detail}"


class AcmeProblemError(Exception):
    """An operation ended in an ACME problem; ``problem`` says which."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem
