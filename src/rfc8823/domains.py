"""Domain names compared as RFC 8823's address rules need: lower-case A-labels (I18N-2, I18N-5).

One implementation (IDNA2008 with the UTS #46 mapping, via the ``idna`` package) for every
comparison of From domains, DKIM ``d=`` values and identifiers, so two checks never disagree
on a name such as ``ß``.
"""

from __future__ import annotations

import idna


def a_label_form(domain: str) -> tuple[str, str | None]:
    """The lower-case A-label form of ``domain`` and, if it has none, why (RFC 5890 §2.3.2.1).

    ASCII names and address literals (``[...]``) are only lower-cased; a name that cannot be
    converted is returned lower-cased with the reason.
    """
    text = domain.strip(" \t\r\n")
    if text.isascii():
        return text.lower(), None
    try:
        return idna.encode(text, uts46=True).decode("ascii"), None
    except (idna.IDNAError, UnicodeError, ValueError) as error:
        return text.lower(), str(error) or type(error).__name__


def to_a_label(domain: str) -> str:
    """Lower-case A-labels without a trailing dot; invalid IDNs are only lower-cased."""
    return a_label_form(domain.strip(" \t\r\n").rstrip("."))[0]
