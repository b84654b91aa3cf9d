"""The input contract both email builders keep, after pyca/cryptography's builders.

1. Making a builder checks its essentials: the addresses are addr-specs, token-part1 is one
   run of printable characters (the challenge builder, which writes the token, also wants it
   unpadded base64url). The error names the method that writes the malformed form on purpose.
2. Each setter checks its own arguments (choices, positions, key types) and says what is
   allowed; combinations that contradict an earlier call raise at the call that causes them.
3. The essentials make a builder complete; ``build()`` checks that the variations can be
   written together (text the chosen transfer encoding can carry, S/MIME over the content).
4. Deliberate violations go through explicitly named methods (``with_from``, ``with_to``,
   ``with_subject``, ``with_digest``, ``with_header``, ...), never through bad essentials.
"""

from __future__ import annotations

from collections.abc import Collection

from rfc8823.messages.headers import parse_single_address


def require_addr_spec(role: str, value: str, raw_method: str) -> None:
    """``value`` is one bare addr-spec (RFC 5322 §3.4.1); ValueError naming ``raw_method``."""
    parsed = parse_single_address(value)
    if parsed.count != 1 or not parsed.bare or parsed.addr_spec != value.strip():
        raise ValueError(
            f"{role} must be a bare addr-spec, got {value!r}; write other forms with {raw_method}"
        )


def require_addresses(role: str, value: str, raw_method: str) -> None:
    """``value`` is an address list naming at least one mailbox (RFC 5322 §3.4)."""
    if not parse_single_address(value).addresses:
        raise ValueError(
            f"{role} must name at least one address, got {value!r}; "
            f"write other forms with {raw_method}"
        )


def require_token(role: str, value: str, raw_method: str) -> None:
    """``value`` is one non-empty run of printable US-ASCII characters (a header-safe token)."""
    if not value or not all("!" <= char <= "~" for char in value):
        raise ValueError(
            f"{role} must be printable US-ASCII without white space, got {value!r}; "
            f"write other Subjects with {raw_method}"
        )


def require_choice(name: str, value: object, allowed: Collection[object]) -> None:
    """``value`` is one of ``allowed``; ValueError listing them."""
    if value not in allowed:
        listed = ", ".join(repr(choice) for choice in allowed)
        raise ValueError(f"{name} {value!r} is not one of {listed}")
