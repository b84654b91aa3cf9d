"""Self-validation: the suites catch every declared fault, and report nothing else.

Each case runs the tests a fault names (and the role's happy path) against its reference
target with the fault on (a pytest subprocess) and compares with one baseline run per role
without faults, made once per worker. A fixed sample of faults that break a prerequisite of
many tests also runs over the whole role suite (``rfc8823 selfcheck --whole`` does it for
every fault): one broken row, and only BLOCKED rows that point at it. xdist spreads the faults
over workers; ``rfc8823 selfcheck`` runs the same checks.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from rfc8823.cli import main
from rfc8823.faults import Fault, Role, registry
from rfc8823.faults.selfcheck import (
    SuiteRun,
    check_fault,
    matrix_lines,
    project_root,
    run_baseline,
)

ROOT = project_root(Path(__file__).parent)
FAULTS = sorted(registry().values(), key=lambda f: f.name)
WHOLE_SUITE_SAMPLE = (
    "refuse-every-csr",
    "challenge-to-postmaster",
    "accept-unsigned-reply",
    "reject-encoded-word-subject",
    "client-orders-dns-identifier",
    "client-replies-html-only",
)
"""Faults checked over the whole role suite in every CI run: the certificate, challenge-mail,
validation and reply-reading prerequisites of the server suite, and the order and answer
prerequisites of the client suite. Fixed, so a CI failure reproduces."""


class Baselines:
    """One baseline run per role and scope, made the first time a test of it needs it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.runs: dict[tuple[Role, bool], SuiteRun] = {}
        self.lock = threading.Lock()

    def of(self, role: Role, *, whole: bool = False) -> SuiteRun:
        with self.lock:
            if (role, whole) not in self.runs:
                mine = [f for f in FAULTS if f.role == role]
                self.runs[role, whole] = run_baseline(
                    mine, root=self.root, role=role, whole=whole
                )
            return self.runs[role, whole]


@pytest.fixture(scope="session")
def baselines() -> Baselines:
    """This worker's baselines."""
    assert ROOT is not None, "the self-check runs from the project checkout"
    return Baselines(ROOT)


@pytest.mark.parametrize("fault", [pytest.param(f, id=f.name) for f in FAULTS])
def test_fault_is_caught(fault: Fault, baselines: Baselines) -> None:
    """With the fault on, a requirement it breaks is reported broken, and no other one is."""
    assert ROOT is not None
    baseline = baselines.of(fault.role)
    assert baseline.problem is None, f"the baseline run failed: {baseline.problem}"
    outcome = check_fault(fault, baseline, root=ROOT)
    shown = "\n".join(matrix_lines([outcome]))
    assert outcome.problem is None, f"{fault.name}: {outcome.problem}"
    assert outcome.caught, f"{fault.name} was not caught by {list(fault.suites)}:\n{shown}"
    assert not outcome.noise, f"{fault.name} made noise on {list(outcome.noise)}:\n{shown}"


@pytest.mark.parametrize("name", WHOLE_SUITE_SAMPLE)
def test_fault_over_the_whole_suite(name: str, baselines: Baselines) -> None:
    """Over the whole role suite: caught, and nothing newly broken or blocked elsewhere."""
    assert ROOT is not None
    fault = registry()[name]
    baseline = baselines.of(fault.role, whole=True)
    assert baseline.problem is None, f"the whole-suite baseline failed: {baseline.problem}"
    outcome = check_fault(fault, baseline, root=ROOT, whole=True)
    shown = "\n".join(matrix_lines([outcome]))
    assert outcome.problem is None, f"{fault.name}: {outcome.problem}"
    assert outcome.caught, f"{fault.name} was not caught by the whole suite:\n{shown}"
    assert not outcome.noise, f"{fault.name} made noise on {list(outcome.noise)}:\n{shown}"


def test_selfcheck_command_prints_the_matrix_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``rfc8823 selfcheck --fault NAME --json FILE``: matrix on stdout, exit 0, JSON record."""
    assert ROOT is not None
    report = tmp_path / "selfcheck.json"
    name = "client-answers-twice"
    status = main(
        ["selfcheck", "--fault", name, "-j", "2", "--root", str(ROOT), "--json", str(report)]
    )
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert out.splitlines()[1].startswith(name)
    assert "baseline (client)" in err
    document = json.loads(report.read_text(encoding="utf-8"))
    assert document["ok"] is True
    assert [f["fault"] for f in document["faults"]] == [name]


def test_selfcheck_command_refuses_unknown_faults(capsys: pytest.CaptureFixture[str]) -> None:
    """A misspelt fault is a usage error, before anything runs."""
    assert main(["selfcheck", "--fault", "client-typo"]) == 2
    assert "unknown fault 'client-typo'" in capsys.readouterr().err


def test_selfcheck_lists_the_faults(capsys: pytest.CaptureFixture[str]) -> None:
    """``--list`` names every fault of the role with what it breaks."""
    assert main(["selfcheck", "--list", "--role", "client"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == sum(1 for f in FAULTS if f.role == "client")
    assert all("[client]  breaks " in line for line in lines)
