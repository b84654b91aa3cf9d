"""The JSON report and its schema: built documents validate; broken ones are named precisely."""

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rfc8823.findings import Finding, Verdict
from rfc8823.report.document import RunInfo, build_report
from rfc8823.report.records import BlockRecord, CaseRecord, Outcome, Target
from rfc8823.report.schema import (
    ReportFileError,
    SchemaError,
    load_report,
    report_schema,
    validate,
    validate_report,
)
from rfc8823.requirements import load_catalog


def document() -> dict[str, object]:
    cases = [
        CaseRecord(
            "s::a",
            Outcome.PASSED,
            ("TOK-2",),
            Target("ref", "1"),
            0.5,
            findings=(Finding("TOK-2", Verdict.PASS, "fresh"),),
        ),
        CaseRecord(
            "s::b",
            Outcome.FAILED,
            ("RESP-SUBJ-1", "RESP-SUBJ-3"),
            Target("ref", "1"),
            0.1,
            "RESP-SUBJ-1 fail: o",
            (Finding("RESP-SUBJ-1", Verdict.FAIL, "o", "e", "d"),),
            rules=("RESP-SUBJ-1",),
        ),
        CaseRecord("s::c", Outcome.UNSUPPORTED, ("FLOW-2",), Target("ref", "1"), 0, "", (), "eai"),
        CaseRecord(
            "s::d",
            Outcome.BLOCKED,
            ("CHAL-AUTO-1",),
            Target("ref", "1"),
            blocked=BlockRecord(("challenge-email",), ("FLOW-3",), "the email", "none"),
        ),
    ]
    run = RunInfo("0.1.0", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "42", {"strict": False})
    return dict(build_report(cases, load_catalog(), Target("ref", "1"), run))


def test_built_document_validates_and_reads_as_expected() -> None:
    doc = document()
    assert validate_report(doc) == []
    assert doc["schema"] == "rfc8823-report/2"
    assert doc["created"] == "2026-01-02T03:04:05Z"
    summary = doc["summary"]
    assert isinstance(summary, dict)
    assert summary["verdicts"]["FAIL"] == 1
    assert summary["verdicts"]["BLOCKED"] == 2
    assert summary["tests"]["blocked"] == 1
    assert summary["failures"] == ["RESP-SUBJ-1"]
    assert doc["sanity"] == {
        "status": "not run",
        "test": "",
        "step": "",
        "rows": [],
        "observed": "",
    }
    assert validate_report(json.loads(json.dumps(doc))) == []


def broken(path: str, value: object) -> dict[str, object]:
    doc = copy.deepcopy(document())
    *parents, last = path.split("/")
    node: object = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]  # type: ignore[index]
    if value is KeyError:
        del node[last]  # type: ignore[attr-defined]
    else:
        node[last] = value  # type: ignore[index]
    return doc


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        ("schema", "rfc8823-report/1", "/schema: expected 'rfc8823-report/2'"),
        ("sanity/status", "maybe", "/sanity/status: 'maybe' is not one of"),
        ("seed", KeyError, "/seed: missing"),
        ("extra", 1, "/extra: unexpected property"),
        ("created", "yesterday", "/created: 'yesterday' does not match"),
        ("summary/verdicts/PASS", True, "/summary/verdicts/PASS: expected integer, got boolean"),
        ("summary/catalog", -1, "/summary/catalog: -1 is below 0"),
        ("requirements/0/verdict", "MAYBE", "/requirements/0/verdict: 'MAYBE' is not one of"),
        ("requirements/0/tests", [], "/requirements/0/tests: fewer than 1 items"),
        (
            "requirements/0/tests/0/duration",
            "1s",
            "/requirements/0/tests/0/duration: expected number",
        ),
        ("requirements/0/id", "tok-2", "/requirements/0/id: 'tok-2' does not match"),
        ("target/name", "", "/target/name: shorter than 1 characters"),
        ("not_exercised/0/untestable_reason", 3, "expected string or null, got integer"),
    ],
)
def test_broken_documents_are_named(path: str, value: object, problem: str) -> None:
    problems = validate_report(broken(path, value))
    assert any(problem in p for p in problems), problems


def test_non_object_is_rejected() -> None:
    assert validate_report([]) == ["/: expected object, got array"]


def test_unsupported_schema_keywords_are_refused() -> None:
    with pytest.raises(SchemaError, match="oneOf"):
        validate(1, {"oneOf": [{"type": "integer"}]})
    with pytest.raises(SchemaError, match="does not resolve"):
        validate(1, {"$ref": "#/$defs/missing"})


def test_packaged_schema_is_the_shipped_file() -> None:
    path = Path(__file__).parents[2] / "src" / "rfc8823" / "report" / "schema.json"
    assert report_schema() == json.loads(path.read_text(encoding="utf-8"))


def test_load_report(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(document()), encoding="utf-8")
    assert load_report(good)["target"] == {"name": "ref", "version": "1"}
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ReportFileError, match=r"bad\.json"):
        load_report(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"schema": "x"}), encoding="utf-8")
    with pytest.raises(ReportFileError) as caught:
        load_report(wrong)
    assert "/target: missing" in caught.value.problems
    with pytest.raises(ReportFileError):
        load_report(tmp_path / "absent.json")


def test_rule_a_failed_test_did_not_judge_is_blocked_by_the_broken_one() -> None:
    """A test that failed on another rule's finding leaves its other covered rules BLOCKED."""
    case = CaseRecord(
        "s::d",
        Outcome.FAILED,
        ("CHAL-AUTO-1", "CHAL-SUBJ-4"),
        Target("ref", "1"),
        0.1,
        "CHAL-AUTO-1 fail",
        (Finding("CHAL-AUTO-1", Verdict.FAIL, "no Auto-Submitted", "auto-generated"),),
        rules=("CHAL-AUTO-1",),
    )
    run = RunInfo("0.1.0", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    doc = build_report([case], load_catalog(), Target("ref", "1"), run)
    assert validate_report(dict(doc)) == []
    verdicts = {entry["id"]: entry["verdict"] for entry in doc["requirements"]}
    assert verdicts == {"CHAL-SUBJ-4": "BLOCKED", "CHAL-AUTO-1": "FAIL"}
    blocked = next(e for e in doc["requirements"] if e["id"] == "CHAL-SUBJ-4")["tests"][0]
    assert blocked["blocked_by"] == ["CHAL-AUTO-1"]
