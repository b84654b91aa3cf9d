"""``rfc8823 enroll`` as a user runs it: a subprocess against the in-process reference CA.

The CA's challenge goes to a small MTA of the test that delivers into a Maildir, which the
command reads (``--maildir``); the response is DKIM-signed by the command and submitted to the
CA's reply listener.
"""

from __future__ import annotations

import asyncio
import mailbox
import os
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from rfc8823.client.errors import ExitCode
from rfc8823.server.config import ServerConfig
from rfc8823.server.runner import ReferenceServer
from rfc8823.world.mailstore import ReceivedMessage
from rfc8823.world.smtp import SmtpServer
from rfc8823.world.world import World

from .support import CA_DOMAIN, USER_DOMAIN, file_names

RUN_TIMEOUT = 30.0


@pytest.fixture
async def maildir_ca(world: World, tmp_path: Path) -> AsyncIterator[tuple[ReferenceServer, Path]]:
    """A reference CA whose challenges an MTA delivers into ``tmp_path/Maildir``."""
    folder = tmp_path / "Maildir"
    box = mailbox.Maildir(folder, create=True)

    def deliver(message: ReceivedMessage) -> None:
        box.add(message.data)

    async with SmtpServer(name="user-mta", on_message=deliver) as mta:
        config = ServerConfig(
            resolver=world.dns_endpoint,
            smarthost=mta.address,
            challenge_from=world.new_address(CA_DOMAIN, prefix="acme"),
        )
        async with ReferenceServer(config, pki=world.pki) as server:
            yield server, folder


async def _run(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rfc8823.cli",
        "enroll",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "RFC8823_PKCS12_PASSWORD": "pw"},
    )
    async with asyncio.timeout(RUN_TIMEOUT):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_enroll_command_issues_and_writes_files(
    world: World, maildir_ca: tuple[ReferenceServer, Path], tmp_path: Path
) -> None:
    """Exit status 0, progress on stderr, the files on stdout and on disk."""
    server, folder = maildir_ca
    address = world.new_address(USER_DOMAIN)
    dkim_key = tmp_path / "dkim.pem"
    dkim_key.write_bytes(
        world.domain(USER_DOMAIN)
        .dkim_key("rsa")
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    reply_host, reply_port = server.reply_endpoint
    dns_host, dns_port = world.dns_endpoint.host, world.dns_endpoint.port
    out = tmp_path / "out"
    code, stdout, stderr = await _run(
        "--directory", server.directory_url,
        "--email", address,
        "--ca-bundle", str(server.ca_bundle),
        "--usage", "signing",
        "--maildir", str(folder),
        "--state-file", str(tmp_path / "answered.json"),
        "--smtp-host", reply_host,
        "--smtp-port", str(reply_port),
        "--smtp-tls", "none",
        "--dkim-key", str(dkim_key),
        "--dkim-selector", "rsa",
        "--dns", f"{dns_host}:{dns_port}",
        "--out-dir", str(out),
        "--pkcs12",
    )  # fmt: skip
    assert code == ExitCode.ISSUED, stderr
    assert "answered challenge email" in stderr
    lines = dict(line.split("=", 1) for line in stdout.splitlines())
    assert set(lines) == {"certificate", "key", "pkcs12", "order"}
    key_path, chain_path = out / Path(lines["key"]).name, out / Path(lines["certificate"]).name
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert chain_path.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert file_names(folder / "new") == []
    assert len(file_names(folder / "cur")) == 1


@pytest.mark.parametrize(
    "extra",
    [
        ("--usage", "encryption", "--key-type", "ed25519"),
        ("--imap", "127.0.0.1:1"),
        ("--eab-kid", "only-the-kid"),
    ],
    ids=["ed25519-encryption", "imap-without-login", "half-an-eab"],
)
async def test_usage_errors_exit_with_status_2(tmp_path: Path, extra: tuple[str, ...]) -> None:
    """Contradictory options are refused before any network traffic."""
    base = ["--directory", "https://127.0.0.1:9/dir", "--email", "a@example.test"]
    base += ["--smtp-host", "127.0.0.1", "--out-dir", str(tmp_path / "out")]
    if "--imap" not in extra:
        base += ["--smtp-listen", "127.0.0.1:0"]
    code, _, stderr = await _run(*base, *extra)
    assert code == ExitCode.USAGE
    assert "error:" in stderr
    assert not (tmp_path / "out").exists()
