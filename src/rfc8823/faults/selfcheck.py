"""Self-validation: run the suites against a reference target with one fault on, and judge.

A fault is *caught* when a requirement it breaks is reported FAIL, WARN or ERROR and was not
already reported so without the fault (the baseline: the same tests, no fault). *Noise* is
everything else the fault changes for the worse (one defect, one verdict):

- a requirement newly reported FAIL, WARN or ERROR that the fault is not declared to break;
- a requirement newly reported BLOCKED by rows none of which the fault is declared to break
  (BLOCKED by a declared row is the expected consequence of a broken prerequisite).

Two scopes: the tests each fault names (plus the role's happy path, which prerequisites
resolve against), or — ``whole`` — the whole role suite for every fault, so a fault that breaks
a prerequisite of many tests is seen everywhere it reaches. The pytest runs are subprocesses
on the project checkout (``--inject-fault NAME``, reports in a private folder); the judging is
pure. docs/verdicts.md; CONTRIBUTING.md ("Add a fault").
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from rfc8823.faults import Fault, Role
from rfc8823.report.document import ReportDocument
from rfc8823.report.schema import ReportFileError, load_report

BROKEN_VERDICTS = frozenset({"FAIL", "WARN", "ERROR"})
BLOCKED = "BLOCKED"
_FAILED_OUTCOMES = frozenset({"failed", "blocked", "error", "skipped", "xpassed"})
HAPPY_PATHS: Mapping[Role, str] = {
    "server": "suites/server/test_happy_path.py",
    "client": "suites/client/test_happy_path.py",
}
"""Each role's sanity test: every self-check run includes it, so BLOCKED resolves to a row."""
WHOLE_SUITES: Mapping[Role, str] = {"server": "suites/server", "client": "suites/client"}
_USABLE_EXITS = frozenset({0, 1})
DEFAULT_TIMEOUT = 300.0
"""Seconds one pytest run may take before it counts as hung."""
ROLE_OPTIONS: Mapping[Role, tuple[str, ...]] = {
    "client": ("--client-timeout", "10"),
    "server": ("--acme-timeout", "5"),
}
"""Options of every run of a role's tests: a refused response leaves the reference client
waiting for validation until its enrollment times out, so the self-check bounds it closer."""
_DROPPED_ENV_PREFIXES = ("PYTEST_XDIST", "PYTEST_CURRENT_TEST", "PYTEST_ADDOPTS")
_TAIL_LINES = 15

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SuiteRun:
    """What one pytest run reported: the broken and blocked requirements, and by which tests.

    ``problem`` says why a run produced no usable report (a hang, a crash, a usage error);
    then the mappings are empty.
    """

    broken: Mapping[str, str]
    """Requirement ID to its FAIL, WARN or ERROR verdict."""
    tests: Mapping[str, frozenset[str]]
    """Requirement ID to the node IDs whose verdict on it is FAIL, WARN or ERROR."""
    blocked: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Requirement ID reported BLOCKED to the rows its tests name as blocking it."""
    failures: Mapping[str, str] = field(default_factory=dict)
    """Node ID to the message of each test that did not pass (for the reader of a failure)."""
    seconds: float = 0.0
    problem: str | None = None

    @classmethod
    def from_report(cls, document: ReportDocument, seconds: float = 0.0) -> SuiteRun:
        """Read the broken and blocked requirements out of a report document."""
        broken: dict[str, str] = {}
        tests: dict[str, frozenset[str]] = {}
        blocked: dict[str, frozenset[str]] = {}
        failures: dict[str, str] = {}
        for entry in document["requirements"]:
            failures.update(
                (t["nodeid"], t["note"] or t["message"] or t["outcome"])
                for t in entry["tests"]
                if t["outcome"] in _FAILED_OUTCOMES
            )
            if entry["verdict"] in BROKEN_VERDICTS:
                broken[entry["id"]] = entry["verdict"]
                tests[entry["id"]] = frozenset(
                    t["nodeid"] for t in entry["tests"] if t["verdict"] in BROKEN_VERDICTS
                )
            elif entry["verdict"] == BLOCKED:
                blocked[entry["id"]] = frozenset(
                    row
                    for t in entry["tests"]
                    if t["verdict"] == BLOCKED
                    for row in t["blocked_by"]
                )
        return cls(broken, tests, blocked, failures, seconds)

    @classmethod
    def failed(cls, problem: str, seconds: float = 0.0) -> SuiteRun:
        """A run that produced no usable report."""
        return cls({}, {}, {}, {}, seconds, problem)

    def within(self, paths: Sequence[str]) -> SuiteRun:
        """The verdicts of the tests under ``paths`` only (a baseline cut to one fault's tests).

        Blocked rows are kept whole: a baseline with a blocked row cannot say by which test.
        """
        tests = {
            rid: frozenset(n for n in nodes if any(selects(p, n) for p in paths))
            for rid, nodes in self.tests.items()
        }
        kept = {rid: nodes for rid, nodes in tests.items() if nodes}
        return SuiteRun(
            {rid: self.broken[rid] for rid in kept},
            kept,
            dict(self.blocked),
            {n: m for n, m in self.failures.items() if any(selects(p, n) for p in paths)},
            self.seconds,
            self.problem,
        )


def selects(path: str, nodeid: str) -> bool:
    """Whether the pytest argument ``path`` (a file, folder or node ID) selects ``nodeid``."""
    path = path.rstrip("/")
    if nodeid == path:
        return True
    if "::" in path:
        return nodeid.startswith((path + "[", path + "::"))
    return nodeid.startswith((path + "::", path + "/"))


@dataclass(frozen=True)
class FaultOutcome:
    """The verdict of the self-check on one fault."""

    fault: Fault
    reported: Mapping[str, str]
    """Requirement IDs newly broken or blocked with the fault on, with their verdicts."""
    caught: tuple[str, ...]
    noise: tuple[str, ...]
    baseline: tuple[str, ...]
    """IDs already broken in these tests without the fault (left out of the judgement)."""
    failures: Mapping[str, str] = field(default_factory=dict)
    """Node ID to message of each test that did not pass with the fault on."""
    seconds: float = 0.0
    problem: str | None = None

    def ok(self) -> bool:
        """Caught, without noise."""
        return self.problem is None and bool(self.caught) and not self.noise

    def to_json(self) -> dict[str, object]:
        """A JSON-ready record of the outcome."""
        return {
            "fault": self.fault.name,
            "role": self.fault.role,
            "summary": self.fault.summary,
            "suites": list(self.fault.suites),
            "options": list(self.fault.options),
            "expected": list(self.fault.breaks),
            "reported": dict(self.reported),
            "caught": list(self.caught),
            "noise": list(self.noise),
            "baseline": list(self.baseline),
            "failures": dict(self.failures),
            "ok": self.ok(),
            "seconds": round(self.seconds, 2),
            "problem": self.problem,
        }


def judge(fault: Fault, run: SuiteRun, baseline: SuiteRun) -> FaultOutcome:
    """Whether ``run`` (with the fault on) caught it, and what else it changed for the worse."""
    if run.problem is not None or baseline.problem is not None:
        problem = run.problem or f"baseline: {baseline.problem}"
        return FaultOutcome(fault, {}, (), (), (), {}, run.seconds, problem)
    declared = frozenset(fault.breaks)
    new = {rid: verdict for rid, verdict in run.broken.items() if rid not in baseline.broken}
    newly_blocked = {
        rid: by
        for rid, by in run.blocked.items()
        if rid not in baseline.blocked and rid not in baseline.broken and rid not in declared
    }
    caught = tuple(rid for rid in fault.breaks if rid in new)
    noise = sorted(rid for rid in new if rid not in declared)
    noise += sorted(rid for rid, by in newly_blocked.items() if not by & declared)
    reported = {**new, **dict.fromkeys(newly_blocked, BLOCKED)}
    return FaultOutcome(
        fault,
        reported,
        caught,
        tuple(noise),
        tuple(sorted(baseline.broken)),
        run.failures,
        run.seconds,
    )


def project_root(start: Path | None = None) -> Path | None:
    """The checkout holding ``suites/`` and ``pyproject.toml``: ``start`` or a parent of it,
    else the one this package is installed from (editable installs)."""
    candidates = [start or Path.cwd()]
    candidates += list(candidates[0].resolve().parents)
    candidates.append(Path(__file__).resolve().parents[3])
    return next(
        (c for c in candidates if (c / "suites").is_dir() and (c / "pyproject.toml").is_file()),
        None,
    )


def pytest_command(
    paths: Sequence[str],
    faults: Sequence[str],
    report_dir: Path,
    name: str,
    options: Sequence[str] = (),
) -> list[str]:
    """The pytest command line of one self-check run."""
    command = [sys.executable, "-m", "pytest", *paths, *options]
    for fault_name in faults:
        command += ["--inject-fault", fault_name]
    return [
        *command,
        "-p",
        "no:cacheprovider",
        "-q",
        "--report-dir",
        str(report_dir),
        "--report-name",
        name,
    ]


def _environment() -> dict[str, str]:
    """This process's environment without what would leak into the child run."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_DROPPED_ENV_PREFIXES) and key != "RFC8823_FAULTS"
    }
    env.setdefault("HYPOTHESIS_PROFILE", "ci")
    return env


