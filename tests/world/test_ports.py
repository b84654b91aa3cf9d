"""Ports named in advance stay clear of the kernel's ephemeral range."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from rfc8823.world.ports import (
    ephemeral_range,
    is_free,
    port_pool,
    unused_port,
    worker_slice,
)


def test_ephemeral_range_is_read_from_the_kernel_file(tmp_path: Path) -> None:
    source = tmp_path / "range"
    source.write_text("40000\t50000\n")
    assert ephemeral_range(source) == (40000, 50000)


def test_ephemeral_range_falls_back_to_linux_default(tmp_path: Path) -> None:
    assert ephemeral_range(tmp_path / "missing") == (32768, 60999)
    garbage = tmp_path / "garbage"
    garbage.write_text("not numbers")
    assert ephemeral_range(garbage) == (32768, 60999)


@pytest.mark.parametrize(
    ("ephemeral", "expected"),
    [
        ((32768, 60999), range(10000, 32768)),
        ((10500, 30000), range(30001, 65536)),
        ((1024, 65535), range(10000, 65536)),
    ],
)
def test_pool_avoids_the_ephemeral_range(ephemeral: tuple[int, int], expected: range) -> None:
    assert port_pool(ephemeral) == expected


def test_worker_slices_are_disjoint_and_cover_the_pool() -> None:
    pool = range(10000, 32768)
    slices = [worker_slice(pool, f"gw{n}", "4") for n in range(4)]
    seen: set[int] = set()
    for part in slices:
        assert part
        assert not seen & set(part)
        seen |= set(part)
    assert len(seen) >= len(pool) - 4
    assert worker_slice(pool, None, None) == pool
    assert worker_slice(pool, "master", "4") == pool


def test_unused_port_is_bindable_and_outside_the_ephemeral_range() -> None:
    low, high = ephemeral_range()
    ports = {unused_port() for _ in range(5)}
    assert len(ports) == 5
    for port in ports:
        assert not low <= port <= high
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", port))
            listener.listen()
            assert not is_free(port)
