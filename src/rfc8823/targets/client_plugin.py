"""Start-up hooks of the client suite: its command-line options and the client under test.

pytest reads options only from plugins and start-up conftests, so these live in a plugin
(``rfc8823.client_suite``), as the server suite's do: ``pytest suites``, ``pytest
suites/client`` and ``pytest --help`` all know them. The client is built once from the options;
inconsistent options stop the run with a usage error before anything starts.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import Phase, settings

from rfc8823.faults import fault
from rfc8823.faults.plugin import OPTION as FAULT_OPTION
from rfc8823.faults.plugin import injected_faults, named_faults
from rfc8823.targets.client import (
    MAILBOX_KINDS,
    ClientCapabilities,
    ClientUnderTest,
    MailboxKind,
    MailboxPacing,
)
from rfc8823.targets.client_config import ClientTargetConfig
from rfc8823.targets.command_client import PLACEHOLDERS, CommandClient
from rfc8823.targets.peer_ca import PeerVariants
from rfc8823.targets.suite_selection import runs_suite

PLUGIN_NAME = "rfc8823.client_suite"
CAPABILITY_MARK = "client_capability"
"""Marker naming the ClientCapabilities flag a test needs (UNSUPPORTED when undeclared)."""
DEFAULT_TIMEOUT = 30.0
"""Seconds an enrollment may take when neither the option nor the target says."""
_PLACEHOLDER_HELP = "; ".join(f"{{{name}}} {text}" for name, text in PLACEHOLDERS.items())
_CLIENT_OPTIONS = (
    "client_target",
    "client_command",
    "client_config",
    "client_capability",
    "client_mailbox",
    "client_timeout",
    "client_system_resolver",
    "client_log_dir",
)


@dataclass(frozen=True)
class ClientSuiteSettings:
    """The run's choices: the mailbox kind offered, the bound on an enrollment and the negative
    wait after a must-not-answer challenge (seconds), the suite CA's variants, how challenge
    mail is paced into the mailbox, where per-test folders are kept (None: pytest's temporary
    folders), and the loopback address where the world's DNS also answers on port 53 (None:
    not offered)."""

    mailbox: MailboxKind
    enrollment_timeout: float
    quiet: float
    variants: PeerVariants = field(default_factory=PeerVariants)
    pacing: MailboxPacing = field(default_factory=MailboxPacing)
    log_root: Path | None = None
    system_resolver: str | None = None


_TARGET = pytest.StashKey[ClientUnderTest]()
_SETTINGS = pytest.StashKey[ClientSuiteSettings]()
_CONFIG_FILE = pytest.StashKey[ClientTargetConfig]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """The client under test: the reference client (default) or a command."""
    group = parser.getgroup("rfc8823-client", "rfc8823 client suite: the ACME client under test")
    group.addoption(
        "--client-target",
        choices=("reference", "command"),
        default=None,
        help="which client to test (default: command when --client-command or --client-config "
        "is given, else the in-process reference client)",
    )
    group.addoption(
        "--client-command",
        metavar="TEMPLATE",
        default=None,
        help="the client's command line, run once per enrollment in {workdir} (split like a "
        "shell line, no shell; write options as --name={value}, so that no value is read as an "
        "option). It must exit 0 after writing its private key and certificate chain as PEM "
        "files under {workdir} (found by content), within --client-timeout. "
        f"Placeholders: {_PLACEHOLDER_HELP}",
    )
    group.addoption(
        "--client-config",
        type=Path,
        default=None,
        metavar="FILE.toml",
        help="a client target described in TOML: command template, environment, value maps, "
        "inputs from environment variables, timeout, capabilities, the suite CA's variants and "
        "mailbox pacing (see rfc8823.targets.client_config; fixtures/targets/ has examples)",
    )
    group.addoption(
        "--client-capability",
        action="append",
        default=[],
        metavar="NAME[=VALUES]",
        help="command target: declare a capability (repeatable): signs-dkim, smime, eai, "
        "restart, mailbox=smtp,maildir,imap, usage=signing,encryption,both, "
        "key-type=ec,rsa,ed25519 (default: mailbox=smtp, usage=both, key-type=ec)",
    )
    group.addoption(
        "--client-mailbox",
        choices=MAILBOX_KINDS,
        default=None,
        help="how the client gets its challenge email: an SMTP listener of its own, a "
        "Maildir, or IMAP (Dovecot) (default: the first mailbox kind it declares)",
    )
    group.addoption(
        "--client-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="bound on one enrollment (default: the target's declared timeout, else "
        f"{DEFAULT_TIMEOUT:g})",
    )
    group.addoption(
        "--client-quiet",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="how long after a must-not-answer challenge reaches the mailbox the suite watches "
        "for a response to it (default 0.5)",
    )
    group.addoption(
        "--client-system-resolver",
        metavar="ADDRESS",
        default=None,
        help="also serve the world's DNS on port 53 of this loopback address (plus the xdist "
        "worker number), named by {resolv_conf}, for a client that only uses the system "
        "resolver (binding port 53 needs privileges; see docs/testing-a-client.md)",
    )
    group.addoption(
        "--client-log-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="command targets: where each test's folder (the client's workdir, its command "
        "line, stdout and stderr) is kept (default: <report dir>/logs/<target name>)",
    )
    group.addoption(
        "--client-shrink",
        action="store_true",
        help="command targets: let Hypothesis shrink a failing example (each step is a whole "
        "enrollment; off by default for them)",
    )


def _refuse_without_the_suite(config: pytest.Config) -> None:
    """``pytest.UsageError`` for client-suite options in a run without a client-suite test."""
    given = ["--" + name.replace("_", "-") for name in _CLIENT_OPTIONS if config.getoption(name)]
    given += [f"{FAULT_OPTION} {n}" for n in named_faults(config) if fault(n).role == "client"]
    if given:
        raise pytest.UsageError(
            f"{', '.join(given)}: these configure the client suite's target, but this run has "
            "no client-suite test"
        )


def build_target(config: pytest.Config) -> ClientUnderTest:
    """The client the options describe; ``pytest.UsageError`` for inconsistent options."""
    option = config.getoption
    if not runs_suite(config, "client"):
        _refuse_without_the_suite(config)
    template, file = option("client_command"), option("client_config")
    choice = option("client_target") or ("command" if template or file else "reference")
    if choice == "reference":
        if template or file or option("client_capability"):
            raise pytest.UsageError(
                "the reference client takes no --client-command, --client-config or "
                "--client-capability"
            )
        # Imported here: a command run needs nothing of the reference client.
        from rfc8823.targets.reference_client import ReferenceClient

        faults = injected_faults(config, "client", target="reference", reference=True)
        return ReferenceClient(faults=faults)
    injected_faults(config, "client", target="command", reference=False)
    if file is not None:
        if template or option("client_capability"):
            raise pytest.UsageError(
                "--client-config describes the command and its capabilities; give no "
                "--client-command or --client-capability with it"
            )
        try:
            described = ClientTargetConfig.load(file)
        except ValueError as error:
            raise pytest.UsageError(f"--client-config: {error}") from error
        config.stash[_CONFIG_FILE] = described
        return described.client(
            name=option("target_name"), version=option("target_version"), environ=os.environ
        )
    if not template:
        raise pytest.UsageError("--client-target=command needs --client-command or --client-config")
    try:
        capabilities = ClientCapabilities.from_declarations(option("client_capability"))
    except ValueError as error:
        raise pytest.UsageError(f"--client-capability: {error}") from error
    return CommandClient(
        template,
        capabilities,
        label=option("target_name") or "command",
        release=option("target_version") or "",
    )


def _system_resolver(config: pytest.Config) -> str | None:
    """The port-53 address of this process: the option's, plus the xdist worker number."""
    text = config.getoption("client_system_resolver")
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError as error:
        raise pytest.UsageError(f"--client-system-resolver: {error}") from error
    if not address.is_loopback or address.version != 4:
        raise pytest.UsageError(f"--client-system-resolver {text}: not an IPv4 loopback address")
    worker = getattr(config, "workerinput", {}).get("workerid", "gw0")
    return str(address + int(worker.removeprefix("gw") or 0))


