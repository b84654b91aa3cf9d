"""MIME parsing and composition shared by the challenge and response builders and inspectors.

Parsing never raises: whatever the bytes, ``parse_message`` returns the header fields as written
and the leaf parts it could find, with ``problems`` naming what was malformed (RFC 5322, RFC 2045,
RFC 2046). Composition emits CRLF (or, for robustness tests, LF-only) messages with explicit
folding and encoded-words (RFC 5322 §2.2.3, RFC 2047, RFC 2231 §5).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import secrets
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from types import MappingProxyType
from typing import Literal

MAX_DEPTH = 20
MAX_PARTS = 1000
MAX_PROBLEMS = 50

TransferEncoding = Literal["7bit", "8bit", "quoted-printable", "base64"]

_EMPTY_PARAMS: Mapping[str, str] = MappingProxyType({})
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_LINE = re.compile(r"(?<=\n)")
_FIELD_NAME = re.compile(r"[!-9;-~]+")
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_MEDIA_TYPE = re.compile(rf"\s*({_TOKEN})\s*/\s*({_TOKEN})\s*(.*)", re.DOTALL)
_PARAMETER = re.compile(r';\s*([^=\s;]+)\s*=\s*("(?:[^"\\]|\\.)*"?|[^;]*)', re.DOTALL)
_CONTINUATION = re.compile(r"(.+?)\*(\d+)(\*?)")
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)
_COMMENT = re.compile(r"\([^()]*\)")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_LINE_BREAK = re.compile(rb"\r?\n")
_TEXT_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/:.,;@")


@dataclass(frozen=True)
class MimePart:
    """One leaf body part, transfer-decoded; ``path`` numbers it as IMAP does (RFC 3501 §6.4.5)."""

    path: str
    content_type: str
    params: Mapping[str, str]
    charset: str | None
    transfer_encoding: str
    payload: bytes
    text: str | None
    ancestors: tuple[str, ...]
    disposition: str | None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ParsedMessage:
    """A message's top-level header fields as written, its leaf parts, and what was malformed."""

    raw: bytes
    headers: tuple[tuple[str, str], ...]
    body: bytes
    parts: tuple[MimePart, ...]
    problems: tuple[str, ...]

    def all(self, name: str) -> list[str]:
        """Every raw (still folded) value of the field ``name`` (case-insensitive), in order."""
        wanted = name.lower()
        return [value for field_name, value in self.headers if field_name.lower() == wanted]

    def first(self, name: str) -> str | None:
        """The first raw value of the field ``name``, or None when absent."""
        values = self.all(name)
        return values[0] if values else None

    def count(self, name: str) -> int:
        """How many times the field ``name`` occurs."""
        return len(self.all(name))

    @property
    def content_type(self) -> str:
        """The top-level media type (lower case; text/plain when absent or malformed)."""
        media_type, _, _ = _media_type(self.first("Content-Type"), "text/plain")
        return media_type


