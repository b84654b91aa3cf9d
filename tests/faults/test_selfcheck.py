"""The self-check's judgement: caught, co-reported and noise, from report documents."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from rfc8823.faults import Fault, selfcheck
from rfc8823.faults.selfcheck import (
    FaultOutcome,
    SuiteRun,
    check_fault,
    judge,
    matrix_lines,
    pytest_command,
    report_json,
    selects,
    suite_paths,
    summary_line,
)
from rfc8823.findings import broken, passed
from rfc8823.report.document import RunInfo, build_report
from rfc8823.report.records import CaseRecord, Outcome, Target
from rfc8823.requirements import load_catalog

HEADERS = "suites/client/test_response_email.py::test_response_header_fields"
REPLY_TO = "suites/client/test_response_email.py::test_response_goes_to_the_reply_to_address"
LIST_ID = Fault(
    name="client-adds-list-id",
    role="client",
    breaks=("RESP-LIST-1",),
    summary="adds a List-Id field",
    suites=(HEADERS,),
)


def run_of(*cases: CaseRecord) -> SuiteRun:
    """The SuiteRun of the report the plugin would write for these cases."""
    document = build_report(cases, load_catalog(), Target("reference"), RunInfo("0"))
    return SuiteRun.from_report(document, seconds=1.0)


CLEAN = run_of(CaseRecord(HEADERS, Outcome.PASSED, ("RESP-LIST-1", "RESP-SUBJ-1")))


def test_failed_test_catches_and_co_reports_what_else_it_covers() -> None:
    """A failed catching test breaks its other covered IDs too: co-reported, not noise."""
    run = run_of(CaseRecord(HEADERS, Outcome.FAILED, ("RESP-LIST-1", "RESP-SUBJ-1")))
    outcome = judge(LIST_ID, run, CLEAN)
    assert outcome.caught == ("RESP-LIST-1",)
    assert outcome.co_reported == ("RESP-SUBJ-1",)
    assert outcome.noise == ()
    assert outcome.ok()
    assert not outcome.ok(strict=True)


def test_a_finding_on_another_id_is_noise() -> None:
    """A recorded finding that breaks an undeclared ID is noise even inside a catching test."""
    findings = (
        broken("RESP-LIST-1", "List-Id: <x>", "no List-* field"),
        broken("RESP-SUBJ-1", "Subject: x", "Re: ACME: token"),
    )
    case = CaseRecord(HEADERS, Outcome.FAILED, ("RESP-LIST-1", "RESP-SUBJ-1"), findings=findings)
    outcome = judge(LIST_ID, run_of(case), CLEAN)
    assert outcome.caught == ("RESP-LIST-1",)
    assert outcome.noise == ("RESP-SUBJ-1",)
    assert not outcome.ok()


def test_a_failure_of_a_test_that_did_not_catch_is_noise() -> None:
    """An ID broken by a test that does not report the fault's IDs is noise."""
    run = run_of(
        CaseRecord(HEADERS, Outcome.FAILED, ("RESP-LIST-1",)),
        CaseRecord(REPLY_TO, Outcome.FAILED, ("RESP-TO-1",)),
    )
    outcome = judge(LIST_ID, run, CLEAN)
    assert outcome.caught == ("RESP-LIST-1",)
    assert outcome.noise == ("RESP-TO-1",)


def test_uncaught_when_only_passes() -> None:
    """A run where the fault's IDs pass has not caught it."""
    case = CaseRecord(
        HEADERS, Outcome.PASSED, ("RESP-LIST-1",), findings=(passed("RESP-LIST-1", "no List-*"),)
    )
    outcome = judge(LIST_ID, run_of(case), CLEAN)
    assert outcome.caught == ()
    assert not outcome.ok()


def test_warn_finding_in_a_passing_test_catches() -> None:
    """A WARN finding on a declared ID catches the fault though the test passes."""
    fault = Fault(
        "client-omits-in-reply-to", "client", ("RESP-IRT-1",), "no In-Reply-To", (HEADERS,)
    )
    finding = broken("RESP-IRT-1", "no In-Reply-To", "the challenge's Message-ID")
    case = CaseRecord(HEADERS, Outcome.PASSED, ("RESP-IRT-1",), findings=(finding,))
    outcome = judge(fault, run_of(case), CLEAN)
    assert outcome.caught == ("RESP-IRT-1",)
    assert outcome.reported == {"RESP-IRT-1": "WARN"}
    assert outcome.ok()


def test_what_the_baseline_already_breaks_is_left_out() -> None:
    """IDs broken without the fault neither catch it nor count as collateral."""
    failing = CaseRecord(HEADERS, Outcome.FAILED, ("RESP-LIST-1", "RESP-SUBJ-1"))
    outcome = judge(LIST_ID, run_of(failing), run_of(failing))
    assert outcome.caught == ()
    assert outcome.collateral == ()
    assert outcome.baseline == ("RESP-LIST-1", "RESP-SUBJ-1")


