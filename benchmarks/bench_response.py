"""Throughput of the pure response inspector on varied, DKIM-signed replies, precomputed auth.

Goal: at least 1,000 messages per second.
"""

from __future__ import annotations

import random
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from benchmarks.measure import throughput
from rfc8823.auth.dkim import DkimResult, DkimSignatureResult
from rfc8823.messages.response import (
    DEFAULT_DKIM_HEADERS,
    ResponseAuth,
    ResponseEmail,
    ResponseExpectation,
    inspect_response,
)
from rfc8823.tokens import (
    Concatenation,
    acme_token,
    b64url_encode,
    key_authorization,
    response_digest,
)
from rfc8823.world.keys import cached_key

MESSAGES = 2000
DOMAIN = "mail.test"
SELECTOR = "bench"


def variant(
    rng: random.Random, key: ed25519.Ed25519PrivateKey
) -> tuple[bytes, ResponseExpectation]:
    """One signed reply with a random mix of the freedoms §3.2 leaves, and its expectation."""
    part1 = b64url_encode(rng.randbytes(rng.choice((16, 30, 32, 33))), pad=rng.random() < 0.3)
    part2 = b64url_encode(rng.randbytes(16))
    thumbprint = b64url_encode(rng.randbytes(32))
    identifier = f"user{rng.randrange(10**6)}@{DOMAIN}"
    message_id = f"<{rng.randrange(10**9)}@ca.test>"
    token = acme_token(part1, part2, Concatenation.STRING)
    builder = ResponseEmail(
        identifier,
        "acme@ca.test",
        part1,
        response_digest(key_authorization(token, thumbprint)),
        in_reply_to=message_id,
        references=message_id,
    )
    builder = builder.with_subject_prefix(rng.choice(("Re: ", "RE: ", "AW: ", "")))
    if rng.random() < 0.3:
        builder = builder.with_subject_encoded(encoding=rng.choice(("Q", "B")))
    elif rng.random() < 0.3:
        builder = builder.with_subject_folded()
    if rng.random() < 0.5:
        builder = builder.with_padded_digest()
    if rng.random() < 0.5:
        builder = builder.with_digest_wrapped(rng.choice((1, 8, 22, 40)))
    if rng.random() < 0.5:
        builder = builder.with_text_around("Hello,\n> quoted challenge\n", "-- \nA user\n")
    if rng.random() < 0.3:
        builder = builder.as_alternative()
    builder = builder.with_transfer_encoding(rng.choice(("7bit", "quoted-printable", "base64")))
    if rng.random() < 0.2:
        builder = builder.with_line_endings(b"\n")
    raw = builder.signed_dkim(key, selector=SELECTOR).build()
    expect = ResponseExpectation(
        identifier, "acme@ca.test", None, part1, part2, thumbprint, message_id
    )
    return raw, expect


def measure(messages: int = MESSAGES) -> dict[str, Any]:
    """Messages per second of ``inspect_response`` over ``messages`` varied replies."""
    key = cached_key("bench-response-dkim", "ed25519")
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise TypeError("the cached bench-response-dkim key is not Ed25519")
    rng = random.Random(8823)
    cases = [variant(rng, key) for _ in range(messages)]
    signature = DkimSignatureResult(
        DOMAIN, SELECTOR, "ed25519-sha256", DEFAULT_DKIM_HEADERS, None, "pass", "precomputed"
    )
    auth = ResponseAuth(dkim=DkimResult(signatures=(signature,)))
    accepted, rate = throughput(
        messages,
        lambda: sum(inspect_response(raw, expect, auth).acceptable for raw, expect in cases),
    )
    return {**rate, "accepted": accepted}
