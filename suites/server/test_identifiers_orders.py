"""The ``email`` identifier in orders: accepted, echoed, immutable; bad values refused, unmailed.

RFC 8823 §3, §5.1, §5.2; RFC 8555 §7.1.3, §7.4, §6.7, §6.7.1.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rfc8823.acme.driver import json_object
from rfc8823.acme.identifier import EMAIL_REPLY_00, IDENTIFIER_EMAIL
from rfc8823.acme.problems import ProblemType
from rfc8823.findings import passed
from rfc8823.report.plugin import Conformance, Rules
from rfc8823.requirements import covers

from .helpers import ServerSuite

REFUSED = (ProblemType.MALFORMED, ProblemType.REJECTED_IDENTIFIER)
"""What a CA answers for an ``email`` value it will not mail (RFC 8555 §6.7; ID-EMAIL-2/3/5)."""


async def assert_nothing_mailed(ca: ServerSuite, rules: Rules, *addresses: str) -> None:
    """After a control order's email has arrived, no message went to ``addresses`` (SEC-9)."""
    await ca.mail_barrier()
    sent = ca.mail_to(*addresses)
    ca.check(
        rules,
        not sent,
        f"{len(sent)} message(s) to {addresses} for a refused identifier"
        + (f" (first from <{sent[0].mail_from}>)" if sent else ""),
        "none",
    )


@covers("ID-EMAIL-1", "ID-EMAIL-2", "IANA-1", "A-ORD-1")
@pytest.mark.needs("order")
async def test_email_order_is_created_and_echoed(ca: ServerSuite) -> None:
    """newOrder with one ASCII ``email`` identifier: 201, Location, and the order echoes it."""
    account = await ca.account()
    address = ca.new_address()
    order = await ca.order(account, address)
    body = order.body
    ordered = {"type": IDENTIFIER_EMAIL, "value": address}
    status = body.get("status")
    ca.check("A-ORD-1", status == "pending", f"status {status!r}", "pending")
    identifiers = body.get("identifiers")
    ca.check(
        ("ID-EMAIL-1", "ID-EMAIL-2", "IANA-1"),
        identifiers == [ordered],
        f"identifiers {identifiers!r}",
        f"the one ordered, {[ordered]!r}",
    )
    for member in ("expires", "finalize"):
        ca.check("A-ORD-1", isinstance(body.get(member), str), f"order {body}", f"{member!r}")
    count = len(order.authorizations)
    ca.check("A-ORD-1", count == 1, f"{count} authorizations", "one per identifier")
    authz = await account.fetch(order.authorizations[0])
    echoed = authz.get("identifier")
    ca.check(
        ("ID-EMAIL-1", "IANA-1"), echoed == ordered, f"authz identifier {echoed!r}", f"{ordered!r}"
    )


@covers("ID-EMAIL-4", "IANA-2")
@pytest.mark.needs("order")
async def test_email_authz_offers_email_reply_00(ca: ServerSuite, conformance: Conformance) -> None:
    """The authorization of an ``email`` identifier offers ``email-reply-00`` by that exact name."""
    account = await ca.account()
    order = await ca.order(account)
    authz = await account.fetch(order.authorizations[0])
    types = [c.get("type") for c in authz.get("challenges", []) if isinstance(c, dict)]
    ca.check(
        ("ID-EMAIL-4", "IANA-2"),
        EMAIL_REPLY_00 in types,
        f"challenge types {types}",
        f"{EMAIL_REPLY_00!r} among them, spelt exactly so",
    )
    others = [t for t in types if t != EMAIL_REPLY_00]
    if others:
        conformance.info("ID-EMAIL-4", f"also offered for an email identifier: {others}")


@covers("A-ORD-2")
@pytest.mark.needs("validation")
async def test_order_arrays_never_change(ca: ServerSuite) -> None:
    """The order's identifiers and authorizations stay the same across fetches and progress."""
    account = await ca.account()
    order = await ca.order(account, ca.new_address(), ca.new_address())
    created = (order.body.get("identifiers"), order.body.get("authorizations"))
    flows = await ca.flows(order)
    await flows[0].complete()
    for _ in range(2):
        now = await order.refresh()
        seen = (now.get("identifiers"), now.get("authorizations"))
        ca.check(
            "A-ORD-2",
            seen == created,
            f"identifiers/authorizations {seen} after one authorization was validated",
            f"those at creation {created}",
        )


