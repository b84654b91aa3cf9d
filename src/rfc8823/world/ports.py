"""Loopback ports chosen before the program that listens on them starts.

Most world servers bind port 0 and read back what the kernel gave them. A few
listeners cannot: an out-of-process client told ``--smtp-listen host:port``,
Dovecot, a CA started later by an operator. Their port has to be named in
advance, and a port taken from the kernel's ephemeral range (bind 0, read,
close) can be handed to the next port-0 bind in the meantime — a CA started
for the same test, say — so the listener then fails with "address in use".

:func:`unused_port` therefore picks from outside the ephemeral range, which
the kernel never hands out on its own, in a slice of its own per pytest-xdist
worker, and checks that nothing is bound there right now.
"""

from __future__ import annotations

import itertools
import os
import secrets
import socket
import threading
from pathlib import Path

LOOPBACK = "127.0.0.1"
_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LINUX_DEFAULT = (32768, 60999)
_LOWEST = 10000  # below this live well-known services people run on test machines
_MIN_POOL = 1000

_lock = threading.Lock()
_cursor: itertools.count[int] | None = None


def ephemeral_range(source: Path = _RANGE_FILE) -> tuple[int, int]:
    """The kernel's ephemeral port range (inclusive); Linux's default when unreadable."""
    try:
        low, high = (int(part) for part in source.read_text().split())
    except (OSError, ValueError):
        return _LINUX_DEFAULT
    return low, high


def port_pool(ephemeral: tuple[int, int]) -> range:
    """The larger stretch of non-ephemeral ports, below or above the ephemeral range.

    When neither side holds ``_MIN_POOL`` ports the kernel hands out almost
    everything, and the pool falls back to the whole unprivileged range.
    """
    low, high = ephemeral
    below, above = range(_LOWEST, low), range(high + 1, 65536)
    pool = max(below, above, key=len)
    return pool if len(pool) >= _MIN_POOL else range(_LOWEST, 65536)


def worker_slice(pool: range, worker: str | None, workers: str | None) -> range:
    """The part of ``pool`` owned by pytest-xdist worker ``gwN`` of ``workers``.

    Outside xdist (no worker name) the whole pool is used.
    """
    if not worker or not worker.startswith("gw") or not worker[2:].isdigit():
        return pool
    count = max(int(workers), 1) if workers and workers.isdigit() else 1
    index = int(worker[2:]) % count
    size = len(pool) // count
    return pool[index * size : (index + 1) * size]


def is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when a TCP socket can bind ``host:port`` right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def unused_port(host: str = LOOPBACK) -> int:
    """A port on ``host`` that nothing is bound to and no port-0 bind will take.

    Successive calls in one process walk the worker's slice from a random
    start, so two listeners of one test never receive the same port.
    """
    global _cursor
    ports = worker_slice(
        port_pool(ephemeral_range()),
        os.environ.get("PYTEST_XDIST_WORKER"),
        os.environ.get("PYTEST_XDIST_WORKER_COUNT"),
    )
    with _lock:
        if _cursor is None:
            _cursor = itertools.count(secrets.randbelow(len(ports)))
        for _ in range(len(ports)):
            port = ports[next(_cursor) % len(ports)]
            if is_free(port, host):
                return port
    raise OSError(f"no free port on {host} in {ports.start}-{ports.stop - 1}")
