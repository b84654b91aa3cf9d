"""The one way both suites turn a test's capability marks into UNSUPPORTED.

A test marked ``@pytest.mark.capability("eai")`` (server suite) or
``@pytest.mark.client_capability("smime")`` (client suite) needs the target to declare that
optional feature; when it does not, the test's rows are UNSUPPORTED, never skipped silently
(docs/verdicts.md).
"""

from __future__ import annotations

from typing import Protocol

import pytest

from rfc8823.report.plugin import Conformance


class DeclaresCapabilities(Protocol):
    """A target's capabilities: ``declared(name)`` for each flag a mark may name."""

    def declared(self, name: str) -> bool: ...


def require_marked(
    item: pytest.Item,
    mark: str,
    capabilities: DeclaresCapabilities,
    target_name: str,
    conformance: Conformance,
) -> None:
    """UNSUPPORTED unless the target declares every capability the test's ``mark`` names."""
    for marker in item.iter_markers(mark):
        for name in marker.args:
            if not capabilities.declared(name):
                conformance.unsupported(
                    name, f"{target_name} does not declare the {name} capability"
                )