def test_a_run_without_a_report_is_a_problem() -> None:
    """A hung or crashed run fails the check and says why."""
    outcome = judge(LIST_ID, SuiteRun.failed("pytest exit status 4: usage"), CLEAN)
    assert outcome.problem == "pytest exit status 4: usage"
    assert not outcome.ok()
    assert "no verdicts" in matrix_lines([outcome])[1]


def test_baseline_is_cut_to_the_faults_tests() -> None:
    """A baseline of many tests keeps only the verdicts of the tests a fault names."""
    baseline = run_of(
        CaseRecord(HEADERS, Outcome.FAILED, ("RESP-SUBJ-1",)),
        CaseRecord(REPLY_TO, Outcome.FAILED, ("RESP-TO-1",)),
    )
    assert set(baseline.within([HEADERS]).broken) == {"RESP-SUBJ-1"}
    assert baseline.within(["suites/client/test_response_email.py"]).broken == baseline.broken
    assert baseline.within(["suites/server"]).broken == {}


@pytest.mark.parametrize(
    ("path", "nodeid", "expected"),
    [
        ("suites/client", "suites/client/test_csr.py::test_x", True),
        ("suites/client/", "suites/client/test_csr.py::test_x", True),
        ("suites/client/test_csr.py", "suites/client/test_csr.py::test_x[a-b]", True),
        ("suites/client/test_csr.py::test_x", "suites/client/test_csr.py::test_x[a-b]", True),
        ("suites/client/test_csr.py::test_x", "suites/client/test_csr.py::test_xy", False),
        ("suites/client/test_csr.py::test_x[a]", "suites/client/test_csr.py::test_x[a]", True),
        ("suites/client/test_csr.py::test_x[a]", "suites/client/test_csr.py::test_x[ab]", False),
        ("suites/client/test", "suites/client/test_csr.py::test_x", False),
    ],
)
def test_selects(path: str, nodeid: str, expected: bool) -> None:
    """A pytest path selects the node IDs pytest would run for it, and no others."""
    assert selects(path, nodeid) is expected


def test_pytest_command_names_the_fault_and_the_report(tmp_path: Path) -> None:
    """The child run injects the fault and writes its report where the runner reads it."""
    command = pytest_command([HEADERS], ["client-adds-list-id"], tmp_path, "selfcheck-x", ["-x"])
    assert command[1:4] == ["-m", "pytest", HEADERS]
    assert command[command.index("--inject-fault") + 1] == "client-adds-list-id"
    assert command[command.index("--report-dir") + 1] == str(tmp_path)
    assert command[command.index("--report-name") + 1] == "selfcheck-x"
    assert "-x" in command


def test_suite_paths_are_unique_and_ordered() -> None:
    """The baseline runs each path once."""
    other = Fault("b", "client", ("RESP-TO-1",), "s", (REPLY_TO, HEADERS))
    assert suite_paths([LIST_ID, other]) == (HEADERS, REPLY_TO)


def test_matrix_summary_and_json() -> None:
    """The matrix shows each fault's row; the JSON says whether all passed."""
    run = run_of(CaseRecord(HEADERS, Outcome.FAILED, ("RESP-LIST-1", "RESP-SUBJ-1")))
    outcome: FaultOutcome = judge(LIST_ID, run, CLEAN)
    header, row = matrix_lines([outcome])
    assert header.split()[:3] == ["fault", "role", "caught"]
    assert row.startswith("client-adds-list-id")
    assert "RESP-LIST-1 FAIL" in row
    assert "RESP-SUBJ-1" in row
    assert summary_line([outcome], 2.0).startswith("selfcheck: 1 faults, 1 caught, 0 with noise")
    document = report_json([outcome], 2.0, strict=True)
    assert document["ok"] is False
    assert json.loads(json.dumps(document))["faults"][0]["co_reported"] == ["RESP-SUBJ-1"]


def test_a_fault_with_options_gets_a_baseline_with_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault that needs a target configuration is compared with that configuration, unfaulted."""
    calls: list[tuple[tuple[str, ...], tuple[str, ...]]] = []

    def recorded(
        paths: Sequence[str],
        faults: Sequence[str] = (),
        *,
        root: Path,
        name: str,
        options: Sequence[str] = (),
        timeout: float = 0.0,
    ) -> SuiteRun:
        calls.append((tuple(faults), tuple(options)))
        return CLEAN

    monkeypatch.setattr(selfcheck, "run_suites", recorded)
    configured = Fault("s", "server", ("CHAL-BODY-3",), "x", ("suites/server",), ("--opt", "v"))
    check_fault(configured, CLEAN, root=tmp_path)
    check_fault(LIST_ID, CLEAN, root=tmp_path)
    client_options = selfcheck.ROLE_OPTIONS["client"]
    assert calls == [
        ((), (*selfcheck.ROLE_OPTIONS["server"], "--opt", "v")),
        (("s",), (*selfcheck.ROLE_OPTIONS["server"], "--opt", "v")),
        (("client-adds-list-id",), client_options),
    ]