def run_suites(
    paths: Sequence[str],
    faults: Sequence[str] = (),
    *,
    root: Path,
    name: str,
    options: Sequence[str] = (),
    timeout: float = DEFAULT_TIMEOUT,
    env: Mapping[str, str] | None = None,
) -> SuiteRun:
    """Run pytest on ``paths`` in ``root`` with ``faults`` on; the verdicts of its report.

    ``env`` adds to (or overrides) the environment the run inherits.
    """
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rfc8823-selfcheck-") as folder:
        command = pytest_command(paths, faults, Path(folder), name, options)
        try:
            done = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments, no shell
                command,
                cwd=root,
                env={**_environment(), **(env or {})},
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return SuiteRun.failed(f"pytest did not finish within {timeout:g} s", timeout)
        seconds = time.monotonic() - started
        if done.returncode not in _USABLE_EXITS:
            return SuiteRun.failed(f"pytest exit status {done.returncode}: {_tail(done)}", seconds)
        try:
            document = load_report(Path(folder) / f"{name}.json")
        except ReportFileError as error:
            return SuiteRun.failed(f"no usable report ({error}): {_tail(done)}", seconds)
    return SuiteRun.from_report(document, seconds)


def _tail(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stdout + done.stderr).strip().splitlines()
    return " | ".join(lines[-_TAIL_LINES:])


