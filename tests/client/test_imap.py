"""The IMAP mailbox source against a real Dovecot (Debian's ``dovecot-imapd``), end to end.

The CA's challenge reaches a small MTA of the test, which files it into the user's Dovecot
mailbox with IMAP APPEND (as a delivery agent would); the client reads it by polling IMAP.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from rfc8823.client.enroll import ImapSpec, enroll
from rfc8823.client.mailbox import ImapMailSource
from rfc8823.server.config import ServerConfig
from rfc8823.server.runner import ReferenceServer
from rfc8823.targets.client import ImapAccount
from rfc8823.targets.dovecot import Dovecot, dovecot_binary
from rfc8823.world.mailstore import ReceivedMessage
from rfc8823.world.smtp import SmtpServer
from rfc8823.world.world import World

from .support import CA_DOMAIN, USER_DOMAIN, enroll_config

pytestmark = pytest.mark.skipif(
    dovecot_binary() is None, reason="Dovecot is not installed (apt-get install dovecot-imapd)"
)


@pytest.fixture
def dovecot(world: World) -> Iterator[tuple[Dovecot, ImapAccount]]:
    """Dovecot on a loopback port with one fresh user, stopped after the test."""
    with Dovecot() as server:
        yield server, server.add_user(world.new_address(USER_DOMAIN), "imap-secret")


async def test_imap_source_hands_over_unseen_messages_once(
    dovecot: tuple[Dovecot, ImapAccount],
) -> None:
    """Polling IMAP: a new message is fetched once and left unseen for the user."""
    server, account = dovecot
    source = ImapMailSource(
        account.host, account.port, user=account.user, password=account.password, interval=0.02
    )
    async with source:
        assert await source.next_message(0.0) is None
        await asyncio.to_thread(server.append, account, b"Subject: hello\r\n\r\nbody\r\n")
        mail = await source.next_message(5.0)
        assert mail is not None
        assert mail.raw.startswith(b"Subject: hello")
        assert await source.next_message(0.05) is None


async def test_enrollment_reading_the_challenge_over_imap(
    world: World, dovecot: tuple[Dovecot, ImapAccount], tmp_path: Path
) -> None:
    """The whole enrollment with the challenge read from an IMAP mailbox."""
    server, account = dovecot

    async def file_into_mailbox(message: ReceivedMessage) -> None:
        await asyncio.to_thread(server.append, account, message.data)

    async with SmtpServer(name="user-mda", on_message=file_into_mailbox) as mda:
        config = ServerConfig(
            resolver=world.dns_endpoint,
            smarthost=mda.address,
            challenge_from=world.new_address(CA_DOMAIN, prefix="acme"),
        )
        async with ReferenceServer(config, pki=world.pki) as ca:
            spec = ImapSpec(
                account.host, account.port, account.user, account.password, interval=0.02
            )
            enrollment = enroll_config(world, ca, spec, tmp_path)
            result = await enroll(replace(enrollment, email=account.user))
    assert result.answered is not None
    assert result.answered.origin.startswith("IMAP INBOX UID")
    assert result.credentials.chain_path.exists()
