"""The requirement catalog as typed data, the ``@covers`` marker, and the pytest plugin checking it.

The rows live in ``requirements.toml`` (IDs from the project's requirements catalog); a broken
row's verdict follows docs/decisions.md#decision-1.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal, TypeVar

import pytest

ID_PATTERN = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")
_SECTION_PATTERN = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_MARK = "covers"
_ROW_KEYS = frozenset(
    {
        "id",
        "rfc",
        "section",
        "item",
        "level",
        "binds",
        "source",
        "summary",
        "note",
        "testable",
        "untestable_reason",
        "on_break",
    }
)

BreakVerdict = Literal["FAIL", "WARN"]
_E = TypeVar("_E", bound=StrEnum)


class Level(StrEnum):
    """Requirement level: a BCP 14 keyword, or ``desc``/``derived`` for rows without one."""

    MUST = "MUST"
    MUST_NOT = "MUST NOT"
    SHOULD = "SHOULD"
    SHOULD_NOT = "SHOULD NOT"
    MAY = "MAY"
    DESC = "desc"
    DERIVED = "derived"


class Bind(StrEnum):
    """The role or artefact a requirement applies to."""

    SERVER = "server"
    CLIENT = "client"
    CHALLENGE_EMAIL = "challenge-email"
    RESPONSE_EMAIL = "response-email"
    CSR = "csr"
    CERTIFICATE = "certificate"


class Source(StrEnum):
    """How sure the catalog is of a row's wording (catalog section 0), or ``RFC`` for cited text."""

    QUOTED = "Q"
    INDIRECT = "I"
    MEMORY_HIGH = "M-H"
    MEMORY_MEDIUM = "M-M"
    MEMORY_LOW = "M-L"
    DERIVED = "D"
    RFC = "RFC"


_HARD_LEVELS = frozenset({Level.MUST, Level.MUST_NOT})
_HARD_SOURCES = frozenset({Source.QUOTED, Source.INDIRECT, Source.MEMORY_HIGH, Source.RFC})


class CatalogError(ValueError):
    """The catalog file is malformed; the message names the offending row."""


class UnknownRequirementError(ValueError):
    """Requirement IDs that the catalog does not define."""

    def __init__(self, unknown: Iterable[str], known: Iterable[str]) -> None:
        self.unknown = tuple(unknown)
        candidates = tuple(known)
        super().__init__(
            "unknown requirement ID(s): "
            + ", ".join(_describe_unknown(rid, candidates) for rid in self.unknown)
        )


@dataclass(frozen=True, slots=True)
class Requirement:
    """One catalog row: where the rule lives, how strong it is, and whom it binds."""

    id: str
    rfc: int
    section: str
    item: str | None
    level: Level
    binds: tuple[Bind, ...]
    source: Source
    summary: str
    note: str | None = None
    testable: bool = True
    untestable_reason: str | None = None
    on_break: BreakVerdict | None = None

    @property
    def verdict_on_break(self) -> BreakVerdict:
        """FAIL for a MUST/MUST NOT with a sure source, WARN otherwise
        (docs/decisions.md#decision-1).

        A row's explicit ``on_break`` (set where a later catalog decision overrides
        docs/decisions.md#decision-1, e.g. docs/decisions.md#decision-5 for SEC-10) wins.
        """
        if self.on_break is not None:
            return self.on_break
        if self.level in _HARD_LEVELS and self.source in _HARD_SOURCES:
            return "FAIL"
        return "WARN"

    @property
    def reference(self) -> str:
        """Human citation such as ``RFC 8823 §3.1 (6)``."""
        parts = [f"RFC {self.rfc}"]
        if self.section:
            parts.append(f"§{self.section}")
        if self.item:
            parts.append(self.item)
        return " ".join(parts)


