"""Comparing addr-specs: exact NFC local part, A-label domain (RFC 5322 §3.4.1; I18N-2, I18N-5)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rfc8823.domains import a_label_form
from rfc8823.messages.headers.whitespace import WHITESPACE

DOT_ATOM = re.compile(
    r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\x80-\U0010ffff]+"
    r"(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\x80-\U0010ffff]+)*"
)
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")


@dataclass(frozen=True)
class NormalizedAddress:
    """An addr-spec in comparable form: exact NFC local part, lower-case A-label domain (I18N-5)."""

    value: str
    local_part: str
    domain: str
    problems: tuple[str, ...]


def quote_local_part(content: str) -> str:
    """A local part as an addr-spec writes it: bare if a dot-atom, else quoted (RFC 5322 §3.4.1)."""
    if DOT_ATOM.fullmatch(content):
        return content
    escaped = content.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _domain_problems(domain: str) -> tuple[str, ...]:
    """Problems with a lower-case A-label host name (RFC 5321 §4.1.2, RFC 5890 §2.3.2.1)."""
    labels = domain.rstrip(".").split(".")
    if not domain.isascii() or not all(_LDH_LABEL.fullmatch(label) for label in labels):
        return (f"domain {domain!r} is not a valid host name (RFC 5321 §4.1.2)",)
    return ()


def inspect_domain(domain: str) -> tuple[str, tuple[str, ...]]:
    """Lower-case A-label form of a domain (IDNA2008 with UTS #46 mapping); I18N-2."""
    domain = domain.strip(WHITESPACE)
    if domain.startswith("[") and domain.endswith("]"):
        return domain.lower(), ()
    a_label, error = a_label_form(domain)
    if error is not None:
        return a_label, (f"domain {domain!r} has no A-label form: {error} (I18N-2)",)
    if domain.isascii():
        return a_label, _domain_problems(a_label)
    return a_label, ()


def normalize_domain(domain: str) -> str:
    """A domain as lower-case A-labels, to compare From, DKIM ``d=`` and identifiers (I18N-5)."""
    return inspect_domain(domain)[0]


def inspect_address(addr: str) -> NormalizedAddress:
    """Normalise an addr-spec and say what could not be normalised (I18N-2, I18N-5, RESP-FROM-1)."""
    text = addr.strip(WHITESPACE)
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    local, at, domain = text.rpartition("@")
    if not at:
        return NormalizedAddress(
            value=text,
            local_part=text,
            domain="",
            problems=(f"{addr!r} has no '@' (RFC 5322 §3.4.1)",),
        )
    if len(local) >= 2 and local.startswith('"') and local.endswith('"'):
        local = quote_local_part(re.sub(r"\\(.)", r"\1", local[1:-1], flags=re.DOTALL))
    local = unicodedata.normalize("NFC", local)
    a_label, problems = inspect_domain(domain)
    return NormalizedAddress(
        value=f"{local}@{a_label}", local_part=local, domain=a_label, problems=problems
    )


def normalize_address(addr: str) -> str:
    """An addr-spec with the local part kept exactly (NFC), the domain as A-labels (I18N-5)."""
    return inspect_address(addr).value


def addresses_equal(a: str, b: str) -> bool:
    """Compare addr-specs: local parts exactly (after NFC), domains as A-labels (I18N-5)."""
    return normalize_address(a) == normalize_address(b)


def domain_of(addr: str) -> str:
    """The domain of an addr-spec as lower-case A-labels; empty if there is no '@' (I18N-2)."""
    return inspect_address(addr).domain
