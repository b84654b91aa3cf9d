"""The unavoidable costs of one email-reply-00 enrollment, each measured alone, in-process.

What any CA and its users' mail must do per enrollment, with the reference CA's own code
and the world's: verify each signed request (a JWS, ES256 here: RFC 8555 §6.2), DKIM-sign the
challenge and the reply (RSA-2048, RFC 6376), authenticate the reply with DNS (DKIM, SPF and
DMARC through the world's resolver, RFC 8823 §3.2 (8)), carry three SMTP hops (the CA to the
user's MX; the user to the provider's submission port, STARTTLS and AUTH; the provider to the
CA), and issue the certificate (check the CSR, sign). Their sum, set beside the median flow,
says how much of a flow is the implementation's own overhead.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from benchmarks.measure import load_during, time_calls
from rfc8823.acme.jws import JwsRequest, key_from_jwk, parse_jws, sign_jws
from rfc8823.auth import dkim
from rfc8823.client.keys import new_account_key
from rfc8823.csr import build_csr
from rfc8823.messages.challenge import ChallengeEmail
from rfc8823.messages.response import ResponseEmail, authenticate_response
from rfc8823.server.issuer import Issuer
from rfc8823.tokens import b64url_encode, jwk_thumbprint
from rfc8823.world.keys import cached_key
from rfc8823.world.sendmail import send_message
from rfc8823.world.world import World

__all__ = ["PER_FLOW", "flow_sum", "measure"]

PER_FLOW: Mapping[str, str] = {
    "jws_verify": "posts",
    "dkim_sign": "2",
    "reply_authentication": "1",
    "smtp_hop_plain": "2",
    "smtp_hop_submission": "1",
    "issuance": "1",
}
"""How many times each cost occurs in one enrollment ("posts": once per signed request)."""
_USER = "example.test"
_UNSIGNED = "other.test"
"""A sender domain whose provider does not sign: the submission hop alone."""
_CA = "ca.test"


def _jws_verify() -> Callable[[], object]:
    key = new_account_key("es256")
    body = sign_jws(
        {"identifiers": [{"type": "email", "value": "bench@example.test"}]},
        key=key,
        url="https://127.0.0.1/new-order",
        nonce=b64url_encode(b"0123456789abcdef"),
    )

    def verify() -> None:
        request = parse_jws(body)
        if not isinstance(request, JwsRequest) or request.jwk is None:
            raise RuntimeError(f"the benchmark's own JWS does not parse: {request}")
        problem = request.verify_with(key_from_jwk(request.jwk))
        if problem is not None:
            raise RuntimeError(f"the benchmark's own JWS does not verify: {problem}")

    return verify


def _reply(address: str) -> bytes:
    challenge = ChallengeEmail(f"acme-challenge@{_CA}", address, b64url_encode(bytes(range(18))))
    return ResponseEmail.answering(
        challenge.build(),
        identifier=address,
        thumbprint=jwk_thumbprint(new_account_key("es256")),
        token_part2=b64url_encode(bytes(range(16))),
    ).build()


def _costs(world: World, rounds: int) -> dict[str, list[float]]:
    address = world.new_address(_USER, prefix="bench-stage")
    sender = world.new_address(_UNSIGNED, prefix="bench-stage")
    user = world.domain(_USER)
    reply = _reply(address)
    signed = user.dkim_sign(reply, dkim.RESPONSE_REQUIRED_HEADERS)
    login = world.submission_login(sender)
    world.sign_outbound(_UNSIGNED, enabled=False)
    context = world.client_ssl_context()
    issuer = Issuer.from_pki(world.pki)
    csr = build_csr(cached_key("bench-certificate", "p256"), [address], "both").public_bytes(
        Encoding.DER
    )
    calls: dict[str, Callable[[], object]] = {
        "jws_verify": _jws_verify(),
        "dkim_sign": lambda: user.dkim_sign(reply, dkim.RESPONSE_REQUIRED_HEADERS),
        "reply_authentication": lambda: authenticate_response(
            signed,
            resolver=world.resolver,
            peer_ip=user.source_ip,
            mail_from=address,
            helo=f"mx.{_USER}",
        ),
        "smtp_hop_plain": lambda: send_message(
            world.mx.host, world.mx.port, mail_from=f"acme@{_CA}", rcpt_tos=[address], data=reply
        ),
        "smtp_hop_submission": lambda: send_message(
            world.submission.host,
            world.submission.port,
            mail_from=sender,
            rcpt_tos=[address],
            data=reply,
            tls="starttls",
            ssl_context=context,
            auth=login,
        ),
        "issuance": lambda: issuer.issue(issuer.check(csr, [address])),
    }
    return {name: time_calls(call, rounds) for name, call in calls.items()}


def measure(world: World, rounds: int) -> dict[str, Any]:
    """Each cost's median over ``rounds`` calls (ms), with the load around the measurement."""
    with load_during() as load:
        durations = _costs(world, rounds)
    return {
        "rounds": rounds,
        "median_ms": {
            name: round(statistics.median(values) * 1000, 3) for name, values in durations.items()
        },
        "per_flow": dict(PER_FLOW),
        "load": load.as_json(),
    }


def flow_sum(stages: Mapping[str, Any], posts: float) -> dict[str, float]:
    """Each cost times its occurrences in one flow of ``posts`` signed requests, and the sum."""
    medians: Mapping[str, float] = stages["median_ms"]
    parts = {
        name: round(medians[name] * (posts if times == "posts" else float(times)), 3)
        for name, times in PER_FLOW.items()
    }
    return {**parts, "sum": round(sum(parts.values()), 3)}
