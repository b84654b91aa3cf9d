"""Start-up hooks of the client suite: its command-line options and the client under test.

pytest reads options only from plugins and start-up conftests, so these live in a plugin
(``rfc8823.client_suite``), as the server suite's do: ``pytest suites``, ``pytest
suites/client`` and ``pytest --help`` all know them. The client is built once from the options;
inconsistent options stop the run with a usage error before anything starts.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from rfc8823.faults.plugin import injected_faults
from rfc8823.targets.client import MAILBOX_KINDS, ClientCapabilities, ClientUnderTest, MailboxKind
from rfc8823.targets.command_client import PLACEHOLDERS, CommandClient, check_template

PLUGIN_NAME = "rfc8823.client_suite"
CAPABILITY_MARK = "client_capability"
"""Marker naming the ClientCapabilities flag a test needs (UNSUPPORTED when undeclared)."""
_PLACEHOLDER_HELP = "; ".join(f"{{{name}}} {text}" for name, text in PLACEHOLDERS.items())


@dataclass(frozen=True)
class ClientSuiteSettings:
    """The run's choices: the mailbox kind offered, the bound on an enrollment, the negative
    wait after a must-not-answer challenge (seconds)."""

    mailbox: MailboxKind
    enrollment_timeout: float
    quiet: float


_TARGET = pytest.StashKey[ClientUnderTest]()
_SETTINGS = pytest.StashKey[ClientSuiteSettings]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """The client under test: the reference client (default) or a command."""
    group = parser.getgroup("rfc8823-client", "rfc8823 client suite: the ACME client under test")
    group.addoption(
        "--client-target",
        choices=("reference", "command"),
        default=None,
        help="which client to test (default: command when --client-command is given, else the "
        "in-process reference client)",
    )
    group.addoption(
        "--client-command",
        metavar="TEMPLATE",
        default=None,
        help="the client's command line, run once per enrollment in {workdir} (split like a "
        "shell line, no shell; write options as --name={value}, since a value may start with "
        "'-'). It must exit 0 after writing its private key and certificate chain as PEM files "
        "under {workdir} (found by content), within --client-timeout. "
        f"Placeholders: {_PLACEHOLDER_HELP}",
    )
    group.addoption(
        "--client-capability",
        action="append",
        default=[],
        metavar="NAME[=VALUES]",
        help="command target: declare a capability (repeatable): signs-dkim, smime, eai, "
        "mailbox=smtp,maildir,imap, usage=signing,encryption,both, key-type=ec,rsa,ed25519 "
        "(default: mailbox=smtp, usage=both, key-type=ec)",
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
        default=30.0,
        metavar="SECONDS",
        help="bound on one enrollment (default 30)",
    )
    group.addoption(
        "--client-quiet",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="how long after a must-not-answer challenge reaches the mailbox the suite watches "
        "for a response to it (default 0.5)",
    )


def build_target(config: pytest.Config) -> ClientUnderTest:
    """The client the options describe; ``pytest.UsageError`` for inconsistent options."""
    option = config.getoption
    template = option("client_command")
    choice = option("client_target") or ("command" if template else "reference")
    if choice == "reference":
        if template or option("client_capability"):
            raise pytest.UsageError(
                "the reference client takes no --client-command or --client-capability"
            )
        # Imported here: a command run needs nothing of the reference client.
        from rfc8823.targets.reference_client import ReferenceClient

        faults = injected_faults(config, "client", target="reference", reference=True)
        return ReferenceClient(faults=faults)
    if not template:
        raise pytest.UsageError("--client-target=command needs --client-command")
    injected_faults(config, "client", target="command", reference=False)
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


def pytest_configure(config: pytest.Config) -> None:
    """Build the target and the run's settings from the options."""
    config.addinivalue_line(
        "markers", f"{CAPABILITY_MARK}(name): the test needs this ClientCapabilities flag"
    )
    target = build_target(config)
    declared = target.capabilities.mailboxes
    mailbox = config.getoption("client_mailbox") or declared[0]
    if mailbox not in declared:
        raise pytest.UsageError(
            f"--client-mailbox={mailbox}: the client declares only {', '.join(declared)} "
            "(add --client-capability mailbox=...)"
        )
    if isinstance(target, CommandClient):
        problems = check_template(target.template, target.capabilities, mailbox)
        if problems:
            raise pytest.UsageError("--client-command: " + "; ".join(problems))
    timeout, quiet = config.getoption("client_timeout"), config.getoption("client_quiet")
    if timeout <= 0 or quiet < 0:
        raise pytest.UsageError("--client-timeout must be positive and --client-quiet >= 0")
    config.stash[_TARGET] = target
    config.stash[_SETTINGS] = ClientSuiteSettings(mailbox, timeout, quiet)


def selects_suite(config: pytest.Config, suite: str) -> bool:
    """Whether the run's paths include ``suite`` (e.g. ``suites/client``): a path at or below
    it, or one above it (``suites``, the checkout); no path means the configured testpaths."""
    wanted = (config.rootpath / suite).resolve()
    paths = [
        (config.invocation_params.dir / str(arg).split("::")[0]).resolve() for arg in config.args
    ]
    return not paths or any(
        path == wanted or path.is_relative_to(wanted) or wanted.is_relative_to(path)
        for path in paths
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    """The client under test, what it declares, and the mailbox it is offered (only for a run
    that includes the client suite)."""
    target = config.stash.get(_TARGET, None)
    settings = config.stash.get(_SETTINGS, None)
    if target is None or settings is None or not selects_suite(config, "suites/client"):
        return []
    return [
        f"client target: {target.name} {target.version}".rstrip(),
        f"client capabilities: {target.capabilities.summary()}",
        f"client mailbox: {settings.mailbox}",
    ]


def configured_client(config: pytest.Config) -> ClientUnderTest:
    """The client under test that the options chose (built at configure time)."""
    return config.stash[_TARGET]


def suite_settings(config: pytest.Config) -> ClientSuiteSettings:
    """The mailbox kind and the bounds on waits the options chose."""
    return config.stash[_SETTINGS]
