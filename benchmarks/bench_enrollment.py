"""Full enrollments against each server at concurrency 1, 8 and 32, in one run, one world.

Every server is driven by the same client code (:func:`benchmarks.flow.enroll`): the
reference CA and acme2certifier with ``email`` identifiers and real mail; pebble with ``dns``
identifiers and no mail (RFC 8555 alone). A few warm-up enrollments come first and are not
counted. After each level the server's resident memory is read (its peak so far, VmHWM).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.flow import Clock, Enrollment, UserMail, enroll
from benchmarks.load import run_level
from benchmarks.servers import Running, acme2certifier, memory, pebble, reference_ca
from rfc8823.targets.server import TargetUnavailable
from rfc8823.world.world import World

__all__ = ["FULL", "QUICK", "SERVERS", "Plan", "measure"]

SERVERS = ("reference", "acme2certifier", "pebble")
_CLIENT_THREADS = 64
"""Worker threads for the client's blocking SMTP sends, so 32 enrollments never queue there."""


@dataclass(frozen=True)
class Plan:
    """How many enrollments per concurrency level, the warm-up, and each one's deadline."""

    counts: Mapping[int, int]
    warmup: int
    deadline: float


FULL = Plan(counts={1: 20, 8: 48, 32: 96}, warmup=3, deadline=60.0)
QUICK = Plan(counts={1: 3, 8: 8}, warmup=1, deadline=30.0)


def _starter(
    name: str, world: World, folder: Path
) -> contextlib.AbstractAsyncContextManager[Running]:
    if name == "reference":
        return reference_ca(world, folder)
    if name == "acme2certifier":
        return acme2certifier(world)
    if name == "pebble":
        return pebble(world)
    raise ValueError(f"unknown server {name!r}; known: {SERVERS}")


async def _levels(running: Running, mail: UserMail | None, plan: Plan) -> dict[str, Any]:
    peer = running.peer

    async def attempt(clock: Clock) -> Enrollment:
        return await enroll(peer, mail, clock)

    warmup = await run_level(attempt, plan.warmup, 1, plan.deadline) if plan.warmup else None
    result: dict[str, Any] = {
        "name": peer.name,
        "version": running.version,
        "identifier": peer.identifier,
        "notes": running.notes,
        "warmup": warmup.as_json() if warmup is not None else None,
        "memory_after_warmup": memory(running.pid),
        "levels": [],
    }
    for concurrency, count in sorted(plan.counts.items()):
        level = await run_level(attempt, count, concurrency, plan.deadline, server_pid=running.pid)
        figures = level.as_json()
        figures["memory"] = memory(running.pid)
        result["levels"].append(figures)
        print(_line(peer.name, figures), flush=True)
    return result


def _line(name: str, figures: Mapping[str, Any]) -> str:
    return (
        f"{name} c={figures['concurrency']}: {figures['completed']}/{figures['attempted']} "
        f"in {figures['wall_s']:.1f} s, {figures['throughput_per_s']:.2f}/s, median "
        f"{figures['median_ms']} ms, p95 {figures['p95_ms']} ms, lost {figures['lost']}, "
        f"stuck {figures['stuck']}, server CPU {figures['server_cpu_ms_per_completed']} ms "
        f"per enrollment, load {figures['load']['before'][0]}"
    )


@contextlib.asynccontextmanager
async def _client_threads() -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(_CLIENT_THREADS, thread_name_prefix="bench-client") as executor:
        loop.set_default_executor(executor)
        yield


async def measure(servers: Sequence[str], plan: Plan, folder: Path) -> dict[str, Any]:
    """Each server's levels, in the order given; an unavailable server says why."""
    results: dict[str, Any] = {}
    async with _client_threads():
        with World() as world:
            mail = UserMail(world)
            for name in servers:
                try:
                    async with _starter(name, world, folder) as running:
                        user_mail = mail if running.peer.identifier == "email" else None
                        results[name] = await _levels(running, user_mail, plan)
                except TargetUnavailable as error:
                    results[name] = {"name": name, "unavailable": str(error)}
                    print(f"{name}: unavailable: {error}", flush=True)
    return results
