"""The happy path, first: one enrollment with the CA's default behaviour, step by step.

The sanity conversation the rest of the client suite builds on (docs/verdicts.md): when a
step breaks, this test reports the rows it broke, and every test that needs that step reports
BLOCKED naming this test. RFC 8823 §3 steps 2-9, §3.2, §3.3; RFC 8555 §7.4, §7.5.1.
"""

from __future__ import annotations

import pytest

from rfc8823.findings import broken, passed
from rfc8823.report.outcomes import RuleBroken
from rfc8823.report.plugin import Conformance
from rfc8823.requirements import covers

from .happy_path import walk_happy_path
from .harness import ClientSuite
from .sanity import remember_sanity

pytestmark = pytest.mark.first


@covers("FLOW-1", "FLOW-2", "FLOW-5", "A-CHAL-2", "CSR-ID-1", "A-CERT-1")
async def test_happy_path(
    client: ClientSuite, conformance: Conformance, request: pytest.FixtureRequest
) -> None:
    """order → challenge → response → accepted response, readiness POST → CSR → certificate."""
    walk = await walk_happy_path(client)
    remember_sanity(request.config, walk)
    for result in walk.results:
        conformance.step(
            result.prerequisite, result.held, rows=result.rows, observed=result.observed
        )
        if result.held:
            conformance.record(
                *result.findings or [passed(result.prerequisite.requirement, result.observed)]
            )
    failed = walk.broken
    if failed is None:
        return
    findings = list(failed.findings) or [
        broken(rid, f"{failed.prerequisite.description}: {failed.observed}", "the step works")
        for rid in failed.rows
    ]
    conformance.record(*findings)
    raise RuleBroken(findings)
