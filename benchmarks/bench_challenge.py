"""Throughput of the pure challenge inspector on varied signed challenges, precomputed auth.

The DKIM and S/MIME verdicts are computed once, for real, before timing starts (a loopback DNS
server and openssl); the timed loop runs only ``inspect_challenge``. Goal: 1,000 messages/s.
"""

from __future__ import annotations

import random
from typing import Any

from benchmarks.measure import throughput
from rfc8823.auth.resolver import Resolver
from rfc8823.auth.smime import SmimeForm
from rfc8823.findings import failures
from rfc8823.messages.challenge import (
    ChallengeAuth,
    ChallengeEmail,
    authenticate_challenge,
    inspect_challenge,
)
from rfc8823.strategies.challenge import (
    CA_DOMAIN,
    CHALLENGE_FROM_ADDRESSES,
    DKIM_SELECTORS,
    ESP_DOMAIN,
    IDENTIFIERS,
    dkim_key,
    dkim_records,
    smime_identity,
)
from rfc8823.tokens import b64url_encode
from rfc8823.world.dns import DnsServer
from rfc8823.world.pki import TestPki

MESSAGES = 2000


def variant(rng: random.Random) -> ChallengeEmail:
    """One challenge with a random mix of the freedoms RFC 8823 §3.1 allows."""
    token = b64url_encode(rng.randbytes(rng.choice((16, 18, 30, 32, 33, 48))))
    builder = ChallengeEmail(
        rng.choice(CHALLENGE_FROM_ADDRESSES),
        rng.choice(IDENTIFIERS),
        token,
        message_id=f"<{rng.randrange(10**12)}@{CA_DOMAIN}>",
    )
    style = rng.random()
    if style < 0.3:
        builder = builder.with_subject_folded()
    elif style < 0.5:
        builder = builder.with_subject_encoded(encoding=rng.choice(("Q", "B")))
    elif style < 0.6 and len(token) % 4:
        builder = builder.with_padding()
    if rng.random() < 0.3:
        builder = builder.with_reply_to(f"replies@{CA_DOMAIN}")
    body = rng.random()
    if body < 0.2:
        builder = builder.with_decoys()
    elif body < 0.4:
        builder = builder.with_body_alternative("ACME challenge.", "<p>ACME challenge.</p>")
    if rng.random() < 0.25:
        form: SmimeForm = rng.choice(("multipart-signed", "opaque"))
        builder = builder.signed_smime(smime_identity(builder.challenge_from), form=form)
    if builder.smime_signing is None or rng.random() < 0.3:
        selector = rng.choice(tuple(DKIM_SELECTORS))
        builder = builder.signed_dkim(dkim_key(selector), selector=selector)
    return builder


def measure(messages: int = MESSAGES) -> dict[str, Any]:
    """Messages per second of ``inspect_challenge`` over ``messages`` varied challenges."""
    rng = random.Random(8823)
    builders = [variant(rng) for _ in range(messages)]
    raws = [builder.build() for builder in builders]
    expectations = [builder.expectation() for builder in builders]
    anchors = [TestPki.load().trust_anchor_path]
    with DnsServer(zones=(CA_DOMAIN, ESP_DOMAIN)) as dns:
        for name, value in dkim_records():
            dns.records.add(name, "TXT", value)
        resolver = Resolver(dns.endpoint)
        auths: list[ChallengeAuth] = [
            authenticate_challenge(raw, resolver=resolver, trust_anchors=anchors) for raw in raws
        ]
    reports, rate = throughput(
        messages,
        lambda: [
            inspect_challenge(raw, expect, auth)
            for raw, expect, auth in zip(raws, expectations, auths, strict=True)
        ],
    )
    return {
        **rate,
        "with_fail": sum(1 for r in reports if any(f.verdict == "fail" for f in r.findings)),
        "with_fail_or_warn": sum(1 for report in reports if failures(report.findings)),
    }
