"""The CA's durable store: RFC 8555 §7.1.6 state machines and restart durability (A-STATE-1)."""

import contextlib
import itertools
import sqlite3
from enum import StrEnum
from pathlib import Path

import pytest

from rfc8823.acme.identifier import EMAIL_REPLY_00, Identifier
from rfc8823.acme.objects import AccountStatus, AuthorizationStatus, ChallengeStatus, OrderStatus
from rfc8823.acme.problems import Problem, ProblemType
from rfc8823.events import ChangeFeed
from rfc8823.faults import FaultSet
from rfc8823.requirements import covers
from rfc8823.server.columns import stored_columns
from rfc8823.server.records import (
    TABLE_RECORDS,
    AuthzRecord,
    ChallengeRecord,
    IllegalTransition,
    OrderRecord,
    ReplyVerdict,
    check_transition,
)
from rfc8823.server.store import Store

NOW = 1_800_000_000.0
DAY = 86_400.0


def challenge_of(store: Store, challenge_id: str, now: float) -> ChallengeRecord:
    """The stored challenge, which the test made and so must exist."""
    record = store.challenge(challenge_id, now)
    assert record is not None
    return record


def authorization_of(store: Store, authz_id: str, now: float) -> AuthzRecord:
    """The stored authorization, which the test made and so must exist."""
    record = store.authorization(authz_id, now)
    assert record is not None
    return record


def order_of(store: Store, order_id: str, now: float) -> OrderRecord:
    """The stored order, which the test made and so must exist."""
    record = store.order(order_id, now)
    assert record is not None
    return record


ALLOWED = {
    "challenges": {("pending", "processing"), ("processing", "valid"), ("processing", "invalid")},
    "authorizations": {
        ("pending", "valid"),
        ("pending", "invalid"),
        ("pending", "deactivated"),
        ("pending", "expired"),
        ("valid", "deactivated"),
        ("valid", "expired"),
        ("valid", "revoked"),
    },
    "orders": {
        ("pending", "ready"),
        ("pending", "invalid"),
        ("ready", "processing"),
        ("ready", "invalid"),
        ("processing", "valid"),
        ("processing", "invalid"),
    },
    "accounts": {("valid", "deactivated"), ("valid", "revoked")},
}
KINDS: dict[str, type[StrEnum]] = {
    "challenges": ChallengeStatus,
    "authorizations": AuthorizationStatus,
    "orders": OrderStatus,
    "accounts": AccountStatus,
}


@covers("A-STATE-1")
@pytest.mark.parametrize("table", sorted(KINDS))
def test_only_forward_transitions_are_allowed(table: str) -> None:
    """Exactly the RFC 8555 §7.1.6 arrows are allowed; every other pair raises."""
    states = list(KINDS[table])
    for current, new in itertools.product(states, states):
        if (current.value, new.value) in ALLOWED[table]:
            check_transition(table, current, new)
        else:
            with pytest.raises(IllegalTransition, match="cannot go from"):
                check_transition(table, current, new)


def _order(store: Store, address: str = "a@example.test") -> tuple[str, str, str]:
    account = store.create_account(
        jwk={"kty": "x"}, thumbprint=address, contact=(), eab_kid=None, now=NOW
    )
    order = store.create_order(
        account_id=account.id,
        identifiers=[Identifier.email(address)],
        addresses=[address],
        challenge_type=EMAIL_REPLY_00,
        token_part2s=["part2"],
        now=NOW,
        order_expires=NOW + DAY,
        authz_expires=NOW + DAY,
    )
    authz = store.authorization(order.authz_ids[0], NOW)
    assert authz is not None
    return order.id, authz.id, authz.challenge_ids[0]


@covers("A-STATE-1", "SRV-VAL-1", "SRV-VAL-6")
def test_reply_and_post_in_either_order_then_no_way_back(tmp_path: Path) -> None:
    """Valid needs both the reply and the POST; afterwards nothing moves it back."""
    store = Store(tmp_path / "db.sqlite3")
    order_id, authz_id, challenge_id = _order(store)
    assert store.apply_reply(challenge_id, acceptable=True, incorrect=None, now=NOW) == (
        ReplyVerdict.ACCEPTED
    )
    assert challenge_of(store, challenge_id, NOW).status is ChallengeStatus.PENDING
    assert store.mark_client_ready(challenge_id, NOW).status is ChallengeStatus.VALID
    assert authorization_of(store, authz_id, NOW).status is AuthorizationStatus.VALID
    assert order_of(store, order_id, NOW).status is OrderStatus.READY
    problem = Problem.of(ProblemType.INCORRECT_RESPONSE, "late")
    assert store.apply_reply(challenge_id, acceptable=False, incorrect=problem, now=NOW) == (
        ReplyVerdict.DUPLICATE
    )
    assert challenge_of(store, challenge_id, NOW).status is ChallengeStatus.VALID
    store.start_processing(order_id)
    with pytest.raises(IllegalTransition):
        store.start_processing(order_id)
    assert order_of(store, order_id, NOW).status is OrderStatus.PROCESSING


