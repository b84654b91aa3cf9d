"""The performance goals (docs/performance.md), judged on one run's figures, never a verdict.

Each goal is a ratio or a bound measured in the same run, on a shared machine: it carries the
load average of the measurement it was judged on. ``met`` is None when the run did not measure
it (a quick run, a server that could not be run here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["evaluate"]

THROUGHPUT_RATIO = 10.0
MEDIAN_C1_MS = 50.0
SUITES_SERIAL_S = 60.0
SUITES_SPEEDUP = 1.6
INSPECTOR_PER_S = 1000.0


def _goal(
    goal_id: str,
    goal: str,
    measured: float | None,
    unit: str,
    met: bool | None,
    load: Any,
    note: str | None = None,
) -> dict[str, Any]:
    """One goal; ``note`` adds a load-independent view (CPU time) where there is one."""
    return {
        "id": goal_id,
        "goal": goal,
        "measured": measured,
        "unit": unit,
        "met": met,
        "load": load,
        "note": note,
    }


def _level(server: Mapping[str, Any] | None, concurrency: int) -> Mapping[str, Any] | None:
    if not server or "levels" not in server:
        return None
    return next((lv for lv in server["levels"] if lv["concurrency"] == concurrency), None)


def _enrollment_goals(enrollment: Mapping[str, Any]) -> list[dict[str, Any]]:
    reference, other = enrollment.get("reference"), enrollment.get("acme2certifier")
    goals = []
    for concurrency in (1, 8, 32):
        ours, theirs = _level(reference, concurrency), _level(other, concurrency)
        ratio = None
        if ours is not None and theirs is not None and theirs["throughput_per_s"] > 0:
            ratio = round(ours["throughput_per_s"] / theirs["throughput_per_s"], 1)
        goals.append(
            _goal(
                f"throughput-ratio-c{concurrency}",
                f"reference CA throughput at least {THROUGHPUT_RATIO:g}x acme2certifier's "
                f"(concurrency {concurrency}, same run)",
                ratio,
                "x",
                None if ratio is None else ratio >= THROUGHPUT_RATIO,
                ours["load"] if ours is not None else None,
            )
        )
    c32 = _level(reference, 32)
    unfinished = None if c32 is None else c32["lost"] + c32["stuck"]
    goals.append(
        _goal(
            "reference-lost-c32",
            "reference CA: 0 lost or stuck enrollments at concurrency 32",
            unfinished,
            "enrollments",
            None if unfinished is None else unfinished == 0,
            c32["load"] if c32 is not None else None,
        )
    )
    c1 = _level(reference, 1)
    median = None if c1 is None else c1["median_ms"]
    goals.append(
        _goal(
            "reference-median-c1",
            f"reference CA: median full flow under {MEDIAN_C1_MS:g} ms at concurrency 1 "
            "(in-process client)",
            median,
            "ms",
            None if median is None else median < MEDIAN_C1_MS,
            c1["load"] if c1 is not None else None,
        )
    )
    return goals


def _suite_goals(suites: Mapping[str, Any]) -> list[dict[str, Any]]:
    serial, parallel = suites.get("serial"), suites.get("parallel_2")
    passed = serial is not None and serial["exit_status"] == 0
    wall = serial["wall_s"] if passed and serial is not None else None
    speedup = suites.get("speedup")
    cpu_note = None
    if serial is not None and parallel is not None:
        cpu_note = (
            f"CPU time {serial['cpu_s']:g} s serial, {parallel['cpu_s']:g} s with -n 2 "
            f"(2 cores shared: CPU time bounds what two workers can gain)"
        )
    return [
        _goal(
            "suites-serial",
            f"pytest suites/ (both roles, reference targets) under {SUITES_SERIAL_S:g} s serial",
            wall,
            "s",
            None if wall is None else wall < SUITES_SERIAL_S,
            serial["load"] if serial is not None else None,
            cpu_note,
        ),
        _goal(
            "suites-speedup",
            f"pytest suites/ with -n 2 at least {SUITES_SPEEDUP:g}x faster than serial",
            speedup,
            "x",
            None if speedup is None else speedup >= SUITES_SPEEDUP,
            parallel["load"] if parallel is not None else None,
            cpu_note,
        ),
    ]


def _inspector_goals(inspectors: Mapping[str, Any]) -> list[dict[str, Any]]:
    goals = []
    for name in ("challenge", "response"):
        figures = inspectors.get(name)
        rate = None if figures is None else figures["messages_per_s"]
        per_cpu = None if figures is None else figures.get("messages_per_cpu_s")
        goals.append(
            _goal(
                f"inspect-{name}",
                f"inspect_{name} at least {INSPECTOR_PER_S:,.0f} messages/s (pure path)",
                rate,
                "messages/s",
                None if rate is None else rate >= INSPECTOR_PER_S,
                figures["load"] if figures is not None else None,
                None if per_cpu is None else f"{per_cpu:,.0f} per CPU-second",
            )
        )
    return goals


def evaluate(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every goal with its measured value and whether it was met (None: not measured)."""
    return [
        *_enrollment_goals(document.get("enrollment", {})),
        *_suite_goals(document.get("suites", {})),
        *_inspector_goals(document.get("inspectors", {})),
    ]
