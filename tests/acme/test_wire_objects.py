"""Nonces, problem documents and resource objects of the ACME wire layer (RFC 8555 §6.5, §6.7,
§7.1)."""

import threading
from datetime import UTC, datetime

import pytest

from rfc8823.acme.identifier import EMAIL_REPLY_00, IDENTIFIER_EMAIL, Identifier
from rfc8823.acme.nonces import NonceSource
from rfc8823.acme.objects import (
    Account,
    AccountStatus,
    Authorization,
    AuthorizationStatus,
    Challenge,
    ChallengeStatus,
    Directory,
    DirectoryMeta,
    Order,
    OrderStatus,
    format_time,
    parse_time,
)
from rfc8823.acme.problems import ERROR_URN_PREFIX, Problem, ProblemType
from rfc8823.requirements import covers
from rfc8823.tokens import b64url_decode

MOMENT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@covers("A-NONCE-1", "A-NONCE-2")
def test_nonces_are_single_use_and_unpredictable() -> None:
    """Each nonce is accepted once; unknown ones never; 1000 nonces are distinct."""
    source = NonceSource()
    nonces = [source.new() for _ in range(1000)]
    assert len(set(nonces)) == 1000
    assert all(len(b64url_decode(n)) == 16 and "=" not in n for n in nonces)
    assert source.consume(nonces[0])
    assert not source.consume(nonces[0])
    assert not source.consume("never-issued")


def test_nonce_memory_is_bounded() -> None:
    """Beyond the capacity the oldest nonces are forgotten (then badNonce, client retries)."""
    source = NonceSource(capacity=3)
    first, *rest = [source.new() for _ in range(5)]
    assert len(source) == 3
    assert not source.consume(first)
    assert source.consume(rest[-1])


