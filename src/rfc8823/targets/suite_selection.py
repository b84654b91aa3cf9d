"""Which conformance suites a pytest run includes, read from its command-line paths.

A target's options only mean something when its suite runs: ``--server-config`` in a run of the
client suite alone would be accepted and silently do nothing. The plugins ask
:func:`runs_suite` at configure time, before collection, so they can refuse such options.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SUITES_DIR = "suites"


def runs_suite(config: pytest.Config, suite: str) -> bool:
    """Whether a test path of this run lies in ``suites/<suite>`` or contains that folder.

    A run without paths (pytest's ``testpaths``) counts as running every suite.
    """
    if not config.args:
        return True
    wanted = (config.rootpath / SUITES_DIR / suite).resolve()
    for arg in config.args:
        path = (config.invocation_params.dir / arg.split("::")[0]).resolve()
        if _within(path, wanted) or _within(wanted, path) or _names_suite(path, suite):
            return True
    return False


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _names_suite(path: Path, suite: str) -> bool:
    """A path through some ``suites/<suite>`` folder (a checkout other than the rootdir)."""
    parts = path.parts
    return any(parts[i : i + 2] == (SUITES_DIR, suite) for i in range(len(parts) - 1))
