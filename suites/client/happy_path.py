"""The happy path of one enrollment of the client under test, walked step by step.

order (an ``email`` identifier) → the CA's challenge email → a response → a response the CA
accepts, and the readiness POST → finalize with a CSR for the address → the certificate
(RFC 8823 §3 steps 2-9, §3.2, §3.3; RFC 8555 §7.4, §7.5.1). Each broken step names the rows
that say what went wrong — the response inspector's and the CSR inspector's where they explain
it — and the walk stops there. The answer time it measures sets how long the must-not-answer
tests watch for silence. The owner test (``test_happy_path.py``) reports it; other tests consult
it once per process to be BLOCKED at once on a step they need that broke.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from rfc8823.acme.problems import ProblemType
from rfc8823.csr import decode_csr_field, inspect_csr
from rfc8823.findings import Finding, Verdict, broken
from rfc8823.report.outcomes import Blocked, Prerequisite
from rfc8823.world.mailstore import ReceivedMessage

from .harness import ClientSuite, Enrollment
from .prerequisites import (
    ACCEPTED,
    ANSWER,
    CERTIFICATE,
    CHALLENGE,
    FINALIZE,
    HAPPY_PATH,
    ORDER,
    READINESS,
)

NEW_ORDER = "/acme/new-order"


class StepBroken(Exception):
    """A step of the happy path broke, on ``rows``; ``findings`` say how, where known."""

    def __init__(
        self, rows: tuple[str, ...], observed: str, findings: tuple[Finding, ...] = ()
    ) -> None:
        self.rows = rows
        self.observed = " ".join(observed.split())
        self.findings = findings
        super().__init__(self.observed)


@dataclass(frozen=True)
class StepResult:
    """One step: held, broke on ``rows`` (held False), or not reached (None); ``findings`` of a
    step that held are the client's deviations a variant of the suite's CA let through."""

    prerequisite: Prerequisite
    held: bool | None
    rows: tuple[str, ...] = ()
    observed: str = ""
    findings: tuple[Finding, ...] = ()


@dataclass
class Walk:
    """The enrollment the steps look at, what each found, and the client's answer time."""

    run: Enrollment | None = None
    challenge: ReceivedMessage | None = None
    response: ReceivedMessage | None = None
    answer_time: float | None = None
    results: list[StepResult] = field(default_factory=list)
    deviations: list[Finding] = field(default_factory=list)
    """What the client did wrong in a step that still held because a variant of the suite's CA
    let it (a ``dns`` identifier under ``dns-address-identifiers``): reported on its row."""

    @property
    def broken(self) -> StepResult | None:
        """The first step that broke, if one did."""
        return next((r for r in self.results if r.held is False), None)

    def broken_for(self, prerequisite: Prerequisite) -> StepResult | None:
        """The broken step among those ``prerequisite`` builds on (None if they all held)."""
        return next(
            (
                r
                for r in self.results
                if r.held is False and prerequisite.needs(r.prerequisite)
            ),
            None,
        )


def _enrollment(walk: Walk) -> Enrollment:
    assert walk.run is not None, "the walk starts its enrollment first"
    return walk.run


async def _order(walk: Walk) -> str:
    run = _enrollment(walk)
    expected = {"identifiers": [{"type": "email", "value": run.address}]}
    try:
        await run.sent_challenge()
    except Blocked:
        if not run.new_orders():
            outcome = await run.outcome()
            raise StepBroken(
                ("FLOW-1",), f"no newOrder; the client: {outcome.describe()}"
            ) from None
    orders = run.new_orders()
    wrong = [order for order in orders if order != expected]
    if not wrong:
        return f"newOrder {expected}"
    held_as_address = {"identifiers": [{"type": "dns", "value": run.address}]}
    if not run.peer.variants.dns_address_identifiers or any(o != held_as_address for o in wrong):
        raise StepBroken(("FLOW-1",), f"newOrder payloads {orders}; expected {expected}")
    walk.deviations.append(broken("FLOW-1", f"newOrder payloads {orders}", f"{expected}"))
    return f"newOrder {wrong[0]}, taken as the address under variant dns-address-identifier"


async def _challenge(walk: Walk) -> str:
    run = _enrollment(walk)
    try:
        walk.challenge = await run.sent_challenge()
        await run.ca_challenge()
    except Blocked as error:
        raise StepBroken(("FLOW-2",), error.observed) from error
    return "the CA sent its challenge email"


