"""The servers under benchmark, each started as a process of its own on loopback and wired to
one world, so their memory is measured honestly and none shares the client's interpreter.

- the reference CA: ``rfc8823 serve`` with the world's DNS and MX, replies on its own listener
  (the world routes ``ca.test`` there);
- acme2certifier: its target (installed from PyPI into the cache, run under its WSGI server,
  replies read from the suite's Dovecot, challenges sent through the world's smarthost);
- pebble: Debian's, every challenge valid at once, no mail (the RFC 8555 anchor).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.flow import Peer
from rfc8823 import __version__
from rfc8823.endpoints import parse_host_port
from rfc8823.targets.acme2certifier import Acme2certifierTarget
from rfc8823.targets.pebble import running_pebble
from rfc8823.targets.target_file import settings_from_options
from rfc8823.world.ports import unused_port
from rfc8823.world.world import World

__all__ = [
    "ACME2CERTIFIER_TARGET",
    "Running",
    "acme2certifier",
    "memory",
    "pebble",
    "reference_ca",
]

ROOT = Path(__file__).resolve().parents[1]
ACME2CERTIFIER_TARGET = ROOT / "fixtures" / "targets" / "acme2certifier.toml"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
PEBBLE_ENV: Mapping[str, str] = {
    "PEBBLE_VA_ALWAYS_VALID": "1",
    "PEBBLE_VA_NOSLEEP": "1",
    "PEBBLE_WFE_NONCEREJECT": "0",
    "PEBBLE_AUTHZREUSE": "0",
}
"""Pebble validates every challenge at once, never rejects a good nonce, reuses no
authorization: what is left is its RFC 8555 work."""
_STATUS = Path("/proc")


@dataclass
class Running:
    """A server under benchmark: how the client reaches it, its process, what to say of it."""

    peer: Peer
    version: str
    pid: int | None
    notes: list[str] = field(default_factory=list)


def memory(pid: int | None) -> dict[str, float] | None:
    """Resident memory of process ``pid`` in MiB: now (VmRSS) and its peak so far (VmHWM)."""
    if pid is None:
        return None
    try:
        text = (_STATUS / str(pid) / "status").read_text(encoding="ascii")
    except OSError:
        return None
    values: dict[str, float] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values["rss_mib" if name == "VmRSS" else "peak_rss_mib"] = round(
                int(rest.split()[0]) / 1024, 1
            )
    return values or None


@contextlib.asynccontextmanager
async def reference_ca(world: World, folder: Path) -> AsyncIterator[Running]:
    """``rfc8823 serve`` in a process of its own, wired to ``world``; its log in ``folder``."""
    http_port, reply_port = unused_port(), unused_port()
    dns = world.dns_endpoint
    log = (folder / "reference-ca.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rfc8823.cli",
        "serve",
        f"--http=127.0.0.1:{http_port}",
        f"--resolver={dns.host}:{dns.port}",
        f"--mx-port={world.mx.port}",
        f"--reply=127.0.0.1:{reply_port}",
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
        stdin=asyncio.subprocess.DEVNULL,
    )
    try:
        lines = await _endpoint_lines(process, ("directory", "ca-bundle", "reply-smtp"))
        host, port = parse_host_port(lines["reply-smtp"])
        world.route("ca.test", host, port)
        trust = ssl.create_default_context(cafile=lines["ca-bundle"])
        peer = Peer("rfc8823-reference-ca", lines["directory"], trust)
        yield Running(peer, __version__, process.pid, ["`rfc8823 serve`, its own process"])
    finally:
        world.unroute("ca.test")
        await _stop(process)
        log.close()


async def _endpoint_lines(
    process: asyncio.subprocess.Process, names: tuple[str, ...]
) -> dict[str, str]:
    """The ``name: value`` lines ``rfc8823 serve`` prints once it listens."""
    assert process.stdout is not None
    found: dict[str, str] = {}
    async with asyncio.timeout(START_TIMEOUT):
        while not set(names) <= set(found):
            line = await process.stdout.readline()
            if not line:
                raise RuntimeError(f"rfc8823 serve exited (status {await process.wait()})")
            name, _, value = line.decode().partition(": ")
            found[name.strip()] = value.strip()
    return found


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
    try:
        async with asyncio.timeout(STOP_TIMEOUT):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()


@contextlib.asynccontextmanager
async def acme2certifier(world: World) -> AsyncIterator[Running]:
    """acme2certifier as ``make interop`` runs it (``fixtures/targets/acme2certifier.toml``).

    TargetUnavailable when it cannot be installed here or Dovecot is missing.
    """
    target = Acme2certifierTarget(settings_from_options(config_file=ACME2CERTIFIER_TARGET))
    endpoints = await asyncio.to_thread(target.start, world)
    try:
        trust = ssl.create_default_context(cafile=str(endpoints.ca_bundle))
        waits = target.settings.timeouts  # from the [timing] its target file declares
        peer = Peer(
            target.name,
            endpoints.directory_url,
            trust,
            http_timeout=waits.http,
            state_timeout=waits.state,
        )
        options = target.options
        notes = [
            "validates only during the challenge POST: looks in its one IMAP mailbox for unread "
            f"mail, {options.validation_pause} s between look-ups, then fails the challenge",
            "every unread message it looks at is marked seen, matched or not: a reply fetched "
            "by another enrollment's POST is never seen again, so concurrent enrollments lose "
            "replies",
            "sends the challenge email synchronously inside the authorization fetch, through the "
            "world's smarthost (STARTTLS, AUTH)",
        ]
        yield Running(peer, target.version, target.pid, notes)
    finally:
        await asyncio.to_thread(target.stop)


@contextlib.asynccontextmanager
async def pebble(world: World) -> AsyncIterator[Running]:
    """Debian's pebble: ``dns`` identifiers, every challenge valid at once, no mail."""
    with tempfile.TemporaryDirectory(prefix="rfc8823-bench-pebble-") as folder:
        async with running_pebble(world.pki, Path(folder), env=PEBBLE_ENV) as running:
            peer = Peer("pebble", running.directory, world.client_ssl_context(), "dns")
            notes = [", ".join(f"{name}={value}" for name, value in PEBBLE_ENV.items())]
            yield Running(peer, _pebble_version(), running.pid, notes)


def _pebble_version() -> str:
    """The Debian package's version, when dpkg knows it."""
    status = Path("/var/lib/dpkg/status")
    try:
        blocks = status.read_text(encoding="utf-8", errors="replace").split("\n\n")
    except OSError:
        return ""
    for block in blocks:
        if block.startswith("Package: pebble\n"):
            for line in block.splitlines():
                if line.startswith("Version:"):
                    return line.partition(":")[2].strip()
    return ""
