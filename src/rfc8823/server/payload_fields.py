"""Base64url payload fields (CSR, certificate) decoded strictly or refused (RFC 8555 §7.4, §7.6)."""

from __future__ import annotations

from rfc8823.acme.problems import ProblemType
from rfc8823.server.refusals import refuse
from rfc8823.tokens import b64url_decode


def strict_b64url(text: object, what: str) -> bytes:
    """A base64url JSON value: unpadded (A-HTTPS-1) and decodable, else ``malformed``."""
    if not isinstance(text, str) or not text:
        raise refuse(ProblemType.MALFORMED, f"'{what}' must be a base64url string")
    if "=" in text:
        raise refuse(ProblemType.MALFORMED, f"'{what}' carries '=' padding (A-HTTPS-1)")
    try:
        return b64url_decode(text)
    except ValueError as error:
        raise refuse(ProblemType.MALFORMED, f"'{what}': {error}") from error