def _log_root(config: pytest.Config, target: ClientUnderTest) -> Path | None:
    """Where command targets' per-test folders are kept (never for the reference client)."""
    if not isinstance(target, CommandClient):
        return None
    chosen: Path | None = config.getoption("client_log_dir")
    if chosen is None:
        reports = config.getoption("report_dir") or "reports"
        chosen = Path(reports) / "logs" / target.name
    return (config.invocation_params.dir / chosen).resolve()


def _settings(config: pytest.Config, target: ClientUnderTest) -> ClientSuiteSettings:
    declared = target.capabilities.mailboxes
    mailbox = config.getoption("client_mailbox") or declared[0]
    if mailbox not in declared:
        raise pytest.UsageError(
            f"--client-mailbox={mailbox}: the client declares only {', '.join(declared)} "
            "(add --client-capability mailbox=...)"
        )
    described = config.stash.get(_CONFIG_FILE, None)
    if isinstance(target, CommandClient):
        problems = target.problems(mailbox)
        if "resolv_conf" in target.template and not config.getoption("client_system_resolver"):
            problems.append("{resolv_conf} needs --client-system-resolver ADDRESS")
        if problems:
            where = "--client-config" if described is not None else "--client-command"
            raise pytest.UsageError(f"{where}: " + "; ".join(problems))
    timeout = config.getoption("client_timeout")
    if timeout is None:
        declared_wait = described.timeout if described is not None else None
        timeout = declared_wait or DEFAULT_TIMEOUT
    quiet = config.getoption("client_quiet")
    if timeout <= 0 or quiet < 0:
        raise pytest.UsageError("--client-timeout must be positive and --client-quiet >= 0")
    return ClientSuiteSettings(
        mailbox,
        timeout,
        quiet,
        variants=described.variants if described is not None else PeerVariants(),
        pacing=described.pacing if described is not None else MailboxPacing(),
        log_root=_log_root(config, target),
        system_resolver=_system_resolver(config),
    )