def test_incorrect_response_fails_challenge_authz_and_order() -> None:
    """An incorrect response (SRV-VAL-2) cascades to the authorization and the order."""
    store = Store(None)
    order_id, authz_id, challenge_id = _order(store)
    problem = Problem.of(ProblemType.INCORRECT_RESPONSE, "wrong digest")
    verdict = store.apply_reply(challenge_id, acceptable=False, incorrect=problem, now=NOW)
    assert verdict is ReplyVerdict.INCORRECT
    assert challenge_of(store, challenge_id, NOW).error == problem
    assert authorization_of(store, authz_id, NOW).status is AuthorizationStatus.INVALID
    order = order_of(store, order_id, NOW)
    assert order.status is OrderStatus.INVALID
    assert order.error == problem
    assert store.apply_reply(challenge_id, acceptable=True, incorrect=None, now=NOW) == (
        ReplyVerdict.LATE
    )


@covers("SRV-VAL-4")
def test_expiry_and_reply_wait() -> None:
    """Lifetimes run out on read; a POSTed challenge with no reply fails after the wait."""
    store = Store(None, reply_wait=60.0)
    order_id, authz_id, _ = _order(store, "b@example.test")
    assert authorization_of(store, authz_id, NOW + DAY).status is AuthorizationStatus.EXPIRED
    assert order_of(store, order_id, NOW + DAY).status is OrderStatus.INVALID
    other_order, _, challenge_id = _order(store, "c@example.test")
    store.mark_client_ready(challenge_id, NOW)
    assert challenge_of(store, challenge_id, NOW + 59).status is ChallengeStatus.PROCESSING
    late = challenge_of(store, challenge_id, NOW + 61)
    assert late.status is ChallengeStatus.INVALID
    assert late.error is not None
    assert order_of(store, other_order, NOW + 61).status is OrderStatus.INVALID


def test_changes_notify_the_feed_and_survive_a_reopen(tmp_path: Path) -> None:
    """Every committed change bumps the feed; a new Store on the same file sees everything."""
    feed = ChangeFeed()
    path = tmp_path / "ca.sqlite3"
    store = Store(path, feed)
    _, authz_id, challenge_id = _order(store)
    before = feed.version
    challenge, claimed = store.claim_token_part1(challenge_id, "token1", "<m@ca.test>")
    assert claimed
    assert feed.version > before
    assert store.claim_token_part1(challenge_id, "token2", "<n@ca.test>") == (challenge, False)
    store.close()
    reopened = Store(path)
    assert reopened.challenge_by_token_part1("token1") == challenge
    assert [c.id for c in reopened.unsent_challenges()] == [challenge_id]
    assert authorization_of(reopened, authz_id, NOW).status is AuthorizationStatus.PENDING


@pytest.mark.parametrize("table", sorted(TABLE_RECORDS))
def test_record_declarations_match_the_schema(table: str, tmp_path: Path) -> None:
    """Every column a record declares exists, and every column of its table is declared
    (the authorization's position in its order is kept by the store alone)."""
    Store(tmp_path / "ca.sqlite").close()
    with contextlib.closing(sqlite3.connect(tmp_path / "ca.sqlite")) as db:
        schema = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
    declared = set(stored_columns(TABLE_RECORDS[table]))
    assert declared == schema - ({"position"} if table == "authorizations" else set())


@covers("A-STATE-2", "A-STATE-3")
def test_a_valid_authorization_expires_and_fails_its_order() -> None:
    """valid → expired at ``expires``; the order of a deactivated authorization fails."""
    store = Store(None)
    order_id, authz_id, challenge_id = _order(store)
    store.apply_reply(challenge_id, acceptable=True, incorrect=None, now=NOW)
    store.mark_client_ready(challenge_id, NOW)
    assert authorization_of(store, authz_id, NOW + DAY).status is AuthorizationStatus.EXPIRED
    order_id, authz_id, _ = _order(store, "c@example.test")
    store.deactivate_authorization(authz_id, NOW)
    assert order_of(store, order_id, NOW).status is OrderStatus.INVALID


def test_state_faults_bend_only_their_transition() -> None:
    """Self-validation: the order survives a failed authorization; valid never expires."""
    survives = Store(None, faults=FaultSet.of(["order-survives-failed-authorization"]))
    order_id, authz_id, _ = _order(survives)
    survives.deactivate_authorization(authz_id, NOW)
    assert order_of(survives, order_id, NOW).status is OrderStatus.PENDING
    lasting = Store(None, faults=FaultSet.of(["valid-authz-never-expires"]))
    _, valid_id, challenge_id = _order(lasting)
    lasting.apply_reply(challenge_id, acceptable=True, incorrect=None, now=NOW)
    lasting.mark_client_ready(challenge_id, NOW)
    _, pending_id, _ = _order(lasting, "d@example.test")
    assert authorization_of(lasting, valid_id, NOW + DAY).status is AuthorizationStatus.VALID
    assert authorization_of(lasting, pending_id, NOW + DAY).status is AuthorizationStatus.EXPIRED


def test_reopen_undoes_an_invalid_challenge() -> None:
    """``reopen`` (the invalid-challenge-retried fault only) passes §7.1.6's final states."""
    store = Store(None)
    order_id, authz_id, challenge_id = _order(store)
    problem = Problem.of(ProblemType.INCORRECT_RESPONSE, "wrong digest")
    store.apply_reply(challenge_id, acceptable=False, incorrect=problem, now=NOW)
    store.reopen(challenge_id)
    assert challenge_of(store, challenge_id, NOW).status is ChallengeStatus.PENDING
    assert authorization_of(store, authz_id, NOW).status is AuthorizationStatus.PENDING
    assert order_of(store, order_id, NOW).status is OrderStatus.PENDING
