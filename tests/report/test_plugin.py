"""The report plugin end to end: verdicts, exit status, report files, terminal summary."""

import pytest

from rfc8823.requirements import load_catalog

from .conftest import ReadJunit, RunSuite

pytest_plugins = ("pytester",)

HARD_LEVELS = {"MUST", "MUST NOT"}
SURE_SOURCES = {"Q", "I", "M-H", "RFC"}


def expected_break(level: str, source: str, on_break: str | None) -> str:
    """docs/decisions.md#decision-1, restated as the test's oracle."""
    if on_break is not None:
        return on_break
    return "FAIL" if level in HARD_LEVELS and source in SURE_SOURCES else "WARN"


def test_every_level_and_source_maps_to_its_verdict_when_broken(run_suite: RunSuite) -> None:
    seen: dict[tuple[str, str, str | None], str] = {}
    for row in load_catalog():
        seen.setdefault((row.level.value, row.source.value, row.on_break), row.id)
    tests = "\n".join(
        f"@covers({rid!r})\ndef test_{n}(conformance):\n"
        f"    conformance.check({rid!r}, False, 'broken {rid}', 'held')\n"
        for n, rid in enumerate(seen.values())
    )
    run = run_suite("from rfc8823.requirements import covers\n\n" + tests)
    assert run.result.ret == pytest.ExitCode.TESTS_FAILED
    verdicts = run.verdicts()
    for (level, source, on_break), rid in seen.items():
        assert verdicts[rid] == expected_break(level, source, on_break), (rid, level, source)
    assert verdicts["SEC-10"] == "FAIL"
    assert {verdicts[rid] for (level, _, _), rid in seen.items() if level == "SHOULD"} == {"WARN"}
    assert run.requirement("SEC-10")["tests"][0]["message"] == (
        "SEC-10 fail: observed broken SEC-10; expected held"
    )


SAMPLE = """
import pytest
from rfc8823.findings import broken, passed, risk
from rfc8823.report.plugin import HarnessError
from rfc8823.requirements import covers

@covers("TOK-2")
def test_pass(conformance):
    conformance.check("TOK-2", True, "a fresh token-part1", "fresh")

@covers("TOK-1", "TOK-3")
def test_records_info(conformance):
    conformance.record(passed("TOK-1", "token-part2 of 16 octets"))
    conformance.info("TOK-3", "token-part1 is 22 characters", "both readings agree")

@covers("RESP-SUBJ-1")
def test_risk(conformance):
    conformance.record(risk("RESP-SUBJ-1", "byte reading only", "string reading"))

@covers("FLOW-2")
def test_unsupported(conformance):
    conformance.unsupported("eai", "no internationalized addresses")
"""


def test_findings_info_and_unsupported_reach_the_report(run_suite: RunSuite) -> None:
    run = run_suite(SAMPLE)
    assert run.result.ret == pytest.ExitCode.OK
    assert run.verdicts() == {
        "TOK-1": "PASS",
        "TOK-2": "PASS",
        "TOK-3": "INFO",
        "FLOW-2": "UNSUPPORTED",
        "RESP-SUBJ-1": "WARN",
    }
    assert run.document()["sanity"]["status"] == "not run"
    info = run.requirement("TOK-3")
    assert info["verdict"] == "INFO"
    assert info["findings"] == [
        {
            "test": "suites/server/test_sample.py::test_records_info",
            "verdict": "info",
            "observed": "token-part1 is 22 characters",
            "expected": "",
            "detail": "both readings agree",
        }
    ]
    unsupported = run.requirement("FLOW-2")["tests"][0]
    assert unsupported["outcome"] == "unsupported"
    assert unsupported["unsupported"] == "eai"
    summary = run.document()["summary"]
    assert summary["tests"]["unsupported"] == 1
    assert summary["exercised"] == 5
    assert len(run.document()["not_exercised"]) == summary["catalog"] - 5