async def _answer(walk: Walk) -> str:
    run = _enrollment(walk)
    try:
        walk.response = await run.response()
    except Blocked as error:
        observed = error.observed
        if run.peer.variants.unsigned_challenges:
            observed += (
                "; the CA's challenge was unsigned (variant unsigned-challenges): a client that "
                "verifies refuses it, as CHAL-AUTH-1 asks; the variant is for clients that cannot"
            )
        raise StepBroken(("FLOW-5",), observed) from error
    assert walk.challenge is not None
    walk.answer_time = max(0.0, walk.response.received_at - walk.challenge.received_at)
    return f"a response {walk.answer_time:.2f} s after the challenge"


async def _accepted(walk: Walk) -> str:
    run = _enrollment(walk)
    assert walk.challenge is not None
    assert walk.response is not None
    report = run.judge(walk.response, walk.challenge)
    if report.acceptable:
        return "a response the CA accepts"
    reasons = tuple(report.rejection_reasons)
    explained = tuple(
        f for f in report.findings if f.requirement in reasons and f.verdict is not Verdict.PASS
    )
    shown = "; ".join(str(f) for f in explained) or ", ".join(reasons)
    raise StepBroken(reasons or ("FLOW-5",), f"a response a CA must refuse: {shown}", explained)


async def _readiness(walk: Walk) -> str:
    run = _enrollment(walk)
    await run.outcome()
    url = run.require_issued_challenge().url
    posts = [r.payload_json() for r in run.requests() if r.url == url and r.payload]
    if not posts:
        raise StepBroken(("A-CHAL-2",), "no POST with a payload to the challenge URL")
    return f"readiness POST {posts[0]}"


async def _finalize(walk: Walk) -> str:
    run = _enrollment(walk)
    await run.outcome()
    finals = [r for r in run.requests() if r.url.endswith("/finalize") and r.payload]
    if not finals:
        raise StepBroken(("CSR-ID-1",), f"no finalize request with a CSR{run.mail_trace()}")
    payload = finals[-1].payload_json()
    field_value = payload.get("csr") if isinstance(payload, dict) else None
    if not isinstance(field_value, str):
        raise StepBroken(("A-FIN-1",), f"finalize payload {payload!r} without a csr field")
    try:
        der = decode_csr_field(field_value)
    except ValueError as error:
        raise StepBroken(("A-HTTPS-1",), f"an unreadable csr field: {error}") from error
    report = inspect_csr(der, [run.address], requested=run.request.usage)
    refused = tuple(f for f in report.findings if f.verdict is Verdict.FAIL)
    if refused or report.problems or not report.signature_valid:
        rows = tuple(dict.fromkeys(f.requirement for f in refused)) or ("CSR-ID-1",)
        shown = "; ".join([*(str(f) for f in refused), *report.problems])
        raise StepBroken(rows, f"a CSR a CA must refuse: {shown or 'bad signature'}", refused)
    flagged = tuple(f for f in report.findings if f.verdict is Verdict.WARN)
    if finals[-1].problem == ProblemType.BAD_CSR.value and flagged:
        rows = tuple(dict.fromkeys(f.requirement for f in flagged))
        shown = "; ".join(str(f) for f in flagged)
        raise StepBroken(rows, f"the CA refused the CSR as badCSR: {shown}", flagged)
    return "a finalize with a CSR naming the address"


async def _certificate(walk: Walk) -> str:
    run = _enrollment(walk)
    outcome = await run.outcome()
    if not outcome.issued:
        raise StepBroken(("A-CERT-1",), outcome.describe())
    return outcome.describe()


STEPS: dict[Prerequisite, Callable[[Walk], Awaitable[str]]] = {
    ORDER: _order,
    CHALLENGE: _challenge,
    ANSWER: _answer,
    ACCEPTED: _accepted,
    READINESS: _readiness,
    FINALIZE: _finalize,
    CERTIFICATE: _certificate,
}
assert tuple(STEPS) == HAPPY_PATH, "the walk takes the happy path's steps in order"


async def walk_happy_path(client: ClientSuite) -> Walk:
    """Enroll once with the CA's default behaviour and judge each step until one breaks."""
    walk = Walk(await client.start())
    for prerequisite, step in STEPS.items():
        if walk.broken is not None:
            walk.results.append(StepResult(prerequisite, None))
            continue
        try:
            observed = await step(walk)
        except StepBroken as error:
            walk.results.append(
                StepResult(prerequisite, False, error.rows, error.observed, error.findings)
            )
        else:
            noted, walk.deviations = tuple(walk.deviations), []
            walk.results.append(StepResult(prerequisite, True, observed=observed, findings=noted))
    return walk