MALFORMED_VALUES: dict[str, Callable[[str], str]] = {
    "no domain": lambda a: a.partition("@")[0],
    "no local part": lambda a: "@" + a.partition("@")[2],
    "double at": lambda a: a.replace("@", "@@"),
    "two at signs": lambda a: a.replace("@", "@x@"),
    "display name": lambda a: f"Alice <{a}>",
    "trailing dot": lambda a: a + ".",
    "empty": lambda a: "",
}


@covers("ID-EMAIL-2", "A-ERR-1", "SEC-9")
@pytest.mark.needs("challenge-email")
@pytest.mark.parametrize("shape", list(MALFORMED_VALUES))
async def test_malformed_email_values_are_refused(ca: ServerSuite, shape: str) -> None:
    """A value that is not one addr-spec gets malformed/rejectedIdentifier and no email."""
    account = await ca.account()
    address = ca.new_address()
    value = MALFORMED_VALUES[shape](address)
    response = await account.new_order_raw([{"type": "email", "value": value}])
    ca.expect_refused("ID-EMAIL-2", response, *REFUSED)
    await assert_nothing_mailed(ca, "SEC-9", address)


WILDCARD_VALUES: dict[str, Callable[[str], str]] = {
    "star local part": lambda a: "*@" + a.partition("@")[2],
    "star inside local part": lambda a: a.replace("@", "*x@"),
    "star domain label": lambda a: a.replace("@", "@*."),
}


@covers("ID-EMAIL-3", "A-ERR-1")
@pytest.mark.needs("challenge-email")
@pytest.mark.parametrize("shape", list(WILDCARD_VALUES))
async def test_wildcard_email_values_are_refused(ca: ServerSuite, shape: str) -> None:
    """An ``email`` value with ``*`` anywhere is refused, no authz exists and no email goes out."""
    account = await ca.account()
    address = ca.new_address()
    value = WILDCARD_VALUES[shape](address)
    response = await account.new_order_raw([{"type": "email", "value": value}])
    ca.expect_refused("ID-EMAIL-3", response, *REFUSED)
    location = response.headers.get("Location")
    ca.check("ID-EMAIL-3", location is None, f"order URL {location} for a refused order", "none")
    await assert_nothing_mailed(ca, "ID-EMAIL-3", address, value)


INJECTION_VALUES: dict[str, Callable[[str, str], str]] = {
    "CRLF Bcc": lambda a, v: f"{a}\r\nBcc: {v}",
    "LF Bcc": lambda a, v: f"{a}\nBcc: {v}",
    "address list": lambda a, v: f"{a}, {v}",
    "semicolon list": lambda a, v: f"{a};{v}",
    "angle bracket": lambda a, v: f"{a}>",
    "SMTP parameter": lambda a, v: f"{a}> NOTIFY=SUCCESS ORCPT=rfc822;{v}",
    "NUL": lambda a, v: f"{a}\x00{v}",
}


@covers("ID-EMAIL-5", "SEC-9", "A-ERR-1")
@pytest.mark.needs("challenge-email")
@pytest.mark.parametrize("shape", list(INJECTION_VALUES))
async def test_injection_values_are_refused_unmailed(ca: ServerSuite, shape: str) -> None:
    """Header/SMTP injection or several mailboxes in one value: refused, nobody is mailed."""
    account = await ca.account()
    address, victim = ca.new_address(), ca.new_address("other.test")
    value = INJECTION_VALUES[shape](address, victim)
    response = await account.new_order_raw([{"type": "email", "value": value}])
    ca.expect_refused(("ID-EMAIL-5", "SEC-9"), response, *REFUSED)
    await assert_nothing_mailed(ca, ("ID-EMAIL-5", "SEC-9"), address, victim)