def test_strict_turns_a_warn_into_a_failing_exit_status(run_suite: RunSuite) -> None:
    assert run_suite(SAMPLE).result.ret == pytest.ExitCode.OK
    strict = run_suite(SAMPLE, "--strict")
    assert strict.result.ret == pytest.ExitCode.TESTS_FAILED
    assert strict.document()["options"]["strict"] is True
    strict.result.stdout.fnmatch_lines(
        ["warnings (failing the run under --strict):", "  WARN RESP-SUBJ-1 *byte reading only*"]
    )


def test_fail_finding_on_a_passing_test_fails_the_run(run_suite: RunSuite) -> None:
    run = run_suite(
        """
        from rfc8823.findings import Finding, Verdict, broken
        from rfc8823.requirements import covers

        @covers("TOK-2")
        def test_inspected(conformance):
            conformance.record(broken("TOK-2", "token reused", "fresh token"))

        @covers("TOK-4")
        def test_capped(conformance):
            conformance.record(Finding("TOK-4", Verdict.FAIL, "odd subject"))
        """
    )
    run.result.assert_outcomes(passed=2)
    assert run.result.ret == pytest.ExitCode.TESTS_FAILED
    verdicts = run.verdicts()
    assert verdicts["TOK-2"] == "FAIL"
    assert verdicts["TOK-4"] == "WARN", "a FAIL finding on a WARN-level row is capped"
    run.result.stdout.fnmatch_lines(
        [
            "*= rfc8823 conformance: unknown =*",
            "Happy path: not run in this selection of tests.",
            "requirements: 0 ERROR, 1 FAIL, 1 WARN, 0 BLOCKED, 0 PASS, 0 INFO, 0 UNSUPPORTED *",
            "MUST-level failures:",
            "  FAIL TOK-2 (RFC 8823 §3 step 4): observed token reused; expected fresh token",
            "reports: reports/unknown.json, reports/unknown.html, reports/unknown.md, "
            "reports/unknown.junit.xml",
        ]
    )


def test_harness_breakage_is_error(run_suite: RunSuite) -> None:
    run = run_suite(
        """
        import pytest
        from rfc8823.report.plugin import HarnessError
        from rfc8823.requirements import covers

        @pytest.fixture
        def broken_fixture():
            raise RuntimeError("world failed to start")

        @covers("TOK-1")
        def test_setup(broken_fixture):
            pass

        @covers("TOK-2")
        def test_harness():
            raise HarnessError("mailbox vanished")

        @covers("TOK-3")
        def test_plain_skip():
            pytest.skip("not wired yet")

        @covers("TOK-4")
        def test_unknown_finding(conformance):
            conformance.info("TOK-99", "x")

        @covers("KA-1")
        @pytest.mark.xfail(reason="known bug")
        def test_known_failure(conformance):
            conformance.check("KA-1", False, "swapped token parts", "token-part1 first")

        @covers("KA-2")
        def test_bare_assert():
            assert 1 == 2, "nobody said which rule"
        """
    )
    assert run.result.ret == pytest.ExitCode.TESTS_FAILED
    assert run.verdicts() == {
        "TOK-1": "ERROR",
        "TOK-2": "ERROR",
        "TOK-3": "ERROR",
        "TOK-4": "ERROR",
        "KA-1": "FAIL",
        "KA-2": "ERROR",
    }
    bare = run.requirement("KA-2")["tests"][0]
    assert bare["outcome"] == "error"
    assert bare["message"].startswith("unattributed failure")
    assert "world failed to start" in run.requirement("TOK-1")["tests"][0]["message"]
    skip = run.requirement("TOK-3")["tests"][0]
    assert skip["outcome"] == "skipped"
    assert skip["message"] == "skipped without conformance.unsupported(): not wired yet"
    assert "TOK-99" in run.requirement("TOK-4")["tests"][0]["message"]
    assert run.requirement("KA-1")["tests"][0]["outcome"] == "xfailed"


