"""``selfcheck --mutate``: run the role suites against mutants of the reference implementations.

Each mutant is applied to a fresh copy of the project's ``src/`` in a private folder, and
pytest runs the role suite from the checkout with ``PYTHONPATH`` naming that copy first, so
the in-process reference CA or client is the mutated one; the working tree is only read.
Which tests run: those that executed the mutated lines in a measured run without mutants
(:mod:`rfc8823.faults.line_coverage`) plus the role's happy path, stopping at the first failed
test; a mutant that survives them runs once more over the whole role suite, so a survivor
is always a whole-suite survivor. ``whole`` runs the whole suite for every mutant.

Why not mutmut or cosmic-ray: cosmic-ray mutates files in place in the tree it tests, and both
decide by the test command's exit status, whereas ours is decided by the report's rows against
a baseline (one defect, one verdict); a small AST mutator (:mod:`rfc8823.faults.mutation`)
fits in less code than the glue either would need.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from rfc8823.faults import Role
from rfc8823.faults.line_coverage import DATA_ENV, INCLUDE_ENV, tests_by_line
from rfc8823.faults.mutation import Mutant, apply, diff, mutants
from rfc8823.faults.mutation_score import MutantResult, Status, Triage, judge_mutant, report_json
from rfc8823.faults.selfcheck import (
    HAPPY_PATHS,
    ROLE_OPTIONS,
    WHOLE_SUITES,
    SuiteRun,
    run_suites,
)

MUTATION_TARGETS: Mapping[str, Role] = {
    "src/rfc8823/server/engine.py": "server",
    "src/rfc8823/messages/response/inspector.py": "server",
    "src/rfc8823/messages/response/report.py": "server",
    "src/rfc8823/messages/response/expectation.py": "server",
    "src/rfc8823/messages/response/header_rules.py": "server",
    "src/rfc8823/messages/response/block.py": "server",
    "src/rfc8823/messages/response/body_rules.py": "server",
    "src/rfc8823/messages/response/digest_rules.py": "server",
    "src/rfc8823/messages/response/authentication.py": "server",
    "src/rfc8823/messages/response/authentication_rules.py": "server",
    "src/rfc8823/server/store.py": "server",
    "src/rfc8823/server/handle_authorizations.py": "server",
    "src/rfc8823/server/handle_orders.py": "server",
    "src/rfc8823/server/handle_accounts.py": "server",
    "src/rfc8823/client/decide.py": "client",
    "src/rfc8823/client/reply.py": "client",
}
"""The modules mutated by default, with the role suite that judges them: the reference CA's
reply judging (the engine's reply path and the response inspector) and state machine (the
store's status transitions, the handlers that change statuses), the reference client's
decision to answer and its reply."""
DEFAULT_SEED = 8823
DEFAULT_MUTANT_TIMEOUT = 300.0
"""Seconds one run of a mutant may take before it counts as hung."""
FAIL_FAST = ("--maxfail", "1")
_COPY_IGNORED = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")

Progress = Callable[[str], None]


class MutationSetupError(RuntimeError):
    """The check cannot start: no baseline, no coverage, or the copy does not shadow ``src``."""


def role_of(module: str) -> Role:
    """The role suite that judges ``module``: its default, else client for client code."""
    default = MUTATION_TARGETS.get(module)
    if default is not None:
        return default
    return "client" if "/client/" in module else "server"


def select_modules(patterns: Sequence[str], root: Path) -> list[str]:
    """The default modules matching any pattern (fnmatch), or existing paths given outright.

    ValueError for a pattern that selects nothing.
    """
    if not patterns:
        return list(MUTATION_TARGETS)
    chosen: dict[str, None] = {}
    for pattern in patterns:
        found = [m for m in MUTATION_TARGETS if fnmatch.fnmatch(m, pattern)]
        if not found and (root / pattern).is_file() and pattern.endswith(".py"):
            found = [pattern]
        if not found:
            raise ValueError(f"{pattern!r} selects no module to mutate")
        chosen.update(dict.fromkeys(found))
    return list(chosen)


def sample(found: Sequence[Mutant], limit: int | None, seed: int = DEFAULT_SEED) -> list[Mutant]:
    """At most ``limit`` mutants, drawn with a fixed seed, in their original order.

    The draw ranks mutants by a seeded hash of their IDs, so a larger sample holds every
    smaller one (a run can be extended with ``--resume``) and a mutant's chance of being drawn
    does not depend on the other modules chosen.
    """
    if limit is None or limit >= len(found):
        return list(found)
    ranked = sorted(found, key=lambda m: _rank(seed, m))
    picked = {m.mutant_id for m in ranked[:limit]}
    return [m for m in found if m.mutant_id in picked]


def _rank(seed: int, mutant: Mutant) -> bytes:
    return hashlib.sha256(f"{seed}:{mutant.mutant_id}".encode()).digest()


def selected_tests(mutant: Mutant, by_line: Mapping[int, frozenset[str]]) -> frozenset[str] | None:
    """The node IDs that ran the mutant's lines; None for "the whole suite".

    Module-level code runs at import, before measurement: the whole suite. Lines run only
    outside any test (the empty context) also get the whole suite. An empty set: no test
    runs these lines (the mutant survives without a run).
    """
    if mutant.module_level:
        return None
    contexts: set[str] = set()
    for line in range(mutant.start[0], mutant.end[0] + 1):
        contexts |= by_line.get(line, frozenset())
    if "" in contexts and len(contexts) == 1:
        return None
    return frozenset(contexts - {""})


def module_name(module: str) -> str:
    """``src/rfc8823/server/engine.py`` -> ``rfc8823.server.engine``."""
    return module.removeprefix("src/").removesuffix(".py").replace("/", ".")


def mutated_copy(root: Path, folder: Path, mutant: Mutant | None, source: str = "") -> Path:
    """A copy of ``root/src`` in ``folder`` with the mutant applied; the path to put first."""
    target = folder / "src"
    shutil.copytree(root / "src", target, ignore=_COPY_IGNORED)
    if mutant is not None:
        (folder / mutant.module).write_text(apply(source, mutant), encoding="utf-8")
    return target


def _python_path(copy: Path) -> dict[str, str]:
    """The copy first on ``PYTHONPATH``; no bytecode written, since every mutant's copy is a
    new folder whose compiled modules would only pile up in the pycache."""
    inherited = os.environ.get("PYTHONPATH")
    return {
        "PYTHONPATH": os.pathsep.join(filter(None, (str(copy), inherited))),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def imports(module: str, env: Mapping[str, str], root: Path, timeout: float) -> str | None:
    """None when ``module`` imports under ``env``; else the end of the error."""
    command = [sys.executable, "-c", f"import {module_name(module)}"]
    try:
        done = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments, no shell
            command,
            cwd=root,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"import did not finish within {timeout:g} s"
    if done.returncode == 0:
        return None
    return " | ".join(done.stderr.strip().splitlines()[-3:])


def loaded_from(env: Mapping[str, str], root: Path) -> Path:
    """Where a child process with ``env`` imports the ``rfc8823`` package from."""
    command = [sys.executable, "-c", "import rfc8823; print(rfc8823.__file__)"]
    done = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments, no shell
        command,
        cwd=root,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return Path(done.stdout.strip()).resolve()


@dataclass(frozen=True)
class RoleBaseline:
    """One role's run without mutants, and which tests ran which line of each module."""

    run: SuiteRun
    lines: Mapping[str, Mapping[int, frozenset[str]]]


@dataclass
class MutationCheck:
    """Mutants of ``modules`` judged by their role suites, ``jobs`` pytest runs at a time.

    ``record`` (a JSON file) is rewritten after every mutant; with ``resume`` the results it
    already holds for mutants that still read the same are kept, not run again.
    """

    root: Path
    jobs: int = 1
    timeout: float = DEFAULT_MUTANT_TIMEOUT
    whole: bool = False
    progress: Progress | None = None
    record: Path | None = None
    resume: bool = False
    triage: Triage = field(default_factory=dict)
    baselines: dict[Role, RoleBaseline] = field(default_factory=dict)
    _results: dict[str, MutantResult] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _started: float = field(default_factory=time.monotonic)

    def mutants_of(self, modules: Sequence[str]) -> list[Mutant]:
        """Every mutant of the modules, in module and source order."""
        return [m for module in modules for m in mutants(self._source(module), module)]

    def run(self, chosen: Sequence[Mutant]) -> list[MutantResult]:
        """Baselines for the roles involved, then every mutant; results in the given order.

        Mutants run in a hashed order, so a run stopped early has judged a fair sample of
        every module (``resume`` goes on from there).
        """
        earlier = self._earlier(chosen) if self.resume else {}
        self._results.update(earlier)
        pending = sorted(
            (m for m in chosen if m.mutant_id not in earlier), key=lambda m: _rank(0, m)
        )
        if earlier:
            self._say(f"resumed: {len(earlier)} results kept, {len(pending)} to run")
        roles = [
            role
            for role in dict.fromkeys(role_of(m.module) for m in pending)
            if role not in self.baselines
        ]
        modules = list(dict.fromkeys(m.module for m in pending))
        with ThreadPoolExecutor(max_workers=max(1, self.jobs)) as pool:
            for role, baseline in zip(
                roles, pool.map(lambda r: self._baseline(r, modules), roles), strict=True
            ):
                self.baselines[role] = baseline
            for result in pool.map(self._check, pending):
                self._keep(result, chosen)
        return [self._results[m.mutant_id] for m in chosen]

    def _baseline(self, role: Role, modules: Sequence[str]) -> RoleBaseline:
        mine = [m for m in modules if role_of(m) == role]
        self._say(f"baseline ({role}): the whole suite, unmutated copy and measured run")
        with tempfile.TemporaryDirectory(prefix="rfc8823-mutant-") as folder:
            copy = mutated_copy(self.root, Path(folder), None)
            env = _python_path(copy)
            if not loaded_from(env, self.root).is_relative_to(copy.resolve()):
                raise MutationSetupError(f"a copy on PYTHONPATH does not shadow {self.root}/src")
            data = Path(folder) / "coverage"
            measuring = {
                DATA_ENV: str(data),
                INCLUDE_ENV: os.pathsep.join(str(self.root / m) for m in mine),
            }
            options = ROLE_OPTIONS.get(role, ())
            with ThreadPoolExecutor(max_workers=2) as both:
                plain = both.submit(
                    run_suites,
                    (WHOLE_SUITES[role],),
                    root=self.root,
                    name=f"mutation-baseline-{role}",
                    options=options,
                    timeout=self.timeout,
                    env=env,
                )
                counted = both.submit(
                    run_suites,
                    (WHOLE_SUITES[role],),
                    root=self.root,
                    name=f"mutation-coverage-{role}",
                    options=(*options, "-p", "rfc8823.faults.line_coverage"),
                    timeout=self.timeout * 3,
                    env=measuring,
                )
                run, measured = plain.result(), counted.result()
            if run.problem is not None or measured.problem is not None:
                raise MutationSetupError(
                    f"baseline ({role}) gave no verdicts: {run.problem or measured.problem}"
                )
            lines = tests_by_line(data, {m: self.root / m for m in mine})
        self._say(
            f"baseline ({role}): {len(run.broken)} rows broken already "
            f"({', '.join(sorted(run.broken)) or '-'}), {run.seconds:.1f} s; "
            f"measured run {measured.seconds:.1f} s"
        )
        return RoleBaseline(run, lines)

    def _check(self, mutant: Mutant) -> MutantResult:
        started = time.monotonic()
        source = self._source(mutant.module)
        role = role_of(mutant.module)
        baseline = self.baselines[role]
        tests = (
            None if self.whole else selected_tests(mutant, baseline.lines.get(mutant.module, {}))
        )
        change = diff(source, mutant)
        if tests is not None and not tests:
            return MutantResult(mutant, Status.UNCOVERED, diff=change, detail="no test runs it")
        with tempfile.TemporaryDirectory(prefix="rfc8823-mutant-") as folder:
            env = _python_path(mutated_copy(self.root, Path(folder), mutant, source))
            if mutant.module_level:
                error = imports(mutant.module, env, self.root, self.timeout)
                if error is not None:
                    seconds = time.monotonic() - started
                    return MutantResult(
                        mutant, Status.IMPORT_ERROR, seconds=seconds, detail=error, diff=change
                    )
            result = self._decided(mutant, role, baseline.run, tests, env)
        return MutantResult(
            mutant,
            result.status,
            result.rows,
            result.failures,
            result.tests,
            time.monotonic() - started,
            result.detail,
            change,
        )

    def _decided(
        self,
        mutant: Mutant,
        role: Role,
        baseline: SuiteRun,
        tests: frozenset[str] | None,
        env: Mapping[str, str],
    ) -> MutantResult:
        """The mutant's status over ``tests``, a kill by ERROR rows alone confirmed by a second
        run (an ERROR can be the machine's: a port, a timeout under load), and a survivor of
        selected tests judged again over the whole suite."""
        result = self._judged(mutant, role, baseline, tests, env)
        if result.status is Status.KILLED and set(result.rows.values()) == {"ERROR"}:
            again = self._judged(mutant, role, baseline, tests, env)
            if again.status is not Status.KILLED:
                result = dataclasses.replace(
                    again, detail=f"ERROR on {', '.join(sorted(result.rows))} did not recur"
                )
        if result.status is Status.SURVIVED and tests is not None:
            return self._decided(mutant, role, baseline, None, env)
        return result

    def _judged(
        self,
        mutant: Mutant,
        role: Role,
        baseline: SuiteRun,
        tests: frozenset[str] | None,
        env: Mapping[str, str],
    ) -> MutantResult:
        """One run of the mutant over ``tests`` (with the happy path) or the whole suite."""
        if tests is None:
            paths: tuple[str, ...] = (WHOLE_SUITES[role],)
            before = baseline
        else:
            paths = (HAPPY_PATHS[role], *sorted(tests))
            before = baseline.within(paths)
        run = run_suites(
            paths,
            root=self.root,
            name=f"mutant-{mutant.mutant_id.replace('/', '-')}",
            options=(*ROLE_OPTIONS.get(role, ()), *FAIL_FAST),
            timeout=self.timeout,
            env=env,
        )
        status, rows, detail = judge_mutant(run, before)
        count = 0 if tests is None else len(paths)
        return MutantResult(mutant, status, rows, run.failures, count, run.seconds, detail)

    def _keep(self, result: MutantResult, chosen: Sequence[Mutant]) -> None:
        with self._lock:
            self._results[result.mutant.mutant_id] = result
            done = len(self._results)
            self._say(
                f"[{done}/{len(chosen)}] {result.status.value:12} {result.seconds:6.1f} s  "
                f"{result.mutant.describe()}"
                + (f"  <- {', '.join(sorted(result.rows))}" if result.rows else "")
            )
            if self.record is not None:
                results = [
                    self._results[i] for i in (m.mutant_id for m in chosen) if i in self._results
                ]
                document = report_json(results, self.triage, time.monotonic() - self._started)
                self.record.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")

    def _earlier(self, chosen: Sequence[Mutant]) -> dict[str, MutantResult]:
        """Results in ``record`` for mutants of ``chosen`` that still read the same."""
        if self.record is None or not self.record.is_file():
            return {}
        document = json.loads(self.record.read_text(encoding="utf-8"))
        by_id = {m.mutant_id: m for m in chosen}
        kept: dict[str, MutantResult] = {}
        for entry in document.get("mutants", []):
            mutant = by_id.get(entry.get("id"))
            if mutant is None or entry.get("replacement") != mutant.replacement:
                continue
            kept[mutant.mutant_id] = MutantResult(
                mutant,
                Status(entry["status"]),
                entry.get("rows", {}),
                entry.get("failures", {}),
                entry.get("tests", 0),
                entry.get("seconds", 0.0),
                entry.get("detail"),
                diff(self._source(mutant.module), mutant),
            )
        return kept

    def _source(self, module: str) -> str:
        return (self.root / module).read_text(encoding="utf-8")

    def _say(self, line: str) -> None:
        if self.progress is not None:
            self.progress(line)
