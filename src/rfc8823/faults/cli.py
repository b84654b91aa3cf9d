"""``rfc8823 selfcheck``: prove the suites catch every declared fault of the reference targets."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rfc8823.faults import Fault, UnknownFaultError, fault, registry
from rfc8823.faults.mutation_check import (
    DEFAULT_SEED,
    MutationCheck,
    MutationSetupError,
    sample,
    select_modules,
)
from rfc8823.faults.mutation_score import (
    TriageError,
    holes,
    load_triage,
    score_lines,
    stale_triage,
    survivor_lines,
)
from rfc8823.faults.mutation_score import report_json as mutation_json
from rfc8823.faults.selfcheck import (
    DEFAULT_TIMEOUT,
    SelfCheck,
    matrix_lines,
    project_root,
    report_json,
    summary_line,
)

PROG = "rfc8823 selfcheck"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``selfcheck`` subcommand."""
    parser = subparsers.add_parser(
        "selfcheck",
        help="run the suites with each reference fault on; fail unless every fault is caught",
        description=(
            "For each named fault, run the suite tests it names (with --whole: the whole role "
            "suite) against the reference CA or client with that fault switched on, and check "
            "that a requirement it breaks is reported broken and that nothing else is: no "
            "other row newly FAIL, WARN or ERROR, and no row newly BLOCKED by a row the fault "
            "does not break. Prints a matrix; exit status 1 if any fault is missed or makes "
            "noise. With --mutate: run the role suites against generated mutants of the "
            "reference CA's reply judging and state machine and the reference client's "
            "decision and reply; print the score per module and every survivor with its diff; "
            "exit status 1 if a survivor is not triaged in faults/mutants.toml."
        ),
    )
    parser.add_argument("--role", choices=("server", "client"), help="only this role's faults")
    parser.add_argument(
        "--fault", action="append", default=[], metavar="NAME", help="only these (repeatable)"
    )
    parser.add_argument("-j", "--jobs", type=int, default=1, help="pytest runs at a time")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results here")
    parser.add_argument(
        "--whole",
        action="store_true",
        help="run the whole role suite for every fault (noise across the whole suite)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"bound on each pytest run (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--root", type=Path, help="the project checkout holding suites/ (default: found)"
    )
    parser.add_argument("--list", action="store_true", help="list the faults and exit")
    mutation = parser.add_argument_group("mutation testing (--mutate)")
    mutation.add_argument(
        "--mutate", action="store_true", help="judge mutants instead of the declared faults"
    )
    mutation.add_argument(
        "--modules",
        action="append",
        default=[],
        metavar="PATTERN",
        help="only modules matching this fnmatch pattern or path (repeatable; default: all)",
    )
    mutation.add_argument(
        "--max-mutants",
        type=int,
        metavar="N",
        help="a sample of N mutants, drawn with --seed (default: every mutant)",
    )
    mutation.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"sample seed (default {DEFAULT_SEED})"
    )
    mutation.add_argument(
        "--mutant", action="append", default=[], metavar="ID", help="only these (repeatable)"
    )
    mutation.add_argument(
        "--triage",
        type=Path,
        metavar="FILE",
        help="triaged survivors (default faults/mutants.toml)",
    )
    mutation.add_argument(
        "--resume",
        action="store_true",
        help="keep the results already in the --json file for mutants that still read the same",
    )
    mutation.add_argument(
        "--list-mutants", action="store_true", help="list the selected mutants and exit"
    )
    parser.set_defaults(handler=run)


def selected(names: list[str], role: str | None) -> list[Fault]:
    """The faults named (all when none), of ``role`` when given, in name order."""
    chosen = [fault(name) for name in names] if names else list(registry().values())
    return sorted((f for f in chosen if role is None or f.role == role), key=lambda f: f.name)


