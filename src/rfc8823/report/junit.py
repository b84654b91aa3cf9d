"""Per-target JUnit files cut from pytest's own ``--junitxml`` output.

Test cases carry ``requirement`` and ``target`` properties (added by the plugin); when a run
covers several targets, each target's file keeps its own cases plus those without a target.
"""

from __future__ import annotations

import copy
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

_OUTCOMES = {"failure": "failures", "error": "errors", "skipped": "skipped"}


def split_junit(source: Path, destinations: Mapping[str, Path]) -> None:
    """Write one JUnit file per target label in ``destinations``, from pytest's file."""
    if len(destinations) == 1:
        (destination,) = destinations.values()
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
        return
    tree = ET.parse(source)  # noqa: S314 - pytest's own output, written by this run
    for label, destination in destinations.items():
        copied = copy.deepcopy(tree)
        for suite in copied.getroot().iter("testsuite"):
            for case in list(suite.findall("testcase")):
                if _target(case) not in (None, label):
                    suite.remove(case)
            _recount(suite)
        destination.parent.mkdir(parents=True, exist_ok=True)
        copied.write(destination, encoding="utf-8", xml_declaration=True)


def _target(case: ET.Element) -> str | None:
    for prop in case.iterfind("properties/property"):
        if prop.get("name") == "target":
            return prop.get("value")
    return None


def _recount(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    for tag, attribute in _OUTCOMES.items():
        suite.set(attribute, str(sum(case.find(tag) is not None for case in cases)))
