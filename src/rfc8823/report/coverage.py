"""Which catalog rows the suites test, by role; which are untestable and why; which are open.

The suites are collected (not run) in-process with pytest, and each test's ``covers`` IDs are
read off the collected items. A test's role is the suite folder it lives in
(``suites/server`` or ``suites/client``), else ``other``.
"""

from __future__ import annotations

import contextlib
import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, TypedDict

import pytest

from rfc8823.requirements import Bind, Catalog, Requirement, covered_ids

Role = Literal["server", "client", "other"]
ROLES: tuple[Role, ...] = ("server", "client", "other")
_SUITES = "suites"
_PRODUCER: dict[Bind, Role] = {
    Bind.SERVER: "server",
    Bind.CHALLENGE_EMAIL: "server",
    Bind.CERTIFICATE: "server",
    Bind.CLIENT: "client",
    Bind.RESPONSE_EMAIL: "client",
    Bind.CSR: "client",
}


@dataclass(frozen=True, slots=True)
class CollectedTest:
    """A collected test, its role and the IDs it covers."""

    nodeid: str
    role: Role
    covers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Collection:
    """The outcome of collecting the suites: tests, pytest's exit code and its output."""

    tests: tuple[CollectedTest, ...]
    exit_code: int
    output: str

    @property
    def ok(self) -> bool:
        """Collection succeeded (an empty suite counts as success)."""
        return self.exit_code in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)


@dataclass(slots=True)
class _Collector:
    tests: list[CollectedTest] = field(default_factory=list)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.tests.extend(
            CollectedTest(item.nodeid, role_of(item.path.parts), covered_ids(item))
            for item in session.items
        )


def role_of(parts: Sequence[str]) -> Role:
    """A test's role from its path: the folder right under ``suites``."""
    for here, below in itertools.pairwise(parts):
        if here == _SUITES and below in ("server", "client"):
            return "server" if below == "server" else "client"
    return "other"


def collect(paths: Sequence[str]) -> Collection:
    """Collect the tests under ``paths`` (without running them), with pytest's output kept."""
    collector = _Collector()
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        code = pytest.main(
            ["--collect-only", "-q", "-p", "no:cacheprovider", *paths], plugins=[collector]
        )
    return Collection(tuple(collector.tests), int(code), output.getvalue())


def requirement_roles(requirement: Requirement) -> frozenset[Role]:
    """The roles a row binds: named directly, or as the producer of the artefact it governs.

    The challenge email and the certificate come from the server, the response email and the
    CSR from the client.
    """
    return frozenset(_PRODUCER[bind] for bind in requirement.binds)


class CoverageEntry(TypedDict):
    """One catalog row's coverage, as ``rfc8823 coverage --json`` prints it."""

    id: str
    reference: str
    level: str
    roles: list[str]
    testable: bool
    untestable_reason: str | None
    tests: dict[str, list[str]]
    status: Literal["covered", "untestable", "uncovered"]


def coverage(catalog: Catalog, tests: Sequence[CollectedTest], role: str) -> list[CoverageEntry]:
    """The catalog rows bound to ``role`` (every row for ``all``) with their tests and status.

    A row is covered when a test of that role (any test, for ``all``) names it.
    """
    by_id: dict[str, dict[str, list[str]]] = {}
    for test in tests:
        for rid in test.covers:
            by_id.setdefault(rid, {r: [] for r in ROLES})[test.role].append(test.nodeid)
    entries: list[CoverageEntry] = []
    for row in catalog:
        roles = requirement_roles(row)
        if role != "all" and role not in roles:
            continue
        found = by_id.get(row.id, {r: [] for r in ROLES})
        tested = any(found.values()) if role == "all" else bool(found[role])
        status: Literal["covered", "untestable", "uncovered"] = (
            "covered" if tested else "untestable" if not row.testable else "uncovered"
        )
        entries.append(
            CoverageEntry(
                id=row.id,
                reference=row.reference,
                level=row.level.value,
                roles=sorted(roles),
                testable=row.testable,
                untestable_reason=row.untestable_reason,
                tests=found,
                status=status,
            )
        )
    return entries


def missing(entries: Sequence[CoverageEntry]) -> list[CoverageEntry]:
    """The testable rows without a test."""
    return [e for e in entries if e["status"] == "uncovered"]


def coverage_table(entries: Sequence[CoverageEntry], role: str) -> str:
    """A plain-text table of ``entries``, then the untestable rows' reasons and the totals."""
    header = ("ID", "Reference", "Level", "Server", "Client", "Other", "Status")
    rows = [
        (
            e["id"],
            e["reference"],
            e["level"],
            *(str(len(e["tests"][r])) for r in ROLES),
            e["status"],
        )
        for e in entries
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    untestable = [e for e in entries if not e["testable"]]
    if untestable:
        lines += ["", "Declared untestable:"]
        lines += [f"  {e['id']}: {e['untestable_reason']}" for e in untestable]
    covered = sum(e["status"] == "covered" for e in entries)
    lines += [
        "",
        f"{len(entries)} rows for role {role}: {covered} covered, {len(untestable)} untestable, "
        f"{len(missing(entries))} testable without a test",
    ]
    return "\n".join(lines) + "\n"
