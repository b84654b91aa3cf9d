"""RFC 8555 basics against Let's Encrypt's test server, Debian's ``pebble``.

Pebble rejects a share of good nonces on purpose (``PEBBLE_WFE_NONCEREJECT``), so the account
work proves the client's ``badNonce`` retry; a stale nonce is also planted to make one retry
certain. Pebble knows no ``email`` identifiers: the test asserts the client's clear error.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from rfc8823.acme.identifier import Identifier
from rfc8823.client.acme_client import AcmeClient
from rfc8823.client.enroll import EnrollConfig, SmtpListen, Timeouts, enroll
from rfc8823.client.errors import EnrollmentError, ExitCode
from rfc8823.client.keys import new_account_key
from rfc8823.client.reply import SubmissionConfig
from rfc8823.world.world import World

from .support import file_names

PEBBLE = shutil.which("pebble")
READY_LINE = b"ACME directory available at"
START_TIMEOUT = 10.0
LISTEN_CHECK_INTERVAL = 0.005

pytestmark = pytest.mark.skipif(
    PEBBLE is None, reason="Debian's pebble is not installed (apt-get install pebble)"
)


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
    for _ in range(int(START_TIMEOUT / LISTEN_CHECK_INTERVAL)):
        port = _listening_port(pid)
        if port is not None:
            return port
        await asyncio.sleep(LISTEN_CHECK_INTERVAL)
    raise TimeoutError(f"pebble (pid {pid}) never listened")


@pytest.fixture
async def pebble(world: World, tmp_path: Path) -> AsyncIterator[str]:
    """A pebble on an ephemeral loopback port, with the world's TLS certificate; its directory."""
    cert, key = world.pki.tls_server_cert(["localhost", "127.0.0.1"])
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
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
            "certificate": str(tmp_path / "cert.pem"),
            "privateKey": str(tmp_path / "key.pem"),
            "httpPort": 5002,
            "tlsPort": 5001,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    (tmp_path / "pebble.json").write_text(json.dumps(config))
    env = {**os.environ, "PEBBLE_WFE_NONCEREJECT": "30", "PEBBLE_VA_NOSLEEP": "1"}
    assert PEBBLE is not None
    process = await asyncio.create_subprocess_exec(
        PEBBLE,
        "-config",
        str(tmp_path / "pebble.json"),
        stdout=asyncio.subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(START_TIMEOUT):
            while READY_LINE not in (line := await process.stdout.readline()):
                assert line, "pebble exited before serving"
            port = await _port_once_listening(process.pid)
        yield f"https://localhost:{port}/dir"
    finally:
        process.terminate()
        async with asyncio.timeout(START_TIMEOUT):
            await process.wait()


async def test_account_with_nonce_retries_against_pebble(world: World, pebble: str) -> None:
    """A-ACCT-1, A-NONCE-2: create, then find again, an account; badNonce is retried."""
    key = new_account_key("es256")
    context = world.client_ssl_context()
    async with AcmeClient(pebble, key, verify=context, max_nonce_retries=10) as client:
        created = await client.account(contact=("mailto:admin@example.test",))
        client.nonces.add("c3RhbGUtbm9uY2U")
        again = await client.account()
        retries = client.stats.bad_nonce_retries
    assert created.created
    assert not again.created
    assert again.url == created.url
    assert retries >= 1


async def test_email_order_is_refused_with_a_clear_error(world: World, pebble: str) -> None:
    """ID-EMAIL-1: pebble (2.4) answers ``malformed`` "unknown identifier type email"; the
    client reports it with the step and the URL."""
    key = new_account_key("rs256")
    async with AcmeClient(pebble, key, verify=world.client_ssl_context()) as client:
        await client.account()
        with pytest.raises(EnrollmentError) as caught:
            await client.new_order([Identifier.email("user@example.test")])
    error = caught.value
    assert error.step == "newOrder"
    assert error.problem is not None
    assert error.problem.type.endswith((":malformed", ":unsupportedIdentifier"))
    assert "identifier type email" in error.problem.detail
    assert error.url is not None
    assert error.url.startswith(pebble.removesuffix("dir"))


async def test_enroll_against_pebble_fails_cleanly(
    world: World, pebble: str, tmp_path: Path
) -> None:
    """The full client stops at newOrder with exit status 1 and writes nothing."""
    config = EnrollConfig(
        directory_url=pebble,
        email="user@example.test",
        mailbox=SmtpListen(),
        submission=SubmissionConfig("127.0.0.1", 9),
        out_dir=tmp_path / "out",
        ca_bundle=world.pki.ca_bundle_path(),
        dns=world.dns_endpoint,
        timeouts=Timeouts(total=20),
    )
    with pytest.raises(EnrollmentError) as caught:
        await enroll(config)
    assert caught.value.step == "newOrder"
    assert caught.value.exit_code is ExitCode.PROTOCOL
    assert file_names(tmp_path / "out") == []
