"""The ``rfc8823`` command: one subcommand per module that registers it.

Each subcommand module exposes ``register(subparsers)``, which adds its parser and sets
``handler`` (a callable taking the parsed namespace and returning an exit status).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Protocol, cast

from rfc8823 import __version__

SUBCOMMAND_MODULES: tuple[str, ...] = (
    "rfc8823.server.cli",
    "rfc8823.client.cli",
    "rfc8823.report.cli",
    "rfc8823.faults.cli",
    "rfc8823.targets.cli",
)
"""Modules that register a subcommand, in the order ``--help`` lists them."""


class _Registers(Protocol):
    def register(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Add one subcommand parser."""


def build_parser(modules: Sequence[str] = SUBCOMMAND_MODULES) -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="rfc8823",
        description="Conformance suite for ACME end-user S/MIME certificates (RFC 8823).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in modules:
        cast(_Registers, importlib.import_module(name)).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    levels = (logging.WARNING, logging.INFO, logging.DEBUG)
    logging.basicConfig(
        level=levels[min(args.verbose, len(levels) - 1)],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler = cast(Callable[[argparse.Namespace], int] | None, getattr(args, "handler", None))
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
