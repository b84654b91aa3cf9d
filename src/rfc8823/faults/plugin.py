"""The ``--inject-fault NAME`` option, shared by the server and client suites.

One option for both suites (a pytest run may hold both, and an option can be defined only
once): each suite's target takes the faults of its own role and leaves the others to the other
suite. Only the reference targets can honour a fault; naming one of a role whose target is a
running CA or a client command is a usage error, since the suite cannot reach into it.
"""

from __future__ import annotations

import pytest

from rfc8823.faults import FaultSet, Role, UnknownFaultError, fault

OPTION = "--inject-fault"
_DEST = "inject_fault"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--inject-fault NAME`` (repeatable)."""
    group = parser.getgroup("rfc8823-faults", "rfc8823 self-validation")
    group.addoption(
        OPTION,
        action="append",
        default=[],
        metavar="NAME",
        dest=_DEST,
        help="switch on a named fault in the reference CA or client, so that it breaks one "
        "requirement on purpose (repeatable; reference targets only; `rfc8823 selfcheck` "
        "lists them)",
    )


def named_faults(config: pytest.Config) -> tuple[str, ...]:
    """Every fault named on the command line, checked against the registry."""
    names: list[str] = config.getoption(_DEST) or []
    try:
        for name in names:
            fault(name)
    except UnknownFaultError as error:
        raise pytest.UsageError(f"{OPTION}: {error.args[0]}") from None
    return tuple(dict.fromkeys(names))


def injected_faults(config: pytest.Config, role: Role, *, target: str, reference: bool) -> FaultSet:
    """The faults of ``role`` to switch on in the suite's target.

    ``pytest.UsageError`` for unknown names, or for faults of ``role`` when the target is
    not a reference implementation (``target`` names it in the message).
    """
    mine = [name for name in named_faults(config) if fault(name).role == role]
    if mine and not reference:
        raise pytest.UsageError(
            f"{OPTION} {', '.join(mine)}: faults exist only in the reference {role}; the "
            f"{role} target {target} cannot be made to break a rule from here"
        )
    return FaultSet.of(mine)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say loudly that faults are on: such a run tests the suite, not an implementation."""
    names = named_faults(config)
    if not names:
        return []
    return [f"injected faults (self-validation run): {', '.join(names)}"]
