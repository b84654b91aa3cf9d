"""What every benchmark records beside its figures: the machine, its load, order statistics.

The machine is shared, so each figure carries the load average (``os.getloadavg``) seen when
its measurement started and ended; implementations are compared only within one run.
"""

from __future__ import annotations

import math
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "Load",
    "cpu_seconds",
    "cpu_seconds_of_children",
    "load_during",
    "loads",
    "machine",
    "median_ms",
    "percentile",
    "throughput",
    "time_calls",
]

_CPUINFO = Path("/proc/cpuinfo")
_PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK")
_UTIME = 11
"""Where utime (field 14 of /proc/PID/stat, stime follows) is once the line is split after
the command name, which ends at the last ')' (field 3 comes first)."""


T = TypeVar("T")

def cpu_seconds(pid: int | None = None) -> float | None:
    """CPU seconds (user + system) used so far by process ``pid`` (None: this process, all its
    threads); None when the process is gone. Unlike wall time, it does not grow with the load
    other people put on a shared machine."""
    if pid is None:
        return time.process_time()
    try:
        text = (_PROC / str(pid) / "stat").read_text(encoding="ascii")
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    return (int(fields[_UTIME]) + int(fields[_UTIME + 1])) / _TICKS


def cpu_seconds_of_children() -> float:
    """CPU seconds used by the child processes this process has waited for (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def loads() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded to two places."""
    return [round(value, 2) for value in os.getloadavg()]


@dataclass
class Load:
    """The load averages when a measurement started and when it ended."""

    before: list[float] = field(default_factory=loads)
    after: list[float] = field(default_factory=list)

    def end(self) -> Load:
        """Record the load at the end; returns itself."""
        self.after = loads()
        return self

    def as_json(self) -> dict[str, list[float]]:
        """``{"before": [1, 5, 15 min], "after": [...]}``."""
        return {"before": self.before, "after": self.after}


@contextmanager
def load_during() -> Iterator[Load]:
    """The load when a ``with`` block starts and ends."""
    load = Load()
    try:
        yield load
    finally:
        load.end()


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (``fraction`` in (0, 1]); NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def median_ms(seconds: Sequence[float]) -> float:
    """The median of durations in seconds, in milliseconds (NaN when empty)."""
    return statistics.median(seconds) * 1000 if seconds else math.nan


def time_calls(call: Callable[[], object], rounds: int) -> list[float]:
    """Seconds each of ``rounds`` calls of ``call`` took."""
    durations = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        durations.append(time.perf_counter() - started)
    return durations


def throughput(messages: int, run: Callable[[], T]) -> tuple[T, dict[str, Any]]:
    """``run()``'s result, and its rate over ``messages``: wall seconds, messages per second
    and per CPU-second (load-independent on a shared machine), and the load around it."""
    with load_during() as load:
        cpu_before = cpu_seconds()
        started = time.perf_counter()
        result = run()
        elapsed = time.perf_counter() - started
        cpu = (cpu_seconds() or 0.0) - (cpu_before or 0.0)
    return result, {
        "messages": messages,
        "seconds": round(elapsed, 3),
        "messages_per_s": round(messages / elapsed, 1),
        "messages_per_cpu_s": round(messages / cpu, 1) if cpu > 0 else None,
        "load": load.as_json(),
    }


def machine() -> dict[str, Any]:
    """Where the figures were measured: cores, CPU model, OS, Python, load now."""
    model = "unknown"
    try:
        for line in _CPUINFO.read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load": loads(),
    }
