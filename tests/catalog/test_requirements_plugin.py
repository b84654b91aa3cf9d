"""The covers pytest plugin: marker registration and collection errors for bad IDs."""

from importlib.metadata import entry_points

import pytest

pytest_plugins = ("pytester",)

PLUGIN = "rfc8823.requirements"


def plugin_args() -> list[str]:
    """Load the plugin once under its module name (blocking entry points that also load it)."""
    blocked = [
        f"no:{ep.name}"
        for ep in entry_points(group="pytest11")
        if ep.value == PLUGIN and ep.name != PLUGIN
    ]
    args = ["-p", PLUGIN, "-p", "no:asyncio", "--strict-markers"]
    for block in blocked:
        args += ["-p", block]
    return args


def run(pytester: pytest.Pytester, source: str, *extra: str) -> pytest.RunResult:
    pytester.makepyfile(test_sample=source)
    return pytester.runpytest(*plugin_args(), *extra)


def test_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*plugin_args(), "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.covers(*ids):*"])


def test_known_ids_collect_and_run(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import pytest
        from rfc8823.requirements import covered_ids, covers

        @covers("TOK-2")
        class TestTokens:
            @pytest.mark.covers("TOK-3", "TOK-2")
            def test_ids(self, request):
                assert covered_ids(request.node) == ("TOK-3", "TOK-2")

        @pytest.mark.parametrize("n", [1, pytest.param(2, marks=pytest.mark.covers("KA-1"))])
        def test_param(request, n):
            assert covered_ids(request.node) == (() if n == 1 else ("KA-1",))
        """,
    )
    result.assert_outcomes(passed=3)


def test_unknown_id_in_raw_mark_fails_collection(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import pytest

        @pytest.mark.covers("RESP-DKIM-1", "RESP-DKIM-9")
        def test_signed():
            pass

        def test_other():
            pass
        """,
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting test_sample.py*",
            "*test_sample.py::test_signed: unknown requirement ID(s): 'RESP-DKIM-9'*did you mean*",
        ]
    )
    result.stdout.no_fnmatch_line("*passed*")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            "import pytest\n@pytest.mark.covers()\ndef test_empty():\n    pass\n",
            "*test_empty: covers mark without requirement IDs*",
            id="no-ids",
        ),
        pytest.param(
            "import pytest\npytestmark = pytest.mark.covers('NOPE-1')\n"
            "def test_module_mark():\n    pass\n",
            "*test_module_mark: unknown requirement ID(s): 'NOPE-1'*",
            id="module-mark",
        ),
        pytest.param(
            "import pytest\n@pytest.mark.parametrize('n', [pytest.param(1, marks="
            "pytest.mark.covers('KA-7'))])\ndef test_p(n):\n    pass\n",
            "*test_p?1?: unknown requirement ID(s): 'KA-7'*",
            id="param-mark",
        ),
        pytest.param(
            "import pytest\n@pytest.mark.covers(7)\ndef test_int():\n    pass\n",
            "*test_int: covers IDs must be strings*",
            id="non-string",
        ),
        pytest.param(
            "import pytest\n@pytest.mark.covers('KA-1', why='x')\ndef test_kw():\n    pass\n",
            "*test_kw: covers takes IDs only*",
            id="keyword",
        ),
    ],
)
def test_malformed_marks_fail_collection(
    pytester: pytest.Pytester, source: str, expected: str
) -> None:
    result = run(pytester, source)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([expected])


def test_covers_helper_fails_at_import(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        from rfc8823.requirements import covers

        @covers("CHAL-AUTO-9")
        def test_auto():
            pass
        """,
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*UnknownRequirementError*'CHAL-AUTO-9'*did you mean*"])
