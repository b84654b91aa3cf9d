"""The happy path once per process, and the BLOCKED it means for tests that need its steps.

A test marked ``@pytest.mark.needs("certificate")`` (names from ``prerequisites.BY_NAME``) is
BLOCKED before it starts when the happy path broke on a step it builds on, instead of waiting
out every timeout on its way there (docs/decisions.md#decision-9). The walk runs at most once per
process (per xdist worker): in ``test_happy_path`` when that runs first, else for the first test
that needs it.
"""

from __future__ import annotations

import pytest

from rfc8823.report.outcomes import Blocked, HarnessError, Prerequisite
from rfc8823.report.plugin import NEEDS_MARK

from .happy_path import Walk, walk_happy_path
from .helpers import ServerSuite
from .prerequisites import BY_NAME

_WALK = pytest.StashKey[Walk]()


def remember_sanity(config: pytest.Config, walk: Walk) -> None:
    """Keep this process's walk of the happy path."""
    config.stash[_WALK] = walk


def needs_of(item: pytest.Item) -> list[Prerequisite]:
    """The prerequisites a test declares with ``needs`` marks (HarnessError for unknown ones)."""
    names = [name for mark in item.iter_markers(NEEDS_MARK) for name in mark.args]
    unknown = sorted(set(names) - set(BY_NAME))
    if unknown:
        raise HarnessError(f"unknown prerequisites {unknown}; known: {sorted(BY_NAME)}")
    return [BY_NAME[name] for name in names]


async def block_if_needed(item: pytest.Item, ca: ServerSuite) -> None:
    """BLOCKED now if the happy path broke on a step one of the test's needs builds on."""
    needs = needs_of(item)
    if not needs:
        return
    walk = item.config.stash.get(_WALK, None)
    if walk is None:
        walk = await walk_happy_path(ca)
        remember_sanity(item.config, walk)
    for prerequisite in needs:
        step = walk.broken_for(prerequisite)
        if step is not None:
            raise Blocked(
                prerequisite,
                f"the happy path broke at {step.prerequisite.description}: {step.observed}",
            )
