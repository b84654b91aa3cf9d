"""The ``command`` client target: any program, started once per enrollment from a template.

The template is split like a shell line (no shell runs it) and each word is filled in with
:data:`PLACEHOLDERS`, e.g. ``mymua enroll --directory={directory} --email={email}
--smtp-listen={smtp_host}:{smtp_port}`` (the ``--name=value`` form is the safe one: no value
is then read as an option). A target described in TOML (:mod:`rfc8823.targets.client_config`)
adds environment variables, value maps (a placeholder's value in the client's own words, one
word or several) and inputs (placeholders of its own, from environment variables).

The program must finish within the enrollment's timeout (it is killed, with its process group,
otherwise). It succeeded when it exits 0 and has written its private key and certificate chain
as PEM files anywhere under ``{workdir}``; the suite finds them by content (a ``PRIVATE KEY``
block, a ``CERTIFICATE`` block; one file may hold both). With a ``log_dir`` in the request its
command line, environment additions, stdout and stderr are written there as it runs, so a
killed run leaves its output too. ``restart`` runs the same command again on the same workdir.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shlex
import signal
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from rfc8823.targets.client import (
    ClientCapabilities,
    EnrollmentOutcome,
    EnrollmentRequest,
    MailboxKind,
)

PLACEHOLDERS: Mapping[str, str] = {
    "directory": "the ACME directory URL",
    "ca_bundle": "PEM file the CA's HTTPS and the submission server's TLS chain to",
    "email": "the address to enroll",
    "usage": "signing, encryption or both (RFC 8823 §3.3)",
    "key_type": "ec, rsa or ed25519",
    "workdir": "an empty folder for the key and certificate chain",
    "timeout": "seconds the enrollment may take",
    "smtp_host": "SMTP mailbox: the host to listen on (the address's MX)",
    "smtp_port": "SMTP mailbox: the port to listen on",
    "maildir": "Maildir mailbox: its path",
    "imap_host": "IMAP mailbox: the server",
    "imap_port": "IMAP mailbox: the port (plain IMAP)",
    "imap_user": "IMAP mailbox: the login",
    "imap_password": "IMAP mailbox: the password",
    "submission_host": "where to submit the response",
    "submission_port": "its port (STARTTLS)",
    "submission_user": "the submission login",
    "submission_password": "the submission password",
    "dns": "host:port of the DNS server with the DKIM keys",
    "dns_host": "that server's host",
    "dns_port": "that server's port",
    "smime_trust": "PEM file of the root S/MIME-signed challenges chain to",
    "dkim_key": "signs-dkim clients: PEM private key of the user's domain",
    "dkim_selector": "signs-dkim clients: its selector",
    "dkim_domain": "signs-dkim clients: the d= domain",
    "resolv_conf": "a resolv.conf naming the world's DNS on port 53, for clients that only use "
    "the system resolver (needs --client-system-resolver)",
}
MAILBOX_PLACEHOLDERS: Mapping[MailboxKind, frozenset[str]] = {
    "smtp": frozenset({"smtp_host", "smtp_port"}),
    "maildir": frozenset({"maildir"}),
    "imap": frozenset({"imap_host", "imap_port", "imap_user", "imap_password"}),
}
DKIM_PLACEHOLDERS = frozenset({"dkim_key", "dkim_selector", "dkim_domain"})
_OUTPUT_LIMIT = 1 << 20
_KILL_TIMEOUT = 5.0

ValueMaps = Mapping[str, Mapping[str, tuple[str, ...]]]
"""Per placeholder, its values in the client's own words: one word, or several arguments."""
_DECLARED_VALUES = {"usage": "usages", "key_type": "key_types"}


def template_fields(template: str) -> list[str]:
    """The placeholder names a template uses; ValueError for one that cannot be split or read."""
    return [name for word in shlex.split(template) for name in _word_fields(word)]


