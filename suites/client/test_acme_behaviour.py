"""The client's RFC 8555 side of an email-reply-00 enrollment, read from the CA's request log.

newOrder with an ``email`` identifier (FLOW-1), the email-reply-00 challenge picked among
others (FLOW-2), the ``{}`` readiness POST to the challenge URL (A-CHAL-2), retries after
``badNonce`` (A-NONCE-2), ``Retry-After`` honoured (A-CHAL-4), and both orders of the challenge
email and the POST: a CA that mails at the authorization fetch and one that mails only after
the POST (FLOW-7, A-CHAL-3, AMB-3, docs/decisions.md#decision-4). RFC 8823 §3; RFC 8555 §6.5, §7.4,
§7.5.1, §8.2.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest

from rfc8823.findings import broken, info, passed
from rfc8823.requirements import covers
from rfc8823.targets.client import MAILBOX_KINDS, MailboxKind
from rfc8823.targets.peer_ca import LoggedRequest, MailAt, PeerBehaviour

from .harness import ClientSuite, Enrollment

BAD_NONCE = "urn:ietf:params:acme:error:badNonce"
MALFORMED = "urn:ietf:params:acme:error:malformed"
DECOYS = ("http-01", "dns-01", "tls-alpn-01")
RETRY_AFTER = 1
POLLS_UNDER_RETRY_AFTER = 3
TOLERANCE = 0.05
"""Seconds a poll may come early and still count as waiting (clock and scheduling jitter)."""


def payloads(run: Enrollment, path: str) -> list[object]:
    """The JSON payloads of the client's POSTs to URLs ending in ``path``."""
    return [r.payload_json() for r in run.requests() if r.url.endswith(path) and r.payload]


def challenge_posts(run: Enrollment) -> list[LoggedRequest]:
    """The client's POSTs to the CA's challenge URL that carry a payload (not POST-as-GET)."""
    url = run.require_issued_challenge().url
    return [r for r in run.requests() if r.url == url and r.payload]


@covers("FLOW-1", "ID-EMAIL-1")
async def test_new_order_names_the_email_identifier(client: ClientSuite) -> None:
    """newOrder carries exactly {"type": "email", "value": <address>} (§3 step 2)."""
    run = await client.start()
    await run.issued()
    orders = payloads(run, "/acme/new-order")
    expected = {"identifiers": [{"type": "email", "value": run.address}]}
    assert orders, "observed no newOrder request"
    assert all(order == expected for order in orders), (
        f"observed newOrder payloads {orders}; expected {expected}"
    )


@covers("FLOW-2")
async def test_email_reply_challenge_is_chosen_among_others(client: ClientSuite) -> None:
    """With other challenge types listed first, the client still answers email-reply-00."""
    run = await client.start(PeerBehaviour(decoy_challenge_types=DECOYS))
    await run.issued()
    touched = [r.url for r in run.requests() if "/acme/chall/decoy-" in r.url]
    assert not touched, f"observed requests to challenges of other types: {touched}"


@covers("A-CHAL-2", "CHAL-OBJ-4")
async def test_readiness_is_an_empty_object_posted_to_the_challenge(client: ClientSuite) -> None:
    """The client POSTs {} to the challenge URL, not to the authorization (RFC 8555 §7.5.1)."""
    run = await client.start()
    await run.outcome()
    posts = challenge_posts(run)
    bodies = [r.payload_json() for r in posts]
    authz = [r.payload for r in run.requests() if "/acme/authz/" in r.url and r.payload]
    client.conformance.record(
        passed("A-CHAL-2", f"{len(posts)} POST(s) to the challenge URL")
        if posts and not authz
        else broken(
            "A-CHAL-2",
            f"{len(posts)} POST(s) to the challenge URL, payloads to the authorization {authz}",
            "the readiness POST sent to the challenge URL",
        )
    )
    if bodies:
        client.conformance.record(
            passed("CHAL-OBJ-4", "readiness payload {}")
            if all(body == {} for body in bodies)
            else broken("CHAL-OBJ-4", f"challenge payloads {bodies}", "{}")
        )
    assert posts, f"observed no POST with a payload to the challenge URL{run.mail_trace()}"
    assert all(body == {} for body in bodies), (
        f"observed challenge payloads {bodies}; expected {{}}"
    )
    assert not authz, f"observed POSTs with a payload to the authorization: {authz}"
    await run.issued()


@covers("FLOW-7", "A-CHAL-3", "FLOW-3")
@pytest.mark.parametrize("mail_at", ["authz", "post"])
async def test_either_order_of_email_and_post_completes(
    client: ClientSuite, mail_at: MailAt
) -> None:
    """The client completes whether the CA mails at the authorization fetch or after the POST."""
    run = await client.start(PeerBehaviour(mail_at=mail_at))
    response = await run.response()
    await run.issued()
    posts = challenge_posts(run)
    assert posts, f"observed no readiness POST to the challenge URL{run.mail_trace()}"
    posted, answered = posts[0].received_at, response.received_at
    order = "POST before the response email" if posted < answered else "response email, then POST"
    client.conformance.info(
        "FLOW-7",
        f"CA mailing at {mail_at}: {order}",
        f"POST at {posted:.3f}, response at {answered:.3f}",
    )
    client.conformance.info(
        "A-CHAL-3", f"with the CA mailing at {mail_at}, the client sent {order}"
    )


