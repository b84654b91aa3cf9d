"""Parsing Auto-Submitted: keyword and parameters (RFC 3834 §5, RFC 2045 §5.1; CHAL-AUTO-1..3)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from rfc8823.messages.headers.lexer import Lexeme, lex
from rfc8823.messages.headers.whitespace import unfold

_MIME_TSPECIALS = frozenset('()<>@,;:\\"/[]?=')


def _is_mime_token_char(char: str) -> bool:
    """RFC 2045 §5.1 token character: printable US-ASCII except tspecials."""
    return "!" <= char <= "~" and char not in _MIME_TSPECIALS


@dataclass(frozen=True)
class AutoSubmitted:
    """A parsed Auto-Submitted field: keyword and parameters (RFC 3834 §5, REF-3834-1)."""

    keyword: str | None
    parameters: dict[str, str] = field(hash=False)
    problems: tuple[str, ...]


def _describe(lexeme: Lexeme) -> str:
    return f'"{lexeme.text}"' if lexeme.kind == "quoted" else repr(lexeme.text)


def parse_auto_submitted(raw: str | None) -> AutoSubmitted:
    """Parse an Auto-Submitted value: a case-insensitive keyword, then ``; name=value`` parameters.

    CFWS (comments, folding) may appear between the parts; values may be quoted-strings.
    RFC 3834 §5, RFC 2045 §5.1; CHAL-AUTO-1..3, REF-3834-1.
    """
    if raw is None:
        return AutoSubmitted(
            keyword=None, parameters={}, problems=("Auto-Submitted is absent (CHAL-AUTO-1)",)
        )
    problems: list[str] = []
    lexemes = lex(
        unfold(raw), _MIME_TSPECIALS, _is_mime_token_char, problems, domain_literals=False
    )
    items = [lexeme for lexeme in lexemes if lexeme.kind != "space"]
    if not items:
        problems.append("Auto-Submitted has no keyword (RFC 3834 §5)")
        return AutoSubmitted(keyword=None, parameters={}, problems=tuple(problems))
    keyword = items[0].text.lower() if items[0].kind == "atom" else None
    if keyword is None:
        problems.append(
            f"Auto-Submitted starts with {_describe(items[0])}, not a keyword (RFC 3834 §5)"
        )
    parameters: dict[str, str] = {}
    for parameter in _split_parameters(items[1:], problems):
        _add_parameter(parameter, parameters, problems)
    return AutoSubmitted(keyword=keyword, parameters=parameters, problems=tuple(problems))


def _split_parameters(items: list[Lexeme], problems: list[str]) -> Iterator[list[Lexeme]]:
    """Yield the lexemes after each ``;``; anything before the first ``;`` is a problem."""
    current: list[Lexeme] | None = None
    for item in items:
        if item == Lexeme("special", ";"):
            if current is not None:
                yield current
            current = []
        elif current is None:
            problems.append(f"unexpected {_describe(item)} where ';' was expected (RFC 3834 §5)")
        else:
            current.append(item)
    if current is not None:
        yield current


def _add_parameter(items: list[Lexeme], parameters: dict[str, str], problems: list[str]) -> None:
    """Record one ``name=value`` parameter (RFC 2045 §5.1), or a problem if it is malformed."""
    if not items:
        problems.append("empty parameter after ';' (RFC 3834 §5)")
        return
    shape = [item.kind if item.kind != "special" else item.text for item in items]
    if shape not in (["atom", "=", "atom"], ["atom", "=", "quoted"]):
        text = " ".join(_describe(item) for item in items)
        problems.append(f"malformed parameter {text} (RFC 2045 §5.1)")
        return
    name = items[0].text.lower()
    if name in parameters:
        problems.append(f"parameter {name!r} repeated; the first value is kept (RFC 2045 §5.1)")
        return
    parameters[name] = items[2].text


def is_auto_generated(auto_submitted: AutoSubmitted) -> bool:
    """Whether the keyword is ``auto-generated``, compared case-insensitively (CHAL-AUTO-1)."""
    return auto_submitted.keyword == "auto-generated"


def type_is_acme(auto_submitted: AutoSubmitted) -> bool:
    """Whether the ``type`` parameter is ``acme``, compared case-insensitively (CHAL-AUTO-2)."""
    return auto_submitted.parameters.get("type", "").lower() == "acme"