def _word_fields(word: str) -> list[str]:
    names: list[str] = []
    for _, name, spec, conversion in string.Formatter().parse(word):
        if name is None:
            continue
        if spec or conversion or not name.isidentifier():
            raise ValueError(f"placeholder {{{name}}} in {word!r} must be a bare name")
        names.append(name)
    return names


def check_template(
    template: str,
    capabilities: ClientCapabilities,
    mailbox: MailboxKind,
    *,
    values: ValueMaps | None = None,
    inputs: frozenset[str] = frozenset(),
) -> list[str]:
    """Problems that make the template unusable for this mailbox kind (empty when fine).

    ``values`` are the value maps (checked: known placeholders, every declared usage and key
    type mapped, several words only for a placeholder alone in its word); ``inputs`` the
    placeholders the target adds.
    """
    try:
        used = set(template_fields(template))
    except ValueError as error:
        return [str(error)]
    if not template.strip():
        return ["the command template is empty"]
    known = set(PLACEHOLDERS) | inputs
    problems = [f"unknown placeholder {{{name}}}" for name in sorted(used - known)]
    for kind, names in MAILBOX_PLACEHOLDERS.items():
        if kind != mailbox and used & names:
            shown = ", ".join(f"{{{n}}}" for n in sorted(used & names))
            problems.append(f"{shown} belong to a {kind} mailbox, but this run uses {mailbox}")
    if not capabilities.signs_dkim and used & DKIM_PLACEHOLDERS:
        problems.append("{dkim_*} placeholders need the signs-dkim capability")
    return problems + _value_map_problems(template, capabilities, values or {}, known)


def _value_map_problems(
    template: str, capabilities: ClientCapabilities, values: ValueMaps, known: set[str]
) -> list[str]:
    problems: list[str] = []
    for name, mapping in values.items():
        if name not in known:
            problems.append(f"a value map for unknown placeholder {{{name}}}")
        declared = getattr(capabilities, _DECLARED_VALUES.get(name, ""), ())
        unmapped = [value for value in declared if value not in mapping]
        if unmapped:
            problems.append(f"the value map of {{{name}}} lacks {', '.join(unmapped)}")
    for word in shlex.split(template):
        inside = [n for n in _word_fields(word) if word != f"{{{n}}}"]
        for name in inside:
            if any(len(words) != 1 for words in values.get(name, {}).values()):
                problems.append(
                    f"{{{name}}} maps to several arguments, so it must be a word of its own, "
                    f"not part of {word!r}"
                )
    return problems


def placeholder_values(request: EnrollmentRequest) -> dict[str, str]:
    """Every placeholder's value for one request ("" where the request has none)."""
    values = dict.fromkeys(PLACEHOLDERS, "")
    mailbox, submission = request.mailbox, request.submission
    values.update(
        directory=request.directory_url,
        ca_bundle=str(request.ca_bundle),
        email=request.email,
        usage=request.usage,
        key_type=request.key_type,
        workdir=str(request.workdir),
        timeout=f"{request.timeout:g}",
        submission_host=submission.host,
        submission_port=str(submission.port),
        submission_user=submission.user,
        submission_password=submission.password,
        dns=f"{request.dns[0]}:{request.dns[1]}",
        dns_host=request.dns[0],
        dns_port=str(request.dns[1]),
        smime_trust=str(request.smime_trust[0]) if request.smime_trust else "",
    )
    if mailbox.smtp is not None:
        values.update(smtp_host=mailbox.smtp[0], smtp_port=str(mailbox.smtp[1]))
    if mailbox.maildir is not None:
        values["maildir"] = str(mailbox.maildir)
    if mailbox.imap is not None:
        account = mailbox.imap
        values.update(
            imap_host=account.host,
            imap_port=str(account.port),
            imap_user=account.user,
            imap_password=account.password,
        )
    if request.dkim is not None:
        values.update(
            dkim_key=str(request.dkim.key_path),
            dkim_selector=request.dkim.selector,
            dkim_domain=request.dkim.domain,
        )
    if request.resolv_conf is not None:
        values["resolv_conf"] = str(request.resolv_conf)
    return values


