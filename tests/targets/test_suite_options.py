"""The server suite's options: inconsistent combinations stop the run before any test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .test_remote_run import ROOT, run_flow_variants

USAGE_ERROR = 4
REMOTE = [
    "--acme-directory=https://127.0.0.1:1/directory",
    "--acme-from=ca@ca.test",
    "--acme-reply-smtp=127.0.0.1:2",
]
CASES: list[tuple[list[str], str]] = [
    (["--server-config=nonsense=1"], "ServerConfig field"),
    (["--server-target=reference", "--acme-capability=eai"], "takes no --acme-capability"),
    ([*REMOTE, "-n", "2"], "serial_only"),
    ([*REMOTE, "--world-ports=1,2"], "--world-ports wants"),
    (
        ["--server-target=acme2certifier", "--acme-directory=https://127.0.0.1:1/directory"],
        "made by its target",
    ),
    (
        ["--server-target=remote", "--target-config=fixtures/targets/acme2certifier.toml"],
        "not remote",
    ),
    (["suites/client", "--server-config=smime_sign=true"], "no server-suite test"),
    (["suites/client", "--inject-fault=challenge-unsigned"], "no server-suite test"),
    (["suites/client/test_csr.py", *REMOTE], "--acme-directory, --acme-from"),
]
"""Server-suite options in a run of the client suite alone would configure nothing."""


@pytest.mark.parametrize(("opts", "message"), CASES, ids=[message for _, message in CASES])
def test_inconsistent_options_are_usage_errors(opts: list[str], message: str) -> None:
    """Each is refused with pytest's usage-error status and a message naming the problem."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *opts],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == USAGE_ERROR, done.stdout + done.stderr
    assert message in done.stderr, done.stderr


def test_a_target_that_does_not_start_is_named_in_its_errors(tmp_path: Path) -> None:
    """A CA whose start fails (not unavailable: its directory never answers) makes every test
    an ERROR in a report under the target's own name, with why it did not start."""
    target = tmp_path / "closed.toml"
    target.write_text(
        '[target]\nkind = "remote"\nname = "closed-ca"\nversion = "9"\n'
        '[acme]\ndirectory = "https://127.0.0.1:1/directory"\nfrom = "ca@ca.test"\n'
        'wait_seconds = 0\n[mail]\nreply_smtp = "127.0.0.1:2"\n',
        encoding="utf-8",
    )
    run = run_flow_variants(target, tmp_path)
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    report = json.loads((tmp_path / "closed-ca.json").read_text(encoding="utf-8"))
    assert report["target"] == {"name": "closed-ca", "version": "9"}
    assert {row["verdict"] for row in report["requirements"]} == {"ERROR"}
    tests = [test for row in report["requirements"] for test in row["tests"]]
    assert all("closed-ca did not start: ConnectionError" in t["message"] for t in tests), tests
    assert not (tmp_path / "unknown.json").exists()
