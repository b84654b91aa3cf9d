"""Store records declared once: each dataclass field says how it is kept in its table.

A field without metadata is the column of its own name, stored as is. ``column(read, write)``
stores it encoded (JSON text, a status name, a problem document); ``names`` spreads it over
several columns; ``DERIVED`` fields come from other tables, ``GENERATED`` ones from the
database. :class:`StoredRecord` derives reading a row and encoding values for INSERT and
UPDATE from these declarations. NULL and None stand for each other and are never encoded.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Literal, Self

from rfc8823.acme.problems import Problem

_KEY = "rfc8823.store"


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Column:
    """How one field is stored: ``read`` from the stored value(s), ``write`` back to them.

    With several ``names``, ``read`` takes a tuple of their values and ``write`` gives one.
    """

    read: Callable[[Any], object] = _same
    write: Callable[[Any], object] = _same
    names: tuple[str, ...] = ()
    kind: Literal["stored", "derived", "generated"] = "stored"


def column(
    read: Callable[[Any], object] = _same,
    write: Callable[[Any], object] = _same,
    *,
    names: tuple[str, ...] = (),
) -> dict[str, Column]:
    """The metadata declaring how a field is stored."""
    return {_KEY: Column(read, write, names)}


def status_column(kind: type[StrEnum]) -> dict[str, Column]:
    """A status kept as its value (RFC 8555 §7.1.6)."""
    return column(kind, lambda value: value.value)


JSON_OBJECT = column(json.loads, lambda value: json.dumps(dict(value)))
"""A JSON object kept as its text."""
JSON_STRINGS = column(lambda text: tuple(json.loads(text)), lambda value: json.dumps(list(value)))
"""A tuple of strings kept as a JSON array."""
PROBLEM = column(
    lambda text: Problem.from_json(json.loads(text)), lambda value: json.dumps(value.to_json())
)
"""A problem document (RFC 7807) kept as its JSON text."""
BLOB = column(bytes)
"""Octets kept as a BLOB."""
DERIVED = {_KEY: Column(kind="derived")}
"""Read from other rows; ``from_row`` takes it as an argument."""
GENERATED = {_KEY: Column(kind="generated")}
"""Assigned by the database (AUTOINCREMENT); read, never written."""

_PLAIN = Column()


def _declared(field: dataclasses.Field[Any]) -> Column:
    found: Column = field.metadata.get(_KEY, _PLAIN)
    return found


class StoredRecord:
    """A frozen dataclass whose fields declare their columns; rows in, column values out."""

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    @classmethod
    def from_row(cls, row: sqlite3.Row, **derived: object) -> Self:
        """The record a row holds; ``derived`` gives the fields read from other rows."""
        values = dict(derived)
        for field in dataclasses.fields(cls):
            declared = _declared(field)
            if declared.kind == "derived":
                continue
            names = declared.names or (field.name,)
            stored = tuple(row[name] for name in names)
            if len(names) > 1:
                values[field.name] = declared.read(stored)
            else:
                values[field.name] = None if stored[0] is None else declared.read(stored[0])
        return cls(**values)

    @classmethod
    def encode(cls, **values: object) -> dict[str, object]:
        """The columns, encoded, that hold these field values (for INSERT or UPDATE)."""
        row: dict[str, object] = {}
        for name, value in values.items():
            declared = _declared(cls.__dataclass_fields__[name])
            if declared.kind != "stored":
                raise ValueError(f"{cls.__name__}.{name} is {declared.kind}, not written")
            names = declared.names or (name,)
            if len(names) > 1:
                encoded = declared.write(value)
                if not isinstance(encoded, tuple):
                    raise TypeError(f"{cls.__name__}.{name} must encode to {len(names)} values")
                row.update(zip(names, encoded, strict=True))
            else:
                row[names[0]] = None if value is None else declared.write(value)
        return row


def stored_columns(record: type[StoredRecord]) -> tuple[str, ...]:
    """The columns a record's fields are kept in, in declaration order."""
    return tuple(
        name
        for field in dataclasses.fields(record)
        if _declared(field).kind != "derived"
        for name in (_declared(field).names or (field.name,))
    )


def insert(db: sqlite3.Connection, table: str, row: Mapping[str, object]) -> sqlite3.Cursor:
    """INSERT one row given as column -> value; columns left out take their defaults."""
    names = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    return db.execute(
        f"INSERT INTO {table} ({names}) VALUES ({marks})",  # noqa: S608 (our own names)
        tuple(row.values()),
    )