def fill_template(
    template: str, values: Mapping[str, str], maps: ValueMaps | None = None
) -> list[str]:
    """The argument list: each word filled in, a mapped placeholder in the client's words.

    A placeholder alone in its word becomes as many arguments as its map gives (none, one or
    several); inside a longer word its mapped value is one word. KeyError for a value that
    has no mapping.
    """
    maps = maps or {}

    def mapped(name: str) -> tuple[str, ...]:
        if name not in maps:
            return (values[name],)
        try:
            return maps[name][values[name]]
        except KeyError:
            wanted = values[name]
            raise KeyError(f"the value map of {{{name}}} has no entry for {wanted!r}") from None

    argv: list[str] = []
    for word in shlex.split(template):
        names = _word_fields(word)
        if len(names) == 1 and word == f"{{{names[0]}}}":
            argv.extend(mapped(names[0]))
        else:
            argv.append(word.format_map({n: " ".join(mapped(n)) for n in names}))
    return argv


def find_credentials(workdir: Path) -> tuple[Path | None, Path | None]:
    """The private key file and the certificate chain file under ``workdir``, by content."""
    key_path = chain_path = None
    for path in sorted(p for p in workdir.rglob("*") if p.is_file()):
        try:
            data = path.read_bytes()[:_OUTPUT_LIMIT]
        except OSError:
            continue
        if key_path is None and b"PRIVATE KEY-----" in data:
            key_path = path
        if chain_path is None and b"-----BEGIN CERTIFICATE-----" in data:
            chain_path = path
    return key_path, chain_path


@dataclass(frozen=True)
class CommandClient:
    """A client run as ``template`` per enrollment; capabilities as declared by the user.

    ``environment`` adds variables (values are templates too); ``values`` maps placeholder
    values to the client's words; ``inputs`` are placeholders of the target's own (e.g. where
    the client is installed); ``unavailable`` says why the client cannot run here (every test
    is then UNSUPPORTED), empty when it can.
    """

    template: str
    declared: ClientCapabilities
    label: str = "command"
    release: str = ""
    environment: Mapping[str, str] = field(default_factory=dict)
    values: ValueMaps = field(default_factory=dict)
    inputs: Mapping[str, str] = field(default_factory=dict)
    unavailable: str = ""

    @property
    def name(self) -> str:
        """The name given with ``--target-name`` (default ``command``)."""
        return self.label

    @property
    def version(self) -> str:
        """The version given with ``--target-version``."""
        return self.release

    @property
    def capabilities(self) -> ClientCapabilities:
        """What ``--client-capability`` declared."""
        return self.declared

    def problems(self, mailbox: MailboxKind) -> list[str]:
        """What makes the command unusable for this mailbox kind (empty when fine)."""
        return check_template(
            self.template,
            self.declared,
            mailbox,
            values=self.values,
            inputs=frozenset(self.inputs),
        ) + [
            f"environment {name}: unknown placeholder {{{field}}}"
            for name, text in self.environment.items()
            for field in _word_fields(text)
            if field not in PLACEHOLDERS and field not in self.inputs
        ]

    def _values(self, request: EnrollmentRequest) -> dict[str, str]:
        return {**placeholder_values(request), **self.inputs}

    def argv(self, request: EnrollmentRequest) -> list[str]:
        """The command line for one request."""
        return fill_template(self.template, self._values(request), self.values)

    def added_environment(self, request: EnrollmentRequest) -> dict[str, str]:
        """The variables the target sets for the command, filled in for one request."""
        values = self._values(request)
        return {name: text.format_map(values) for name, text in self.environment.items()}

    async def enroll(self, request: EnrollmentRequest) -> EnrollmentOutcome:
        """Start the command in ``workdir``, wait for it (bounded), then look for its files.

        Cancelled (the test ended first), the command is killed and reaped before returning.
        """
        return await self._run(request, request.log_dir)

    async def restart(self, request: EnrollmentRequest) -> EnrollmentOutcome:
        """The same command again on the same workdir; its output goes to ``restart-N``."""
        log_dir = request.log_dir
        if log_dir is not None:
            log_dir = next(
                log_dir / f"restart-{n}"
                for n in itertools.count(1)
                if not (log_dir / f"restart-{n}").exists()
            )
        return await self._run(request, log_dir)

    async def _run(self, request: EnrollmentRequest, log_dir: Path | None) -> EnrollmentOutcome:
        argv = self.argv(request)
        added = self.added_environment(request)
        started = time.monotonic()
        with _Output(log_dir, argv, added) as output:
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    cwd=request.workdir,
                    env={**os.environ, **added},
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=output.stdout,
                    stderr=output.stderr,
                    start_new_session=True,
                )
            except OSError as error:
                return EnrollmentOutcome(False, f"cannot start {argv[0]!r}: {error}")
            timed_out = False
            try:
                async with asyncio.timeout(request.timeout):
                    out, err = await process.communicate()
            except TimeoutError:
                timed_out = True
                out, err = await _kill(process)
            except asyncio.CancelledError:
                await _kill(process)
                raise
        elapsed = time.monotonic() - started
        stdout, stderr = output.text(out, err)
        key_path, chain_path = find_credentials(request.workdir)
        issued = not timed_out and process.returncode == 0 and None not in (key_path, chain_path)
        if timed_out:
            detail = f"still running after {request.timeout:g} s; killed"
        elif process.returncode != 0:
            detail = f"exited with status {process.returncode}"
        elif not issued:
            detail = f"exited 0 without a PEM key and certificate chain in {request.workdir}"
        else:
            detail = ""
        return EnrollmentOutcome(
            issued=issued,
            detail=detail + (f" (logs: {log_dir})" if log_dir is not None and detail else ""),
            exit_status=process.returncode,
            key_path=key_path,
            chain_path=chain_path,
            stdout=stdout,
            stderr=stderr,
            elapsed=elapsed,
        )


