"""Project-wide pytest setup: Hypothesis profiles shared by the suites and the project's tests,
and a closing summary of tests skipped for a missing tool.

Profiles: ``default`` keeps the run fast; ``deep`` explores 20x more examples (opt in with
``--hypothesis-profile=deep`` or ``HYPOTHESIS_PROFILE=deep``); ``ci`` is ``default`` with
derandomised examples so CI failures reproduce.
"""

import os
import re

import pytest
from hypothesis import HealthCheck, settings

_DEFAULT_EXAMPLES = 50

settings.register_profile(
    "default",
    max_examples=_DEFAULT_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "deep",
    max_examples=_DEFAULT_EXAMPLES * 20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("ci", settings.get_profile("default"), derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


_INSTALL = re.compile(r"apt-get install ([a-z0-9.+ -]+?)\)")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Close the run with the tests skipped for a tool this machine lacks, and how to get it.

    The project's tests name the Debian package in their skip reason ("... (apt-get install
    dovecot-imapd)"); a run that skipped some says which and prints one command for all.
    """
    missing: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else ""
        found = _INSTALL.search(str(reason))
        if found:
            for package in found.group(1).split():
                missing[package] = missing.get(package, 0) + 1
    if not missing:
        return
    counts = ", ".join(f"{package} ({n} tests)" for package, n in sorted(missing.items()))
    terminalreporter.write_sep("=", "tests skipped for a missing tool", yellow=True)
    terminalreporter.write_line(f"missing: {counts}")
    terminalreporter.write_line(f"install: apt-get install {' '.join(sorted(missing))}")
