"""Run every benchmark (``python -m benchmarks`` / ``make bench``), or those named on the line.

Each ``bench_*.py`` module has a ``main()`` that prints its figures and the goal it measures.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable
from typing import cast

import benchmarks


def run(names: list[str]) -> int:
    """Run the named benchmark modules (all ``bench_*`` when none are named)."""
    available = sorted(
        info.name
        for info in pkgutil.iter_modules(benchmarks.__path__)
        if info.name.startswith("bench_")
    )
    chosen = names or available
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available: {available}", file=sys.stderr)
        return 2
    for name in chosen:
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        cast(Callable[[], None], module.main)()
    return 0


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