def test_aggregation_takes_the_strongest_verdict(run_suite: RunSuite) -> None:
    run = run_suite(
        """
        from rfc8823.findings import passed, risk
        from rfc8823.requirements import covers

        @covers("TOK-2")
        def test_a(conformance):
            conformance.record(passed("TOK-2", "fresh"))

        @covers("TOK-2")
        def test_b(conformance):
            conformance.record(risk("TOK-2", "short"))

        @covers("TOK-2")
        def test_c(conformance):
            conformance.check("TOK-2", False, "reused", "fresh")

        @covers("TOK-3")
        def test_d(conformance):
            conformance.unsupported("TOK-3", "optional")

        @covers("TOK-3")
        def test_e(conformance):
            conformance.info("TOK-3", "22 characters")
        """
    )
    entry = run.requirement("TOK-2")
    assert [t["verdict"] for t in entry["tests"]] == ["PASS", "WARN", "FAIL"]
    assert entry["verdict"] == "FAIL"
    assert run.verdicts()["TOK-3"] == "INFO"


def test_all_four_files_and_junit_properties(run_suite: RunSuite, read_junit: ReadJunit) -> None:
    run = run_suite(SAMPLE)
    assert sorted(p.name for p in run.reports.iterdir()) == [
        "unknown.html",
        "unknown.json",
        "unknown.junit.xml",
        "unknown.md",
    ]
    assert "<!DOCTYPE html>" in (run.reports / "unknown.html").read_text(encoding="utf-8")
    markdown = (run.reports / "unknown.md").read_text(encoding="utf-8")
    assert "| WARN | RESP-SUBJ-1 |" in markdown
    root = read_junit(run.reports / "unknown.junit.xml")
    props = {
        case.get("name"): [(p.get("name"), p.get("value")) for p in case.iter("property")]
        for case in root.iter("testcase")
    }
    assert props["test_risk"] == [("requirement", "RESP-SUBJ-1"), ("target", "unknown")]
    assert props["test_records_info"] == [
        ("requirement", "TOK-1"),
        ("requirement", "TOK-3"),
        ("target", "unknown"),
    ]


def test_targets_named_by_tests_get_their_own_reports(
    run_suite: RunSuite, read_junit: ReadJunit
) -> None:
    run = run_suite(
        """
        import pytest
        from rfc8823.report.records import Target
        from rfc8823.requirements import covers

        @pytest.fixture(params=[Target("Alpha CA", "1.0"), Target("beta", "2")])
        def target(request, conformance):
            conformance.target = request.param
            return request.param

        @covers("TOK-2")
        def test_token(target, conformance):
            conformance.check("TOK-2", target.name == "beta", target.name, "beta")
        """,
        "--report-name",
        "nightly",
    )
    assert run.result.ret == pytest.ExitCode.TESTS_FAILED
    assert run.document("nightly-alpha-ca")["target"] == {"name": "Alpha CA", "version": "1.0"}
    assert run.verdicts("nightly-alpha-ca") == {"TOK-2": "FAIL"}
    assert run.verdicts("nightly-beta") == {"TOK-2": "PASS"}
    alpha = read_junit(run.reports / "nightly-alpha-ca.junit.xml")
    suite = next(alpha.iter("testsuite"))
    assert [c.get("name") for c in suite.iter("testcase")] == ["test_token[target0]"]
    assert (suite.get("tests"), suite.get("failures")) == ("1", "1")


def test_session_default_target(run_suite: RunSuite, pytester: pytest.Pytester) -> None:
    (pytester.path / "suites" / "conftest.py").parent.mkdir(parents=True, exist_ok=True)
    (pytester.path / "suites" / "conftest.py").write_text(
        "import pytest\n"
        "from rfc8823.report.plugin import set_default_target\n"
        "from rfc8823.report.records import Target\n\n"
        "@pytest.fixture(scope='session', autouse=True)\n"
        "def reference(request):\n"
        "    set_default_target(request.config, Target('reference-client', '0.1.0'))\n",
        encoding="utf-8",
    )
    run = run_suite(
        """
        from rfc8823.findings import passed
        from rfc8823.report.records import Target
        from rfc8823.requirements import covers

        @covers("TOK-2")
        def test_token(conformance):
            assert conformance.target == Target("reference-client", "0.1.0")
            conformance.record(passed("TOK-2", "fresh"))
            assert [f.observed for f in conformance.findings] == ["fresh"]
        """
    )
    assert run.result.ret == pytest.ExitCode.OK
    assert run.document("reference-client")["target"]["version"] == "0.1.0"


