"""ACME objects declared once: each dataclass field names its JSON member and how to read it.

A field's metadata, ``member(name, codec)``, is its only declaration; :class:`WireObject`
derives ``to_json`` (what a server sends) and ``from_json`` (what a client reads) from it, in
the spirit of certbot's ``acme`` fields. Reading is as strict as a client needs: a member that
is not a JSON object's, a required member missing, or one of the wrong type raises
``ValueError`` naming the object and the member; unknown members are ignored (RFC 8555 §7.1);
``null`` counts as absent where the field defaults to None. Writing leaves out None, and a
member declared ``omit_default`` when it equals its default. RFC 8555 §7.1.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol, Self

_KEY = "rfc8823.acme"
_ABSENT = object()
"""What a lenient codec returns for a value it does not take: the field keeps its default."""


class JsonObject(Protocol):
    """Anything with both JSON directions: a wire object, an identifier, a problem document."""

    def to_json(self) -> Any: ...

    @classmethod
    def from_json(cls, data: object) -> Self: ...


@dataclass(frozen=True)
class Codec:
    """How a member's JSON value becomes the field's value (``read``) and back (``write``).

    ``read`` raises ValueError saying what is wrong, or returns ``_ABSENT`` to keep the default.
    """

    read: Callable[[object], object]
    write: Callable[[Any], object]


@dataclass(frozen=True)
class Member:
    """One field's declaration: its JSON member name and codec.

    ``omit_default``: not written while the field holds its default. ``if_absent``: what a
    required field takes when the member is absent (``null`` is still read by the codec).
    """

    name: str
    codec: Codec
    omit_default: bool = False
    if_absent: object = _ABSENT


def member(
    name: str, codec: Codec, *, omit_default: bool = False, if_absent: object = _ABSENT
) -> dict[str, Member]:
    """The metadata declaring a field as the JSON member ``name``."""
    return {_KEY: Member(name, codec, omit_default, if_absent)}


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC text with second precision, e.g. ``2026-01-02T03:04:05Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: object) -> datetime:
    """Parse an RFC 3339 timestamp into an aware ``datetime``; ``ValueError`` otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"a timestamp is a string, not {type(text).__name__}")
    moment = datetime.fromisoformat(text.replace("z", "Z"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    return moment


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not a string but {type(value).__name__}")
    return value


def _texts(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("not an array of strings")
    return tuple(value)


def _flag(value: object) -> object:
    return value if isinstance(value, bool) else _ABSENT


def _array(value: object) -> list[object]:
    if not isinstance(value, list):
        raise ValueError("not an array")
    return value


TEXT = Codec(_text, lambda value: value)
"""A JSON string."""
TEXTS = Codec(_texts, list)
"""An array of strings, held as a tuple."""
TIME = Codec(parse_time, format_time)
"""An RFC 3339 timestamp, held as an aware datetime."""
FLAG = Codec(_flag, lambda value: value)
"""A boolean; any other value is taken as absent (clients tolerate sloppy servers here)."""


def status(kind: type[StrEnum]) -> Codec:
    """A status string that must be one of ``kind``'s values (RFC 8555 §7.1.6)."""

    def read(value: object) -> StrEnum:
        text = _text(value)
        try:
            return kind(text)
        except ValueError:
            raise ValueError(f"{text!r} is not one of {[s.value for s in kind]}") from None

    return Codec(read, lambda value: value.value)


def nested(kind: type[JsonObject]) -> Codec:
    """A JSON object read and written by ``kind``'s own ``from_json``/``to_json``."""
    return Codec(kind.from_json, lambda value: value.to_json())


def nested_array(kind: type[JsonObject]) -> Codec:
    """An array of ``kind`` objects, held as a tuple."""
    return Codec(
        lambda value: tuple(kind.from_json(item) for item in _array(value)),
        lambda values: [value.to_json() for value in values],
    )


class WireObject:
    """``to_json``/``from_json`` for a frozen dataclass whose fields are all ``member``s.

    ``WHAT`` names the object in error messages ("order", "directory meta").
    """

    __slots__ = ()
    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]
    WHAT: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        """The JSON object: every member whose value is set."""
        data: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            declared: Member = field.metadata[_KEY]
            value = getattr(self, field.name)
            if value is None or (declared.omit_default and value == field.default):
                continue
            data[declared.name] = declared.codec.write(value)
        return data

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Read the object; ValueError naming the member that is missing or malformed."""
        if not isinstance(data, Mapping):
            raise ValueError(f"the {cls.WHAT} is a JSON object, not {type(data).__name__}")
        values: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            declared: Member = field.metadata[_KEY]
            value = data.get(declared.name, declared.if_absent)
            if value is None and field.default is None:
                value = _ABSENT
            if value is not _ABSENT:
                try:
                    value = declared.codec.read(value)
                except ValueError as error:
                    raise ValueError(f"{cls.WHAT} member {declared.name!r}: {error}") from None
            if value is not _ABSENT:
                values[field.name] = value
            elif field.default is dataclasses.MISSING:
                raise ValueError(f"{cls.WHAT} member {declared.name!r} is missing")
        return cls(**values)
