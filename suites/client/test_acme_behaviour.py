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
import re
from collections.abc import Sequence

import pytest

from rfc8823.report.outcomes import Blocked, HarnessError
from rfc8823.requirements import covers
from rfc8823.targets.client import MAILBOX_KINDS, MailboxKind
from rfc8823.targets.peer_ca import LoggedRequest, MailAt, PeerBehaviour

from .harness import ClientSuite, Enrollment
from .prerequisites import CHALLENGE, READINESS

BAD_NONCE = "urn:ietf:params:acme:error:badNonce"
BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
DECOYS = ("http-01", "dns-01", "tls-alpn-01")
RETRY_AFTER = 1
POLLS_UNDER_RETRY_AFTER = 3
TOLERANCE = 0.05
"""Seconds a poll may come early and still count as waiting (clock and scheduling jitter)."""


def form_faults(request: LoggedRequest) -> list[str]:
    """What breaks the encoding of one request (RFC 8555 §6.1, §6.2; A-HTTPS-1): a POST that is
    no flattened JWS, a payload that is not JSON, a ``csr`` that is not unpadded base64url. Where
    a request was sent and what its payload asks for are other rows'."""
    if request.method != "POST":
        return []
    if request.protected is None:
        return ["no flattened JWS the CA could parse"]
    if not request.payload:
        return []
    payload = request.payload_json()
    if payload is None:
        return ["a payload that is not JSON"]
    csr = payload.get("csr") if isinstance(payload, dict) else None
    if isinstance(csr, str) and not BASE64URL.fullmatch(csr):
        return [f"csr {csr[:16]!r}... is not unpadded base64url"]
    return []


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
    outcome = await run.outcome()
    orders = payloads(run, "/acme/new-order")
    expected = {"identifiers": [{"type": "email", "value": run.address}]}
    client.conformance.check(
        ("FLOW-1", "ID-EMAIL-1"),
        bool(orders) and all(order == expected for order in orders),
        f"newOrder payloads {orders or 'none'} (the client: {outcome.describe()})",
        f"{expected}",
    )


@covers("FLOW-2")
@pytest.mark.needs("answer")
async def test_email_reply_challenge_is_chosen_among_others(client: ClientSuite) -> None:
    """With other challenge types listed first, the client still answers email-reply-00."""
    run = await client.start(PeerBehaviour(decoy_challenge_types=DECOYS))
    response = await run.response_or_none()
    await run.outcome()
    touched = [r.url for r in run.requests() if "/acme/chall/decoy-" in r.url]
    client.conformance.check(
        "FLOW-2",
        response is not None and not touched,
        f"with {list(DECOYS)} listed first: requests to them {touched}, "
        + ("a response to the email challenge" if response is not None else "no response"),
        "the email-reply-00 challenge answered, the others left alone",
    )


@covers("A-CHAL-2", "CHAL-OBJ-4")
@pytest.mark.needs("challenge")
async def test_readiness_is_an_empty_object_posted_to_the_challenge(client: ClientSuite) -> None:
    """The client POSTs {} to the challenge URL, not to the authorization (RFC 8555 §7.5.1)."""
    run = await client.start()
    await run.ca_challenge()
    await run.outcome()
    posts = challenge_posts(run)
    bodies = [r.payload_json() for r in posts]
    authz = [r.payload for r in run.requests() if "/acme/authz/" in r.url and r.payload]
    client.conformance.check(
        "A-CHAL-2",
        bool(posts) and not authz,
        f"{len(posts)} POST(s) to the challenge URL, payloads to the authorization {authz}"
        f"{run.mail_trace()}",
        "the readiness POST sent to the challenge URL",
    )
    client.conformance.check(
        "CHAL-OBJ-4", all(body == {} for body in bodies), f"challenge payloads {bodies}", "{}"
    )


@covers("FLOW-7", "A-CHAL-3")
@pytest.mark.needs("answer", "readiness")
@pytest.mark.parametrize("mail_at", ["authz", "post"])
async def test_either_order_of_email_and_post_completes(
    client: ClientSuite, mail_at: MailAt
) -> None:
    """The client completes whether the CA mails at the authorization fetch or after the POST.

    RFC 8555 §7.5.1 asks a client not to signal readiness before it expects validation to
    succeed (A-CHAL-3): with the email at hand first, the response then the POST is that order;
    a CA mailing only after the POST leaves the client no other choice than POST first. Both
    orders need the readiness POST to the challenge URL (that CA mails only after it): without
    it the test is BLOCKED on ``READINESS`` (A-CHAL-2, the readiness test's row).
    """
    run = await client.start(PeerBehaviour(mail_at=mail_at))
    try:
        response = await run.response_or_none()
    except Blocked as error:
        if mail_at != "post" or error.prerequisite is not CHALLENGE:
            raise
        raise Blocked(
            READINESS, f"the CA that mails after the readiness POST sent nothing: {error.observed}"
        ) from None
    await run.outcome()
    posts = challenge_posts(run)
    if not posts:
        raise Blocked(READINESS, f"CA mailing at {mail_at}: no readiness POST{run.mail_trace()}")
    client.conformance.check(
        "FLOW-7",
        response is not None,
        f"CA mailing at {mail_at}: "
        + ("a response" if response is not None else "no response")
        + f" and {len(posts)} readiness POST(s){run.mail_trace()}",
        "the response email and the readiness POST, in whichever order the CA needs",
    )
    assert response is not None  # checked just above
    posted, answered = posts[0].received_at, response.received_at
    order = "POST before the response email" if posted < answered else "response email, then POST"
    client.conformance.info(
        "FLOW-7",
        f"CA mailing at {mail_at}: {order}",
        f"POST at {posted:.3f}, response at {answered:.3f}",
    )
    if mail_at == "post":
        client.conformance.info(
            "A-CHAL-3", f"the CA mails only after the POST: the client sent {order}"
        )
        return
    client.conformance.judge(
        "A-CHAL-3",
        posted >= answered,
        f"with the challenge email at hand, the client sent {order}",
        "the response email first, then the readiness POST (RFC 8555 §7.5.1)",
    )


