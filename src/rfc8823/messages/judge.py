"""The collector every rule of both inspectors reports to (RFC 8823 §3.1, §3.2).

Each rule takes the judge as its last argument and records one finding per requirement it
can judge; a finding added with ``rejects`` also names its requirement as a reason for the
receiver to refuse the message (the response inspector's CA decision).
"""

from __future__ import annotations

from rfc8823.findings import Finding


class Judge:
    """Collects findings in order, and the IDs that make a receiver refuse the message."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.rejections: dict[str, None] = {}

    def add(self, finding: Finding, *, rejects: bool = False) -> None:
        """Record a finding; with ``rejects`` its requirement becomes a reason to refuse."""
        self.findings.append(finding)
        if rejects:
            self.rejections[finding.requirement] = None
