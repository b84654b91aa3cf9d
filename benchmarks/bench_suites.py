"""Wall time of ``pytest suites/`` (both roles, the reference targets): serial and ``-n 2``.

Each run is a pytest process of its own from the project root, without reports, in a fixed
order (``-p no:randomly``), bounded by a timeout; its exit status and pytest's summary line
are kept beside the time, so a run that failed or timed out is not read as a fast one.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.measure import cpu_seconds_of_children, load_during

__all__ = ["RUN_TIMEOUT", "measure", "pytest_run"]

ROOT = Path(__file__).resolve().parents[1]
RUN_TIMEOUT = 1800.0
_PYTEST = (sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", "-q")


def pytest_run(paths: Sequence[str], workers: int, timeout: float = RUN_TIMEOUT) -> dict[str, Any]:
    """One pytest run of ``paths`` with ``-n workers`` (0: serial): wall time, status, summary."""
    command = [*_PYTEST, *paths, "--no-report", "-n", str(workers)]
    with load_during() as load:
        cpu_before = cpu_seconds_of_children()
        started = time.perf_counter()
        try:
            done = subprocess.run(  # noqa: S603 - a fixed argument list, no shell
                command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            status, summary = None, f"timed out after {timeout:g} s"
        else:
            status = done.returncode
            lines = done.stdout.strip().splitlines()
            summary = lines[-1] if lines else done.stderr.strip()[-200:]
        wall = time.perf_counter() - started
        cpu = cpu_seconds_of_children() - cpu_before
    return {
        "command": " ".join(["pytest", *command[3:]]),
        "workers": workers,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "exit_status": status,
        "summary": summary,
        "load": load.as_json(),
    }


def measure(paths: Sequence[str] = ("suites",), timeout: float = RUN_TIMEOUT) -> dict[str, Any]:
    """The serial run, then the ``-n 2`` run, and how much faster the second was."""
    serial = pytest_run(paths, 0, timeout)
    parallel = pytest_run(paths, 2, timeout)
    both_passed = serial["exit_status"] == 0 and parallel["exit_status"] == 0
    speedup = serial["wall_s"] / parallel["wall_s"] if both_passed and parallel["wall_s"] else None
    return {
        "serial": serial,
        "parallel_2": parallel,
        "speedup": round(speedup, 2) if speedup is not None else None,
    }