@covers("A-ORD-3", "IANA-2", "A-ERR-1")
@pytest.mark.needs("challenge-email")
async def test_dns_identifier_holding_an_address_is_refused(
    ca: ServerSuite, conformance: Conformance
) -> None:
    """``{"type": "dns", "value": "<address>"}`` is refused rather than handled as email (AMB-4)."""
    account = await ca.account()
    address = ca.new_address()
    response = await account.new_order_raw([{"type": "dns", "value": address}])
    if response.status_code == 201:
        authz = await account.fetch(json_object(response, 201)["authorizations"][0])
        types = [c.get("type") for c in authz.get("challenges", []) if isinstance(c, dict)]
        conformance.judge(
            "IANA-2",
            EMAIL_REPLY_00 not in types,
            f"challenges {types} offered for a dns identifier",
            f"no {EMAIL_REPLY_00} for a dns identifier (AMB-4)",
        )
        ca.fail(
            "A-ORD-3",
            f"a dns order for {address!r} accepted with challenges {types}",
            "malformed, rejectedIdentifier or unsupportedIdentifier (a dns value holds no '@')",
        )
    ca.expect_refused("A-ORD-3", response, *REFUSED, ProblemType.UNSUPPORTED_IDENTIFIER)
    conformance.record(passed("IANA-2", f"no {EMAIL_REPLY_00} for a dns identifier: refused"))
    await assert_nothing_mailed(ca, "A-ORD-3", address)


@covers("A-ORD-3", "A-ERR-1")
@pytest.mark.needs("challenge-email")
async def test_unknown_identifier_type_is_unsupported(
    ca: ServerSuite, conformance: Conformance
) -> None:
    """An identifier type the CA does not know gets an error (unsupportedIdentifier, RFC 8555)."""
    account = await ca.account()
    address = ca.new_address()
    response = await account.new_order_raw([{"type": "mailbox", "value": address}])
    problem = ca.expect_refused("A-ORD-3", response, ProblemType.UNSUPPORTED_IDENTIFIER, *REFUSED)
    conformance.info("A-ORD-3", f"unknown identifier type answered with {problem.type}")
    await assert_nothing_mailed(ca, "A-ORD-3", address)


@covers("A-ERR-2", "ID-EMAIL-3", "A-ORD-3")
@pytest.mark.needs("challenge-email")
async def test_one_bad_identifier_refuses_the_order(
    ca: ServerSuite, conformance: Conformance
) -> None:
    """A good and a ``*`` address together: the order is refused, the good one is not mailed.

    Subproblems naming the bad identifier are optional (RFC 8555 §6.7.1); recorded when given.
    """
    account = await ca.account()
    good = ca.new_address()
    bad = "*@" + good.partition("@")[2]
    response = await account.new_order_raw(
        [{"type": "email", "value": good}, {"type": "email", "value": bad}]
    )
    problem = ca.expect_refused(
        ("ID-EMAIL-3", "A-ORD-3"), response, *REFUSED, ProblemType.COMPOUND
    )
    named = [sub.identifier.value for sub in problem.subproblems if sub.identifier is not None]
    if problem.subproblems:
        shown = f"subproblems for {named}"
        ca.check("A-ERR-2", bad in named, shown, f"one naming the refused {bad!r}")
        ca.check("A-ERR-2", good not in named, shown, f"none for the acceptable {good!r}")
        conformance.info("A-ERR-2", f"subproblems name {named}")
    else:
        conformance.info("A-ERR-2", "no subproblems (optional)")
    await assert_nothing_mailed(ca, "ID-EMAIL-3", good)


@covers("A-PREAUTH-1", "FLOW-3")
@pytest.mark.capability("pre_authorization")
@pytest.mark.needs("challenge-email")
async def test_new_authz_for_an_email_identifier(ca: ServerSuite) -> None:
    """newAuthz (pre-authorization) for an ``email`` identifier: 201, and the email goes out."""
    account = await ca.account()
    address = ca.new_address()
    url = await ca.acme.url("newAuthz")
    response = await account.post(url, {"identifier": {"type": "email", "value": address}})
    shown = f"newAuthz HTTP {response.status_code}: {response.text[:300]}"
    location = response.headers.get("Location")
    ca.check("A-PREAUTH-1", response.status_code == 201 and bool(location), shown, "201, Location")
    authz = json_object(response, 201)
    ca.check(
        "A-PREAUTH-1",
        authz.get("identifier") == {"type": IDENTIFIER_EMAIL, "value": address},
        f"authz identifier {authz.get('identifier')!r}",
        "the requested one",
    )
    assert location is not None  # checked above
    await account.fetch(location)
    try:
        await ca.next_mail(address, ca.timeouts.mail)
    except TimeoutError:
        ca.fail("FLOW-3", f"no challenge email within {ca.timeouts.mail:g} s", "one")
    ca.check("FLOW-3", True, f"the challenge email for a pre-authorization reached {address}", "")
