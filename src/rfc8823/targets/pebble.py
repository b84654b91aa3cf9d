"""Debian's ``pebble`` (Let's Encrypt's RFC 8555 test server) run on loopback.

Pebble knows no ``email`` identifiers: it is the reference client's RFC 8555 peer in the
project's tests, and the benchmarks' anchor of a compiled ACME server without mail (with
``PEBBLE_VA_ALWAYS_VALID`` it validates every challenge at once). Its behaviour is tuned by
environment variables (``PEBBLE_WFE_NONCEREJECT``, ``PEBBLE_VA_NOSLEEP`` ...), passed as
``env``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from rfc8823.world.pki import TestPki

__all__ = ["START_TIMEOUT", "Pebble", "pebble_binary", "running_pebble"]

READY_LINE = b"ACME directory available at"
START_TIMEOUT = 10.0
_LISTEN_CHECK_INTERVAL = 0.005
_TLS_NAMES = ["localhost", "127.0.0.1"]


@dataclass(frozen=True)
class Pebble:
    """A running pebble: its directory URL and process id."""

    directory: str
    pid: int


def pebble_binary() -> str | None:
    """The ``pebble`` program on the PATH, or None (``apt-get install pebble``)."""
    return shutil.which("pebble")


def _listening_port(pid: int) -> int | None:
    """The TCP port process ``pid`` listens on, read from /proc (pebble is given port 0)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    with open("/proc/net/tcp", encoding="ascii") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                return int(fields[1].rpartition(":")[2], 16)
    return None


async def _port_once_listening(pid: int) -> int:
    """Pebble logs its directory URL just before it listens, and says nothing after; so its
    sockets are looked at every few milliseconds until one listens (bounded by the caller)."""
    while True:
        port = _listening_port(pid)
        if port is not None:
            return port
        await asyncio.sleep(_LISTEN_CHECK_INTERVAL)


def _write_config(pki: TestPki, folder: Path) -> Path:
    """Pebble's JSON configuration in ``folder``: loopback, port 0, the test PKI's TLS."""
    cert, key = pki.tls_server_cert(_TLS_NAMES)
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    config = {
        "pebble": {
            "listenAddress": "127.0.0.1:0",
            "managementListenAddress": "",
            "certificate": str(folder / "cert.pem"),
            "privateKey": str(folder / "key.pem"),
            "httpPort": 5002,
            "tlsPort": 5001,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    path = folder / "pebble.json"
    path.write_text(json.dumps(config))
    return path


@contextlib.asynccontextmanager
async def running_pebble(
    pki: TestPki,
    folder: Path,
    *,
    env: Mapping[str, str] | None = None,
    start_timeout: float = START_TIMEOUT,
) -> AsyncIterator[Pebble]:
    """Pebble on an ephemeral loopback port with the test PKI's TLS certificate (files in
    ``folder``), with ``env`` added to the environment; stopped on exit.

    FileNotFoundError without pebble; TimeoutError or RuntimeError when it does not come up.
    """
    binary = pebble_binary()
    if binary is None:
        raise FileNotFoundError("Debian's pebble is not installed (apt-get install pebble)")
    config = _write_config(pki, folder)
    process = await asyncio.create_subprocess_exec(
        binary,
        "-config",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(start_timeout):
            while READY_LINE not in (line := await process.stdout.readline()):
                if not line:
                    raise RuntimeError("pebble exited before serving")
            port = await _port_once_listening(process.pid)
        reader = asyncio.create_task(_drain(process.stdout))
        try:
            yield Pebble(f"https://localhost:{port}/dir", process.pid)
        finally:
            reader.cancel()
    finally:
        if process.returncode is None:
            process.terminate()
        async with asyncio.timeout(start_timeout):
            await process.wait()


async def _drain(stream: asyncio.StreamReader) -> None:
    """Read pebble's log as it writes it, so a full pipe never blocks it."""
    while await stream.readline():
        continue
