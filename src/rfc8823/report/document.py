"""The report document of one run against one target (schema ``rfc8823-report/2``).

Built from the executed tests and the catalog; the JSON file, the HTML page, the Markdown summary
and the comparison matrix are all renderings of this one structure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NotRequired, TypedDict

from rfc8823.report.records import CaseRecord, Outcome, Target
from rfc8823.report.verdicts import (
    PRECEDENCE,
    Judgement,
    ReportVerdict,
    StepIndex,
    case_resolution,
    case_verdict,
    mentioned_ids,
    strongest,
)
from rfc8823.requirements import Catalog, Requirement

SCHEMA_ID = "rfc8823-report/2"
_SLUG_JUNK = re.compile(r"[^a-z0-9._-]+")


class FindingEntry(TypedDict):
    """A finding about the requirement, with the test that recorded it."""

    test: str
    verdict: str
    observed: str
    expected: str
    detail: str


class CaseEntry(TypedDict):
    """A test that covers (or reported on) the requirement, and its verdict on it."""

    nodeid: str
    outcome: str
    verdict: str
    duration: float
    message: str
    unsupported: str
    note: str
    blocked_by: list[str]


class RequirementEntry(TypedDict):
    """One exercised catalog row with its verdict, tests and findings."""

    id: str
    rfc: int
    section: str
    item: str | None
    reference: str
    level: str
    source: str
    binds: list[str]
    summary: str
    verdict_on_break: str
    verdict: str
    tests: list[CaseEntry]
    findings: list[FindingEntry]
    expected: NotRequired[str]
    """The verdict an expectations file gives the row (PASS when unlisted); only under
    ``--expect`` (rfc8823.report.expectations)."""


class UnexercisedEntry(TypedDict):
    """A catalog row that no test of the run touched."""

    id: str
    rfc: int
    section: str
    reference: str
    level: str
    summary: str
    testable: bool
    untestable_reason: str | None


class TargetEntry(TypedDict):
    """The implementation under test."""

    name: str
    version: str


class SuiteEntry(TypedDict):
    """The suite that produced the report."""

    name: str
    version: str


class SummaryEntry(TypedDict):
    """Counts by verdict and by test outcome, and the FAIL rows."""

    verdicts: dict[str, int]
    tests: dict[str, int]
    exercised: int
    catalog: int
    failures: list[str]


class SanityEntry(TypedDict):
    """The happy path (order, challenge email, reply, validation, certificate): whether it
    held, and where it broke first. ``status`` is passed, failed or not run."""

    status: str
    test: str
    step: str
    rows: list[str]
    observed: str


class DifferenceEntry(TypedDict):
    """A row whose verdict is not the one expected, or a run of another target than the
    expectations file describes (``id`` empty)."""

    id: str
    kind: str
    expected: str
    actual: str
    evidence: str
    observed: str


class ExpectationsEntry(TypedDict):
    """The run compared with an expectations file (``--expect``): the file, the target it
    describes, how many rows it lists, and the differences (none: matched)."""

    file: str
    target: str
    listed: int
    matched: bool
    differences: list[DifferenceEntry]


class ReportDocument(TypedDict):
    """The whole report of one run against one target."""

    schema: str
    target: TargetEntry
    suite: SuiteEntry
    created: str
    seed: str | None
    options: dict[str, object]
    sanity: SanityEntry
    summary: SummaryEntry
    requirements: list[RequirementEntry]
    not_exercised: list[UnexercisedEntry]
    expectations: NotRequired[ExpectationsEntry]


@dataclass(frozen=True, slots=True)
class RunInfo:
    """Facts about the run that the tests do not carry."""

    suite_version: str
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    seed: str | None = None
    options: dict[str, object] = field(default_factory=dict)


def build_report(
    cases: Sequence[CaseRecord], catalog: Catalog, target: Target, run: RunInfo
) -> ReportDocument:
    """The report of ``cases`` (all run against ``target``), rows in catalog order."""
    steps = StepIndex(cases)
    resolutions = {case.nodeid: case_resolution(case, steps) for case in cases}
    judged: dict[str, list[tuple[CaseRecord, Judgement]]] = {}
    for case in cases:
        for rid in mentioned_ids(case):
            if rid not in catalog:
                continue
            judgement = case_verdict(case, catalog[rid], resolutions[case.nodeid])
            if judgement is not None:
                judged.setdefault(rid, []).append((case, judgement))
    requirements = [_requirement_entry(row, judged[row.id]) for row in catalog if row.id in judged]
    verdicts = dict.fromkeys((v.value for v in PRECEDENCE), 0)
    for entry in requirements:
        verdicts[entry["verdict"]] += 1
    tests = dict.fromkeys((o.value for o in Outcome), 0)
    for case in cases:
        tests[case.outcome.value] += 1
    return ReportDocument(
        schema=SCHEMA_ID,
        target=TargetEntry(name=target.name, version=target.version),
        suite=SuiteEntry(name="rfc8823", version=run.suite_version),
        created=run.created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        seed=run.seed,
        options=dict(run.options),
        sanity=_sanity_entry(steps),
        summary=SummaryEntry(
            verdicts=verdicts,
            tests=tests,
            exercised=len(requirements),
            catalog=len(catalog),
            failures=[e["id"] for e in requirements if e["verdict"] == ReportVerdict.FAIL],
        ),
        requirements=requirements,
        not_exercised=[_unexercised_entry(row) for row in catalog if row.id not in judged],
    )


def _sanity_entry(steps: StepIndex) -> SanityEntry:
    first = steps.sanity()
    if first is not None:
        nodeid, step = first
        return SanityEntry(
            status="failed",
            test=nodeid,
            step=step.description,
            rows=list(step.rows),
            observed=step.observed,
        )
    status = "passed" if steps.sanity_ran() else "not run"
    return SanityEntry(status=status, test="", step="", rows=[], observed="")


def _requirement_entry(
    row: Requirement, judged: Sequence[tuple[CaseRecord, Judgement]]
) -> RequirementEntry:
    tests: list[CaseEntry] = []
    findings: list[FindingEntry] = []
    for case, judgement in judged:
        tests.append(
            CaseEntry(
                nodeid=case.nodeid,
                outcome=case.outcome.value,
                verdict=judgement.verdict.value,
                duration=round(case.duration, 6),
                message=case.message,
                unsupported=case.unsupported,
                note=judgement.note,
                blocked_by=list(judgement.blocked_by),
            )
        )
        findings.extend(
            FindingEntry(
                test=case.nodeid,
                verdict=f.verdict.value,
                observed=f.observed,
                expected=f.expected,
                detail=f.detail,
            )
            for f in case.findings
            if f.requirement == row.id
        )
    overall = strongest(ReportVerdict(t["verdict"]) for t in tests)
    assert overall is not None, f"{row.id} listed without a test"
    return RequirementEntry(
        id=row.id,
        rfc=row.rfc,
        section=row.section,
        item=row.item,
        reference=row.reference,
        level=row.level.value,
        source=row.source.value,
        binds=[b.value for b in row.binds],
        summary=row.summary,
        verdict_on_break=row.verdict_on_break,
        verdict=overall.value,
        tests=tests,
        findings=findings,
    )


def _unexercised_entry(row: Requirement) -> UnexercisedEntry:
    return UnexercisedEntry(
        id=row.id,
        rfc=row.rfc,
        section=row.section,
        reference=row.reference,
        level=row.level.value,
        summary=row.summary,
        testable=row.testable,
        untestable_reason=row.untestable_reason,
    )


def report_slug(name: str) -> str:
    """A file-name-safe form of a name: ``Reference CA 1.0`` -> ``reference-ca-1.0``."""
    slug = _SLUG_JUNK.sub("-", name.lower()).strip("-.")
    return slug or "unknown"


def section_key(entry: RequirementEntry | UnexercisedEntry) -> str:
    """The heading a row is grouped under: RFC and section, without the item (``RFC 8823 §3.1``)."""
    if entry["section"]:
        return f"RFC {entry['rfc']} §{entry['section']}"
    return f"RFC {entry['rfc']}"


def why(entry: RequirementEntry) -> str:
    """Why a requirement did not pass, in one paragraph: a broken finding, else (an INFO row)
    what was recorded, else the note or message of a test that gave the row its verdict."""
    recorded = (
        ("fail", "warn", "info") if entry["verdict"] == ReportVerdict.INFO else ("fail", "warn")
    )
    for finding in entry["findings"]:
        if finding["verdict"] in recorded:
            expected = f"; expected {finding['expected']}" if finding["expected"] else ""
            return f"observed {finding['observed']}{expected}"
    for test in entry["tests"]:
        if test["verdict"] == entry["verdict"] and (test["note"] or test["message"]):
            return " ".join((test["note"] or test["message"]).split())
    return ""


def expectation_note(entry: RequirementEntry) -> str:
    """How a row compares with the expectations file under ``--expect``: ``expected`` (a
    non-PASS verdict the file lists), ``expected <VERDICT>`` (a difference), or "" (no file,
    or a PASS that was expected)."""
    expected = entry.get("expected")
    if expected is None or (expected == entry["verdict"] == ReportVerdict.PASS):
        return ""
    if expected == entry["verdict"] != ReportVerdict.ERROR:
        return "expected"
    return f"expected {expected}"


def expectations_lines(document: ReportDocument) -> list[str]:
    """The comparison with the expectations file in plain lines (none without ``--expect``):
    matched, or each difference with the evidence the file gives or what the run observed."""
    expectations = document.get("expectations")
    if expectations is None:
        return []
    described = f" ({expectations['target']})" if expectations["target"] else ""
    head = f"expectations {expectations['file']}{described}: {comparison(expectations)}"
    return [head, *(f"  {difference_line(d)}" for d in expectations["differences"])]


def comparison(expectations: ExpectationsEntry) -> str:
    """The comparison's outcome in words: matched, or how many differences."""
    if expectations["matched"]:
        listed = expectations["listed"]
        return f"matched (every row as expected; {listed} listed as not passing)"
    found = len(expectations["differences"])
    return f"{found} difference{'s' if found != 1 else ''}"


