"""Named faults: each makes a reference implementation break one requirement, on request only.

Self-validation switches one fault on in the reference CA or client and runs the
suites: a suite that cannot catch the fault is testing nothing. A fault is off unless named
in the target's configuration (``--inject-fault NAME`` on the reference targets) or, for a
process started outside the suite (``rfc8823 serve``, ``rfc8823 enroll``), in the
``RFC8823_FAULTS`` environment variable (comma-separated names).

The reference implementations ask ``faults.on(NAME)`` at the one place each fault acts; an
unknown name raises, so a typo cannot silently disable a fault.
"""

from __future__ import annotations

import importlib
import os
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal, cast

FAULTS_ENV = "RFC8823_FAULTS"
"""Environment variable naming faults for out-of-process reference implementations."""

Role = Literal["server", "client"]

_DECLARING_MODULES = ("rfc8823.faults.server", "rfc8823.faults.client")


@dataclass(frozen=True)
class Fault:
    """One deliberate violation: what it breaks and which suite files must catch it."""

    name: str
    role: Role
    breaks: tuple[str, ...]
    """Requirement IDs the fault violates; a failing verdict on any other ID is collateral noise."""
    summary: str
    suites: tuple[str, ...]
    """pytest paths (files or node IDs) that the self-check runs with the fault on."""
    options: tuple[str, ...] = ()
    """Further pytest options those runs need, e.g. ``("--server-config", "smime_sign=true")``
    for a fault in a path the default configuration leaves unused; the baseline uses them too."""


class UnknownFaultError(KeyError):
    """A fault name that no module declares."""


_REGISTRY: dict[str, Fault] = {}


def declare(*faults: Fault) -> None:
    """Add faults to the registry (called by the declaring modules at import)."""
    for fault in faults:
        if fault.name in _REGISTRY and _REGISTRY[fault.name] != fault:
            raise ValueError(f"fault {fault.name!r} is declared twice")
        _REGISTRY[fault.name] = fault


def registry() -> dict[str, Fault]:
    """Every declared fault by name (imports the declaring modules once)."""
    for module in _DECLARING_MODULES:
        importlib.import_module(module)
    return dict(_REGISTRY)


def fault(name: str) -> Fault:
    """The declared fault called ``name``; UnknownFaultError otherwise."""
    known = registry()
    try:
        return known[name]
    except KeyError:
        listed = ", ".join(sorted(known)) or "none"
        raise UnknownFaultError(f"unknown fault {name!r}; known: {listed}") from None


@dataclass(frozen=True)
class FaultSet:
    """The faults switched on in one reference implementation (empty: behaves correctly)."""

    names: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name in self.names:
            fault(name)

    @classmethod
    def of(cls, names: Iterable[str]) -> FaultSet:
        """A set from names (validated)."""
        return cls(frozenset(name.strip() for name in names if name.strip()))

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> FaultSet:
        """Faults named in ``RFC8823_FAULTS`` (for ``rfc8823 serve`` / ``rfc8823 enroll``)."""
        value = (os.environ if environ is None else environ).get(FAULTS_ENV, "")
        return cls.of(value.split(","))

    def on(self, name: str) -> bool:
        """Whether fault ``name`` is switched on; an undeclared name raises (no silent typos)."""
        fault(name)
        return name in self.names

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.names))

    def __bool__(self) -> bool:
        return bool(self.names)


NO_FAULTS = FaultSet()
"""The normal, conforming behaviour."""

_ROLES: tuple[Role, ...] = ("server", "client")
_UNFAULTABLE_KEYS = frozenset({"id", "role", "reason"})


@dataclass(frozen=True)
class Unfaultable:
    """A MUST-level row no fault of ``role`` targets, and why (the coverage link,
    CONTRIBUTING.md#add-a-fault)."""

    id: str
    role: Role
    reason: str


@cache
def unfaultable() -> tuple[Unfaultable, ...]:
    """The entries of the packaged ``unfaultable.toml``; ValueError for a malformed one."""
    text = resources.files(__name__).joinpath("unfaultable.toml").read_text(encoding="utf-8")
    return parse_unfaultable(text)


def parse_unfaultable(text: str) -> tuple[Unfaultable, ...]:
    """Entries of an ``unfaultable.toml`` text, checked for shape (not against the catalog)."""
    rows = tomllib.loads(text).get("unfaultable", [])
    if not isinstance(rows, list):
        raise ValueError("'unfaultable' must be an array of tables")
    entries = []
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict) or set(row) != _UNFAULTABLE_KEYS:
            raise ValueError(f"entry #{number}: needs exactly the keys {sorted(_UNFAULTABLE_KEYS)}")
        if row["role"] not in _ROLES:
            raise ValueError(f"entry #{number}: role must be one of {_ROLES}, not {row['role']!r}")
        if not all(isinstance(row[key], str) and row[key].strip() for key in ("id", "reason")):
            raise ValueError(f"entry #{number}: id and reason must be non-empty strings")
        entries.append(
            Unfaultable(row["id"], cast(Role, row["role"]), " ".join(row["reason"].split()))
        )
    return tuple(entries)
