"""The happy path of an email-reply-00 enrollment, walked step by step without judging.

account → order → authorization → challenge email → conforming reply validates → order ready →
certificate (RFC 8823 §3 steps 1-9; RFC 8555 §7.3-§7.4.2). Each step either holds or breaks on
the rows that say what went wrong; the walk stops at the first broken step. The owner test
(``test_happy_path.py``) reports the walk; every other test consults it once per process to be
BLOCKED at once on a step it needs that broke (docs/architecture.md: a sanity conversation first).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import httpx

from rfc8823.acme.driver import Account, OrderHandle, json_object, problem_of
from rfc8823.certificates import inspect_certificate
from rfc8823.csr import build_csr
from rfc8823.findings import Verdict
from rfc8823.report.outcomes import Blocked, Prerequisite

from .helpers import (
    ChallengeFlow,
    ServerSuite,
    malformed_token_parts,
    misdirected_rows,
    token_part1_of,
)
from .issuance import IssuanceFailed, csr_key, try_issue
from .prerequisites import (
    ACCOUNT,
    AUTHORIZATION,
    CERTIFICATE,
    CHALLENGE_EMAIL,
    HAPPY_PATH,
    ORDER,
    ORDER_READY,
    VALIDATION,
)

T = TypeVar("T")


class StepBroken(Exception):
    """A step of the happy path broke, on ``rows``."""

    def __init__(self, rows: tuple[str, ...], observed: str) -> None:
        self.rows = rows
        self.observed = " ".join(observed.split())
        super().__init__(self.observed)


@dataclass(frozen=True)
class StepResult:
    """One step of the walk: held, broke on ``rows`` (held False), or not reached (None)."""

    prerequisite: Prerequisite
    held: bool | None
    rows: tuple[str, ...] = ()
    observed: str = ""


@dataclass
class Walk:
    """The state the steps pass along, and what each found."""

    ca: ServerSuite
    account: Account | None = None
    order: OrderHandle | None = None
    flow: ChallengeFlow | None = None
    results: list[StepResult] = field(default_factory=list)

    @property
    def broken(self) -> StepResult | None:
        """The step that broke, if one did."""
        return next((r for r in self.results if r.held is False), None)

    def broken_for(self, prerequisite: Prerequisite) -> StepResult | None:
        """The broken step among those ``prerequisite`` builds on (None if they all held)."""
        step = self.broken
        return step if step is not None and prerequisite.needs(step.prerequisite) else None


async def _account(walk: Walk) -> str:
    try:
        walk.account = await walk.ca.acme.account(walk.ca.account_key())
    except AssertionError as error:
        raise StepBroken(("A-ACCT-1",), f"newAccount: {error}") from error
    return f"account {walk.account.url}"


async def _order(walk: Walk) -> str:
    assert walk.account is not None
    address = walk.ca.new_address()
    response = await walk.account.new_order_raw([{"type": "email", "value": address}])
    if response.status_code >= 400:
        problem = problem_of(response)
        shown = f"{problem.type} {problem.detail}" if problem else response.text[:300]
        raise StepBroken(
            ("ID-EMAIL-1",), f"newOrder for {address}: HTTP {response.status_code} {shown}"
        )
    try:
        body = json_object(response, 201)
    except AssertionError as error:
        raise StepBroken(("A-ORD-1",), f"newOrder for {address}: {error}") from error
    location = response.headers.get("Location")
    authorizations = body.get("authorizations")
    if not location or not isinstance(authorizations, list) or len(authorizations) != 1:
        raise StepBroken(
            ("A-ORD-1",),
            f"newOrder 201 with Location {location!r} and authorizations {authorizations!r}",
        )
    walk.order = OrderHandle(walk.account, location, body, (address,))
    return f"order {location}"


async def _authorization(walk: Walk) -> str:
    assert walk.order is not None
    flows = await _unblocked(walk.ca.flows(walk.order), ("ID-EMAIL-4",))
    walk.flow = flows[0]
    return f"authorization {walk.flow.authz_url} offers {walk.flow.challenge_url}"


async def _challenge_email(walk: Walk) -> str:
    assert walk.flow is not None
    try:
        email = await walk.flow.receive()
    except Blocked as error:
        astray = walk.flow.misdirected()
        rows = misdirected_rows(astray, walk.flow.address) if astray else ("FLOW-3",)
        raise StepBroken(rows, error.observed) from error
    if token_part1_of(email.data) is None:
        raise StepBroken(("CHAL-SUBJ-1",), "a challenge email whose Subject has no token-part1")
    return f"challenge email to {walk.flow.address}"


async def _validation(walk: Walk) -> str:
    assert walk.flow is not None
    malformed = malformed_token_parts(walk.flow.token_part1, walk.flow.token_part2)
    if malformed:
        raise StepBroken(*malformed)
    await _unblocked(walk.flow.complete(), ("SRV-VAL-1",))
    return "a conforming reply validated the challenge"


async def _order_ready(walk: Walk) -> str:
    assert walk.order is not None
    body = await walk.order.account.wait_for_status(
        walk.order.url, ("ready",), walk.ca.timeouts.state
    )
    if body.get("status") != "ready":
        raise StepBroken(
            ("A-STATE-1",),
            f"order {body.get('status')!r} once its authorization was valid "
            f"(error {body.get('error')})",
        )
    return "order ready"


async def _certificate(walk: Walk) -> str:
    assert walk.order is not None
    key = csr_key("p256")
    addresses = list(walk.order.addresses)
    csr = build_csr(key, addresses, None)
    body = await walk.order.refresh()
    try:
        outcome = await try_issue(walk.ca, walk.order, body, csr)
    except IssuanceFailed as error:
        raise StepBroken(("A-FIN-1",), f"finalize accepted, then {error.observed}") from error
    if isinstance(outcome, httpx.Response):
        raise StepBroken(
            ("CSR-ID-1",),
            f"a CSR naming only {addresses[0]} in its SAN, no keyUsage, refused: "
            f"HTTP {outcome.status_code} {outcome.text[:300]}",
        )
    findings = inspect_certificate(outcome.chain[0], addresses, requested=None)
    wrong = [f for f in findings if f.requirement == "CERT-1" and f.verdict is Verdict.FAIL]
    if wrong:
        raise StepBroken(("CERT-1",), str(wrong[0]))
    return "certificate issued and downloaded"


async def _unblocked(step: Awaitable[T], rows: tuple[str, ...]) -> T:
    """``step``'s result, its BLOCKED turned into this step breaking on ``rows``."""
    try:
        return await step
    except Blocked as error:
        raise StepBroken(rows, error.observed) from error


STEPS: dict[Prerequisite, Callable[[Walk], Awaitable[str]]] = {
    ACCOUNT: _account,
    ORDER: _order,
    AUTHORIZATION: _authorization,
    CHALLENGE_EMAIL: _challenge_email,
    VALIDATION: _validation,
    ORDER_READY: _order_ready,
    CERTIFICATE: _certificate,
}
assert tuple(STEPS) == HAPPY_PATH, "the walk takes the happy path's steps in order"


async def walk_happy_path(ca: ServerSuite) -> Walk:
    """Take every step in order until one breaks; later steps are not reached."""
    walk = Walk(ca)
    for prerequisite, step in STEPS.items():
        if walk.broken is not None:
            walk.results.append(StepResult(prerequisite, None))
            continue
        try:
            observed = await step(walk)
        except StepBroken as error:
            walk.results.append(StepResult(prerequisite, False, error.rows, error.observed))
        except (AssertionError, OSError, httpx.HTTPError) as error:
            shown = " ".join(str(error).split()) or type(error).__name__
            walk.results.append(StepResult(prerequisite, False, (prerequisite.requirement,), shown))
        else:
            walk.results.append(StepResult(prerequisite, True, observed=observed))
    return walk