def fault_paths(fault: Fault, *, whole: bool = False) -> tuple[str, ...]:
    """What one fault's run covers: the role's whole suite, or its named tests and the role's
    happy path (which the BLOCKED verdicts of the named tests resolve against)."""
    if whole:
        return (WHOLE_SUITES[fault.role],)
    return tuple(dict.fromkeys((HAPPY_PATHS[fault.role], *fault.suites)))


def suite_paths(faults: Iterable[Fault], *, whole: bool = False) -> tuple[str, ...]:
    """Every path the faults' runs cover, without repeats, in order."""
    return tuple(dict.fromkeys(p for fault in faults for p in fault_paths(fault, whole=whole)))


def run_baseline(
    faults: Sequence[Fault],
    *,
    root: Path,
    role: Role,
    timeout: float = DEFAULT_TIMEOUT,
    whole: bool = False,
) -> SuiteRun:
    """One run, without any fault, of every test the faults' runs cover."""
    return run_suites(
        suite_paths(faults, whole=whole),
        root=root,
        name=f"selfcheck-baseline-{role}",
        options=ROLE_OPTIONS.get(role, ()),
        timeout=timeout,
    )


def check_fault(
    fault: Fault,
    baseline: SuiteRun,
    *,
    root: Path,
    timeout: float = DEFAULT_TIMEOUT,
    whole: bool = False,
) -> FaultOutcome:
    """Run the fault's tests (or, ``whole``, its role's suite) with the fault on and judge
    against the baseline of the same tests.

    The shared baseline (role options only) stands for these tests unless the fault needs
    options of its own, or shows them broken already: then they run once more without the
    fault first, so neither another configuration nor a chance failure can hide the fault.
    """
    paths = fault_paths(fault, whole=whole)
    options = (*ROLE_OPTIONS.get(fault.role, ()), *fault.options)
    before = baseline.within(paths)
    if fault.options or before.broken or before.problem is not None:
        before = run_suites(
            paths,
            root=root,
            name=f"selfcheck-baseline-{fault.name}",
            options=options,
            timeout=timeout,
        )
    run = run_suites(
        paths,
        [fault.name],
        root=root,
        name=f"selfcheck-{fault.name}",
        options=options,
        timeout=timeout,
    )
    return judge(fault, run, before)


