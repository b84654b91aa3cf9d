"""``pytest suites/server`` against a separately started ``rfc8823 serve``, one run per mail
architecture a real CA may have (docs/testing-a-ca.md).

The operator's path for a running CA: the suite starts, prints the world's DNS and MX (and,
when the CA uses them, its mailbox and smarthost login) in its header and waits for the
directory; the CA is then started with what the header said. Each architecture runs a part
of the suite that sends and judges mail both ways, so a wiring fault fails it.
"""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from rfc8823.targets.dovecot import dovecot_binary
from rfc8823.world.pki import TestPki
from rfc8823.world.ports import unused_port

ROOT = Path(__file__).resolve().parents[2]


def run_flow_variants(
    target: Path, report_dir: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The server suite's two flow-variant tests against the CA ``target`` describes, in a
    pytest subprocess from the project root, reports in ``report_dir``."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "suites/server/test_flow_variants.py",
            f"--target-config={target}",
            f"--report-dir={report_dir}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
SUITE_PART = [
    "suites/server/test_challenge_email.py",
    "suites/server/test_flow_variants.py",
    "suites/server/test_identifiers_orders.py::test_email_order_is_created_and_echoed",
    "suites/server/test_finalize_certificates.py::test_revocation",
]
REPLY_CHECKS = [
    "suites/server/test_reply_forgery.py::test_unauthenticated_reply",
    "suites/server/test_reply_forgery.py::test_spf_pass_without_dkim",
    "suites/server/test_response_validation.py::test_wrong_digest_fails_the_challenge",
]
"""Checks that need the envelope (SPF) and the reply's judgement to reach the CA intact."""
HEADER = re.compile(
    r"^(?:world (?P<world>DNS|MX) .*|CA (?P<ca>smarthost|reply mailbox) .*): "
    r"(?P<host>[0-9.]+):(?P<port>\d+)(?: login (?P<login>\S+) password (?P<password>\S+))?$"
)
HEADER_TIMEOUT = 30.0
RUN_TIMEOUT = 180.0


@dataclass(frozen=True)
class Endpoint:
    """One endpoint the suite's header names, with the login it gives, if any."""

    host: str
    port: int
    login: str = ""
    password: str = ""

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


Header = dict[str, Endpoint]


@dataclass(frozen=True)
class Architecture:
    """How the CA's mail is wired: the target file's [mail] table and the CA's own flags."""

    mail: str
    needs: tuple[str, ...]
    serve_flags: Callable[[Header], list[str]]
    suite_part: tuple[str, ...] = tuple(SUITE_PART)


def listener_flags(port: int) -> Callable[[Header], list[str]]:
    return lambda header: [f"--reply=127.0.0.1:{port}", f"--mx-port={header['MX'].port}"]


def smarthost_flags(tls: str) -> Callable[[Header], list[str]]:
    def flags(header: Header) -> list[str]:
        host = header["smarthost"]
        return [
            f"--smarthost={host.address}",
            f"--smarthost-tls={tls}",
            f"--smarthost-user={host.login}",
            f"--smarthost-password={host.password}",
        ]

    return flags


def imap_flags(header: Header) -> list[str]:
    mailbox = header["reply mailbox"]
    return [
        f"--reply-imap={mailbox.address}",
        f"--reply-imap-user={mailbox.login}",
        f"--reply-imap-password={mailbox.password}",
    ]


NAMES = (
    "own-listener+mx",
    "imap-mailbox+smarthost-starttls",
    "own-listener+smarthost-implicit-tls",
)


def architectures() -> dict[str, Architecture]:
    """Each documented architecture, keyed by a test id (ports chosen now, per process)."""
    listener, mta = unused_port(), unused_port()
    return {
        "own-listener+mx": Architecture(
            f'replies = "smtp"\nreply_smtp = "127.0.0.1:{listener}"\nsending = "mx"\n',
            ("DNS", "MX"),
            listener_flags(listener),
            (*SUITE_PART, *REPLY_CHECKS),
        ),
        "imap-mailbox+smarthost-starttls": Architecture(
            'replies = "imap"\nsending = "smarthost"\nsmarthost_tls = "starttls"\n',
            ("DNS", "MX", "smarthost", "reply mailbox"),
            lambda header: [*imap_flags(header), *smarthost_flags("starttls")(header)],
            (*SUITE_PART, *REPLY_CHECKS),
        ),
        "own-listener+smarthost-implicit-tls": Architecture(
            f'replies = "smtp"\nreply_smtp = "127.0.0.1:{mta}"\nsending = "smarthost"\n'
            'smarthost_tls = "implicit"\n',
            ("DNS", "MX", "smarthost"),
            lambda header: [
                f"--reply=127.0.0.1:{mta}",
                *smarthost_flags("implicit")(header),
            ],
        ),
    }


def lines_of(stream: IO[str]) -> queue.Queue[str | None]:
    """The lines of ``stream`` as they come, read on a thread; None at the end."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def read_header(lines: queue.Queue[str | None], seen: list[str], needs: tuple[str, ...]) -> Header:
    """The endpoints the suite's header names, read within the header timeout."""
    found: Header = {}
    deadline = time.monotonic() + HEADER_TIMEOUT
    while not set(needs) <= set(found):
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        assert line is not None, "the suite ended before printing its endpoints:\n" + "\n".join(
            seen
        )
        seen.append(line)
        match = HEADER.match(line)
        if match:
            key = match["world"] or match["ca"]
            found[key] = Endpoint(
                match["host"], int(match["port"]), match["login"] or "", match["password"] or ""
            )
    return found


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


@pytest.mark.parametrize("name", NAMES)
def test_suite_against_a_separately_started_reference_ca(tmp_path: Path, name: str) -> None:
    """The suite waits for ``rfc8823 serve``, started after it with what its header printed."""
    architecture = architectures()[name]
    if "reply mailbox" in architecture.needs and dovecot_binary() is None:
        pytest.skip("the IMAP architecture needs Dovecot (apt-get install dovecot-imapd)")
    http_port = unused_port()
    target = tmp_path / "ca.toml"
    target.write_text(
        f'[target]\nname = "rfc8823-serve"\n'
        f'[acme]\ndirectory = "https://127.0.0.1:{http_port}/directory"\n'
        f'ca_bundle = "{TestPki.load().ca_bundle_path()}"\n'
        f'from = "acme-challenge@ca.test"\nwait_seconds = 30\n'
        f"[mail]\n{architecture.mail}",
        encoding="utf-8",
    )
    suite_command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        *architecture.suite_part,
        f"--target-config={target}",
        f"--report-dir={tmp_path}",
    ]
    seen: list[str] = []
    with started(suite_command) as suite:
        assert suite.stdout is not None
        lines = lines_of(suite.stdout)
        header = read_header(lines, seen, architecture.needs)
        serve_command = [
            str(Path(sys.executable).with_name("rfc8823")),
            "serve",
            f"--http=127.0.0.1:{http_port}",
            f"--resolver=127.0.0.1:{header['DNS'].port}",
            *architecture.serve_flags(header),
        ]
        with started(serve_command) as serve:
            assert serve.stdout is not None
            serve_lines = lines_of(serve.stdout)
            status = suite.wait(RUN_TIMEOUT)
            early = serve.poll()
        while (line := lines.get(timeout=5)) is not None:
            seen.append(line)
    logged = []
    while (line := serve_lines.get(timeout=5)) is not None:
        logged.append(line)
    output = "\n".join(seen)
    assert early is None, f"rfc8823 serve stopped early ({early}):\n" + "\n".join(logged)
    assert status == 0, (
        f"the suite against rfc8823 serve ({name}) exited {status}:\n{output}\n"
        "rfc8823 serve logged:\n" + "\n".join(logged)
    )
    assert re.search(r"\d+ passed", output), output