@covers("A-NONCE-2")
@pytest.mark.needs("certificate")
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
    if not refused:
        raise HarnessError("the CA was told to answer badNonce and never did")
    for entry in refused:
        retry = next((r for r in log[entry.seq + 1 :] if r.url == entry.url), None)
        client.conformance.check(
            "A-NONCE-2",
            retry is not None and retry.nonce != entry.nonce,
            f"after badNonce on {entry.url}: "
            + (
                "no retry"
                if retry is None
                else "a retry with the refused nonce"
                if retry.nonce == entry.nonce
                else "a retry with a fresh nonce"
            ),
            "the request repeated with a new nonce",
        )
    client.conformance.check(
        "A-NONCE-2",
        outcome.issued,
        f"{outcome.describe()} after a badNonce",
        "the enrollment goes on to issuance",
    )


def polls_after(log: Sequence[LoggedRequest], start: int, urls: set[str]) -> list[LoggedRequest]:
    """POST-as-GET requests to ``urls`` after log entry ``start``."""
    return [r for r in log[start + 1 :] if r.url in urls and r.is_post_as_get]


@covers("A-CHAL-4")
@pytest.mark.needs("answer")
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
    except TimeoutError:
        polls = polls_after(run.requests(), 0, watched)
        client.conformance.info(
            "A-CHAL-4", f"{len(polls)} polls of the processing challenge in {timeout:g} s"
        )
        return
    finally:
        run.responses.send_on(held)
    hinted = [(a, b) for a, b in itertools.pairwise(polls) if a.retry_after]
    if not hinted:
        raise HarnessError(f"the CA answered none of {len(polls)} polls with Retry-After")
    early = [
        (round(b.received_at - a.received_at, 3), a.retry_after)
        for a, b in hinted
        if b.received_at - a.received_at < float(a.retry_after or 0) - TOLERANCE
    ]
    client.conformance.info("A-CHAL-4", f"{len(hinted)} polls under Retry-After {RETRY_AFTER} s")
    client.conformance.check(
        "A-CHAL-4",
        not early,
        f"polls sooner than Retry-After (gap s, Retry-After): {early}",
        "no poll before the Retry-After delay",
    )


@covers("ID-EMAIL-3")
async def test_no_order_for_an_address_with_an_asterisk(client: ClientSuite) -> None:
    """An address with '*' (legal in a local part) is not put into newOrder (§3)."""
    address = client.world.new_address(prefix="wild*card")
    run = await client.start(email=address)
    outcome = await run.outcome()
    sent = [o for o in payloads(run, "/acme/new-order") if "*" in str(o)]
    client.conformance.info("ID-EMAIL-3", f"the enrollment for {address}: {outcome.describe()}")
    client.conformance.check(
        "ID-EMAIL-3",
        not sent,
        f"newOrder {sent[0] if sent else 'none'} for {address}",
        "the client refuses to order an address with '*'",
    )


@covers("A-HTTPS-1")
@pytest.mark.needs("order")
async def test_requests_are_well_formed_jws(client: ClientSuite) -> None:
    """Every POST is a flattened JWS the CA could parse, with a JSON payload whose base64url
    values carry no padding (RFC 8555 §6.1, §6.2). Only the form is judged: a well-formed POST
    to the wrong URL, which the CA refuses as malformed, is the readiness test's (A-CHAL-2)."""
    run = await client.start()
    await run.outcome()
    log = run.requests()
    faults = [f"{r.method} {r.url}: {fault}" for r in log for fault in form_faults(r)]
    client.conformance.check(
        "A-HTTPS-1",
        not faults,
        f"{len(log)} requests; ill-formed: {faults}",
        "well-formed JWS POSTs with JSON payloads and unpadded base64url values",
    )


@covers("FLOW-5")
@pytest.mark.needs("answer")
@pytest.mark.parametrize("kind", MAILBOX_KINDS)
async def test_challenge_is_read_from_each_mailbox_kind(
    client: ClientSuite, kind: MailboxKind
) -> None:
    """The client answers with the challenge in an SMTP listener, a Maildir or IMAP."""
    run = await client.start(mailbox=kind)
    response = await run.response_or_none()
    client.conformance.check(
        "FLOW-5",
        response is not None,
        f"with the challenge in a {kind} mailbox: "
        + ("a response" if response is not None else f"no response{run.mail_trace()}"),
        "a response (the client declares this mailbox kind)",
    )