class Catalog:
    """Requirements in file order, looked up by ID."""

    __slots__ = ("_by_id",)

    def __init__(self, requirements: Iterable[Requirement]) -> None:
        by_id: dict[str, Requirement] = {}
        for requirement in requirements:
            if requirement.id in by_id:
                raise CatalogError(f"duplicate requirement ID {requirement.id!r}")
            by_id[requirement.id] = requirement
        self._by_id = by_id

    def __getitem__(self, requirement_id: str) -> Requirement:
        return self._by_id[requirement_id]

    def __contains__(self, requirement_id: object) -> bool:
        return requirement_id in self._by_id

    def __iter__(self) -> Iterator[Requirement]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    @property
    def ids(self) -> tuple[str, ...]:
        """All IDs in file order."""
        return tuple(self._by_id)

    def by_bind(self, bind: Bind | str) -> tuple[Requirement, ...]:
        """Requirements that apply to one role; an unknown role name raises ValueError."""
        wanted = Bind(bind)
        return tuple(r for r in self if wanted in r.binds)

    def check_ids(self, ids: Iterable[str]) -> None:
        """Raise UnknownRequirementError naming every ID not in the catalog."""
        unknown = [rid for rid in ids if rid not in self]
        if unknown:
            raise UnknownRequirementError(unknown, self._by_id)


def load_catalog(path: Path | None = None) -> Catalog:
    """Load and validate a catalog file; without a path, the packaged one (cached)."""
    if path is None:
        return _packaged_catalog()
    return parse_catalog(path.read_text(encoding="utf-8"), origin=str(path))


@cache
def _packaged_catalog() -> Catalog:
    text = resources.files("rfc8823").joinpath("requirements.toml").read_text(encoding="utf-8")
    return parse_catalog(text, origin="rfc8823/requirements.toml")