def run(args: argparse.Namespace) -> int:
    """List or check the faults; 0 when all are caught cleanly, 1 otherwise, 2 on bad usage."""
    if args.mutate:
        return run_mutation(args)
    try:
        faults = selected(args.fault, args.role)
    except UnknownFaultError as error:
        print(f"{PROG}: {error.args[0]}", file=sys.stderr)
        return 2
    if args.list:
        for item in faults:
            print(f"{item.name}  [{item.role}]  breaks {', '.join(item.breaks)}: {item.summary}")
        return 0
    if not faults or args.jobs < 1:
        print(f"{PROG}: no fault selected, or --jobs below 1", file=sys.stderr)
        return 2
    root = args.root or project_root()
    if root is None or not (root / "suites").is_dir():
        print(f"{PROG}: no project checkout with suites/ found; give --root", file=sys.stderr)
        return 2
    started = time.monotonic()
    check = SelfCheck(
        root,
        jobs=args.jobs,
        timeout=args.timeout,
        progress=lambda line: print(f"{PROG}: {line}", file=sys.stderr, flush=True),
        whole=args.whole,
    )
    outcomes = check.run(faults)
    seconds = time.monotonic() - started
    for line in matrix_lines(outcomes):
        print(line)
    print(summary_line(outcomes, seconds))
    if args.json is not None:
        document = report_json(outcomes, seconds, whole=args.whole)
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 0 if all(o.ok() for o in outcomes) else 1


def _say(line: str) -> None:
    print(f"{PROG}: {line}", file=sys.stderr, flush=True)


def _mutation_usage_problem(args: argparse.Namespace, root: Path | None) -> str | None:
    """What makes the --mutate options unusable, if anything."""
    if root is None or not (root / "suites").is_dir():
        return "no project checkout with suites/ found; give --root"
    if args.jobs < 1 or (args.max_mutants is not None and args.max_mutants < 1):
        return "--jobs and --max-mutants must be at least 1"
    if args.resume and args.json is None:
        return "--resume needs --json FILE"
    return None


def run_mutation(args: argparse.Namespace) -> int:
    """List or judge mutants; 0 when every survivor is listed as equivalent, 1 otherwise."""
    root = args.root or project_root()
    problem = _mutation_usage_problem(args, root)
    if problem is not None or root is None:
        print(f"{PROG}: {problem}", file=sys.stderr)
        return 2
    try:
        triage = load_triage(args.triage)
        modules = select_modules(args.modules, root)
    except (TriageError, ValueError, OSError) as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    check = MutationCheck(
        root,
        jobs=args.jobs,
        timeout=args.timeout,
        whole=args.whole,
        progress=_say,
        record=args.json,
        resume=args.resume,
        triage=triage,
    )
    found = check.mutants_of(modules)
    if args.mutant:
        unknown = set(args.mutant) - {m.mutant_id for m in found}
        if unknown:
            print(f"{PROG}: no such mutant: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        found = [m for m in found if m.mutant_id in args.mutant]
    chosen = sample(found, args.max_mutants, args.seed)
    if args.list_mutants:
        for mutant in chosen:
            print(mutant.describe())
        return 0
    _say(f"{len(chosen)} of {len(found)} mutants in {len(modules)} modules")
    started = time.monotonic()
    try:
        results = check.run(chosen)
    except MutationSetupError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    seconds = time.monotonic() - started
    for line in [*score_lines(results, triage), "", *survivor_lines(results, triage)]:
        print(line)
    for mutant_id in stale_triage(results, triage):
        print(f"{PROG}: {mutant_id} is listed in the triage but was killed", file=sys.stderr)
    left = holes(results, triage)
    ran = [r for r in results if r.seconds]
    per = sum(r.seconds for r in ran) / len(ran) if ran else 0.0
    print(
        f"mutation: {len(results)} mutants, {len(left)} unlisted survivors; "
        f"{seconds:.1f} s ({per:.1f} s per mutant run, {args.jobs} at a time)"
    )
    if args.json is not None:
        document = mutation_json(results, triage, seconds)
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 1 if left else 0
