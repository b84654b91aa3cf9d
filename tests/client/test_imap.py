"""The IMAP mailbox source against a real Dovecot (Debian's ``dovecot-imapd``), end to end.

The CA's challenge reaches a small MTA of the test, which files it into the user's Dovecot
mailbox with IMAP APPEND (as a delivery agent would); the client reads it by polling IMAP.
"""

from __future__ import annotations

import asyncio
import imaplib
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from rfc8823.client.enroll import ImapSpec, enroll
from rfc8823.client.mailbox import ImapMailSource
from rfc8823.server.config import ServerConfig
from rfc8823.server.runner import ReferenceServer
from rfc8823.world.mailstore import ReceivedMessage
from rfc8823.world.smtp import SmtpServer
from rfc8823.world.world import World

from .support import CA_DOMAIN, USER_DOMAIN, enroll_config

DOVECOT = shutil.which("dovecot")
READY_TEXT = b"starting up"
START_TIMEOUT = 10.0
UNPRIVILEGED = 65534
"""Dovecot refuses to open mailboxes as root; as root, mail belongs to ``nobody``."""

pytestmark = pytest.mark.skipif(
    DOVECOT is None, reason="Dovecot is not installed (apt-get install dovecot-imapd)"
)


@dataclass(frozen=True)
class Imap:
    """A running Dovecot: where it listens, and one user's login."""

    port: int
    user: str
    password: str

    def append(self, message: bytes) -> None:
        """File a message into the user's INBOX, as a delivery agent would."""
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=5)
        try:
            client.login(self.user, self.password)
            status, detail = client.append("INBOX", None, None, message)
            assert status == "OK", detail
        finally:
            client.logout()


def _free_port() -> int:
    """A loopback port free right now (Dovecot cannot be told to pick one itself)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _config(base: Path, port: int, uid: int, gid: int) -> str:
    return f"""
base_dir = {base}/run
state_dir = {base}/state
log_path = /dev/stderr
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={base}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
"""


def _prepare(imap: Imap) -> Path:
    """A fresh folder with Dovecot's configuration, its password file and the users' homes."""
    base = Path(tempfile.mkdtemp(prefix="rfc8823-dovecot-"))
    root = os.geteuid() == 0
    uid, gid = (UNPRIVILEGED, UNPRIVILEGED) if root else (os.getuid(), os.getgid())
    base.chmod(0o755)
    (base / "home").mkdir()
    if root:
        os.chown(base / "home", uid, gid)
    (base / "passwd").write_text(f"{imap.user}:{{PLAIN}}{imap.password}\n")
    (base / "dovecot.conf").write_text(_config(base, imap.port, uid, gid))
    return base


@pytest.fixture
async def dovecot(world: World) -> AsyncIterator[Imap]:
    """Dovecot on a loopback port with one fresh user, stopped after the test (its log, on
    stderr, is read to the end so it never blocks on a full pipe)."""
    imap = Imap(_free_port(), world.new_address(USER_DOMAIN), "imap-secret")
    base = _prepare(imap)
    assert DOVECOT is not None
    process = await asyncio.create_subprocess_exec(
        DOVECOT,
        "-F",
        "-c",
        str(base / "dovecot.conf"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    drain: asyncio.Task[bytes] | None = None
    try:
        assert process.stderr is not None
        async with asyncio.timeout(START_TIMEOUT):
            while READY_TEXT not in (line := await process.stderr.readline()):
                assert line, "dovecot exited before serving"
        drain = asyncio.create_task(process.stderr.read())
        yield imap
    finally:
        process.terminate()
        async with asyncio.timeout(START_TIMEOUT):
            await process.wait()
            if drain is not None:
                await drain
        shutil.rmtree(base, ignore_errors=True)


async def test_imap_source_hands_over_unseen_messages_once(dovecot: Imap) -> None:
    """Polling IMAP: a new message is fetched once and left unseen for the user."""
    source = ImapMailSource(
        "127.0.0.1", dovecot.port, user=dovecot.user, password=dovecot.password, interval=0.02
    )
    async with source:
        assert await source.next_message(0.0) is None
        await asyncio.to_thread(dovecot.append, b"Subject: hello\r\n\r\nbody\r\n")
        mail = await source.next_message(5.0)
        assert mail is not None
        assert mail.raw.startswith(b"Subject: hello")
        assert await source.next_message(0.05) is None


async def test_enrollment_reading_the_challenge_over_imap(
    world: World, dovecot: Imap, tmp_path: Path
) -> None:
    """The whole enrollment with the challenge read from an IMAP mailbox."""

    async def file_into_mailbox(message: ReceivedMessage) -> None:
        await asyncio.to_thread(dovecot.append, message.data)

    async with SmtpServer(name="user-mda", on_message=file_into_mailbox) as mda:
        config = ServerConfig(
            resolver=world.dns_endpoint,
            smarthost=mda.address,
            challenge_from=world.new_address(CA_DOMAIN, prefix="acme"),
        )
        async with ReferenceServer(config, pki=world.pki) as server:
            spec = ImapSpec(
                "127.0.0.1", dovecot.port, dovecot.user, dovecot.password, interval=0.02
            )
            config = enroll_config(world, server, spec, tmp_path)
            result = await enroll(replace(config, email=dovecot.user))
    assert result.answered is not None
    assert result.answered.origin.startswith("IMAP INBOX UID")
    assert result.credentials.chain_path.exists()
