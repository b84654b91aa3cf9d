"""The parts of the reference CA that its ACME resource handlers share (RFC 8555 §7)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from rfc8823.server.config import ServerConfig
from rfc8823.server.engine import ChallengeEngine
from rfc8823.server.issuer import IssuedCertificate, IssuePlan
from rfc8823.server.request_auth import RequestAuthenticator
from rfc8823.server.resource_views import ResourceViews
from rfc8823.server.responses import Responder
from rfc8823.server.store import Store


class CertificateIssuer(Protocol):
    """What finalize needs from the issuer (``server.issuer.Issuer``)."""

    def check(
        self,
        csr_der: bytes,
        identifiers: Sequence[str],
        *,
        account_key: Any = None,
        dns_addresses: bool = False,
    ) -> IssuePlan:
        """Accept a CSR for the identifiers or raise ``CsrRejected``."""

    def issue(self, plan: IssuePlan, *, now: datetime | None = None) -> IssuedCertificate:
        """Sign the certificate of an accepted plan."""


@dataclass(frozen=True)
class HandlerContext:
    """Configuration, state and helpers each handler takes as its first argument."""

    config: ServerConfig
    store: Store
    engine: ChallengeEngine
    issuer: CertificateIssuer | None
    clock: Callable[[], float]
    auth: RequestAuthenticator
    answers: Responder
    views: ResourceViews
