"""``pytest suites/server --acme-directory ...`` against a separately started ``rfc8823 serve``.

The operator's path for a running CA: the suite starts, prints the world's DNS and MX in its
header and waits for the directory; the CA is then started pointing at them.
"""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from rfc8823.world.pki import TestPki
from rfc8823.world.ports import unused_port

ROOT = Path(__file__).resolve().parents[2]
SUITE_PART = [
    "suites/server/test_challenge_email.py",
    "suites/server/test_flow_variants.py",
    "suites/server/test_identifiers_orders.py::test_email_order_is_created_and_echoed",
    "suites/server/test_finalize_certificates.py::test_revocation",
]
HEADER = re.compile(r"^world (DNS|MX) .*: (?P<host>[0-9.]+):(?P<port>\d+)$")
HEADER_TIMEOUT = 30.0
RUN_TIMEOUT = 120.0


def lines_of(stream: IO[str]) -> queue.Queue[str | None]:
    """The lines of ``stream`` as they come, read on a thread; None at the end."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def world_endpoints(lines: queue.Queue[str | None], seen: list[str]) -> dict[str, int]:
    """The DNS and MX ports the suite's header names, read within the header timeout."""
    ports: dict[str, int] = {}
    deadline = time.monotonic() + HEADER_TIMEOUT
    while len(ports) < 2:
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        assert line is not None, (
            "the suite ended before printing the world endpoints:\n" + "\n".join(seen)
        )
        seen.append(line)
        match = HEADER.match(line)
        if match:
            ports[match[1]] = int(match["port"])
    return ports


def stop(process: subprocess.Popen[str]) -> None:
    """Interrupt a child we started, then kill it if it does not stop in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextmanager
def started(command: list[str]) -> Iterator[subprocess.Popen[str]]:
    """A child process with merged, line-buffered text output, stopped at the end."""
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    try:
        yield process
    finally:
        stop(process)


def test_suite_against_a_separately_started_reference_ca(tmp_path: Path) -> None:
    """The suite waits for ``rfc8823 serve``, started after it with the printed endpoints."""
    http_port, reply_port = unused_port(), unused_port()
    suite_command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        *SUITE_PART,
        f"--acme-directory=https://127.0.0.1:{http_port}/directory",
        f"--acme-ca-bundle={TestPki.load().ca_bundle_path()}",
        "--acme-from=acme-challenge@ca.test",
        f"--acme-reply-smtp=127.0.0.1:{reply_port}",
        "--acme-wait=30",
        "--target-name=rfc8823-serve",
        f"--report-dir={tmp_path}",
    ]
    seen: list[str] = []
    with started(suite_command) as suite:
        assert suite.stdout is not None
        lines = lines_of(suite.stdout)
        ports = world_endpoints(lines, seen)
        serve_command = [
            str(Path(sys.executable).with_name("rfc8823")),
            "serve",
            f"--http=127.0.0.1:{http_port}",
            f"--reply=127.0.0.1:{reply_port}",
            f"--resolver=127.0.0.1:{ports['DNS']}",
            f"--mx-port={ports['MX']}",
        ]
        with started(serve_command):
            status = suite.wait(RUN_TIMEOUT)
        while (line := lines.get(timeout=5)) is not None:
            seen.append(line)
    output = "\n".join(seen)
    assert status == 0, f"the suite against rfc8823 serve exited {status}:\n{output}"
    assert re.search(r"\d+ passed", output), output