def pytest_configure(config: pytest.Config) -> None:
    """Build the target and the run's settings from the options."""
    config.addinivalue_line(
        "markers", f"{CAPABILITY_MARK}(name): the test needs this ClientCapabilities flag"
    )
    target = build_target(config)
    config.stash[_TARGET] = target
    config.stash[_SETTINGS] = _settings(config, target)


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """For a command target, bound Hypothesis shrinking (after Hypothesis chose its profile,
    before the test modules are imported and read it).

    Each step of shrinking is a whole enrollment of a program that may take a minute (one
    shrink of certbot-castle took 108 enrollments, 230 s); Hypothesis has no setting for shrinking
    time, so the bound is the profile's phases: a failure is reported as drawn, after one
    replay, unless ``--client-shrink`` asks for shrinking.
    """
    config = session.config
    target = config.stash.get(_TARGET, None)
    if isinstance(target, CommandClient) and not config.getoption("client_shrink"):
        current = settings.get_current_profile_name()
        if not current.endswith(NO_SHRINK):
            load_without_shrinking(current)


NO_SHRINK = "-no-shrink"


def load_without_shrinking(profile: str) -> str:
    """Register and load ``profile`` without Hypothesis's shrink phase; its name."""
    base = settings.get_profile(profile)
    name = profile + NO_SHRINK
    settings.register_profile(
        name, base, phases=tuple(p for p in base.phases if p is not Phase.shrink)
    )
    settings.load_profile(name)
    return name


def pytest_report_header(config: pytest.Config) -> list[str]:
    """The client under test, what it declares, the mailbox it is offered, the variants (only
    for a run that includes the client suite)."""
    target = config.stash.get(_TARGET, None)
    chosen = config.stash.get(_SETTINGS, None)
    if target is None or chosen is None or not runs_suite(config, "client"):
        return []
    lines = [
        f"client target: {target.name} {target.version}".rstrip(),
        f"client capabilities: {target.capabilities.summary()}",
        f"client mailbox: {chosen.mailbox}; enrollment timeout {chosen.enrollment_timeout:g} s",
    ]
    notes = chosen.variants.notes()
    if notes:
        shown = ", ".join(dict.fromkeys(f"{n.name} ({n.what})" for n in notes))
        lines.append(f"suite CA variants: {shown}")
    if chosen.pacing != MailboxPacing():
        lines.append(f"challenge mail pacing: {chosen.pacing}")
    if chosen.log_root is not None:
        lines.append(f"client logs: {chosen.log_root}")
    if isinstance(target, CommandClient) and target.unavailable:
        lines.append(f"client target unavailable (every test UNSUPPORTED): {target.unavailable}")
    return lines


def configured_client(config: pytest.Config) -> ClientUnderTest:
    """The client under test that the options chose (built at configure time)."""
    return config.stash[_TARGET]


def suite_settings(config: pytest.Config) -> ClientSuiteSettings:
    """The mailbox kind, the bounds on waits, variants and pacing the options chose."""
    return config.stash[_SETTINGS]


def unavailable_reason(target: ClientUnderTest) -> str:
    """Why the client under test cannot run here (empty when it can)."""
    return target.unavailable if isinstance(target, CommandClient) else ""
