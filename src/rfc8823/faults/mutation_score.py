"""Judging mutants against the unmutated baseline, the triage of survivors, and the score. Pure.

A mutant is *killed* when its run reports a row newly FAIL, WARN or ERROR (or a worse one of
these) compared with the same tests run without it; a run that crashes (no usable report)
or hangs (over its time bound) kills it too, and says which. A mutant whose module no longer
imports is counted apart: it measures nothing. A mutant *survives* otherwise — or without a
run, when no test of the role suite executes its lines (``uncovered``). Survivors are triaged
in ``mutants.toml``, each with a one-line reason: *equivalent* (nothing observable at the
interfaces the suites drive — ACME, mail, DNS — tells it from the original) or *unconstrained*
(observable, but no catalog requirement constrains that behaviour: a local policy, an operator
diagnostic). Both are counted apart from the score; any other survivor is a hole in the suites
and fails the check. docs/verdicts.md#mutation.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from importlib import resources
from pathlib import Path

from rfc8823.faults.mutation import Mutant
from rfc8823.faults.selfcheck import BROKEN_VERDICTS, SuiteRun

TRIAGE_FILE = "mutants.toml"
"""The triage of surviving mutants, beside this module."""
KINDS = ("equivalent", "unconstrained")
"""The triage tables: why a survivor is not a hole."""


class Status(Enum):
    """What became of one mutant."""

    KILLED = "killed"
    CRASHED = "crashed"
    """The run gave no usable report (pytest crashed, usage error): killed."""
    HUNG = "hung"
    """The run did not finish within its bound: killed."""
    IMPORT_ERROR = "import-error"
    """The mutated module does not import: counted apart, it measures nothing."""
    SURVIVED = "survived"
    UNCOVERED = "uncovered"
    """Survived without a run: no test of the role suite executes the mutated lines."""

    @property
    def killed(self) -> bool:
        """Killed by the suite (a row, a crash or a hang)."""
        return self in (Status.KILLED, Status.CRASHED, Status.HUNG)

    @property
    def survived(self) -> bool:
        """Not killed and importable."""
        return self in (Status.SURVIVED, Status.UNCOVERED)


@dataclass(frozen=True)
class MutantResult:
    """One mutant's outcome: status, the rows that killed it, what ran, and how long."""

    mutant: Mutant
    status: Status
    rows: Mapping[str, str] = field(default_factory=dict)
    """Requirement IDs newly broken, with their verdicts."""
    failures: Mapping[str, str] = field(default_factory=dict)
    """Node ID to message of each test that did not pass."""
    tests: int = 0
    """How many tests (node IDs or paths) the deciding run selected; 0 for the whole suite."""
    seconds: float = 0.0
    detail: str | None = None
    diff: str = ""

    def to_json(self) -> dict[str, object]:
        """A JSON-ready record."""
        return {
            "id": self.mutant.mutant_id,
            "module": self.mutant.module,
            "line": self.mutant.line,
            "operator": self.mutant.operator,
            "original": self.mutant.original,
            "replacement": self.mutant.replacement,
            "status": self.status.value,
            "rows": dict(self.rows),
            "failures": dict(self.failures),
            "tests": self.tests,
            "seconds": round(self.seconds, 2),
            "detail": self.detail,
            "diff": self.diff,
        }


def judge_mutant(run: SuiteRun, before: SuiteRun) -> tuple[Status, dict[str, str], str | None]:
    """Status, newly broken rows and a detail, from a mutant's run and its baseline."""
    if run.problem is not None:
        status = Status.HUNG if run.problem.startswith("pytest did not finish") else Status.CRASHED
        return status, {}, run.problem
    new = {
        rid: verdict
        for rid, verdict in run.broken.items()
        if verdict in BROKEN_VERDICTS and before.broken.get(rid) != verdict
    }
    return (Status.KILLED if new else Status.SURVIVED), new, None


class TriageError(ValueError):
    """A malformed triage file."""


@dataclass(frozen=True)
class Listing:
    """A triaged survivor: its kind (one of :data:`KINDS`) and why."""

    kind: str
    reason: str


Triage = Mapping[str, Listing]


def parse_triage(text: str, source: str = TRIAGE_FILE) -> dict[str, Listing]:
    """Mutant ID to its listing, from ``[[equivalent]]`` and ``[[unconstrained]]`` tables."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise TriageError(f"{source}: {error}") from error
    if set(document) - set(KINDS):
        raise TriageError(f"{source}: only [[equivalent]] and [[unconstrained]] tables are allowed")
    triage: dict[str, Listing] = {}
    for kind in KINDS:
        entries = document.get(kind, [])
        if not isinstance(entries, list):
            raise TriageError(f"{source}: {kind} must be [[{kind}]] tables")
        for number, entry in enumerate(entries, 1):
            mutant_id, reason = entry.get("id"), entry.get("reason")
            if not isinstance(mutant_id, str) or not isinstance(reason, str) or not reason.strip():
                raise TriageError(f"{source}: {kind} {number} needs an id and a non-empty reason")
            if set(entry) - {"id", "reason"}:
                raise TriageError(f"{source}: {kind} {number} ({mutant_id}) has unknown keys")
            if mutant_id in triage:
                raise TriageError(f"{source}: {mutant_id} is listed twice")
            triage[mutant_id] = Listing(kind, reason.strip())
    return triage


def load_triage(path: Path | None = None) -> dict[str, Listing]:
    """The project's triage (``faults/mutants.toml``), or the file at ``path``."""
    if path is not None:
        return parse_triage(path.read_text(encoding="utf-8"), str(path))
    text = resources.files("rfc8823.faults").joinpath(TRIAGE_FILE).read_text(encoding="utf-8")
    return parse_triage(text)


