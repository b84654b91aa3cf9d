"""The ACME identifier object and the names RFC 8823 registers (RFC 8555 §7.1.3, §9.7.7)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

IDENTIFIER_EMAIL = "email"
"""The identifier type RFC 8823 §5.1 registers (IANA-1)."""

IDENTIFIER_DNS = "dns"
"""RFC 8555's own identifier type; an email address in it is AMB-4's deviation."""

EMAIL_REPLY_00 = "email-reply-00"
"""The validation method RFC 8823 §5.2 registers for ``email`` identifiers (IANA-2)."""


@dataclass(frozen=True, slots=True)
class Identifier:
    """An identifier object: its type and value, as in orders and authorizations."""

    type: str
    value: str

    def to_json(self) -> dict[str, str]:
        """The JSON object."""
        return {"type": self.type, "value": self.value}

    @classmethod
    def from_json(cls, data: object) -> Identifier:
        """Parse an identifier object; ``ValueError`` when it is not one."""
        if not isinstance(data, Mapping):
            raise ValueError(f"an identifier is a JSON object, not {type(data).__name__}")
        fields: Mapping[str, Any] = data
        kind, value = fields.get("type"), fields.get("value")
        if not isinstance(kind, str) or not isinstance(value, str):
            raise ValueError("an identifier needs string members 'type' and 'value'")
        return cls(kind, value)

    @classmethod
    def email(cls, address: str) -> Identifier:
        """An ``email`` identifier (RFC 8823 §3)."""
        return cls(IDENTIFIER_EMAIL, address)
