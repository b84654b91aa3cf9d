"""Restart durability: a reply that arrives after a restart still validates its challenge, and
the order finishes; ``rfc8823 serve`` killed and restarted."""

import asyncio
import os
import signal
import ssl
import sys
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.serialization import Encoding

from rfc8823.acme.driver import Account, AcmeDriver
from rfc8823.csr import build_csr
from rfc8823.messages.response import ResponseEmail
from rfc8823.tokens import b64url_encode, jwk_thumbprint
from rfc8823.world.keys import cached_key

TIMEOUT = 10.0
START_TIMEOUT = 30.0


def _rebased(url: str, old: str, new: str) -> str:
    assert url.startswith(old)
    return new + url.removeprefix(old)


async def test_restart_after_the_email_was_sent(
    ca_factory: Any, harness_for: Any, tmp_path: Path
) -> None:
    """Stop the CA after the challenge email went out; a new CA on the same database takes
    the reply, validates, finalizes and serves the certificate."""
    db = tmp_path / "restart.sqlite3"
    first = ca_factory(db_path=db)
    async with harness_for(first) as harness:
        account = await harness.new_account("restart")
        flow = await harness.flow(account)
        await first.wait_for_challenge_sent(flow.challenge_url, TIMEOUT)
        old_base = first.base_url
    first.stop()
    second = ca_factory(db_path=db)
    async with harness_for(second) as harness:
        account = await harness.new_account("restart")
        flow.account = account
        new_base = second.base_url
        flow.challenge["url"] = _rebased(flow.challenge_url, old_base, new_base)
        flow.order_url = _rebased(flow.order_url, old_base, new_base)
        finalize = _rebased(flow.order["finalize"], old_base, new_base)
        await harness.answer(flow)
        await flow.post_challenge()
        await second.wait_for_order(flow.order_url, "ready", TIMEOUT)
        key = cached_key("server-test-cert-p256", "p256")
        csr = build_csr(key, [flow.address], "both").public_bytes(Encoding.DER)
        response = await account.post(finalize, {"csr": b64url_encode(csr)})
        assert response.json()["status"] == "valid", response.text
    second.stop()
    third = ca_factory(db_path=db)
    async with harness_for(third) as harness:
        account = await harness.new_account("restart")
        certificate = _rebased(response.json()["certificate"], new_base, third.base_url)
        download = await account.post(certificate, None)
        assert download.status_code == 200
        assert download.content.startswith(b"-----BEGIN CERTIFICATE-----")


async def _serve(db: Path, world: Any) -> tuple[asyncio.subprocess.Process, dict[str, str]]:
    """Start ``rfc8823 serve`` on the world's DNS and MX; the endpoints it prints."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rfc8823.cli",
        "serve",
        "--db",
        str(db),
        "--resolver",
        f"{world.dns_endpoint.host}:{world.dns_endpoint.port}",
        "--mx-port",
        str(world.mx.port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    endpoints: dict[str, str] = {}
    async with asyncio.timeout(START_TIMEOUT):
        while "challenge-from" not in endpoints:
            line = (await process.stdout.readline()).decode()
            assert line, "rfc8823 serve exited before printing its endpoints"
            name, _, value = line.strip().partition(": ")
            endpoints[name] = value
    host, port = endpoints["reply-smtp"].rsplit(":", 1)
    world.route("ca.test", host, int(port))
    return process, endpoints


async def _account(http: httpx.AsyncClient, endpoints: dict[str, str], key: Any) -> Account:
    """The account of ``key`` on a CA in another process (fresh nonces, no retries)."""
    driver = AcmeDriver(http, endpoints["directory"], reuse_nonces=False, retry_bad_nonce=False)
    return await driver.account(key)


def _client(endpoints: dict[str, str]) -> httpx.AsyncClient:
    context = ssl.create_default_context(cafile=endpoints["ca-bundle"])
    return httpx.AsyncClient(verify=context, timeout=TIMEOUT)


async def _stop(process: asyncio.subprocess.Process, signum: int) -> None:
    if process.returncode is None:
        process.send_signal(signum)
    try:
        await asyncio.wait_for(process.wait(), TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()


async def test_cli_serve_killed_and_restarted(world: Any, tmp_path: Path, tools: Any) -> None:
    """``rfc8823 serve`` prints its endpoints; SIGKILL once the challenge email is out, restart
    on the same database, deliver the reply: the challenge validates, the order is ready."""
    db = tmp_path / "cli.sqlite3"
    key = cached_key("server-test-cli", "p256")
    previous = world.routes.get("ca.test")
    process, endpoints = await _serve(db, world)
    try:
        async with _client(endpoints) as http:
            account = await _account(http, endpoints, key)
            address = world.new_address()
            order = await account.new_order(address)
            challenge = (await account.fetch(order.authorizations[0]))["challenges"][0]
        old_base = endpoints["directory"].removesuffix("directory")
        email = await world.store.next_for(address, TIMEOUT)
        await _stop(process, signal.SIGKILL)
        process, endpoints = await _serve(db, world)
        reply = ResponseEmail.answering(
            email.data,
            identifier=address,
            thumbprint=jwk_thumbprint(key),
            token_part2=challenge["token"],
        )
        await tools.submit(world, address, reply.build(), challenge["from"])
        new_base = endpoints["directory"].removesuffix("directory")
        async with _client(endpoints) as http:
            account = await _account(http, endpoints, key)
            posted = await account.post(_rebased(challenge["url"], old_base, new_base), {})
            assert posted.json()["status"] == "valid", posted.text
            order_url = _rebased(order.url, old_base, new_base)
            assert (await account.fetch(order_url))["status"] == "ready"
    finally:
        await _stop(process, signal.SIGTERM)
        if previous is not None:
            world.route("ca.test", previous.host, previous.port)