def test_nonce_source_is_thread_safe() -> None:
    """Concurrent issuers and consumers never accept a nonce twice."""
    source = NonceSource()
    issued = [source.new() for _ in range(2000)]
    accepted: list[str] = []
    lock = threading.Lock()

    def consume() -> None:
        for nonce in issued:
            if source.consume(nonce):
                with lock:
                    accepted.append(nonce)

    threads = [threading.Thread(target=consume) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(accepted) == sorted(issued)


@covers("A-ERR-1")
def test_problem_types_are_rfc8555_urns() -> None:
    """Every type is ``urn:ietf:params:acme:error:<name>`` with its usual status."""
    assert len(ProblemType) == 24
    assert all(kind.value.startswith(ERROR_URN_PREFIX) for kind in ProblemType)
    assert ProblemType.BAD_NONCE.short_name == "badNonce"
    assert ProblemType.RATE_LIMITED.default_status == 429
    assert ProblemType.ORDER_NOT_READY.default_status == 403
    assert ProblemType.MALFORMED.default_status == 400


@covers("A-ERR-1", "A-ERR-2")
def test_problem_json_round_trip_with_subproblems() -> None:
    """Problems with subproblems naming identifiers survive to_json/from_json."""
    bad = Identifier.email("*@example.test")
    problem = Problem.of(
        ProblemType.REJECTED_IDENTIFIER,
        "one refused",
        subproblems=[Problem.of(ProblemType.REJECTED_IDENTIFIER, "wildcard", identifier=bad)],
    )
    data = problem.to_json()
    assert data["subproblems"][0]["identifier"] == {"type": "email", "value": "*@example.test"}
    assert Problem.from_json(data) == problem
    algorithms = Problem.of(ProblemType.BAD_SIGNATURE_ALGORITHM, "no", algorithms=["ES256"])
    assert Problem.from_json(algorithms.to_json()) == algorithms
    assert Problem.from_json({"type": "urn:x:other"}, status=418).kind is None
    junks: list[object] = [[], {"type": 1}, {"status": "400"}, {"subproblems": {}}]
    for junk in junks:
        with pytest.raises(ValueError, match=r"."):
            Problem.from_json(junk)


@covers("IANA-1", "IANA-2")
def test_registered_names() -> None:
    """The identifier type and the challenge type are spelt as RFC 8823 §5 registers them."""
    assert IDENTIFIER_EMAIL == "email"
    assert EMAIL_REPLY_00 == "email-reply-00"


def test_timestamps_are_rfc3339_utc() -> None:
    """Timestamps are written with a Z and read back aware."""
    assert format_time(MOMENT) == "2026-01-02T03:04:05Z"
    assert parse_time("2026-01-02T03:04:05Z") == MOMENT
    assert parse_time("2026-01-02T04:04:05+01:00") == MOMENT
    for junk in ("2026-01-02T03:04:05", 5, "yesterday"):
        with pytest.raises(ValueError, match=r"."):
            parse_time(junk)


@covers("CHAL-OBJ-1", "CHAL-OBJ-2", "CHAL-OBJ-3", "A-CHAL-1")
def test_challenge_from_member_and_round_trip() -> None:
    """``from_`` is written as ``from``; a valid challenge carries ``validated``."""
    challenge = Challenge(
        type=EMAIL_REPLY_00,
        url="https://ca/chall/1",
        status=ChallengeStatus.VALID,
        token="DGyRejmCefe7v4NfDGDKfA",
        from_="acme-challenge@ca.test",
        validated=MOMENT,
    )
    data = challenge.to_json()
    assert data["from"] == "acme-challenge@ca.test"
    assert "from_" not in data
    assert data["validated"] == "2026-01-02T03:04:05Z"
    assert Challenge.from_json(data) == challenge


@covers("A-DIR-1", "A-ORD-1", "A-AUTHZ-1", "A-ACCT-1")
def test_resource_objects_round_trip() -> None:
    """Directory, account, order and authorization objects survive to_json/from_json."""
    directory = Directory(
        "https://ca/nonce",
        "https://ca/acct",
        "https://ca/order",
        "https://ca/revoke",
        "https://ca/key",
        meta=DirectoryMeta(external_account_required=True, website="https://ca"),
    )
    assert directory.to_json()["meta"] == {"website": "https://ca", "externalAccountRequired": True}
    assert Directory.from_json(directory.to_json()) == directory
    account = Account(AccountStatus.VALID, ("mailto:a@example.test",), orders="https://ca/o")
    assert Account.from_json(account.to_json()) == account
    identifier = Identifier.email("a@example.test")
    order = Order(
        OrderStatus.PENDING,
        (identifier,),
        ("https://ca/authz/1",),
        "https://ca/order/1/finalize",
        expires=MOMENT,
        error=Problem.of(ProblemType.MALFORMED, "x"),
    )
    assert Order.from_json(order.to_json()) == order
    challenge = Challenge(EMAIL_REPLY_00, "https://ca/chall/1", ChallengeStatus.PENDING, "t")
    authz = Authorization(identifier, AuthorizationStatus.PENDING, (challenge,), expires=MOMENT)
    assert Authorization.from_json(authz.to_json()) == authz
    assert authz.challenge_of_type() == challenge
    assert authz.challenge_of_type("http-01") is None


@pytest.mark.parametrize(
    ("parse", "data"),
    [
        (Directory.from_json, {"newNonce": "x"}),
        (Account.from_json, {"status": "sleeping"}),
        (Order.from_json, {"status": "pending", "identifiers": "x", "finalize": "f"}),
        (Authorization.from_json, {"status": "pending", "identifier": {}, "challenges": []}),
        (Challenge.from_json, {"type": "x", "url": 5, "status": "pending"}),
        (Identifier.from_json, "alice@example.test"),
    ],
)
def test_from_json_refuses_junk_with_value_error(parse: object, data: object) -> None:
    """A client reading junk gets a ValueError naming the member, nothing else."""
    assert callable(parse)
    with pytest.raises(ValueError, match=r"."):
        parse(data)


def test_reading_follows_the_declarations() -> None:
    """Unknown members are ignored, null is absent where the field may be None, a sloppy
    boolean counts as absent, and defaults left out of the output stay out."""
    order = Order.from_json(
        {
            "status": "pending",
            "identifiers": [{"type": "email", "value": "a@example.test", "extra": 1}],
            "finalize": "https://ca/f",
            "expires": None,
            "x-vendor": {"anything": True},
        }
    )
    assert order.authorizations == ()
    assert order.expires is None
    account = Account.from_json({"status": "valid", "termsOfServiceAgreed": "yes"})
    assert account == Account(AccountStatus.VALID)
    assert account.to_json() == {"status": "valid", "contact": []}
    assert DirectoryMeta().to_json() == {}
    with pytest.raises(ValueError, match="'contact'"):
        Account.from_json({"status": "valid", "contact": None})
    with pytest.raises(ValueError, match="'finalize' is missing"):
        Order.from_json({"status": "pending", "identifiers": []})
