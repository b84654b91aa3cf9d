"""Pytest plugin: turn test outcomes and findings into per-requirement verdicts and reports.

A suite test names its requirements with ``@covers(...)`` and then either just asserts (its outcome
is the verdict) or records inspector findings through the ``conformance`` fixture. At the end of
the run the plugin writes ``<name>.json``/``.html``/``.md``/``.junit.xml`` per target into
``--report-dir`` (default ``reports/``), prints a summary, and makes the exit status non-zero on
any FAIL or ERROR (and on WARN under pytest's ``--strict``), as docs/verdicts.md says; with
``--expect FILE``, on any difference from an expectations file instead
(``rfc8823.report.expectations``).

It does so for a conformance run: a test about a requirement ran from a ``suites/`` directory,
or ``--report-dir``, ``--report-name`` or ``--target-name`` asked for reports. The project's own
unit tests, which also cite requirement IDs, leave ``reports/`` and their exit status alone.

Everything a test records travels on its pytest reports, so the plugin works under xdist.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NoReturn

import pytest

from rfc8823 import __version__
from rfc8823.certificate_lint import pkilint_version
from rfc8823.findings import Finding, Verdict, broken, passed, risk
from rfc8823.findings import info as info_finding
from rfc8823.report.document import ReportDocument, RunInfo, build_report
from rfc8823.report.expectations import (
    Expectations,
    ExpectationsError,
    apply_expectations,
    load_expectations,
)
from rfc8823.report.junit import BlockedNote, split_junit
from rfc8823.report.outcomes import Blocked, HarnessError, Prerequisite, RuleBroken
from rfc8823.report.output import ReportFiles, report_files, report_names, write_report
from rfc8823.report.records import (
    BlockRecord,
    CaseRecord,
    Outcome,
    Payload,
    Phase,
    StepRecord,
    Target,
    case_outcome,
    trim_message,
)
from rfc8823.report.summary import run_failed, summary_lines, summary_title
from rfc8823.requirements import UnknownRequirementError, covered_ids, load_catalog

__all__ = ["Conformance", "HarnessError", "Severity", "conformance", "set_default_target"]

_ATTRIBUTE = "rfc8823"
_DEFAULT_DIR = "reports"
_CONFORMANCE_DIRS = frozenset({"suites"})
NEEDS_MARK = "needs"

Severity = Literal["catalog", "risk"]
"""How a broken check counts: as the catalog row says (docs/decisions.md#decision-1), or as a WARN
risk."""

Rules = str | tuple[str, ...]
"""The requirement ID, or IDs, that one check judges."""


@dataclass(slots=True)
class _CaseState:
    findings: list[Finding] = field(default_factory=list)
    target: Target | None = None
    unsupported: str = ""
    steps: dict[str, StepRecord] = field(default_factory=dict)


_CASE = pytest.StashKey[_CaseState]()
_DEFAULT_TARGET = pytest.StashKey[Target]()


def _state(item: pytest.Item) -> _CaseState:
    return item.stash.setdefault(_CASE, _CaseState())


def set_default_target(config: pytest.Config, target: Target) -> None:
    """Make ``target`` the one every test of the session ran against, unless a test says otherwise.

    For session-scoped target fixtures; ``--target-name``/``--target-version`` set the start value.
    """
    config.stash[_DEFAULT_TARGET] = target


class Conformance:
    """A test's handle on the report: its target, findings, INFO lines and UNSUPPORTED."""

    def __init__(self, item: pytest.Item) -> None:
        self._item = item

    @property
    def target(self) -> Target:
        """The implementation this test runs against (the session default unless set)."""
        return _state(self._item).target or self._item.config.stash[_DEFAULT_TARGET]

    @target.setter
    def target(self, target: Target) -> None:
        _state(self._item).target = target

    @property
    def findings(self) -> tuple[Finding, ...]:
        """The findings recorded so far."""
        return tuple(_state(self._item).findings)

    def record(self, *findings: Finding) -> None:
        """Attach inspector findings; FAIL and WARN count even when the test passes."""
        try:
            load_catalog().check_ids(f.requirement for f in findings)
        except UnknownRequirementError as exc:
            raise HarnessError(str(exc)) from exc
        _state(self._item).findings.extend(findings)

    def info(self, requirement: str, observed: str, detail: str = "") -> None:
        """Record behaviour without judging it (an INFO line in the report)."""
        try:
            finding = info_finding(requirement, observed, detail)
        except UnknownRequirementError as exc:
            raise HarnessError(str(exc)) from exc
        _state(self._item).findings.append(finding)

    def check(
        self,
        rules: Rules,
        holds: bool,
        observed: str,
        expected: str,
        *,
        severity: Severity = "catalog",
    ) -> None:
        """Record a finding on each rule checked, then stop the test unless it holds.

        The test then fails *for* these rules (``RuleBroken``): the report judges them by this
        finding and leaves the test's other rows unjudged, never broken (docs/verdicts.md).
        """
        ids = (rules,) if isinstance(rules, str) else rules
        make = passed if holds else (risk if severity == "risk" else broken)
        findings = [make(rid, observed, expected) for rid in ids]
        self.record(*findings)
        if not holds:
            raise RuleBroken(findings)

    def fail(
        self, rules: Rules, observed: str, expected: str, *, severity: Severity = "catalog"
    ) -> NoReturn:
        """Record ``rules`` broken and stop the test for them (``check`` of a check that failed)."""
        self.check(rules, False, observed, expected, severity=severity)
        raise AssertionError("unreachable: check() raises for a broken rule")

    def judge(
        self,
        rules: Rules,
        holds: bool,
        observed: str,
        expected: str,
        *,
        severity: Severity = "catalog",
    ) -> None:
        """Record the check on each of ``rules``; only a FAIL-level break stops the test.

        A WARN-level break (a SHOULD, a derived row, an interoperability ``risk``) is recorded
        and the test goes on gathering evidence, as docs/decisions.md#decision-1 and
        docs/verdicts.md say.
        """
        ids = (rules,) if isinstance(rules, str) else rules
        make = passed if holds else (risk if severity == "risk" else broken)
        findings = [make(rid, observed, expected) for rid in ids]
        self.record(*findings)
        failing = [f for f in findings if f.verdict is Verdict.FAIL]
        if failing:
            raise RuleBroken(failing)

    def conclude(self, *findings: Finding) -> None:
        """Record an inspector's findings, then stop the test for the FAIL-level ones.

        WARN-level breaks are recorded and the test goes on (docs/decisions.md#decision-1).
        """
        self.record(*findings)
        failing = [f for f in findings if f.verdict is Verdict.FAIL]
        if failing:
            raise RuleBroken(failing)

    def block(self, prerequisite: Prerequisite, observed: str) -> NoReturn:
        """Stop the test: ``prerequisite`` did not happen, so its rows are BLOCKED
        (docs/decisions.md#decision-9)."""
        raise Blocked(prerequisite, observed)

    def step(
        self,
        prerequisite: Prerequisite,
        held: bool | None,
        *,
        rows: tuple[str, ...] | None = None,
        observed: str = "",
    ) -> None:
        """Say what this test, the owner of ``prerequisite``, found of that step: held (True),
        broke on ``rows`` (False; by default the prerequisite's own row, ``()`` when no row
        says what broke), or never reached (None)."""
        if rows is None:
            rows = (prerequisite.requirement,) if held is False else ()
        _state(self._item).steps[prerequisite.name] = StepRecord(
            prerequisite.name,
            prerequisite.description,
            held,
            rows,
            observed,
            prerequisite.sanity,
        )

    def unsupported(self, requirement_or_capability: str, reason: str) -> NoReturn:
        """Declare that the target does not implement an optional feature, and skip the test.

        The only legitimate skip of a conformance test: its requirements become UNSUPPORTED
        (any other skip is an ERROR, since the check did not run).
        """
        _state(self._item).unsupported = requirement_or_capability
        pytest.skip(f"unsupported: {requirement_or_capability}: {reason}")


@pytest.fixture
def conformance(request: pytest.FixtureRequest) -> Conformance:
    """The current test's report handle (see ``Conformance``)."""
    return Conformance(request.node)


def blocked_record(error: Blocked) -> BlockRecord:
    """What the report keeps of a ``Blocked`` skip."""
    chain = error.prerequisite.chain()
    return BlockRecord(
        tuple(step.name for step in chain),
        tuple(step.requirement for step in chain),
        error.prerequisite.description,
        error.observed,
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    """Report options; strictness is pytest's own ``--strict`` (``strict`` ini option)."""
    group = parser.getgroup("rfc8823", "rfc8823 conformance reports")
    group.addoption(
        "--report-dir",
        default=None,
        help=f"directory for the JSON/HTML/Markdown/JUnit reports (default: {_DEFAULT_DIR}/); "
        "giving it writes reports even when no test covers a requirement",
    )
    group.addoption(
        "--report-name",
        default=None,
        help="file name stem of the reports (default: the target's name)",
    )
    group.addoption("--no-report", action="store_true", help="write no report files")
    group.addoption(
        "--expect",
        type=Path,
        default=None,
        metavar="FILE.toml",
        help="compare the verdicts with an expectations file (fixtures/expectations/): the run "
        "fails on any difference — an unexpected FAIL, an unexpected PASS, any ERROR, any other "
        "verdict change — and no longer on the rows the file lists",
    )
    group.addoption("--target-name", default=None, help="name of the implementation under test")
    group.addoption("--target-version", default="", help="version of the implementation under test")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Set the default target; on the controlling process, start collecting verdicts."""
    config.addinivalue_line(
        "markers",
        f"{NEEDS_MARK}(*steps): the prerequisite steps a conformance test needs from the target "
        "(names of the suite's Prerequisite objects); the test is BLOCKED once one of them broke",
    )
    name = config.getoption("target_name") or "unknown"
    config.stash[_DEFAULT_TARGET] = Target(name, config.getoption("target_version") or "")
    if hasattr(config, "workerinput") or config.getoption("collectonly"):
        return
    expect = config.getoption("expect")
    try:
        expectations = None if expect is None else load_expectations(expect, load_catalog())
    except ExpectationsError as error:
        raise pytest.UsageError(f"--expect: {error}") from error
    config.pluginmanager.register(_Session(config, expectations), "rfc8823-report-session")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Carry the test's covers, target, findings and failure message on each phase report."""
    report = yield
    state = item.stash.get(_CASE, None) or _CaseState()
    payload = Payload(
        covers=covered_ids(item),
        target=state.target or item.config.stash[_DEFAULT_TARGET],
        findings=tuple(state.findings),
        unsupported=state.unsupported,
        steps=tuple(state.steps.values()),
    )
    error = call.excinfo.value if call.excinfo is not None else None
    setattr(
        report,
        _ATTRIBUTE,
        {
            "payload": payload.to_builtin(),
            "message": _message(call),
            "harness_error": isinstance(error, HarnessError),
            "rules": list(error.rules) if isinstance(error, RuleBroken) else [],
            "blocked": blocked_record(error).to_builtin() if isinstance(error, Blocked) else None,
        },
    )
    if call.when == "teardown":
        ids = dict.fromkeys([*payload.covers, *(f.requirement for f in payload.findings)])
        report.user_properties.extend(("requirement", rid) for rid in ids)
        if ids or payload.unsupported:
            report.user_properties.append(("target", payload.target.label))
    return report


def _message(call: pytest.CallInfo[None]) -> str:
    excinfo = call.excinfo
    if excinfo is None:
        return ""
    value = excinfo.value
    if isinstance(value, AssertionError):
        return trim_message(str(value) or "assertion failed")
    if isinstance(value, pytest.skip.Exception | pytest.fail.Exception | pytest.xfail.Exception):
        return trim_message(value.msg or "")
    return trim_message(excinfo.exconly())


class _Session:
    """Verdict collection on the process that writes reports (never an xdist worker)."""

    def __init__(self, config: pytest.Config, expectations: Expectations | None) -> None:
        self.config = config
        self.expectations = expectations
        self.strict = _strict(config)
        self.report_dir_given = config.getoption("report_dir") is not None
        self.explicit = self.report_dir_given or bool(
            config.getoption("report_name") or config.getoption("target_name")
        )
        self.report_dir = Path(config.invocation_params.dir) / (
            config.getoption("report_dir") or _DEFAULT_DIR
        )
        self.phases: dict[str, list[Phase]] = {}
        self.payloads: dict[str, Payload] = {}
        self.cases: list[CaseRecord] = []
        self.documents: list[tuple[ReportDocument, ReportFiles | None]] = []
        self.deselected = 0
        self.junit_tmp: Path | None = None
        if _wants_default_junit(config, self.explicit):
            self.junit_tmp = Path(tempfile.mkdtemp(prefix="rfc8823-junit-"))
            config.option.xmlpath = str(self.junit_tmp / "session.junit.xml")

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected += len(items)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, _ATTRIBUTE, None)
        if not isinstance(data, dict):
            return
        payload = Payload.from_builtin(data.get("payload"))
        if payload is not None:
            self.payloads[report.nodeid] = payload
        message = data.get("message")
        if hasattr(report, "wasxfail") and not message:
            message = report.wasxfail
        rules = data.get("rules")
        named = tuple(r for r in rules if isinstance(r, str)) if isinstance(rules, list) else ()
        self.phases.setdefault(report.nodeid, []).append(
            Phase(
                when=report.when,
                outcome=report.outcome,
                message=message if isinstance(message, str) else "",
                xfail=hasattr(report, "wasxfail"),
                harness_error=data.get("harness_error") is True,
                duration=report.duration,
                rules=named,
                blocked=BlockRecord.from_builtin(data.get("blocked")),
            )
        )
        if report.when == "teardown":
            self._finish_case(report.nodeid)

    def _finish_case(self, nodeid: str) -> None:
        phases = self.phases.pop(nodeid)
        payload = self.payloads.pop(nodeid, Payload(target=self.config.stash[_DEFAULT_TARGET]))
        end = case_outcome(phases, unsupported=bool(payload.unsupported))
        self.cases.append(
            CaseRecord(
                nodeid=nodeid,
                outcome=end.outcome,
                covers=payload.covers,
                target=payload.target,
                duration=sum(p.duration for p in phases),
                message=trim_message(end.message),
                findings=payload.findings,
                unsupported=payload.unsupported,
                rules=end.rules,
                blocked=end.blocked,
                steps=payload.steps,
            )
        )

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Generator[None, None, None]:
        """After every other plugin (pytest's JUnit writer too): verdicts, files, exit status."""
        yield
        for nodeid in list(self.phases):
            self._finish_case(nodeid)
        conformance = [
            case
            for case in self.cases
            if case.is_conformance and (self.explicit or _in_suites(case.nodeid))
        ]
        cases = conformance or (self.cases if self.report_dir_given else [])
        if not cases:
            return
        targets = list(dict.fromkeys(case.target for case in cases))
        write = not self.config.getoption("no_report")
        names = report_names(targets, self.config.getoption("report_name"))
        run = self._run_info()
        catalog = load_catalog()
        for target, name in zip(targets, names, strict=True):
            document = build_report([c for c in cases if c.target == target], catalog, target, run)
            if self.expectations is not None:
                document = apply_expectations(document, self.expectations)
            files = report_files(self.report_dir, name) if write else None
            if files is not None:
                write_report(document, files)
            self.documents.append((document, files))
        if write and self.junit_tmp is not None:
            self._write_junit(targets)
        failed = any(run_failed(document, self.strict) for document, _ in self.documents)
        if self.expectations is not None and session.exitstatus == pytest.ExitCode.TESTS_FAILED:
            # Under --expect the comparison decides; a failing test outside the reports still
            # fails the run (its failure is in no row the file could list).
            reported = {case.nodeid for case in cases}
            stray = any(
                case.outcome in (Outcome.FAILED, Outcome.ERROR) and case.nodeid not in reported
                for case in self.cases
            )
            if not failed and not stray:
                session.exitstatus = pytest.ExitCode.OK
        if session.exitstatus == pytest.ExitCode.OK and failed:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _write_junit(self, targets: list[Target]) -> None:
        assert self.junit_tmp is not None
        source = self.junit_tmp / "session.junit.xml"
        if not source.exists():
            return
        destinations = {
            target.label: files.junit
            for target, (_, files) in zip(targets, self.documents, strict=True)
            if files is not None
        }
        split_junit(source, destinations, _blocked_notes(d for d, _ in self.documents))

    def _run_info(self) -> RunInfo:
        """Seed and the options that shape verdicts; not the raw command line, which may hold
        credentials (a client command template, an account key)."""
        config = self.config
        seed = config.getoption("hypothesis_seed", None)
        return RunInfo(
            suite_version=__version__,
            seed=None if seed is None else str(seed),
            options={
                "strict": self.strict,
                "paths": [_from_root(config, str(arg)) for arg in config.args],
                "keyword": config.getoption("keyword") or "",
                "markexpr": config.getoption("markexpr") or "",
                "target_name": config.getoption("target_name"),
                "target_version": config.getoption("target_version") or "",
                "report_name": config.getoption("report_name"),
                "hypothesis_profile": config.getoption("hypothesis_profile", None),
                "pkilint": pkilint_version(),
            },
        )

    def pytest_terminal_summary(
        self, terminalreporter: pytest.TerminalReporter, exitstatus: int
    ) -> None:
        """Counts by verdict, FAIL rows, where reports went; or why an empty run failed."""
        if not self.cases and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            terminalreporter.write_sep(
                "=",
                f"rfc8823: no test selected ({self.deselected} deselected); "
                "a conformance run must run at least one test",
                red=True,
            )
            return
        for document, files in self.documents:
            failed = run_failed(document, self.strict)
            terminalreporter.write_sep("=", summary_title(document), red=failed, green=not failed)
            written = [_shown(p) for p in files.all if p.exists()] if files is not None else []
            for line in summary_lines(document, written, self.strict):
                terminalreporter.write_line(line)

    def pytest_unconfigure(self) -> None:
        if self.junit_tmp is not None:
            shutil.rmtree(self.junit_tmp, ignore_errors=True)


def _blocked_notes(documents: Iterable[ReportDocument]) -> dict[str, BlockedNote]:
    """What each blocked test came to, for the JUnit files (by node ID)."""
    notes: dict[str, BlockedNote] = {}
    for document in documents:
        for entry in document["requirements"]:
            for test in entry["tests"]:
                if test["outcome"] == "blocked" and test["note"]:
                    error = test["verdict"] == "ERROR"
                    if error or test["nodeid"] not in notes:
                        notes[test["nodeid"]] = BlockedNote(error, test["note"])
    return notes


def _shown(path: Path) -> Path:
    """``path`` relative to the working directory when it lies below it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _strict(config: pytest.Config) -> bool:
    """pytest's ``--strict`` (the ``strict`` ini option since pytest 9, a plain flag before)."""
    try:
        return bool(config.getini("strict"))
    except ValueError:
        return bool(config.getoption("strict", False))


def _in_suites(nodeid: str) -> bool:
    """Whether a test lives in a conformance suite directory."""
    return bool(_CONFORMANCE_DIRS & set(Path(nodeid.split("::")[0]).parts))


def _wants_default_junit(config: pytest.Config, explicit: bool) -> bool:
    """Whether to default ``--junitxml``: reports asked for, or the run includes a ``suites`` dir.

    pytest opens its JUnit writer before collection, so this is decided from the command line;
    the file goes to a temporary place and is copied per target next to the other reports.
    """
    if config.option.xmlpath or config.getoption("no_report"):
        return False
    return explicit or any(_in_suites(_from_root(config, arg)) for arg in config.args)


def _from_root(config: pytest.Config, arg: str) -> str:
    """A command-line test path relative to the rootdir (as node IDs are), when below it."""
    path = Path(arg.split("::")[0])
    if path.is_absolute() and path.is_relative_to(config.rootpath):
        return str(path.relative_to(config.rootpath))
    return str(path)