class _Output:
    """Where a command's stdout and stderr go: files in ``log_dir`` as it runs, else pipes."""

    def __init__(self, log_dir: Path | None, argv: list[str], added: Mapping[str, str]) -> None:
        self.log_dir = log_dir
        self._files: list[IO[bytes]] = []
        self.stdout: int | IO[bytes] = asyncio.subprocess.PIPE
        self.stderr: int | IO[bytes] = asyncio.subprocess.PIPE
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            lines = [shlex.join(argv), *(f"{k}={v}" for k, v in added.items())]
            (log_dir / "command.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def __enter__(self) -> _Output:
        if self.log_dir is not None:
            self._files = [(self.log_dir / n).open("wb") for n in ("stdout.log", "stderr.log")]
            self.stdout, self.stderr = self._files
        return self

    def __exit__(self, *_: object) -> None:
        for file in self._files:
            file.close()

    def text(self, out: bytes | None, err: bytes | None) -> tuple[str, str]:
        """What the command printed (the last MiB of each stream when it went to files)."""
        if self.log_dir is not None:
            out, err = (_tail(self.log_dir / n) for n in ("stdout.log", "stderr.log"))
        return (out or b"").decode("utf-8", "replace"), (err or b"").decode("utf-8", "replace")


def _tail(path: Path) -> bytes:
    with path.open("rb") as file:
        file.seek(max(0, path.stat().st_size - _OUTPUT_LIMIT))
        return file.read()


async def _kill(process: asyncio.subprocess.Process) -> tuple[bytes, bytes]:
    """Kill the process group the command started in, then collect what it printed."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    try:
        async with asyncio.timeout(_KILL_TIMEOUT):
            return await process.communicate()
    except TimeoutError:
        return b"", b""