def test_target_options_name_the_report(run_suite: RunSuite) -> None:
    run = run_suite(SAMPLE, "--target-name", "Reference CA", "--target-version", "0.1.0")
    assert run.document("reference-ca")["target"] == {"name": "Reference CA", "version": "0.1.0"}


def test_empty_selection_fails_with_a_message(run_suite: RunSuite) -> None:
    run = run_suite(SAMPLE, "-k", "no_such_test")
    assert run.result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    run.result.stdout.fnmatch_lines(
        ["*rfc8823: no test selected (4 deselected); a conformance run must run at least one test*"]
    )
    assert not run.reports.exists()


def test_plain_tests_write_no_reports(pytester: pytest.Pytester, quiet: tuple[str, ...]) -> None:
    pytester.makepyfile(test_plain="def test_ok():\n    pass\n")
    result = pytester.runpytest(*quiet)
    assert result.ret == pytest.ExitCode.OK
    assert not (pytester.path / "reports").exists()
    result.stdout.no_fnmatch_line("*rfc8823 conformance*")


def test_unit_tests_citing_requirements_are_not_a_conformance_run(
    pytester: pytest.Pytester, quiet: tuple[str, ...]
) -> None:
    pytester.makepyfile(
        test_unit="""
        import pytest
        from rfc8823.requirements import covers

        @covers("TOK-2")
        def test_rule():
            pass

        @covers("TOK-3")
        def test_needs_a_tool():
            pytest.skip("tool missing")
        """
    )
    result = pytester.runpytest(*quiet)
    assert result.ret == pytest.ExitCode.OK
    assert not (pytester.path / "reports").exists()
    result.stdout.no_fnmatch_line("*rfc8823 conformance*")
    named = pytester.runpytest(*quiet, "--target-name", "unit")
    assert named.ret == pytest.ExitCode.TESTS_FAILED, "a plain skip is an ERROR in a report"
    assert (pytester.path / "reports" / "unit.json").exists()


def test_report_dir_forces_reports_for_plain_tests(
    pytester: pytest.Pytester, quiet: tuple[str, ...]
) -> None:
    pytester.makepyfile(test_plain="def test_ok():\n    pass\n")
    result = pytester.runpytest(*quiet, "--report-dir", "out")
    assert result.ret == pytest.ExitCode.OK
    assert sorted(p.name for p in (pytester.path / "out").iterdir()) == [
        "unknown.html",
        "unknown.json",
        "unknown.junit.xml",
        "unknown.md",
    ]


def test_no_report_keeps_verdicts_and_exit_status(run_suite: RunSuite) -> None:
    run = run_suite(SAMPLE, "--no-report", "--strict")
    assert run.result.ret == pytest.ExitCode.TESTS_FAILED
    assert not run.reports.exists()
    run.result.stdout.fnmatch_lines(
        ["requirements: 0 ERROR, 0 FAIL, 1 WARN, 0 BLOCKED, 2 PASS, 1 INFO, *"]
    )


def test_user_junitxml_is_enriched_in_place(
    run_suite: RunSuite, pytester: pytest.Pytester, read_junit: ReadJunit
) -> None:
    run = run_suite(SAMPLE, "--junitxml", "mine.xml")
    assert not (run.reports / "unknown.junit.xml").exists()
    names = [p.get("value") for p in read_junit(pytester.path / "mine.xml").iter("property")]
    assert "RESP-SUBJ-1" in names


def test_works_under_xdist(run_suite: RunSuite) -> None:
    run = run_suite(SAMPLE, "-n", "2", "--strict")
    assert run.result.ret == pytest.ExitCode.TESTS_FAILED
    verdicts = run.verdicts()
    assert (verdicts["TOK-3"], verdicts["RESP-SUBJ-1"]) == ("INFO", "WARN")
    assert run.requirement("TOK-3")["findings"][0]["observed"] == "token-part1 is 22 characters"


