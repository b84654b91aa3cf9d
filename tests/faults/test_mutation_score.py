"""Judging mutants against the baseline, the triage file, and the score."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from rfc8823.faults import mutation_check
from rfc8823.faults.cli import register, run_mutation
from rfc8823.faults.mutation import Mutant, mutants
from rfc8823.faults.mutation_check import MutationCheck, RoleBaseline
from rfc8823.faults.mutation_score import (
    Listing,
    MutantResult,
    Status,
    TriageError,
    holes,
    judge_mutant,
    parse_triage,
    report_json,
    score,
    score_lines,
    scores_by_module,
    stale_triage,
    survivor_lines,
)
from rfc8823.faults.selfcheck import SuiteRun

SOURCE = "def f(a, b):\n    return a == b and a < 3\n"


def sample_mutants(module: str = "src/rfc8823/x/rules.py") -> list[Mutant]:
    """Five mutants of a small function."""
    return mutants(SOURCE, module)


def result(mutant: Mutant, status: Status) -> MutantResult:
    return MutantResult(mutant, status, diff=f"-{mutant.original}\n+{mutant.replacement}\n")


BASELINE = SuiteRun({"CHAL-HDR-3": "ERROR", "KA-4": "WARN"}, {}, {}, {}, 1.0)


def run_with(broken: dict[str, str], problem: str | None = None) -> SuiteRun:
    return SuiteRun(broken, {}, {}, {}, 1.0, problem)


def test_a_newly_broken_row_kills() -> None:
    status, rows, _ = judge_mutant(run_with({**BASELINE.broken, "SRV-VAL-2": "FAIL"}), BASELINE)
    assert status is Status.KILLED
    assert rows == {"SRV-VAL-2": "FAIL"}


def test_a_row_broken_worse_than_in_the_baseline_kills() -> None:
    status, rows, _ = judge_mutant(run_with({"CHAL-HDR-3": "ERROR", "KA-4": "FAIL"}), BASELINE)
    assert status is Status.KILLED
    assert rows == {"KA-4": "FAIL"}


def test_only_the_baselines_rows_survive() -> None:
    status, rows, _ = judge_mutant(run_with(dict(BASELINE.broken)), BASELINE)
    assert status is Status.SURVIVED
    assert rows == {}
    assert judge_mutant(run_with({}), BASELINE)[0] is Status.SURVIVED


def test_a_hang_and_a_crash_kill_and_say_which() -> None:
    hung = judge_mutant(run_with({}, "pytest did not finish within 300 s"), BASELINE)
    crashed = judge_mutant(run_with({}, "pytest exit status 3: INTERNALERROR"), BASELINE)
    assert (hung[0], crashed[0]) == (Status.HUNG, Status.CRASHED)
    assert hung[0].killed
    assert crashed[0].killed
    assert crashed[2] == "pytest exit status 3: INTERNALERROR"


def test_import_errors_are_neither_killed_nor_survivors() -> None:
    assert not Status.IMPORT_ERROR.killed
    assert not Status.IMPORT_ERROR.survived
    assert Status.UNCOVERED.survived


def test_triage_parses_ids_and_reasons() -> None:
    text = (
        '[[equivalent]]\nid = "a/compare/1"\nreason = " same value either way "\n'
        '[[unconstrained]]\nid = "a/number/2"\nreason = "a local limit"\n'
    )
    assert parse_triage(text) == {
        "a/compare/1": Listing("equivalent", "same value either way"),
        "a/number/2": Listing("unconstrained", "a local limit"),
    }
    assert parse_triage("") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[equivalent]]\nid = "a"\n', "non-empty reason"),
        ('[[equivalent]]\nid = "a"\nreason = "  "\n', "non-empty reason"),
        ('[[equivalent]]\nid = "a"\nreason = "r"\nline = 3\n', "unknown keys"),
        (
            '[[equivalent]]\nid = "a"\nreason = "r"\n[[equivalent]]\nid = "a"\nreason = "s"\n',
            "twice",
        ),
        ('[[survivor]]\nid = "a"\n', "only \\[\\[equivalent\\]\\] and"),
        ("equivalent = 3\n", "must be \\[\\[equivalent\\]\\] tables"),
        (
            '[[equivalent]]\nid = "a"\nreason = "r"\n[[unconstrained]]\nid = "a"\nreason = "s"\n',
            "twice",
        ),
        ("[[equivalent]\n", "mutants.toml"),
    ],
)
def test_malformed_triage_is_refused(text: str, message: str) -> None:
    with pytest.raises(TriageError, match=message):
        parse_triage(text)


def test_score_counts_equivalents_apart_and_import_errors_out() -> None:
    one, two, three, four, five = sample_mutants()
    results = [
        result(one, Status.KILLED),
        result(two, Status.HUNG),
        result(three, Status.IMPORT_ERROR),
        result(four, Status.SURVIVED),
        result(five, Status.UNCOVERED),
    ]
    triage = {four.mutant_id: Listing("equivalent", "same value")}
    counted = score(results, triage)
    assert (counted.total, counted.all_killed, counted.import_errors) == (5, 2, 1)
    assert (counted.equivalent, counted.holes, counted.scored) == (1, 1, 3)
    assert counted.percent == pytest.approx(200 / 3)
    assert holes(results, triage) == [results[4]]
    policy = {**triage, five.mutant_id: Listing("unconstrained", "a local limit")}
    counted = score(results, policy)
    assert (counted.unconstrained, counted.holes, counted.scored, counted.percent) == (1, 0, 2, 100)
    assert holes(results, policy) == []
    assert score([], {}).percent == 100.0


def test_scores_per_module_and_overall() -> None:
    first = sample_mutants("src/a.py")
    second = sample_mutants("src/b.py")
    results = [result(m, Status.KILLED) for m in first] + [result(second[0], Status.SURVIVED)]
    by_module = scores_by_module(results, {})
    assert list(by_module) == ["src/a.py", "src/b.py"]
    assert by_module["src/a.py"].percent == 100.0
    assert by_module["src/b.py"].holes == 1
    lines = score_lines(results, {})
    assert lines[0].split() == [
        "module", "mutants", "killed", "crash", "hang", "import", "equiv", "uncon", "holes", "score"
    ]  # fmt: skip
    assert lines[-1].split() == ["overall", "6", "5", "0", "0", "0", "0", "0", "1", "83.3%"]


def test_survivors_are_shown_with_their_diff_and_triage() -> None:
    one, two, *_ = sample_mutants()
    results = [result(one, Status.SURVIVED), result(two, Status.KILLED)]
    lines = survivor_lines(results, {})
    assert lines[0] == f"{one.mutant_id} (survived, HOLE)"
    assert lines[1:] == [f"    -{one.original}", f"    +{one.replacement}"]
    listed = survivor_lines(results, {one.mutant_id: Listing("equivalent", "same")})
    assert listed[0].endswith("(survived, equivalent: same)")


def test_a_killed_mutant_listed_as_equivalent_is_stale() -> None:
    one, two, *_ = sample_mutants()
    results = [result(one, Status.KILLED), result(two, Status.SURVIVED)]
    triage = {
        one.mutant_id: Listing("equivalent", "wrongly"),
        two.mutant_id: Listing("equivalent", "same"),
    }
    assert stale_triage(results, triage) == [one.mutant_id]


def test_report_json() -> None:
    one, two, *_ = sample_mutants()
    results = [result(one, Status.KILLED), result(two, Status.UNCOVERED)]
    document = report_json(results, {}, 12.345)
    assert document["schema"] == "rfc8823-mutation/1"
    assert document["ok"] is False
    assert document["seconds"] == 12.35
    entries = document["mutants"]
    assert isinstance(entries, list)
    assert [e["status"] for e in entries] == ["killed", "uncovered"]
    assert entries[1]["triage"] is None
    json.dumps(document)


def mutate_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(["selfcheck", "--mutate", *argv])


def test_listing_mutants_runs_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    args = mutate_args("--modules", "src/rfc8823/client/reply.py", "--list-mutants")
    assert run_mutation(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines
    assert all(line.startswith("client.reply/") for line in lines)


def test_a_sample_is_the_same_each_time(capsys: pytest.CaptureFixture[str]) -> None:
    argv = (
        "--modules",
        "src/rfc8823/server/handle_orders.py",
        "--max-mutants",
        "5",
        "--list-mutants",
    )
    run_mutation(mutate_args(*argv))
    first = capsys.readouterr().out
    run_mutation(mutate_args(*argv))
    assert capsys.readouterr().out == first
    assert len(first.splitlines()) == 5


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--modules", "src/nowhere/*"), "selects no module"),
        (
            ("--modules", "*/reply.py", "--mutant", "client.reply/compare/000000000000"),
            "no such mutant",
        ),
        (("--max-mutants", "0"), "at least 1"),
        (("--resume",), "--resume needs --json"),
    ],
)
def test_bad_usage_is_refused(
    argv: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_mutation(mutate_args(*argv)) == 2
    assert message in capsys.readouterr().err


def test_a_malformed_triage_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    triage = tmp_path / "mutants.toml"
    triage.write_text('[[equivalent]]\nid = "x"\n', encoding="utf-8")
    assert run_mutation(mutate_args("--triage", str(triage), "--list-mutants")) == 2
    assert "non-empty reason" in capsys.readouterr().err


def test_a_resumed_run_keeps_results_for_mutants_that_read_the_same(tmp_path: Path) -> None:
    root = tmp_path
    module = "src/rfc8823/x/rules.py"
    (root / "src/rfc8823/x").mkdir(parents=True)
    (root / module).write_text(SOURCE, encoding="utf-8")
    one, two, *_ = found = sample_mutants(module)
    record = tmp_path / "mutation.json"
    earlier = [result(one, Status.KILLED), result(two, Status.SURVIVED)]
    document = report_json(earlier, {}, 1.0)
    entries = document["mutants"]
    assert isinstance(entries, list)
    entries[1]["replacement"] = "(something else)"
    record.write_text(json.dumps(document), encoding="utf-8")
    check = MutationCheck(root, record=record, resume=True)
    assert list(check._earlier(found)) == [one.mutant_id]
    (kept,) = check.run([one])
    assert kept.status is Status.KILLED
    assert kept.diff.startswith(f"--- a/{module}")
    assert not check.baselines


class ScriptedRuns:
    """Stands in for the pytest runs of a mutant: hands out prepared reports in order."""

    def __init__(self, *runs: SuiteRun) -> None:
        self.runs = list(runs)
        self.paths: list[tuple[str, ...]] = []

    def __call__(self, paths: tuple[str, ...], **_: object) -> SuiteRun:
        self.paths.append(tuple(paths))
        return self.runs.pop(0)


def judged_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *runs: SuiteRun
) -> tuple[MutantResult, ScriptedRuns]:
    """One mutant inside a function, judged against a clean baseline with these runs."""
    module = "src/rfc8823/client/rules.py"
    (tmp_path / "src/rfc8823/client").mkdir(parents=True)
    (tmp_path / module).write_text(SOURCE, encoding="utf-8")
    mutant = sample_mutants(module)[0]
    scripted = ScriptedRuns(*runs)
    monkeypatch.setattr(mutation_check, "run_suites", scripted)
    lines = {module: {2: frozenset({"suites/client/test_x.py::test_y"})}}
    check = MutationCheck(tmp_path)
    check.baselines["client"] = RoleBaseline(run_with({}), lines)
    (result,) = check.run([mutant])
    return result, scripted


SELECTED = ("suites/client/test_happy_path.py", "suites/client/test_x.py::test_y")
WHOLE = ("suites/client",)


def test_a_kill_by_errors_alone_is_confirmed_by_a_second_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky = run_with({"FLOW-5": "ERROR"})
    result, scripted = judged_with(tmp_path, monkeypatch, flaky, run_with({}), run_with({}))
    assert result.status is Status.SURVIVED
    assert scripted.paths == [SELECTED, SELECTED, WHOLE]
    result, _ = judged_with(tmp_path / "again", monkeypatch, flaky, flaky)
    assert result.status is Status.KILLED
    assert result.rows == {"FLOW-5": "ERROR"}


def test_a_kill_by_a_failed_row_needs_one_run_and_a_survivor_runs_the_whole_suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, scripted = judged_with(tmp_path, monkeypatch, run_with({"FLOW-6": "FAIL"}))
    assert (result.status, scripted.paths) == (Status.KILLED, [SELECTED])
    result, scripted = judged_with(
        tmp_path / "again", monkeypatch, run_with({}), run_with({"FLOW-6": "WARN"})
    )
    assert (result.status, scripted.paths) == (Status.KILLED, [SELECTED, WHOLE])
    assert result.diff.startswith("--- a/src/rfc8823/client/rules.py")
