"""Expected verdicts of a known implementation, and how a run differs from them.

The idea is tlsfuzzer's expected failures and TLS-Anvil's expected results: a file lists every
row a target is known not to PASS, with the verdict and one line of evidence; a run with
``--expect FILE`` fails on any difference instead of on the target's known defects. So CI can
run a real, imperfect implementation and still notice when it (or the suite) changes.

The file (TOML)::

    [target]                       # optional: the implementation the file describes
    name = "acme2certifier"
    version = "0.46.3"

    [[expect]]                     # one per row that does not PASS
    id = "CHAL-AUTO-1"
    verdict = "FAIL"               # FAIL, WARN, BLOCKED, INFO or UNSUPPORTED
    evidence = "observed no Auto-Submitted field; expected one, auto-generated"

A row the file does not list is expected to PASS. An ERROR is never expected: the suite could
not say anything true about the row (docs/verdicts.md), so it is always a difference. The
evidence is for readers and is not compared (it names per-run values such as tokens).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rfc8823.report.document import DifferenceEntry, ExpectationsEntry, ReportDocument, why
from rfc8823.report.verdicts import ReportVerdict
from rfc8823.requirements import Catalog

__all__ = [
    "Expectations",
    "ExpectationsError",
    "Expected",
    "apply_expectations",
    "differences",
    "draft_expectations",
    "load_expectations",
    "parse_expectations",
]

EXPECTABLE = (
    ReportVerdict.FAIL,
    ReportVerdict.WARN,
    ReportVerdict.BLOCKED,
    ReportVerdict.INFO,
    ReportVerdict.UNSUPPORTED,
)
"""The verdicts an entry may expect: PASS is what an unlisted row expects; ERROR never."""
NOT_EXERCISED = "not exercised"
OTHER_TARGET = "other target"
_ENTRY_KEYS = frozenset({"id", "verdict", "evidence"})
_TARGET_KEYS = frozenset({"name", "version"})


class ExpectationsError(ValueError):
    """An expectations file that cannot be read or does not say what it must."""


@dataclass(frozen=True)
class Expected:
    """One row's expected verdict and the evidence it was seen with."""

    id: str
    verdict: ReportVerdict
    evidence: str


@dataclass(frozen=True)
class Expectations:
    """An expectations file: the target it describes (if it names one) and its rows."""

    source: str
    rows: Mapping[str, Expected]
    name: str | None = None
    version: str | None = None

    def verdict(self, requirement_id: str) -> ReportVerdict:
        """The verdict expected of a row: its entry's, else PASS."""
        entry = self.rows.get(requirement_id)
        return entry.verdict if entry is not None else ReportVerdict.PASS

    @property
    def target(self) -> str:
        """``name version`` of the described target ("" when the file names none)."""
        return " ".join(part for part in (self.name, self.version) if part)


def load_expectations(path: Path, catalog: Catalog) -> Expectations:
    """Read an expectations file; ExpectationsError names the file and what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ExpectationsError(f"{path}: {error}") from error
    return parse_expectations(text, str(path), catalog)


def parse_expectations(text: str, source: str, catalog: Catalog) -> Expectations:
    """The expectations ``text`` holds (``source`` names it in errors), checked against the
    catalog: known IDs, expectable verdicts, one line of evidence, each row once."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ExpectationsError(f"{source}: not TOML: {error}") from error
    unknown = sorted(set(data) - {"target", "expect"})
    if unknown:
        raise ExpectationsError(f"{source}: unknown tables {unknown}; known: [target], [[expect]]")
    name, version = _target(data.get("target", {}), source)
    entries = data.get("expect", [])
    if not isinstance(entries, list):
        raise ExpectationsError(f"{source}: 'expect' must be an array of tables ([[expect]])")
    rows: dict[str, Expected] = {}
    for number, entry in enumerate(entries, 1):
        expected = _entry(entry, f"{source}: [[expect]] #{number}", catalog)
        if expected.id in rows:
            raise ExpectationsError(f"{source}: {expected.id} is listed twice")
        rows[expected.id] = expected
    return Expectations(source, rows, name, version)


def _target(table: object, source: str) -> tuple[str | None, str | None]:
    if not isinstance(table, dict) or set(table) - _TARGET_KEYS:
        raise ExpectationsError(f"{source}: [target] holds only name and version")
    values = [table.get(key) for key in ("name", "version")]
    if not all(value is None or isinstance(value, str) for value in values):
        raise ExpectationsError(f"{source}: [target] name and version are strings")
    return values[0], values[1]


