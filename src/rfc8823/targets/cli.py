"""``rfc8823 target check FILE``: validate a CA's target file and say what it understood."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rfc8823.targets.described import described_target
from rfc8823.targets.target_file import describe, settings_from_options

PROG = "rfc8823 target check"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``target`` subcommand and its ``check`` action."""
    parser = subparsers.add_parser(
        "target",
        help="work with target files, the TOML descriptions of a CA under test",
        description="Target files describe a CA under test (docs/testing-a-ca.md).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check",
        help="validate a target file and print what the suite understood from it",
        description=(
            "Read FILE as `pytest suites/server --target-config FILE` would, with every "
            "default filled in, and print one line per setting and per capability. Exit status "
            "2 and a message naming the problem when the file is not valid."
        ),
    )
    check.add_argument("file", type=Path, metavar="FILE", help="the target TOML file")
    check.set_defaults(handler=check_file)


def check_file(args: argparse.Namespace) -> int:
    """Print what ``args.file`` describes; 0 when it is valid, 2 otherwise."""
    try:
        settings = settings_from_options(config_file=args.file)
        described_target(settings)
    except (OSError, ValueError) as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    print(f"{args.file}: valid")
    for line in describe(settings):
        print(f"  {line}")
    return 0
