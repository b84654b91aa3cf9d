"""Enrollments at a given concurrency: latency, throughput, and every one that did not finish.

``count`` enrollments run with at most ``concurrency`` in flight. Each has a deadline; one
that misses it is *stuck* (cancelled), one that fails a step is *lost*, and both are counted
with their reason, never dropped from the figures.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.flow import STAGES, Clock, Enrollment, StepFailed
from benchmarks.measure import Load, cpu_seconds, load_during, percentile

__all__ = ["Level", "run_level"]

_REASON_LENGTH = 160


@dataclass
class Level:
    """What one concurrency level gave."""

    concurrency: int
    attempted: int
    wall_s: float
    finished: list[Enrollment] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    lost: Counter[str] = field(default_factory=Counter)
    stuck: Counter[str] = field(default_factory=Counter)
    load: Load = field(default_factory=Load)
    server_cpu_s: float | None = None
    client_cpu_s: float | None = None

    @property
    def completed(self) -> int:
        """Enrollments that downloaded their certificate."""
        return len(self.finished)

    def as_json(self) -> dict[str, Any]:
        """The level's figures (durations in ms, throughput in enrollments per second)."""
        stage_medians = {
            stage: round(statistics.median(values), 2)
            for stage in STAGES
            if (values := [e.stages[stage] for e in self.finished if stage in e.stages])
        }
        return {
            "concurrency": self.concurrency,
            "attempted": self.attempted,
            "completed": self.completed,
            "lost": sum(self.lost.values()),
            "stuck": sum(self.stuck.values()),
            "lost_reasons": dict(self.lost.most_common()),
            "stuck_reasons": dict(self.stuck.most_common()),
            "wall_s": round(self.wall_s, 3),
            "throughput_per_s": round(self.completed / self.wall_s, 3) if self.wall_s else 0.0,
            "median_ms": _ms(statistics.median(self.seconds)) if self.seconds else None,
            "p95_ms": _ms(percentile(self.seconds, 0.95)) if self.seconds else None,
            "min_ms": _ms(min(self.seconds)) if self.seconds else None,
            "max_ms": _ms(max(self.seconds)) if self.seconds else None,
            "stage_median_ms": stage_medians,
            "jws_posts_per_enrollment": (
                statistics.median(e.posts for e in self.finished) if self.finished else None
            ),
            "cpu_s": {
                "server": _round(self.server_cpu_s),
                "client_and_world": _round(self.client_cpu_s),
            },
            "server_cpu_ms_per_completed": (
                round(self.server_cpu_s * 1000 / self.completed, 2)
                if self.server_cpu_s is not None and self.completed
                else None
            ),
            "load": self.load.as_json(),
        }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


def _used(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def _reason(error: BaseException) -> str:
    """A short, stable reason: the failed step and the first line of what happened."""
    if isinstance(error, StepFailed):
        text = f"{error.step}: {error.detail}"
    else:
        text = f"{type(error).__name__}: {error}"
    return text.splitlines()[0][:_REASON_LENGTH] if text else type(error).__name__


async def run_level(
    one: Callable[[Clock], Awaitable[Enrollment]],
    count: int,
    concurrency: int,
    deadline: float,
    *,
    server_pid: int | None = None,
) -> Level:
    """Run ``count`` enrollments ``one(clock)``, ``concurrency`` at a time, each within
    ``deadline`` seconds; stuck ones are cancelled and counted by the stage they were in.

    The CPU time the server process ``server_pid`` and this process (the client and the
    world's mail and DNS) spent on the level is recorded beside the wall time."""
    if count < 1 or concurrency < 1 or deadline <= 0:
        raise ValueError("count, concurrency and deadline must be positive")
    gate = asyncio.Semaphore(concurrency)
    finished: list[tuple[Enrollment, float]] = []
    lost: Counter[str] = Counter()
    stuck: Counter[str] = Counter()

    async def guarded() -> None:
        async with gate:
            clock = Clock()
            started = time.perf_counter()
            try:
                async with asyncio.timeout(deadline):
                    enrollment = await one(clock)
            except TimeoutError:
                stuck[f"{clock.current}: not finished within {deadline:g} s"] += 1
            except Exception as error:  # noqa: BLE001 - every failure is counted with its reason
                lost[_reason(error)] += 1
            else:
                finished.append((enrollment, time.perf_counter() - started))

    with load_during() as load:
        server_before, client_before = cpu_seconds(server_pid), cpu_seconds()
        started = time.perf_counter()
        await asyncio.gather(*(guarded() for _ in range(count)))
        wall = time.perf_counter() - started
        server_used = _used(server_before, cpu_seconds(server_pid))
        client_used = _used(client_before, cpu_seconds())
    return Level(
        concurrency=concurrency,
        attempted=count,
        wall_s=wall,
        finished=[enrollment for enrollment, _ in finished],
        seconds=[seconds for _, seconds in finished],
        lost=lost,
        stuck=stuck,
        load=load,
        server_cpu_s=server_used if server_pid is not None else None,
        client_cpu_s=client_used,
    )
