"""Restart durability: a reply that arrives after a restart still validates its challenge, and
the order finishes (issue 4, item 4 and acceptance); ``rfc8823 serve`` killed and restarted."""

import asyncio
import os
import signal
import ssl
import sys
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.serialization import Encoding

from rfc8823.acme.jws import sign_jws
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


class _Acme:
    """Just enough ACME to drive a CA in another process."""

    def __init__(self, http: httpx.AsyncClient, directory_url: str, key: Any) -> None:
        self.http = http
        self.base = directory_url.removesuffix("directory")
        self.key = key
        self.kid: str | None = None

    async def post(self, path: str, payload: Any) -> httpx.Response:
        url = self.base + path.removeprefix(self.base)
        nonce = (await self.http.head(self.base + "acme/new-nonce")).headers["Replay-Nonce"]
        body = sign_jws(payload, key=self.key, url=url, nonce=nonce, kid=self.kid)
        headers = {"Content-Type": "application/jose+json"}
        return await self.http.post(url, content=body, headers=headers)

    async def login(self) -> None:
        response = await self.post("acme/new-account", {"termsOfServiceAgreed": True})
        self.kid = response.headers["Location"]


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
            acme = _Acme(http, endpoints["directory"], key)
            await acme.login()
            address = world.new_address()
            identifiers = [{"type": "email", "value": address}]
            created = await acme.post("acme/new-order", {"identifiers": identifiers})
            order_path = created.headers["Location"].removeprefix(acme.base)
            authz_url = created.json()["authorizations"][0]
            challenge = (await acme.post(authz_url, None)).json()["challenges"][0]
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
        async with _client(endpoints) as http:
            acme = _Acme(http, endpoints["directory"], key)
            await acme.login()
            challenge_path = challenge["url"].partition("/acme/")[2]
            posted = await acme.post("acme/" + challenge_path, {})
            assert posted.json()["status"] == "valid", posted.text
            assert (await acme.post(order_path, None)).json()["status"] == "ready"
    finally:
        await _stop(process, signal.SIGTERM)
        if previous is not None:
            world.route("ca.test", previous.host, previous.port)
