"""``rfc8823 coverage``: catalog rows against the collected suites, by role."""

import json

import pytest

from rfc8823.cli import main
from rfc8823.report.coverage import CollectedTest, coverage, missing, requirement_roles, role_of
from rfc8823.requirements import load_catalog

pytest_plugins = ("pytester",)

SERVER_TESTS = """
from rfc8823.requirements import covers

@covers("TOK-2", "TOK-3")
def test_tokens():
    pass

def test_helper_without_covers():
    pass
"""
CLIENT_TESTS = """
import pytest

@pytest.mark.covers("RESP-SUBJ-1")
def test_subject():
    pass
"""
OTHER_TESTS = """
import pytest

@pytest.mark.covers("TOK-2")
def test_o():
    pass
"""
INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


@pytest.fixture
def suites(pytester: pytest.Pytester) -> pytest.Pytester:
    for path, source in {
        "suites/server/test_cov_server.py": SERVER_TESTS,
        "suites/client/test_cov_client.py": CLIENT_TESTS,
        "suites/test_cov_other.py": OTHER_TESTS,
    }.items():
        (pytester.path / path).parent.mkdir(parents=True, exist_ok=True)
        (pytester.path / path).write_text(source, encoding="utf-8")
    pytester.makeini(INI)
    pytester.chdir()
    return pytester


def test_json_lists_tests_by_role(
    suites: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["coverage", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {row["id"]: row for row in report["requirements"]}
    assert len(rows) == len(load_catalog())
    assert rows["TOK-2"]["tests"] == {
        "server": ["suites/server/test_cov_server.py::test_tokens"],
        "client": [],
        "other": ["suites/test_cov_other.py::test_o"],
    }
    assert rows["RESP-SUBJ-1"]["status"] == "covered"
    assert rows["TOK-1"]["status"] == "uncovered"
    untestable = [row for row in report["requirements"] if not row["testable"]]
    assert untestable
    assert all(row["status"] == "untestable" and row["untestable_reason"] for row in untestable)
    assert "TOK-1" in report["missing"]
    assert "TOK-2" not in report["missing"]


def test_table_and_require_all_per_role(
    suites: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["coverage", "--role", "client", "--require-all"]) == 1
    table = capsys.readouterr().out
    lines = table.splitlines()
    assert lines[0].split() == ["ID", "Reference", "Level", "Server", "Client", "Other", "Status"]
    subject = next(line for line in lines if line.startswith("RESP-SUBJ-1 "))
    assert subject.split()[-4:] == ["0", "1", "0", "covered"]
    assert not any(line.startswith("TOK-2 ") for line in lines), "TOK-2 binds only the server"
    assert "testable without a test" in lines[-1]


def test_require_all_passes_when_every_row_is_covered() -> None:
    catalog = load_catalog()
    tests = [CollectedTest(f"t::{r.id}", "server", (r.id,)) for r in catalog]
    entries = coverage(catalog, tests, "server")
    assert entries
    assert missing(entries) == []
    assert missing(coverage(catalog, tests, "client"))


def test_collection_errors_exit_2(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makepyfile(
        test_bad='import pytest\n\n@pytest.mark.covers("NOPE-1")\ndef test_x():\n    pass\n'
    )
    pytester.makeini(INI)
    pytester.chdir()
    assert main(["coverage", "test_bad.py"]) == 2
    assert "NOPE-1" in capsys.readouterr().err


def test_roles() -> None:
    assert role_of(("repo", "suites", "server", "test_a.py")) == "server"
    assert role_of(("suites", "client", "x", "test_b.py")) == "client"
    assert role_of(("tests", "server", "test_c.py")) == "other"
    catalog = load_catalog()
    assert requirement_roles(catalog["RESP-SUBJ-1"]) == {"client"}
    assert requirement_roles(catalog["TOK-2"]) == {"server"}