def parse_catalog(text: str, origin: str = "<catalog>") -> Catalog:
    """Validate catalog TOML text and build the Catalog; errors raise CatalogError."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{origin}: not valid TOML: {exc}") from exc
    extra = sorted(set(data) - {"requirement"})
    if extra:
        raise CatalogError(f"{origin}: unexpected top-level keys {extra}")
    rows = data.get("requirement")
    if not isinstance(rows, list) or not rows:
        raise CatalogError(f"{origin}: no [[requirement]] tables")
    requirements = [_parse_row(row, f"{origin}: requirement #{n}") for n, row in enumerate(rows, 1)]
    try:
        return Catalog(requirements)
    except CatalogError as exc:
        raise CatalogError(f"{origin}: {exc}") from exc


def _parse_row(row: object, where: str) -> Requirement:
    if not isinstance(row, dict):
        raise CatalogError(f"{where}: not a table")
    raw_id = row.get("id")
    if not isinstance(raw_id, str) or not ID_PATTERN.fullmatch(raw_id):
        raise CatalogError(f"{where}: malformed id {raw_id!r} (expected e.g. 'RESP-DKIM-1')")
    where = f"{where} ({raw_id})"
    extra = sorted(set(row) - _ROW_KEYS)
    if extra:
        raise CatalogError(f"{where}: unknown fields {extra}")
    rfc = row.get("rfc")
    if not isinstance(rfc, int) or isinstance(rfc, bool) or rfc <= 0:
        raise CatalogError(f"{where}: rfc must be a positive integer, got {rfc!r}")
    section = _optional_text(row, "section", where) or ""
    if section and not _SECTION_PATTERN.fullmatch(section):
        raise CatalogError(f"{where}: malformed section {section!r} (expected e.g. '3.1')")
    testable = row.get("testable", True)
    if not isinstance(testable, bool):
        raise CatalogError(f"{where}: testable must be a boolean, got {testable!r}")
    reason = _optional_text(row, "untestable_reason", where)
    if testable == (reason is not None):
        raise CatalogError(f"{where}: untestable_reason is required exactly when testable = false")
    on_break = row.get("on_break")
    if on_break not in (None, "FAIL", "WARN"):
        raise CatalogError(f"{where}: on_break must be 'FAIL' or 'WARN', got {on_break!r}")
    summary = _optional_text(row, "summary", where)
    if summary is None:
        raise CatalogError(f"{where}: summary is missing")
    return Requirement(
        id=raw_id,
        rfc=rfc,
        section=section,
        item=_optional_text(row, "item", where),
        level=_member(Level, row.get("level"), "level", where),
        binds=_binds(row.get("binds"), where),
        source=_member(Source, row.get("source"), "source", where),
        summary=summary,
        note=_optional_text(row, "note", where),
        testable=testable,
        untestable_reason=reason,
        on_break=on_break,
    )


def _optional_text(row: Mapping[str, object], key: str, where: str) -> str | None:
    value = row.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(f"{where}: {key} must be a non-empty string, got {value!r}")
    return value


def _member(enum: type[_E], value: object, key: str, where: str) -> _E:
    allowed = [member.value for member in enum]
    if not isinstance(value, str) or value not in allowed:
        raise CatalogError(f"{where}: unknown {key} {value!r} (allowed: {', '.join(allowed)})")
    return enum(value)


def _binds(value: object, where: str) -> tuple[Bind, ...]:
    if not isinstance(value, list):
        raise CatalogError(f"{where}: binds must be a list, got {value!r}")
    binds = tuple(_member(Bind, entry, "bind", where) for entry in value)
    if len(set(binds)) != len(binds):
        raise CatalogError(f"{where}: binds lists a role twice")
    return binds


def _describe_unknown(requirement_id: str, known: tuple[str, ...]) -> str:
    match = difflib.get_close_matches(requirement_id.upper(), known, n=1, cutoff=0.6)
    hint = f" (did you mean {match[0]!r}?)" if match else ""
    return f"{requirement_id!r}{hint}"


def covers(*ids: str) -> pytest.MarkDecorator:
    """Mark a test as checking the given requirement IDs, refusing unknown ones at import time."""
    if not ids:
        raise ValueError("covers() needs at least one requirement ID")
    load_catalog().check_ids(ids)
    return pytest.mark.covers(*ids)


def covered_ids(item: pytest.Item) -> tuple[str, ...]:
    """Requirement IDs named by an item's covers marks (closest mark first, no repeats)."""
    seen: dict[str, None] = {}
    for mark in item.iter_markers(_MARK):
        seen.update((arg, None) for arg in mark.args if isinstance(arg, str))
    return tuple(seen)


def mark_problems(item: pytest.Item) -> list[str]:
    """Messages for each malformed or unknown covers mark on an item; empty when all is well."""
    catalog = load_catalog()
    problems: list[str] = []
    for mark in item.iter_markers(_MARK):
        if mark.kwargs:
            problems.append(f"{item.nodeid}: covers takes IDs only, not {sorted(mark.kwargs)}")
        if not mark.args:
            problems.append(f"{item.nodeid}: covers mark without requirement IDs")
        bad_types = [arg for arg in mark.args if not isinstance(arg, str)]
        if bad_types:
            problems.append(f"{item.nodeid}: covers IDs must be strings, got {bad_types!r}")
        try:
            catalog.check_ids(arg for arg in mark.args if isinstance(arg, str))
        except UnknownRequirementError as exc:
            problems.append(f"{item.nodeid}: {exc}")
    return problems


def pytest_configure(config: pytest.Config) -> None:
    """Register the covers marker so ``--strict-markers`` accepts it."""
    config.addinivalue_line(
        "markers",
        "covers(*ids): requirement IDs (rfc8823/requirements.toml) that this test checks",
    )


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """Turn a bad covers mark on any collected test into a collection error of its collector."""
    report = yield
    if report.passed:
        problems = [
            problem
            for node in report.result
            if isinstance(node, pytest.Item)
            for problem in mark_problems(node)
        ]
        if problems:
            report.outcome = "failed"
            report.longrepr = "\n".join(problems)
            report.result = []
    return report