@dataclass(frozen=True)
class Score:
    """Counts over a set of mutants; the score is killed over those that could be killed."""

    total: int = 0
    killed: int = 0
    crashed: int = 0
    hung: int = 0
    import_errors: int = 0
    equivalent: int = 0
    unconstrained: int = 0
    holes: int = 0
    """Survivors not listed in the triage."""

    @property
    def scored(self) -> int:
        """Mutants that count: all but import errors and listed survivors."""
        return self.total - self.import_errors - self.equivalent - self.unconstrained

    @property
    def all_killed(self) -> int:
        """Killed by a row, a crash or a hang."""
        return self.killed + self.crashed + self.hung

    @property
    def percent(self) -> float:
        """The mutation score, 100 when nothing counts."""
        return 100.0 * self.all_killed / self.scored if self.scored else 100.0

    def to_json(self) -> dict[str, object]:
        """A JSON-ready record."""
        return {
            "total": self.total,
            "killed": self.killed,
            "crashed": self.crashed,
            "hung": self.hung,
            "import_errors": self.import_errors,
            "equivalent": self.equivalent,
            "unconstrained": self.unconstrained,
            "holes": self.holes,
            "score": round(self.percent, 1),
        }


def score(results: Iterable[MutantResult], triage: Triage) -> Score:
    """The counts of ``results`` with ``triage`` applied."""
    counts = dict.fromkeys(("killed", "crashed", "hung", "import_errors", *KINDS), 0)
    total = holes = 0
    for result in results:
        total += 1
        status = result.status
        if status is Status.KILLED:
            counts["killed"] += 1
        elif status is Status.CRASHED:
            counts["crashed"] += 1
        elif status is Status.HUNG:
            counts["hung"] += 1
        elif status is Status.IMPORT_ERROR:
            counts["import_errors"] += 1
        elif result.mutant.mutant_id in triage:
            counts[triage[result.mutant.mutant_id].kind] += 1
        else:
            holes += 1
    return Score(total=total, holes=holes, **counts)


def scores_by_module(results: Sequence[MutantResult], triage: Triage) -> dict[str, Score]:
    """One score per module, in the order the modules first appear."""
    modules = dict.fromkeys(r.mutant.module for r in results)
    return {m: score((r for r in results if r.mutant.module == m), triage) for m in modules}


def holes(results: Iterable[MutantResult], triage: Triage) -> list[MutantResult]:
    """Survivors not listed as equivalent: each fails the check."""
    return [r for r in results if r.status.survived and r.mutant.mutant_id not in triage]


def stale_triage(results: Iterable[MutantResult], triage: Triage) -> list[str]:
    """Listed IDs that this run killed (the listing is wrong, or a test now kills them)."""
    return [r.mutant.mutant_id for r in results if r.status.killed and r.mutant.mutant_id in triage]


def score_lines(results: Sequence[MutantResult], triage: Triage) -> list[str]:
    """The table: module, mutants, killed (crash, hang), import errors, triaged, holes, score."""
    header = (
        "module", "mutants", "killed", "crash", "hang", "import", "equiv", "uncon", "holes", "score"
    )  # fmt: skip
    by_module = scores_by_module(results, triage)
    rows = [_score_row(module, s) for module, s in by_module.items()]
    rows.append(_score_row("overall", score(results, triage)))
    table = [header, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in table]


def _score_row(name: str, s: Score) -> tuple[str, ...]:
    listed = (s.equivalent, s.unconstrained)
    counts = (s.total, s.killed, s.crashed, s.hung, s.import_errors, *listed, s.holes)
    return (name, *(str(c) for c in counts), f"{s.percent:.1f}%")


def survivor_lines(results: Sequence[MutantResult], triage: Triage) -> list[str]:
    """Each survivor: ID, status, its listing or HOLE, and its diff."""
    lines: list[str] = []
    for result in results:
        if not result.status.survived:
            continue
        mutant = result.mutant
        listing = triage.get(mutant.mutant_id)
        verdict = f"{listing.kind}: {listing.reason}" if listing is not None else "HOLE"
        lines.append(f"{mutant.mutant_id} ({result.status.value}, {verdict})")
        lines.extend(f"    {line}" for line in result.diff.splitlines())
    return lines


def report_json(
    results: Sequence[MutantResult], triage: Triage, seconds: float
) -> dict[str, object]:
    """The mutation check as a JSON-ready document (``rfc8823-mutation/1``)."""
    return {
        "schema": "rfc8823-mutation/1",
        "seconds": round(seconds, 2),
        "ok": not holes(results, triage),
        "overall": score(results, triage).to_json(),
        "modules": {m: s.to_json() for m, s in scores_by_module(results, triage).items()},
        "stale_triage": stale_triage(results, triage),
        "mutants": [
            {**r.to_json(), **_listing_json(triage.get(r.mutant.mutant_id))} for r in results
        ],
    }


def _listing_json(listing: Listing | None) -> dict[str, str | None]:
    if listing is None:
        return {"triage": None, "reason": None}
    return {"triage": listing.kind, "reason": listing.reason}
