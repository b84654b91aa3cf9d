"""Which newOrder identifiers the CA accepts, and that refused ones never cause mail (RFC 8823 §3;
ID-EMAIL-2, ID-EMAIL-3, ID-EMAIL-5, AMB-4, A-ORD-3, A-ERR-2)."""

from typing import Any

import pytest

from rfc8823.acme.identifier import Identifier
from rfc8823.acme.problems import Problem, ProblemType
from rfc8823.requirements import covers
from rfc8823.server.identifiers import check_email_identifier, check_order_identifiers

ERROR = "urn:ietf:params:acme:error:"

ACCEPTED = [
    "alice@example.test",
    "Alice.Smith+tag@example.test",
    "o'brien@sub.example.test",
    "user@xn--bcher-kva.test",
    "user@bücher.test",
    "üser@example.test",
    "δοκιμή@παράδειγμα.δοκιμή",
]

REFUSED: list[tuple[str, str, str, str]] = [
    ("email", "*@example.test", "rejectedIdentifier", "ID-EMAIL-3"),
    ("email", "a*b@example.test", "rejectedIdentifier", "ID-EMAIL-3"),
    ("email", "alice@*.example.test", "rejectedIdentifier", "ID-EMAIL-3"),
    ("email", "a@example.test\r\nBcc: x@evil.test", "malformed", "ID-EMAIL-5"),
    ("email", "a@example.test\nBcc: x@evil.test", "malformed", "ID-EMAIL-5"),
    ("email", "a@example.test, b@example.test", "malformed", "ID-EMAIL-5"),
    ("email", "a@example.test>", "malformed", "ID-EMAIL-5"),
    ("email", "<a@example.test>", "malformed", "ID-EMAIL-5"),
    ("email", "Alice <a@example.test>", "malformed", "ID-EMAIL-5"),
    ("email", "a@example.test\x00", "malformed", "ID-EMAIL-5"),
    ("email", "a b@example.test", "malformed", "ID-EMAIL-5"),
    ("email", '"a b"@example.test', "malformed", "ID-EMAIL-5"),
    ("email", "alice", "malformed", "ID-EMAIL-2"),
    ("email", "@example.test", "malformed", "ID-EMAIL-2"),
    ("email", "a@@example.test", "malformed", "ID-EMAIL-2"),
    ("email", "a@b@example.test", "malformed", "ID-EMAIL-2"),
    ("email", "a@example.test.", "malformed", "ID-EMAIL-2"),
    ("email", "a.@example.test", "malformed", "ID-EMAIL-2"),
    ("email", "a..b@example.test", "malformed", "ID-EMAIL-2"),
    ("email", "a@", "malformed", "ID-EMAIL-2"),
    ("email", "a@localhost", "malformed", "ID-EMAIL-2"),
    ("email", "a@-bad-.test", "malformed", "ID-EMAIL-2"),
    ("email", "", "malformed", "ID-EMAIL-2"),
    ("email", "x" * 65 + "@example.test", "malformed", "ID-EMAIL-2"),
    ("email", "a\u2028b@example.test", "malformed", "ID-EMAIL-2"),
    ("dns", "user@example.test", "rejectedIdentifier", "AMB-4"),
    ("dns", "example.test", "unsupportedIdentifier", "A-ORD-3"),
    ("ip", "127.0.0.1", "unsupportedIdentifier", "A-ORD-3"),
    ("Email", "a@example.test", "unsupportedIdentifier", "A-ORD-3"),
]


@covers("ID-EMAIL-1", "ID-EMAIL-2", "I18N-1", "I18N-2")
@pytest.mark.parametrize("value", ACCEPTED)
def test_accepted_addresses(value: str) -> None:
    """ASCII and internationalized addresses, U-label or A-label domains, are accepted."""
    assert check_email_identifier(Identifier.email(value)) is None


@covers("ID-EMAIL-2", "ID-EMAIL-3", "ID-EMAIL-5", "SEC-9", "A-ORD-3")
@pytest.mark.parametrize(("kind", "value", "problem", "rule"), REFUSED)
def test_refused_identifiers_name_the_rule(kind: str, value: str, problem: str, rule: str) -> None:
    """Each refused value gets the expected type and a detail naming the requirement."""
    result = check_email_identifier(Identifier(kind, value))
    assert result is not None
    assert result.type == ERROR + problem
    assert rule in result.detail
    assert result.identifier == Identifier(kind, value)


@covers("A-ERR-2")
def test_multi_identifier_orders_get_subproblems() -> None:
    """One problem per refused identifier; mixed types make a compound problem."""
    good = {"type": "email", "value": "a@example.test"}
    one_bad = check_order_identifiers([good, {"type": "email", "value": "*@example.test"}])
    assert isinstance(one_bad, Problem)
    assert one_bad.kind is ProblemType.REJECTED_IDENTIFIER
    assert [s.identifier for s in one_bad.subproblems] == [Identifier.email("*@example.test")]
    mixed = check_order_identifiers(
        [good, {"type": "email", "value": "*@x.test"}, {"type": "dns", "value": "x.test"}]
    )
    assert isinstance(mixed, Problem)
    assert mixed.kind is ProblemType.COMPOUND
    assert len(mixed.subproblems) == 2
    twice = check_order_identifiers([good, {"type": "email", "value": "a@EXAMPLE.test"}])
    assert isinstance(twice, Problem)
    assert twice.kind is ProblemType.MALFORMED
    assert check_order_identifiers([good]) == (Identifier.email("a@example.test"),)


@covers("ID-EMAIL-3", "ID-EMAIL-5", "SEC-9", "A-ORD-3", "A-ERR-2")
async def test_refused_orders_send_no_mail(harness: Any) -> None:
    """Each refused newOrder is a problem document, and no mail reaches anyone named in it."""
    account = await harness.new_account()
    url = await harness.acme.url("newOrder")
    victim = harness.world.new_address()
    refused = [
        (kind, value.replace("a@example.test", victim).replace("x@evil.test", victim))
        for kind, value, _, _ in REFUSED
    ]
    for kind, value in refused:
        good = harness.world.new_address()
        response = await account.post(
            url, {"identifiers": [{"type": "email", "value": good}, {"type": kind, "value": value}]}
        )
        assert response.status_code == 400, (value, response.text)
        assert response.headers["Content-Type"] == "application/problem+json"
        body = response.json()
        assert body["subproblems"][0]["identifier"] == {"type": kind, "value": value}
    flow = await harness.flow(account)
    assert flow.email is not None
    mailed = {rcpt for message in harness.world.store.messages() for rcpt in message.rcpt_tos}
    assert victim not in mailed
    assert not any("evil" in rcpt for rcpt in mailed)