def _entry(entry: object, where: str, catalog: Catalog) -> Expected:
    if not isinstance(entry, dict):
        raise ExpectationsError(f"{where}: not a table")
    unknown = sorted(set(entry) - _ENTRY_KEYS)
    missing = sorted(_ENTRY_KEYS - set(entry))
    if unknown or missing:
        raise ExpectationsError(
            f"{where}: keys are id, verdict, evidence (unknown {unknown}, missing {missing})"
        )
    rid, verdict, evidence = entry["id"], entry["verdict"], entry["evidence"]
    if not isinstance(rid, str) or rid not in catalog:
        raise ExpectationsError(f"{where}: {rid!r} is not a catalog requirement ID")
    allowed = ", ".join(v.value for v in EXPECTABLE)
    if verdict == ReportVerdict.PASS:
        raise ExpectationsError(f"{where}: {rid} expects PASS, which every unlisted row does")
    if verdict == ReportVerdict.ERROR:
        raise ExpectationsError(
            f"{where}: {rid} expects ERROR; an ERROR is never expected (fix its cause)"
        )
    if verdict not in {v.value for v in EXPECTABLE}:
        raise ExpectationsError(f"{where}: {rid} verdict {verdict!r}; one of {allowed}")
    if not isinstance(evidence, str) or not evidence.strip() or "\n" in evidence:
        raise ExpectationsError(f"{where}: {rid} needs one line of evidence (observed, expected)")
    return Expected(rid, ReportVerdict(verdict), evidence.strip())


def differences(document: ReportDocument, expectations: Expectations) -> list[DifferenceEntry]:
    """Where the run differs from the file: a run of another target than the file describes;
    in catalog order every ERROR and every row whose verdict is not the expected one; then
    every listed row the run did not exercise."""
    found: list[DifferenceEntry] = []
    target = document["target"]
    if (expectations.name is not None and expectations.name != target["name"]) or (
        expectations.version is not None and expectations.version != target["version"]
    ):
        found.append(
            DifferenceEntry(
                id="",
                kind=OTHER_TARGET,
                expected=expectations.target,
                actual=f"{target['name']} {target['version']}".strip(),
                evidence="",
                observed="",
            )
        )
    exercised = set()
    for row in document["requirements"]:
        exercised.add(row["id"])
        actual = ReportVerdict(row["verdict"])
        expected = expectations.verdict(row["id"])
        if actual is ReportVerdict.ERROR or actual is not expected:
            entry = expectations.rows.get(row["id"])
            error = actual is ReportVerdict.ERROR
            found.append(
                DifferenceEntry(
                    id=row["id"],
                    kind=actual.value if error else f"unexpected {actual.value}",
                    expected=expected.value,
                    actual=actual.value,
                    evidence=entry.evidence if entry is not None else "",
                    observed=why(row),
                )
            )
    found += [
        DifferenceEntry(
            id=entry.id,
            kind=NOT_EXERCISED,
            expected=entry.verdict.value,
            actual=NOT_EXERCISED,
            evidence=entry.evidence,
            observed="",
        )
        for entry in expectations.rows.values()
        if entry.id not in exercised
    ]
    return found


def apply_expectations(document: ReportDocument, expectations: Expectations) -> ReportDocument:
    """``document`` with each exercised row's expected verdict and the comparison added."""
    found = differences(document, expectations)
    applied = document.copy()
    applied["requirements"] = []
    for row in document["requirements"]:
        marked = row.copy()
        marked["expected"] = expectations.verdict(row["id"]).value
        applied["requirements"].append(marked)
    applied["expectations"] = ExpectationsEntry(
        file=expectations.source,
        target=expectations.target,
        listed=len(expectations.rows),
        matched=not found,
        differences=found,
    )
    return applied


def draft_expectations(document: ReportDocument) -> str:
    """An expectations file for the run ``document`` reports: every row that did not PASS,
    with the evidence the report gives. A draft: read each row before you commit it."""
    target = document["target"]
    lines = [
        f"# Expected verdicts of {target['name']} {target['version']}".rstrip()
        + f" (rfc8823 {document['suite']['version']}, run {document['created']}).",
        "# Drafted by `rfc8823 expectations`; check every row's evidence before committing.",
        "",
        "[target]",
        f"name = {_toml_string(target['name'])}",
        f"version = {_toml_string(target['version'])}",
    ]
    for row in document["requirements"]:
        if row["verdict"] == ReportVerdict.PASS:
            continue
        lines += [
            "",
            "[[expect]]",
            f"id = {_toml_string(row['id'])}",
            f"verdict = {_toml_string(row['verdict'])}",
            f"evidence = {_toml_string(' '.join(why(row).split()) or row['summary'])}",
        ]
    return "\n".join(lines) + "\n"


def _toml_string(text: str) -> str:
    """A TOML basic string."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'
