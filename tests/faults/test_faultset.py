"""FaultSet parsing and ``--inject-fault``: only the reference targets take faults."""

from __future__ import annotations

import subprocess
import sys
from typing import cast

import pytest

from rfc8823.faults import FAULTS_ENV, NO_FAULTS, Fault, FaultSet, Role, UnknownFaultError, registry
from rfc8823.faults.plugin import injected_faults
from rfc8823.faults.selfcheck import project_root

ROOT = project_root()


def first_fault(role: Role) -> Fault:
    """A declared fault of ``role``."""
    return next(f for f in sorted(registry().values(), key=lambda f: f.name) if f.role == role)


class Options:
    """The one thing ``injected_faults`` reads of a pytest config: the option's value."""

    def __init__(self, names: list[str]) -> None:
        self.names = names

    def getoption(self, name: str) -> list[str]:
        assert name == "inject_fault"
        return self.names


def config(*names: str) -> pytest.Config:
    """A stand-in config whose ``--inject-fault`` values are ``names``."""
    return cast(pytest.Config, Options(list(names)))


def test_no_faults_is_empty_and_off() -> None:
    """The default set switches nothing on, and still refuses unknown names."""
    name = first_fault("client").name
    assert not NO_FAULTS
    assert not NO_FAULTS.on(name)
    with pytest.raises(UnknownFaultError, match="unknown fault 'client-typo'"):
        NO_FAULTS.on("client-typo")


def test_of_strips_blanks_and_validates() -> None:
    """Names are trimmed, empty ones dropped, unknown ones refused."""
    name = first_fault("client").name
    faults = FaultSet.of([f" {name} ", "", "  "])
    assert faults.on(name)
    assert list(faults) == [name]
    with pytest.raises(UnknownFaultError):
        FaultSet.of(["no-such-fault"])


def test_from_env_reads_comma_separated_names() -> None:
    """``RFC8823_FAULTS`` names faults for processes started outside the suite."""
    server, client = first_fault("server").name, first_fault("client").name
    faults = FaultSet.from_env({FAULTS_ENV: f"{server}, {client},"})
    assert faults.names == frozenset({server, client})
    assert FaultSet.from_env({}) == NO_FAULTS
    with pytest.raises(UnknownFaultError):
        FaultSet.from_env({FAULTS_ENV: "nope"})


@pytest.mark.parametrize("role", ["server", "client"])
def test_each_target_takes_only_its_roles_faults(role: Role) -> None:
    """A run naming faults of both roles gives each suite's target its own."""
    mine, other = (
        first_fault(role).name,
        first_fault("client" if role == "server" else "server").name,
    )
    faults = injected_faults(config(mine, other), role, target="reference", reference=True)
    assert faults == FaultSet.of([mine])


@pytest.mark.parametrize("role", ["server", "client"])
def test_non_reference_target_refuses_its_faults(role: Role) -> None:
    """A running CA or a client command cannot be made to break a rule: usage error."""
    mine, other = (
        first_fault(role).name,
        first_fault("client" if role == "server" else "server").name,
    )
    with pytest.raises(pytest.UsageError, match=f"{mine}: faults exist only in the reference"):
        injected_faults(config(mine), role, target="x", reference=False)
    assert not injected_faults(config(other), role, target="x", reference=False)


def test_unknown_fault_is_a_usage_error() -> None:
    """A typo stops the run instead of leaving the fault off."""
    with pytest.raises(pytest.UsageError, match="--inject-fault: unknown fault 'client-typo'"):
        injected_faults(config("client-typo"), "client", target="x", reference=True)


@pytest.mark.parametrize(
    ("role", "target_options"),
    [
        pytest.param("server", ["--acme-directory", "https://127.0.0.1:9/dir"], id="remote-ca"),
        pytest.param(
            "client", ["--client-command", "true {directory} {email} {workdir}"], id="command"
        ),
    ],
)
def test_command_line_refuses_faults_for_other_targets(
    role: Role, target_options: list[str]
) -> None:
    """``pytest suites/<role> --inject-fault NAME`` with a non-reference target exits 4."""
    assert ROOT is not None
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            f"suites/{role}",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            *target_options,
            "--inject-fault",
            first_fault(role).name,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "faults exist only in the reference" in done.stderr
