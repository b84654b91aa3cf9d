"""The ACME identifier object and the names RFC 8823 registers (RFC 8555 §7.1.3, §9.7.7)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from rfc8823.acme.fields import TEXT, WireObject, member

IDENTIFIER_EMAIL = "email"
"""The identifier type RFC 8823 §5.1 registers (IANA-1)."""

IDENTIFIER_DNS = "dns"
"""RFC 8555's own identifier type; an email address in it is AMB-4's deviation."""

EMAIL_REPLY_00 = "email-reply-00"
"""The validation method RFC 8823 §5.2 registers for ``email`` identifiers (IANA-2)."""


@dataclass(frozen=True, slots=True)
class Identifier(WireObject):
    """An identifier object: its type and value, as in orders and authorizations."""

    WHAT: ClassVar[str] = "identifier"

    type: str = field(metadata=member("type", TEXT))
    value: str = field(metadata=member("value", TEXT))

    @classmethod
    def email(cls, address: str) -> Identifier:
        """An ``email`` identifier (RFC 8823 §3)."""
        return cls(IDENTIFIER_EMAIL, address)