def difference_line(difference: DifferenceEntry) -> str:
    """One difference in a line: what was expected, what the run gave, and the evidence."""
    if not difference["id"]:
        return (
            f"{difference['kind']}: the file describes {difference['expected']}, "
            f"the run tested {difference['actual']}"
        )
    said = f"expected {difference['expected']}"
    if difference["evidence"]:
        said += f" ({' '.join(difference['evidence'].split())})"
    observed = " ".join(difference["observed"].split())
    return f"{difference['kind']} {difference['id']}: {said}" + (
        f"; now {observed}" if observed else ""
    )


def sanity_line(document: ReportDocument) -> str:
    """The report's first line about the happy path: held, broke (where and why), or not run."""
    sanity = document["sanity"]
    if sanity["status"] == "passed":
        return "Happy path: passed (order, challenge email, reply, validation, certificate)."
    if sanity["status"] == "not run":
        return "Happy path: not run in this selection of tests."
    rows = ", ".join(sanity["rows"]) or "no row"
    return (
        f"Happy path: FAILED at {sanity['step']} ({rows}): {' '.join(sanity['observed'].split())}"
        f" — tests that need it are BLOCKED. [{sanity['test']}]"
    )


def target_label(document: ReportDocument) -> str:
    """``name version`` of the run's target."""
    target = document["target"]
    return f"{target['name']} {target['version']}".strip()


def meta_line(document: ReportDocument) -> str:
    """Suite version, run date, seed and strictness in one line."""
    strict = "strict" if document["options"].get("strict") else "not strict"
    pkilint = document["options"].get("pkilint")
    return (
        f"suite rfc8823 {document['suite']['version']} · run {document['created']} · "
        f"Hypothesis seed {document['seed'] or 'none'} · {strict}"
        + (f" · pkilint {pkilint}" if pkilint else "")
    )


def tests_line(document: ReportDocument) -> str:
    """How many catalog rows the run exercised, and its tests by outcome."""
    summary = document["summary"]
    tests = ", ".join(f"{n} {outcome}" for outcome, n in summary["tests"].items() if n)
    return (
        f"{summary['exercised']} of {summary['catalog']} catalog requirements exercised; "
        f"tests: {tests or 'none'}."
    )
