"""The happy path, first: one conforming enrollment from account to certificate.

The sanity conversation the rest of the suite builds on (docs/verdicts.md): when a step
breaks, this test reports the row it broke, and every test that needs that step reports
BLOCKED naming this test. RFC 8823 §3 steps 1-9; RFC 8555 §7.3, §7.4, §7.4.2, §7.5.1.
"""

from __future__ import annotations

import pytest

from rfc8823.findings import broken, passed
from rfc8823.report.outcomes import RuleBroken
from rfc8823.report.plugin import Conformance
from rfc8823.requirements import covers

from .happy_path import walk_happy_path
from .helpers import ServerSuite
from .sanity import remember_sanity

pytestmark = pytest.mark.first


@covers("A-ACCT-1", "A-ORD-1", "ID-EMAIL-4", "FLOW-3", "SRV-VAL-1", "A-STATE-1", "A-FIN-1")
async def test_happy_path(
    ca: ServerSuite, conformance: Conformance, request: pytest.FixtureRequest
) -> None:
    """account → order → authorization → challenge email → valid reply → ready → certificate."""
    walk = await walk_happy_path(ca)
    remember_sanity(request.config, walk)
    for result in walk.results:
        conformance.step(
            result.prerequisite, result.held, rows=result.rows, observed=result.observed
        )
        if result.held:
            conformance.record(passed(result.prerequisite.requirement, result.observed))
    failed = walk.broken
    if failed is not None:
        findings = [
            broken(rid, f"{failed.prerequisite.description}: {failed.observed}", "the step works")
            for rid in failed.rows
        ]
        conformance.record(*findings)
        raise RuleBroken(findings)
