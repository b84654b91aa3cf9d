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


def affix_match(signer: str, author: str) -> bool:
    """Whether either name starts or ends with the other as text, label boundaries ignored.

    The comparison naive alignment code makes (``d.endswith(from_domain)`` and the like);
    RFC 8823 §3.1 (6) and §3.2 (8) ask for equality, so this only names mistakes.
    """
    a, b = to_a_label(signer), to_a_label(author)
    return a.startswith(b) or a.endswith(b) or b.startswith(a) or b.endswith(a)


def relation(signer: str, author: str) -> str:
    """How a DKIM ``d=`` domain stands to the From domain, in words for a finding.

    Equal, a subdomain or a parent domain (any depth), under a shared parent domain (a
    sibling), a lookalike that starts or ends with the From domain's text, or unrelated.
    """
    a, b = to_a_label(signer), to_a_label(author)
    if a == b:
        return "the From domain itself"
    if a.endswith("." + b):
        return f"a subdomain of the From domain {b}"
    if b.endswith("." + a):
        return f"a parent domain of the From domain {b}"
    shared = _shared_suffix(a.split("."), b.split("."))
    if len(shared) >= 2:
        return f"a sibling of the From domain {b} under {'.'.join(shared)}"
    if affix_match(a, b):
        return f"a lookalike of the From domain {b}, spelling it at its start or end"
    return f"unrelated to the From domain {b}"


def _shared_suffix(first: list[str], second: list[str]) -> list[str]:
    """The labels both names end with, in order."""
    shared: list[str] = []
    for x, y in zip(reversed(first), reversed(second), strict=False):
        if x != y:
            break
        shared.insert(0, x)
    return shared