BLOCKING = """
import pytest
from rfc8823.findings import passed
from rfc8823.report.outcomes import Blocked, Prerequisite
from rfc8823.requirements import covers

ACCOUNT = Prerequisite("account", "an account", "A-ACCT-1")
MAIL = Prerequisite("challenge-email", "the challenge email", "FLOW-3", (ACCOUNT,))

@pytest.fixture
def walk():
    return {"account": True, "challenge-email": STEP_HELD}

@covers("A-ACCT-1", "FLOW-3")
def test_happy(conformance, walk):
    conformance.step(ACCOUNT, True, observed="account made")
    conformance.record(passed("A-ACCT-1", "account made"))
    conformance.step(MAIL, walk["challenge-email"], observed="no email in 10 s")
    conformance.check("FLOW-3", walk["challenge-email"], "no email in 10 s", "the email")

@covers("CHAL-AUTO-1", "CHAL-HDR-2")
def test_needs_the_email(conformance):
    conformance.record(passed("A-ERR-1", "a problem document on the way"))
    raise Blocked(MAIL, "no email to alice@example.test in 10 s")
"""


def test_a_broken_step_blocks_the_tests_that_need_it(
    run_suite: RunSuite, read_junit: ReadJunit
) -> None:
    run = run_suite(BLOCKING.replace("STEP_HELD", "False"))
    run.result.assert_outcomes(failed=1, skipped=1)
    assert run.result.ret == pytest.ExitCode.TESTS_FAILED
    verdicts = run.verdicts()
    assert verdicts == {
        "A-ACCT-1": "PASS",
        "FLOW-3": "WARN",
        "CHAL-AUTO-1": "BLOCKED",
        "CHAL-HDR-2": "BLOCKED",
        "A-ERR-1": "PASS",
    }
    blocked = run.requirement("CHAL-AUTO-1")["tests"][0]
    assert blocked["outcome"] == "blocked"
    assert blocked["note"] == "blocked by FLOW-3 (suites/server/test_sample.py::test_happy)"
    assert blocked["blocked_by"] == ["FLOW-3"]
    document = run.document()
    assert document["sanity"]["status"] == "failed"
    assert document["sanity"]["rows"] == ["FLOW-3"]
    assert document["summary"]["tests"]["blocked"] == 1
    run.result.stdout.fnmatch_lines(
        [
            "Happy path: FAILED at the challenge email (FLOW-3): no email in 10 s*",
            "requirements: 0 ERROR, 0 FAIL, 1 WARN, 2 BLOCKED, 2 PASS, 0 INFO, 0 UNSUPPORTED *",
        ]
    )
    markdown = (run.reports / "unknown.md").read_text(encoding="utf-8")
    assert "**Happy path: FAILED at the challenge email (FLOW-3)" in markdown
    assert "| BLOCKED | CHAL-AUTO-1 |" in markdown
    assert "v-BLOCKED" in (run.reports / "unknown.html").read_text(encoding="utf-8")
    skipped = {
        case.get("name"): case.find("skipped")
        for case in read_junit(run.reports / "unknown.junit.xml").iter("testcase")
    }
    mark = skipped["test_needs_the_email"]
    assert mark is not None
    assert mark.get("message") == (
        "BLOCKED: blocked by FLOW-3 (suites/server/test_sample.py::test_happy)"
    )


def test_a_block_the_step_owner_does_not_explain_is_error(
    run_suite: RunSuite, read_junit: ReadJunit
) -> None:
    run = run_suite(BLOCKING.replace("STEP_HELD", "True"))
    assert run.verdicts()["CHAL-AUTO-1"] == "ERROR"
    assert "unexplained" in run.requirement("CHAL-AUTO-1")["tests"][0]["note"]
    assert run.document()["sanity"]["status"] == "passed"
    errors = [
        case.get("name")
        for case in read_junit(run.reports / "unknown.junit.xml").iter("testcase")
        if case.find("error") is not None
    ]
    assert errors == ["test_needs_the_email"]
