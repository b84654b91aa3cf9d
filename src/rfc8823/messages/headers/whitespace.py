"""Header white space: the FWS characters and unfolding (RFC 5322 §2.2.3, §3.2.2)."""

from __future__ import annotations

import re

WHITESPACE = " \t\r\n"
_FOLD = re.compile(r"\r?\n(?=[ \t])")


def unfold(raw_value: str) -> str:
    """Remove each line break (CRLF or bare LF) that is followed by WSP (RFC 5322 §2.2.3)."""
    return _FOLD.sub("", raw_value)