@dataclass
class SelfCheck:
    """Checks of several faults: baselines once per role, then the faults, ``jobs`` at a time.

    ``whole`` runs the role's whole suite for every fault instead of the tests it names.
    """

    root: Path
    jobs: int = 1
    timeout: float = DEFAULT_TIMEOUT
    progress: Progress | None = None
    whole: bool = False
    baselines: dict[Role, SuiteRun] = field(default_factory=dict)

    def run(self, faults: Sequence[Fault]) -> list[FaultOutcome]:
        """The outcome of every fault, in the order given."""
        roles: list[Role] = list(
            dict.fromkeys(f.role for f in faults if f.role not in self.baselines)
        )
        with ThreadPoolExecutor(max_workers=max(1, self.jobs)) as pool:
            runs = pool.map(lambda role: self._baseline(role, faults), roles)
            self.baselines.update(zip(roles, runs, strict=True))
            return list(pool.map(self._check, faults))

    def _baseline(self, role: Role, faults: Sequence[Fault]) -> SuiteRun:
        mine = [f for f in faults if f.role == role]
        scope = "the whole suite" if self.whole else f"{len(suite_paths(mine))} suite paths"
        self._say(f"baseline ({role}): {scope} without faults")
        run = run_baseline(mine, root=self.root, role=role, timeout=self.timeout, whole=self.whole)
        self._say(f"baseline ({role}): {len(run.broken)} broken already, {run.seconds:.1f} s")
        for nodeid, message in run.failures.items():
            self._say(f"baseline ({role}): {nodeid} did not pass: {message}")
        if run.problem is not None:
            self._say(f"baseline ({role}): no verdicts: {run.problem}")
        return run

    def _check(self, fault: Fault) -> FaultOutcome:
        outcome = check_fault(
            fault,
            self.baselines[fault.role],
            root=self.root,
            timeout=self.timeout,
            whole=self.whole,
        )
        self._say(f"{'ok  ' if outcome.ok() else 'FAIL'} {fault.name} ({outcome.seconds:.1f} s)")
        return outcome

    def _say(self, line: str) -> None:
        if self.progress is not None:
            self.progress(line)


def _ids(ids: Iterable[str]) -> str:
    return ", ".join(ids) or "-"


def _reported(outcome: FaultOutcome) -> str:
    if outcome.problem is not None:
        return f"(no verdicts: {outcome.problem})"
    return _ids(f"{rid} {verdict}" for rid, verdict in outcome.reported.items())


def matrix_lines(outcomes: Sequence[FaultOutcome]) -> list[str]:
    """The matrix: fault, role, caught, expected IDs, IDs reported, noise."""
    header = ("fault", "role", "caught", "expected", "reported", "noise")
    rows = [
        (
            o.fault.name,
            o.fault.role,
            ("yes" if o.caught else "NO") + ("" if o.ok() else " !"),
            _ids(o.fault.breaks),
            _reported(o),
            _ids(o.noise),
        )
        for o in outcomes
    ]
    table = [header, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    return [
        "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]])
        for row in table
    ]


def summary_line(outcomes: Sequence[FaultOutcome], seconds: float) -> str:
    """One line: how many faults were caught, with noise, failing."""
    caught = sum(1 for o in outcomes if o.caught and o.problem is None)
    noisy = sum(1 for o in outcomes if o.noise)
    failed = sum(1 for o in outcomes if not o.ok())
    return (
        f"selfcheck: {len(outcomes)} faults, {caught} caught, {noisy} with noise, "
        f"{failed} failing; {seconds:.1f} s"
    )


def report_json(
    outcomes: Sequence[FaultOutcome], seconds: float, *, whole: bool = False
) -> dict[str, object]:
    """The self-check as a JSON-ready document (``rfc8823-selfcheck/2``)."""
    return {
        "schema": "rfc8823-selfcheck/2",
        "scope": "whole suite" if whole else "named tests",
        "seconds": round(seconds, 2),
        "summary": summary_line(outcomes, seconds),
        "ok": all(o.ok() for o in outcomes),
        "faults": [o.to_json() for o in outcomes],
    }