@covers("A-NONCE-2")
@pytest.mark.parametrize("when", ["first-request", "after-the-challenge-email"])
async def test_bad_nonce_is_retried_with_a_fresh_nonce(client: ClientSuite, when: str) -> None:
    """After badNonce the client repeats the request with a new nonce and goes on (§6.5)."""
    if when == "first-request":
        run = await client.start(PeerBehaviour(reject_nonces=1))
    else:
        run = await client.start(hold=True)
        held = await run.held_challenge()
        run.peer.reject_next_nonces(1)
        run.release(held)
    outcome = await run.outcome()
    log = run.requests()
    refused = [r for r in log if r.problem == BAD_NONCE]
    assert refused, "observed no badNonce answer; the CA was told to give one"
    for entry in refused:
        retry = next((r for r in log[entry.seq + 1 :] if r.url == entry.url), None)
        assert retry is not None, f"observed no retry of {entry.url} after badNonce"
        assert retry.nonce != entry.nonce, f"observed {entry.url} retried with the refused nonce"
        fresh = retry.nonce == entry.replay_nonce
        client.conformance.record(
            passed("A-NONCE-2", f"{entry.url} retried with {'the' if fresh else 'a'} fresh nonce")
        )
    assert outcome.issued, f"observed {outcome.describe()} after a badNonce; expected issuance"


def polls_after(log: Sequence[LoggedRequest], start: int, urls: set[str]) -> list[LoggedRequest]:
    """POST-as-GET requests to ``urls`` after log entry ``start``."""
    return [r for r in log[start + 1 :] if r.url in urls and r.is_post_as_get]


@covers("A-CHAL-4")
async def test_retry_after_is_honoured_while_validation_runs(client: ClientSuite) -> None:
    """Polls of a processing challenge come no sooner than its Retry-After (RFC 8555 §8.2)."""
    run = await client.start(PeerBehaviour(retry_after=RETRY_AFTER), hold_responses=True)
    held = await run.held_response()
    issued = await run.ca_challenge()
    authz = {r.url for r in run.requests() if "/acme/authz/" in r.url}
    watched = authz | {issued.url}

    def enough_polls(log: tuple[LoggedRequest, ...]) -> list[LoggedRequest] | None:
        post = next((r for r in log if r.url == issued.url and r.payload), None)
        polls = polls_after(log, post.seq, watched) if post is not None else []
        return polls if len(polls) >= POLLS_UNDER_RETRY_AFTER else None

    timeout = client.settings.enrollment_timeout
    try:
        polls = await run.peer.wait_for_requests(enough_polls, timeout, "polls after the POST")
    finally:
        run.responses.send_on(held)
    await run.issued()
    hinted = [(a, b) for a, b in itertools.pairwise(polls) if a.retry_after]
    assert hinted, f"observed no poll answered with Retry-After among {len(polls)} polls"
    early = [
        (b.received_at - a.received_at, a.retry_after)
        for a, b in hinted
        if b.received_at - a.received_at < float(a.retry_after or 0) - TOLERANCE
    ]
    client.conformance.info("A-CHAL-4", f"{len(hinted)} polls under Retry-After {RETRY_AFTER} s")
    assert not early, f"observed polls sooner than Retry-After: {early}"


@covers("ID-EMAIL-3")
async def test_no_order_for_an_address_with_an_asterisk(client: ClientSuite) -> None:
    """An address with '*' (legal in a local part) is not put into newOrder (§3)."""
    address = client.world.new_address(prefix="wild*card")
    run = await client.start(email=address)
    outcome = await run.outcome()
    sent = [o for o in payloads(run, "/acme/new-order") if "*" in str(o)]
    client.conformance.info("ID-EMAIL-3", f"the enrollment for {address}: {outcome.describe()}")
    assert not sent, f"observed newOrder {sent[0]}; expected the client to refuse the '*' address"


@covers("A-HTTPS-1")
async def test_requests_are_well_formed_jws(client: ClientSuite) -> None:
    """Every POST is a flattened JWS the CA accepts as well-formed (RFC 8555 §6.1, §6.2)."""
    run = await client.start()
    await run.issued()
    log = run.requests()
    malformed = [f"{r.method} {r.url}" for r in log if r.problem == MALFORMED]
    unparsed = [f"{r.method} {r.url}" for r in log if r.method == "POST" and r.protected is None]
    client.conformance.record(
        passed("A-HTTPS-1", f"{len(log)} requests, none malformed")
        if not malformed and not unparsed
        else broken("A-HTTPS-1", f"malformed: {malformed + unparsed}", "well-formed JWS POSTs")
    )
    assert not malformed, f"observed requests refused as malformed: {malformed}"
    assert not unparsed, f"observed POSTs that are no flattened JWS: {unparsed}"


@covers("FLOW-5")
@pytest.mark.parametrize("kind", MAILBOX_KINDS)
async def test_challenge_is_read_from_each_mailbox_kind(
    client: ClientSuite, kind: MailboxKind
) -> None:
    """The enrollment completes with the challenge in an SMTP listener, a Maildir or IMAP."""
    run = await client.start(mailbox=kind)
    await run.response()
    client.conformance.record(info("FLOW-5", f"challenge read from a {kind} mailbox"))
    await run.issued()
