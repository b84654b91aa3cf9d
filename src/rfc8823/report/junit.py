"""Per-target JUnit files cut from pytest's own ``--junitxml`` output.

Test cases carry ``requirement`` and ``target`` properties (added by the plugin); when a run
covers several targets, each target's file keeps its own cases plus those without a target.
A BLOCKED test is a ``skipped`` case whose message names the row that blocked it; a block the
report found unexplained becomes an ``error`` case (docs/verdicts.md).
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_OUTCOMES = {"failure": "failures", "error": "errors", "skipped": "skipped"}


@dataclass(frozen=True)
class BlockedNote:
    """What the report concluded about a blocked test: still BLOCKED (by what), or ERROR."""

    error: bool
    message: str


def junit_key(nodeid: str) -> tuple[str, str]:
    """pytest's JUnit ``(classname, name)`` for a node ID (``a/b/test_x.py::C::t[p]``)."""
    path, _, rest = nodeid.partition("::")
    parts = rest.split("::")
    module = path.removesuffix(".py").replace("/", ".")
    return ".".join([module, *parts[:-1]]), parts[-1]


def split_junit(
    source: Path,
    destinations: Mapping[str, Path],
    blocked: Mapping[str, BlockedNote] | None = None,
) -> None:
    """Write one JUnit file per target label in ``destinations``, from pytest's file."""
    tree = ET.parse(source)  # noqa: S314 - pytest's own output, written by this run
    notes = {junit_key(nodeid): note for nodeid, note in (blocked or {}).items()}
    for label, destination in destinations.items():
        copied = copy.deepcopy(tree)
        for suite in copied.getroot().iter("testsuite"):
            for case in list(suite.findall("testcase")):
                if len(destinations) > 1 and _target(case) not in (None, label):
                    suite.remove(case)
                    continue
                note = notes.get((case.get("classname", ""), case.get("name", "")))
                if note is not None:
                    _annotate(case, note)
            _recount(suite)
        destination.parent.mkdir(parents=True, exist_ok=True)
        copied.write(destination, encoding="utf-8", xml_declaration=True)


def _annotate(case: ET.Element, note: BlockedNote) -> None:
    skipped = case.find("skipped")
    if skipped is None:
        return
    if note.error:
        case.remove(skipped)
        ET.SubElement(case, "error", {"message": note.message}).text = note.message
    else:
        skipped.set("message", f"BLOCKED: {note.message}")


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