class _Problems:
    """A capped list of problem descriptions, so junk input cannot grow it without bound."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.dropped = 0

    def add(self, text: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(text)
        else:
            self.dropped += 1

    def result(self) -> tuple[str, ...]:
        if self.dropped:
            return (*self.items, f"{self.dropped} further problems not listed")
        return tuple(self.items)


def _split_head(data: bytes) -> tuple[bytes, bytes, bool]:
    """Header block and body, split at the first empty line (RFC 5322 §2.1)."""
    if data.startswith(b"\n"):
        return b"", data[1:], True
    if data.startswith(b"\r\n"):
        return b"", data[2:], True
    blank = _BLANK_LINE.search(data)
    if blank is None:
        return data, b"", False
    return data[: blank.start()], data[blank.end() :], True


def _parse_fields(head: bytes, problems: _Problems, where: str) -> list[tuple[str, str]]:
    """Header fields in order, values still folded, line endings kept (RFC 5322 §2.2)."""
    fields: list[tuple[str, list[str]]] = []
    for line in _LINE.split(head.decode("utf-8", "surrogateescape")):
        if not line:
            continue
        if line[0] in " \t":
            if fields:
                fields[-1][1].append(line)
            else:
                problems.add(f"{where}: continuation line before any header field")
            continue
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if not colon or not _FIELD_NAME.fullmatch(name):
            problems.add(f"{where}: not a header field: {line[:60]!r}")
            continue
        fields.append((name, [value.lstrip(" \t")]))
    return [(name, "".join(pieces).rstrip("\r\n")) for name, pieces in fields]


def _first(fields: Sequence[tuple[str, str]], name: str) -> str | None:
    wanted = name.lower()
    return next((value for field_name, value in fields if field_name.lower() == wanted), None)


def _unquote(value: str) -> str:
    value = value.strip()
    if value.startswith('"'):
        return _QUOTED_PAIR.sub(r"\1", value[1:-1] if value.endswith('"') else value[1:])
    return value


def _rfc2231_value(value: str, first_segment: bool) -> str:
    """An RFC 2231 §4 extended value: optional ``charset'lang'`` then percent-encoded octets."""
    charset = "us-ascii"
    if first_segment and value.count("'") >= 2:
        charset, _, rest = value.split("'", 2)
        value = rest
    try:
        return urllib.parse.unquote(value, encoding=charset or "us-ascii", errors="replace")
    except LookupError:
        return urllib.parse.unquote(value, errors="replace")


def _parameters(rest: str) -> dict[str, str]:
    """Content-Type/-Disposition parameters, with RFC 2231 continuations and charsets joined."""
    params: dict[str, str] = {}
    segments: dict[str, dict[int, tuple[str, bool]]] = {}
    for match in _PARAMETER.finditer(rest):
        name, raw_value = match.group(1).lower(), match.group(2)
        continued = _CONTINUATION.fullmatch(name)
        if continued:
            base, index, extended = continued.groups()
            segments.setdefault(base, {})[int(index)] = (raw_value.strip(), bool(extended))
        elif name.endswith("*"):
            params.setdefault(name[:-1], _rfc2231_value(raw_value.strip(), True))
        else:
            params.setdefault(name, _unquote(raw_value))
    for base, pieces in segments.items():
        text = "".join(
            _rfc2231_value(value, index == 0) if extended else _unquote(value)
            for index, (value, extended) in sorted(pieces.items())
        )
        params.setdefault(base, text)
    return params


def _media_type(raw: str | None, default: str) -> tuple[str, dict[str, str], str | None]:
    """Media type (lower case), parameters, and a problem if the value was unusable."""
    if raw is None:
        return default, {}, None
    value = _COMMENT.sub("", raw.replace("\r", "").replace("\n", ""))
    match = _MEDIA_TYPE.fullmatch(value)
    if match is None:
        return "text/plain", {}, f"unusable Content-Type {raw[:60]!r}; read as text/plain"
    media_type = f"{match.group(1)}/{match.group(2)}".lower()
    return media_type, _parameters(match.group(3)), None


def media_type(raw: str | None, default: str = "text/plain") -> tuple[str, dict[str, str]]:
    """A Content-Type value read as (lower-case type/subtype, parameters); RFC 2045 §5, RFC 2231."""
    found, params, _ = _media_type(raw, default)
    return found, params


def _disposition(raw: str | None) -> str | None:
    if raw is None:
        return None
    kind = raw.replace("\r", "").replace("\n", "").split(";", 1)[0].strip().lower()
    return kind or None


def _decode_base64(data: bytes) -> tuple[bytes, bool]:
    """Base64 octets, tolerating junk and bad padding; the flag says the input was clean."""
    compact = _LINE_BREAK.sub(b"", data).strip()
    try:
        return binascii.a2b_base64(compact, strict_mode=True), True
    except binascii.Error:
        letters = _NOT_BASE64.sub(b"", compact)
        letters = letters[: len(letters) - len(letters) % 4 if len(letters) % 4 == 1 else None]
        try:
            return base64.b64decode(letters + b"=" * (-len(letters) % 4)), False
        except binascii.Error:
            return b"", False


def _transfer_decode(
    data: bytes, encoding: str, problems: _Problems, where: str
) -> tuple[bytes, str]:
    """Undo the Content-Transfer-Encoding (RFC 2045 §6); unknown encodings pass through."""
    if encoding in ("7bit", "8bit", "binary"):
        return data, encoding
    if encoding == "quoted-printable":
        return binascii.a2b_qp(data), encoding
    if encoding == "base64":
        payload, clean = _decode_base64(data)
        if not clean:
            problems.add(f"{where}: malformed base64 body")
        return payload, encoding
    problems.add(f"{where}: unknown Content-Transfer-Encoding {encoding!r}; left as is")
    return data, encoding


def _decode_text(payload: bytes, charset: str, problems: _Problems, where: str) -> str:
    """Text of a text/* part in its charset; replacement characters where it cannot decode."""
    try:
        codecs.lookup(charset)
        return payload.decode(charset, "replace")
    except (LookupError, ValueError, TypeError, UnicodeError):
        problems.add(f"{where}: unknown charset {charset!r}; read as UTF-8")
        return payload.decode("utf-8", "replace")


@dataclass
class _Walk:
    problems: _Problems
    parts: list[MimePart] = field(default_factory=list)
    truncated: bool = False


def _leaf(
    walk: _Walk,
    fields: Sequence[tuple[str, str]],
    body: bytes,
    path: str,
    ancestors: tuple[str, ...],
    media_type: str,
    params: Mapping[str, str],
) -> None:
    encoding_field = _first(fields, "Content-Transfer-Encoding")
    encoding = (encoding_field or "7bit").strip().lower()
    payload, encoding = _transfer_decode(body, encoding, walk.problems, f"part {path}")
    charset: str | None = None
    text: str | None = None
    if media_type.startswith("text/"):
        charset = params.get("charset", "us-ascii").strip().lower() or "us-ascii"
        text = _decode_text(payload, charset, walk.problems, f"part {path}")
    walk.parts.append(
        MimePart(
            path=path,
            content_type=media_type,
            params=MappingProxyType(dict(params)),
            charset=charset,
            transfer_encoding=encoding,
            payload=payload,
            text=text,
            ancestors=ancestors,
            disposition=_disposition(_first(fields, "Content-Disposition")),
            headers=tuple(fields),
        )
    )


def _split_multipart(body: bytes, boundary: str, walk: _Walk, path: str) -> list[bytes]:
    """The body parts between boundary delimiter lines (RFC 2046 §5.1.1)."""
    delimiter = re.compile(
        rb"(?m)^--" + re.escape(boundary.encode("utf-8", "surrogateescape")) + rb"(--)?[ \t]*\r?$"
    )
    chunks: list[bytes] = []
    start: int | None = None
    closed = False
    for match in delimiter.finditer(body):
        if start is not None:
            end = match.start()
            if body[end - 2 : end] == b"\r\n":
                end -= 2
            elif body[end - 1 : end] == b"\n":
                end -= 1
            chunks.append(body[start:end])
        if match.group(1):
            closed = True
            break
        start = match.end()
        if body[start : start + 2] == b"\r\n":
            start += 2
        elif body[start : start + 1] == b"\n":
            start += 1
    if not closed:
        if start is None:
            walk.problems.add(f"multipart {path or 'message'}: boundary {boundary!r} never appears")
            return []
        walk.problems.add(f"multipart {path or 'message'}: no closing boundary")
        chunks.append(body[start:])
    return chunks


def _starts_with_field(data: bytes) -> bool:
    name, colon, _ = data.partition(b":")
    return bool(colon) and bool(_FIELD_NAME.fullmatch(name.rstrip(b" \t").decode("latin-1")))


def _child_path(path: str, index: int) -> str:
    return f"{path}.{index}" if path else str(index)


def _entity(
    walk: _Walk,
    fields: Sequence[tuple[str, str]],
    body: bytes,
    path: str,
    ancestors: tuple[str, ...],
    default_type: str,
) -> None:
    """Walk one entity: recurse into multiparts, record leaves (RFC 2046 §5.1)."""
    media_type, params, problem = _media_type(_first(fields, "Content-Type"), default_type)
    where = f"part {path or '1'}"
    if problem:
        walk.problems.add(f"{where}: {problem}")
    if not media_type.startswith("multipart/"):
        _leaf(walk, fields, body, path or "1", ancestors, media_type, params)
        return
    boundary = params.get("boundary", "")
    if not boundary or len(ancestors) >= MAX_DEPTH:
        reason = "no boundary" if not boundary else f"nesting deeper than {MAX_DEPTH}"
        walk.problems.add(f"{where}: {media_type} with {reason}; kept as one opaque part")
        _leaf(walk, fields, body, path or "1", ancestors, "application/octet-stream", {})
        return
    child_default = "message/rfc822" if media_type == "multipart/digest" else "text/plain"
    for index, chunk in enumerate(_split_multipart(body, boundary, walk, path), start=1):
        if len(walk.parts) >= MAX_PARTS:
            if not walk.truncated:
                walk.problems.add(f"more than {MAX_PARTS} parts; the rest are ignored")
                walk.truncated = True
            return
        child_path = _child_path(path, index)
        head, child_body, separated = _split_head(chunk)
        if not separated and not _starts_with_field(chunk):
            head, child_body = b"", chunk
        child_fields = _parse_fields(head, walk.problems, f"part {child_path}")
        _entity(walk, child_fields, child_body, child_path, (*ancestors, media_type), child_default)


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse any bytes as an Internet message; malformations become ``problems``, never errors."""
    problems = _Problems()
    head, body, separated = _split_head(raw)
    if not separated and raw:
        problems.add("no empty line between header and body")
    fields = _parse_fields(head, problems, "header")
    walk = _Walk(problems)
    _entity(walk, fields, body, "", (), "text/plain")
    return ParsedMessage(
        raw=raw,
        headers=tuple(fields),
        body=body,
        parts=tuple(walk.parts),
        problems=problems.result(),
    )


def format_headers(fields: Sequence[tuple[str, str]], *, line_ending: bytes = b"\r\n") -> bytes:
    """Header fields as ``Name: value`` lines; folds written as CRLF+WSP use ``line_ending``."""
    ending = line_ending.decode("ascii")
    lines = []
    for name, value in fields:
        text = _TEXT_LINE_BREAK.sub(ending, f"{name}: {value}")
        lines.append(text + ending)
    return "".join(lines).encode("utf-8", "surrogateescape")


def fold(
    value: str,
    *,
    width: int = 78,
    at: Sequence[int] | None = None,
    wsp: str = " ",
    offset: int = 0,
) -> str:
    """Fold a header value with CRLF+WSP (RFC 5322 §2.2.3).

    With ``at``, a CRLF followed by ``wsp`` is inserted at each of those positions (this may split
    a token, as tests of CHAL-SUBJ-2 need). Otherwise the value is broken before existing white
    space so each line stays within ``width``; ``offset`` is the length of ``Name: `` before it.
    """
    if at is not None:
        pieces, previous = [], 0
        for position in sorted(set(at)):
            if not 0 < position < len(value):
                raise ValueError(f"fold position {position} is outside 1..{len(value) - 1}")
            pieces.append(value[previous:position])
            previous = position
        pieces.append(value[previous:])
        return f"\r\n{wsp}".join(pieces)
    words = re.split(r"(?=[ \t])", value)
    lines: list[str] = []
    line = ""
    used = offset
    for word in words:
        if line and used + len(line) + len(word) > width:
            lines.append(line)
            line, used = word, 0
        else:
            line += word
    lines.append(line)
    return "\r\n".join(lines)


def _encoded_word_text(chunk: bytes, encoding: Literal["Q", "B"]) -> str:
    if encoding == "B":
        return base64.b64encode(chunk).decode("ascii")
    return "".join(
        "_" if octet == 0x20 else chr(octet) if octet in _Q_SAFE else f"={octet:02X}"
        for octet in chunk
    )


def encode_words(
    text: str,
    *,
    charset: str = "utf-8",
    encoding: Literal["Q", "B"] = "Q",
    language: str | None = None,
    max_word: int = 75,
    split_at: Sequence[int] | None = None,
) -> str:
    """Encode ``text`` as RFC 2047 encoded-words separated by single spaces.

    Spaces go inside the words (as ``_`` or in base64), so a decoder that drops the white space
    between adjacent words (RFC 2047 §6.2) restores ``text`` exactly. ``language`` adds the
    RFC 2231 §5 tag; ``split_at`` forces word breaks at those character positions; words longer
    than ``max_word`` are split further, never inside a character.
    """
    label = f"{charset}*{language}" if language else charset
    overhead = len(f"=?{label}?{encoding}??=")
    cuts = sorted({p for p in (split_at or ()) if 0 < p < len(text)})
    segments = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    words: list[str] = []
    for segment in segments:
        current = ""
        for char in segment:
            candidate = current + char
            encoded = _encoded_word_text(candidate.encode(charset), encoding)
            if current and overhead + len(encoded) > max_word:
                words.append(current)
                current = char
            else:
                current = candidate
        if current or not segments:
            words.append(current)
    return " ".join(
        f"=?{label}?{encoding}?{_encoded_word_text(word.encode(charset), encoding)}?="
        for word in words
    )


def make_message_id(domain: str) -> str:
    """A fresh ``<random@domain>`` msg-id from a CSPRNG (RFC 5322 §3.6.4, CHAL-HDR-4)."""
    return f"<{secrets.token_hex(16)}@{domain}>"


def format_date(timestamp: float | None = None) -> str:
    """An RFC 5322 §3.3 date-time in UTC (``+0000``), now unless ``timestamp`` is given."""
    moment = time.time() if timestamp is None else timestamp
    return format_datetime(datetime.fromtimestamp(moment, UTC))


@dataclass(frozen=True)
class Entity:
    """A MIME entity to assemble: its own header fields and its encoded body (CRLF lines)."""

    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def content_type(self) -> str:
        """The media type of this entity (lower case)."""
        media_type, _, _ = _media_type(_first(self.headers, "Content-Type"), "text/plain")
        return media_type


def _crlf_text(text: str) -> str:
    text = _TEXT_LINE_BREAK.sub("\r\n", text)
    return text if text.endswith("\r\n") else text + "\r\n"


def _encode_body(data: bytes, transfer_encoding: TransferEncoding) -> bytes:
    if transfer_encoding == "base64":
        return base64.encodebytes(data).replace(b"\n", b"\r\n")
    if transfer_encoding == "quoted-printable":
        lines = data.split(b"\r\n")
        encoded = [binascii.b2a_qp(line, quotetabs=False, istext=False) for line in lines]
        return b"\r\n".join(line.replace(b"\n", b"\r\n") for line in encoded)
    if transfer_encoding == "7bit" and not data.isascii():
        raise ValueError("7bit needs US-ASCII text; use 8bit, quoted-printable or base64")
    return data


def leaf(
    content_type: str,
    payload: bytes,
    *,
    params: Mapping[str, str] | None = None,
    transfer_encoding: TransferEncoding = "base64",
    extra_headers: Sequence[tuple[str, str]] = (),
) -> Entity:
    """A single-part entity of any media type (RFC 2045 §5), e.g. application/json."""
    parameters = "".join(f'; {name}="{value}"' for name, value in (params or {}).items())
    return Entity(
        headers=(
            ("Content-Type", content_type + parameters),
            ("Content-Transfer-Encoding", transfer_encoding),
            *extra_headers,
        ),
        body=_encode_body(payload, transfer_encoding),
    )


def _text(subtype: str, text: str, charset: str, transfer_encoding: TransferEncoding) -> Entity:
    data = _crlf_text(text).encode(charset)
    return Entity(
        headers=(
            ("Content-Type", f"text/{subtype}; charset={charset}"),
            ("Content-Transfer-Encoding", transfer_encoding),
        ),
        body=_encode_body(data, transfer_encoding),
    )


def text_plain(
    text: str, *, charset: str = "us-ascii", transfer_encoding: TransferEncoding = "7bit"
) -> Entity:
    """A text/plain entity, lines ending in CRLF (RFC 2046 §4.1.1)."""
    return _text("plain", text, charset, transfer_encoding)


def text_html(
    html: str, *, charset: str = "us-ascii", transfer_encoding: TransferEncoding = "7bit"
) -> Entity:
    """A text/html entity (RFC 2854)."""
    return _text("html", html, charset, transfer_encoding)


def new_boundary() -> str:
    """A random boundary that cannot occur in base64 or quoted-printable text (RFC 2046 §5.1.1)."""
    return f"=_{secrets.token_hex(12)}"


def multipart(subtype: str, *entities: Entity, boundary: str | None = None) -> Entity:
    """A multipart/<subtype> entity holding ``entities`` in order (RFC 2046 §5.1)."""
    if not entities:
        raise ValueError("a multipart entity needs at least one body part (RFC 2046 §5.1.1)")
    mark = (boundary or new_boundary()).encode("ascii")
    chunks = []
    for entity in entities:
        chunks.append(b"--" + mark + b"\r\n" + format_headers(entity.headers) + b"\r\n")
        chunks.append(entity.body if entity.body.endswith(b"\r\n") else entity.body + b"\r\n")
    chunks.append(b"--" + mark + b"--\r\n")
    return Entity(
        headers=(("Content-Type", f'multipart/{subtype}; boundary="{mark.decode("ascii")}"'),),
        body=b"".join(chunks),
    )


def alternative(*entities: Entity, boundary: str | None = None) -> Entity:
    """multipart/alternative: one content in several forms, simplest first (RFC 2046 §5.1.4)."""
    return multipart("alternative", *entities, boundary=boundary)


def mixed(*entities: Entity, boundary: str | None = None) -> Entity:
    """multipart/mixed: independent body parts in order (RFC 2046 §5.1.3)."""
    return multipart("mixed", *entities, boundary=boundary)


def assemble(
    headers: Sequence[tuple[str, str]], entity: Entity, *, line_ending: bytes = b"\r\n"
) -> bytes:
    """A whole message: ``headers``, MIME-Version (unless given), the entity's fields and body."""
    fields = list(headers)
    if _first(fields, "MIME-Version") is None:
        fields.append(("MIME-Version", "1.0"))
    fields.extend(entity.headers)
    head = format_headers(fields, line_ending=line_ending)
    body = entity.body if line_ending == b"\r\n" else entity.body.replace(b"\r\n", line_ending)
    return head + line_ending + body
