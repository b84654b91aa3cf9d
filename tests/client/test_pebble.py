"""RFC 8555 basics against Let's Encrypt's test server, Debian's ``pebble``.

Pebble rejects a share of good nonces on purpose (``PEBBLE_WFE_NONCEREJECT``), so the account
work proves the client's ``badNonce`` retry; a stale nonce is also planted to make one retry
certain. Pebble knows no ``email`` identifiers: the test asserts the client's clear error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rfc8823.acme.identifier import Identifier
from rfc8823.client.acme_client import AcmeClient
from rfc8823.client.enroll import EnrollConfig, SmtpListen, Timeouts, enroll
from rfc8823.client.errors import EnrollmentError, ExitCode
from rfc8823.client.keys import new_account_key
from rfc8823.client.reply import SubmissionConfig
from rfc8823.targets.pebble import pebble_binary, running_pebble
from rfc8823.world.world import World

from .support import file_names

pytestmark = pytest.mark.skipif(
    pebble_binary() is None, reason="Debian's pebble is not installed (apt-get install pebble)"
)


@pytest.fixture
async def pebble(world: World, tmp_path: Path) -> AsyncIterator[str]:
    """A pebble on an ephemeral loopback port, with the world's TLS certificate; its directory."""
    env = {"PEBBLE_WFE_NONCEREJECT": "30", "PEBBLE_VA_NOSLEEP": "1"}
    async with running_pebble(world.pki, tmp_path, env=env) as running:
        yield running.directory


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
