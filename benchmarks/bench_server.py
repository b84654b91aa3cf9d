"""Latency of one full enrollment against the reference CA, in-process on loopback.

Run: ``python benchmarks/bench_server.py`` (or ``python -m benchmarks.bench_server``). Each
round: a new account (fresh Ed25519 key), an order for a fresh address, the authorization
fetch, the challenge email through the world's MX, the reply submitted through the world's
provider (DKIM-signed and relayed to the CA's reply listener), the challenge POST, finalize
with a CSR, and the certificate download, all over real HTTPS, SMTP and DNS. Goal:
a median under 100 ms.
"""

from __future__ import annotations

import asyncio
import ssl
import statistics
import time
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding

from rfc8823.acme.jws import AccountPrivateKey, sign_jws
from rfc8823.csr import build_csr
from rfc8823.messages.response import ResponseEmail
from rfc8823.server.config import ServerConfig
from rfc8823.server.runner import ReferenceServer
from rfc8823.tokens import b64url_encode, jwk_thumbprint
from rfc8823.world.keys import cached_key
from rfc8823.world.sendmail import send_message_async
from rfc8823.world.world import World

ROUNDS = 40
WARMUP = 3
GOAL_MS = 100.0
TIMEOUT = 10.0


class _Client:
    """The few ACME requests one enrollment needs."""

    def __init__(self, http: httpx.AsyncClient, directory: dict[str, Any]) -> None:
        self.http = http
        self.directory = directory
        self.key: AccountPrivateKey = ed25519.Ed25519PrivateKey.generate()
        self.kid: str | None = None

    async def post(self, url: str, payload: Any) -> httpx.Response:
        nonce = (await self.http.head(self.directory["newNonce"])).headers["Replay-Nonce"]
        body = sign_jws(payload, key=self.key, url=url, nonce=nonce, kid=self.kid)
        response = await self.http.post(
            url, content=body, headers={"Content-Type": "application/jose+json"}
        )
        if response.status_code >= 400:
            raise RuntimeError(f"{url}: {response.text}")
        return response


async def enroll(http: httpx.AsyncClient, directory: dict[str, Any], world: World) -> None:
    """One complete enrollment for a fresh address."""
    client = _Client(http, directory)
    client.kid = (await client.post(directory["newAccount"], {})).headers["Location"]
    address = world.new_address()
    identifiers = [{"type": "email", "value": address}]
    order = (await client.post(directory["newOrder"], {"identifiers": identifiers})).json()
    authz = (await client.post(order["authorizations"][0], None)).json()
    challenge = authz["challenges"][0]
    email = await world.store.next_for(address, TIMEOUT)
    reply = ResponseEmail.answering(
        email.data,
        identifier=address,
        thumbprint=jwk_thumbprint(client.key),
        token_part2=challenge["token"],
    ).build()
    await send_message_async(
        world.submission.host,
        world.submission.port,
        mail_from=address,
        rcpt_tos=[challenge["from"]],
        data=reply,
        tls="starttls",
        ssl_context=world.client_ssl_context(),
        auth=world.submission_login(address),
    )
    posted = (await client.post(challenge["url"], {})).json()
    if posted["status"] != "valid":
        raise RuntimeError(f"challenge not valid: {posted}")
    csr = build_csr(cached_key("bench-server-cert", "p256"), [address], "both")
    csr_b64 = b64url_encode(csr.public_bytes(Encoding.DER))
    final = (await client.post(order["finalize"], {"csr": csr_b64})).json()
    pem = (await client.post(final["certificate"], None)).text
    if not pem.startswith("-----BEGIN CERTIFICATE-----"):
        raise RuntimeError("no certificate downloaded")


async def measure() -> list[float]:
    """Milliseconds per enrollment, after a few warm-up rounds."""
    with World() as world:
        world.sign_outbound("example.test")
        config = ServerConfig(resolver=world.dns_endpoint, mx_port=world.mx.port)
        with ReferenceServer(config) as server:
            world.route("ca.test", *server.reply_endpoint)
            context = ssl.create_default_context(cafile=server.ca_bundle)
            async with httpx.AsyncClient(verify=context, timeout=TIMEOUT) as http:
                directory = (await http.get(server.directory_url)).json()
                timings: list[float] = []
                for round_number in range(WARMUP + ROUNDS):
                    started = time.perf_counter()
                    await enroll(http, directory, world)
                    if round_number >= WARMUP:
                        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    timings = asyncio.run(measure())
    median = statistics.median(timings)
    p90 = statistics.quantiles(timings, n=10)[-1]
    print(
        f"full enrollment: {ROUNDS} rounds, median {median:.1f} ms, p90 {p90:.1f} ms, "
        f"min {min(timings):.1f} ms, max {max(timings):.1f} ms"
    )
    print(f"goal median < {GOAL_MS:.0f} ms: {'met' if median < GOAL_MS else 'MISSED'}")


if __name__ == "__main__":
    main()
