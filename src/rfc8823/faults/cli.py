"""``rfc8823 selfcheck``: prove the suites catch every declared fault of the reference targets."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rfc8823.faults import Fault, UnknownFaultError, fault, registry
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
            "For each named fault, run the suite tests it names against the reference CA or "
            "client with that fault switched on, and check that a requirement it breaks is "
            "reported broken and that nothing else is. Prints a matrix; exit status "
            "1 if any fault is missed or makes noise."
        ),
    )
    parser.add_argument("--role", choices=("server", "client"), help="only this role's faults")
    parser.add_argument(
        "--fault", action="append", default=[], metavar="NAME", help="only these (repeatable)"
    )
    parser.add_argument("-j", "--jobs", type=int, default=1, help="pytest runs at a time")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results here")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="count co-reported IDs (covered by a catching test, not by the fault) as noise",
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
    parser.set_defaults(handler=run)


def selected(names: list[str], role: str | None) -> list[Fault]:
    """The faults named (all when none), of ``role`` when given, in name order."""
    chosen = [fault(name) for name in names] if names else list(registry().values())
    return sorted((f for f in chosen if role is None or f.role == role), key=lambda f: f.name)


def run(args: argparse.Namespace) -> int:
    """List or check the faults; 0 when all are caught cleanly, 1 otherwise, 2 on bad usage."""
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
    )
    outcomes = check.run(faults)
    seconds = time.monotonic() - started
    for line in matrix_lines(outcomes, strict=args.strict):
        print(line)
    print(summary_line(outcomes, seconds, strict=args.strict))
    if args.json is not None:
        document = report_json(outcomes, seconds, strict=args.strict)
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 0 if all(o.ok(strict=args.strict) for o in outcomes) else 1
