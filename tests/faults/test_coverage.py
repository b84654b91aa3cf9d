"""The coverage link: every MUST row binding a role has a fault of that role, or a reason.

The number of faults is at least the number of MUST-level
server and client rows that are observable black-box (the catalog's testable rows).
"""

from __future__ import annotations

import pytest

from rfc8823.faults import Role, Unfaultable, parse_unfaultable, registry, unfaultable
from rfc8823.requirements import Level, Requirement, load_catalog

ROLES: tuple[Role, ...] = ("server", "client")
MUST = frozenset({Level.MUST, Level.MUST_NOT})


def must_rows() -> list[Requirement]:
    """Testable MUST/MUST NOT rows binding the server or the client."""
    return [
        row
        for row in load_catalog()
        if row.level in MUST and row.testable and set(ROLES) & {b.value for b in row.binds}
    ]


def pairs() -> set[tuple[str, Role]]:
    """(row, role) for every role each such row binds."""
    return {
        (row.id, role)
        for row in must_rows()
        for role in ROLES
        if role in {b.value for b in row.binds}
    }


def targeted() -> set[tuple[str, Role]]:
    """(row, role) pairs some fault of that role declares it breaks."""
    return {(rid, f.role) for f in registry().values() for rid in f.breaks}


def test_every_must_row_of_each_role_is_faulted_or_explained() -> None:
    """No (row, role) is left without a fault or a written reason."""
    explained = {(e.id, e.role) for e in unfaultable()}
    missing = sorted(pairs() - targeted() - explained)
    assert not missing, f"MUST rows with neither a fault nor an unfaultable.toml entry: {missing}"


def test_unfaultable_entries_are_needed_and_well_founded() -> None:
    """Each entry names a MUST row binding its role that no fault of that role targets."""
    entries = unfaultable()
    keys = [(e.id, e.role) for e in entries]
    assert len(keys) == len(set(keys)), "an entry is repeated"
    assert not set(keys) - pairs(), "entries for rows that are not MUST rows of that role"
    assert not set(keys) & targeted(), "entries for rows a fault does target"
    assert all(len(e.reason.split()) >= 8 for e in entries), "reasons say why, in a sentence"


def test_there_are_at_least_as_many_faults_as_observable_must_rows() -> None:
    """Acceptance: faults >= MUST-level server and client rows observable black-box."""
    assert len(registry()) >= len(must_rows())


def test_parse_unfaultable_refuses_malformed_entries() -> None:
    """Missing keys, unknown roles and empty reasons are errors, not silent gaps."""
    good = '[[unfaultable]]\nid = "A-1"\nrole = "client"\nreason = "because\\n  of it"\n'
    assert parse_unfaultable(good) == (Unfaultable("A-1", "client", "because of it"),)
    for bad in (
        '[[unfaultable]]\nid = "A-1"\nrole = "client"\n',
        '[[unfaultable]]\nid = "A-1"\nrole = "ca"\nreason = "x"\n',
        '[[unfaultable]]\nid = "A-1"\nrole = "server"\nreason = " "\n',
        'unfaultable = "x"\n',
    ):
        with pytest.raises(ValueError, match=r"entry #1|array of tables"):
            parse_unfaultable(bad)
