"""Start-up hooks of the server suite: its command-line options and the CA under test.

pytest reads options only from plugins and start-up conftests, so these live in a plugin the
package registers (``rfc8823.server_suite``): ``pytest suites``, ``pytest suites/server`` and
``pytest --help`` all know them. The target is built once from the options (a usage error
stops the run before anything starts); a running CA (``serial_only``) gets its world started
before the run so the header can print the DNS and MX endpoints it must use.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rfc8823.faults import fault
from rfc8823.faults.plugin import OPTION as FAULT_OPTION
from rfc8823.faults.plugin import injected_faults, named_faults
from rfc8823.targets.described import described_target
from rfc8823.targets.server import ServerUnderTest, WiredEarly, capability_table
from rfc8823.targets.suite_selection import runs_suite
from rfc8823.targets.target_file import (
    TARGET_KINDS,
    WaitBounds,
    settings_from_options,
)
from rfc8823.world.world import World, WorldPorts

_TARGET = pytest.StashKey[ServerUnderTest]()
_EARLY_WORLD = pytest.StashKey[World]()
_WAITS = pytest.StashKey[WaitBounds]()
_WORLD_PORTS = pytest.StashKey[WorldPorts]()
CAPABILITY_MARK = "capability"
"""Marker naming the ServerCapabilities feature a test needs (UNSUPPORTED when undeclared)."""
_REMOTE_OPTIONS = (
    "target_config",
    "acme_directory",
    "acme_ca_bundle",
    "acme_from",
    "acme_reply_smtp",
    "acme_dkim_record",
    "acme_smime_anchor",
    "acme_eab",
    "acme_capability",
    "acme_wait",
)


def _capabilities_help() -> str:
    """Every capability, its default and its meaning, for ``--acme-capability``'s help."""
    entries = [
        f"{name.replace('_', '-')} (default {_shown(default)}): {meaning}"
        for name, default, meaning in capability_table()
    ]
    return "; ".join(entries)


def _shown(value: object) -> str:
    if value is None:
        return "none"
    return str(value).lower() if isinstance(value, bool) else str(value)


def pytest_addoption(parser: pytest.Parser) -> None:
    """The CA under test: reference (default), a running one (remote), or acme2certifier."""
    group = parser.getgroup("rfc8823-server", "rfc8823 server suite: the ACME CA under test")
    group.addoption(
        "--server-target",
        choices=("reference", *TARGET_KINDS),
        default=None,
        help="which CA to test: reference (in-process), remote (a running CA), acme2certifier "
        "(installed and run by the suite) (default: the kind the --target-config file names, "
        "remote when any --acme-* option is given, else reference)",
    )
    group.addoption(
        "--server-config",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="reference target only: a ServerConfig override with a TOML value, e.g. "
        "smime_sign=true or token_part1_octets=32 (repeatable)",
    )
    group.addoption(
        "--target-config",
        type=Path,
        default=None,
        metavar="FILE.toml",
        help="TOML description of the CA under test: [target], [acme], [account], [mail], "
        "[dkim], [world], [timeouts], [capabilities] (see docs/testing-a-ca.md; check one with "
        "`rfc8823 target check FILE`); options below override it",
    )
    group.addoption("--acme-directory", metavar="URL", help="the running CA's directory URL")
    group.addoption(
        "--acme-ca-bundle",
        type=Path,
        metavar="PEM",
        help="CA certificates its HTTPS certificate chains to (default: system trust)",
    )
    group.addoption(
        "--acme-from", metavar="ADDRESS", help="the address its challenge emails come from"
    )
    group.addoption(
        "--acme-reply-smtp",
        metavar="HOST:PORT",
        help="where mail for the from domain must be delivered (the CA's reply listener or "
        'its MTA); a CA that reads replies over IMAP sets [mail] replies = "imap" instead',
    )
    group.addoption(
        "--acme-dkim-record",
        action="append",
        default=[],
        metavar="SELECTOR=TXT",
        help="a DKIM key record of the from domain to publish in the world's DNS (repeatable)",
    )
    group.addoption(
        "--acme-smime-anchor",
        action="append",
        default=[],
        type=Path,
        metavar="PEM",
        help="a root its S/MIME-signed challenges chain to (repeatable)",
    )
    group.addoption(
        "--acme-eab", metavar="KID=KEY", help="external account binding: key id = base64url key"
    )
    group.addoption(
        "--acme-capability",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="declare a capability as NAME, no-NAME or NAME=VALUE (repeatable); tests of an "
        "undeclared one report UNSUPPORTED. Capabilities: " + _capabilities_help(),
    )
    group.addoption(
        "--acme-wait",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how long to wait for the running CA's directory to answer (default 0)",
    )
    group.addoption(
        "--world-ports",
        metavar="DNS,MX,SUBMISSION[,SUBMISSIONS]",
        default=None,
        help="pin the world's DNS, MX and submission ports (e.g. 5353,2525,2587,2465) so a CA "
        "configured before the run can point at them (default: the target file's [world], "
        "else chosen at start and printed in the header)",
    )
    group.addoption(
        "--acme-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="bound on each wait for mail, a state change or an HTTP answer (default: the "
        "target file's [timeouts], else 10)",
    )


def _refuse_without_the_suite(config: pytest.Config) -> None:
    """``pytest.UsageError`` for server-suite options in a run that has no server-suite test.

    They would configure a CA no test uses; the client suite's CA is a test peer configured by
    the client target's peer-CA variants, not by these options.
    """
    option = config.getoption
    given = [
        "--" + name.replace("_", "-")
        for name in ("server_target", "server_config", *_REMOTE_OPTIONS, "world_ports")
        if option(name)
    ]
    given += [f"{FAULT_OPTION} {n}" for n in named_faults(config) if fault(n).role == "server"]
    if given:
        raise pytest.UsageError(
            f"{', '.join(given)}: these configure the server suite's CA, but this run has no "
            "server-suite test; the client suite's CA is a test peer, set up by the client "
            "target (--client-config, [peer_ca])"
        )


def build_target(config: pytest.Config) -> ServerUnderTest:
    """The target the options describe; ``pytest.UsageError`` for inconsistent options.

    Also settles the waits and the world's ports for the run (see :func:`configured_waits`).
    """
    option = config.getoption
    if not runs_suite(config, "server"):
        _refuse_without_the_suite(config)
    remote_given = [name for name in _REMOTE_OPTIONS if option(name)]
    choice = option("server_target")
    if choice == "reference" or (choice is None and not remote_given):
        if remote_given:
            given = ", ".join("--" + name.replace("_", "-") for name in remote_given)
            raise pytest.UsageError(f"the reference target takes no {given}")
        config.stash[_WAITS] = WaitBounds(*(3 * (option("acme_timeout") or 10.0,)))
        config.stash[_WORLD_PORTS] = WorldPorts()
        # Imported here: a remote run needs nothing of the reference CA.
        from rfc8823.targets.reference_server import ReferenceTarget, parse_overrides

        try:
            overrides = parse_overrides(option("server_config"))
        except ValueError as error:
            raise pytest.UsageError(f"--server-config: {error}") from error
        faults = injected_faults(config, "server", target="reference", reference=True)
        return ReferenceTarget({**overrides, "faults": faults} if faults else overrides)
    if option("server_config"):
        raise pytest.UsageError("--server-config configures the reference target only")
    injected_faults(config, "server", target=choice or "remote", reference=False)
    try:
        settings = settings_from_options(
            config_file=option("target_config"),
            kind=choice,
            directory=option("acme_directory"),
            ca_bundle=option("acme_ca_bundle"),
            challenge_from=option("acme_from"),
            reply_smtp=option("acme_reply_smtp"),
            dkim_records=option("acme_dkim_record"),
            smime_trust_anchors=option("acme_smime_anchor"),
            eab=option("acme_eab"),
            capabilities=option("acme_capability"),
            wait_seconds=option("acme_wait"),
            world_ports=_world_ports(option("world_ports")),
            timeout=option("acme_timeout"),
            name=option("target_name"),
            version=option("target_version") or None,
        )
        target = described_target(settings)
    except (OSError, ValueError) as error:
        raise pytest.UsageError(f"server target: {error}") from error
    config.stash[_WAITS] = settings.timeouts
    config.stash[_WORLD_PORTS] = settings.world_ports
    return target


def pytest_configure(config: pytest.Config) -> None:
    """Build the target from the options; refuse xdist for a serial-only target."""
    config.addinivalue_line(
        "markers", f"{CAPABILITY_MARK}(name): the test needs this ServerCapabilities feature"
    )
    target = build_target(config)
    if target.capabilities.serial_only and getattr(config.option, "numprocesses", None):
        raise pytest.UsageError(
            f"the server target {target.name} is wired to one world (serial_only); run without -n"
        )
    config.stash[_TARGET] = target


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """For a serial-only target, start the world (and wire the CA's mail into it) now, so the
    header can show the endpoints and logins the CA must use."""
    config = session.config
    target = config.stash.get(_TARGET, None)
    if target is None or not target.capabilities.serial_only:
        return
    world = config.stash[_EARLY_WORLD] = World(ports=config.stash[_WORLD_PORTS]).start()
    if isinstance(target, WiredEarly):
        target.wire(world)


def _world_ports(text: str | None) -> WorldPorts | None:
    """The ports given with --world-ports, or None."""
    if not text:
        return None
    try:
        ports = [int(part) for part in text.split(",")]
        if len(ports) not in (3, 4):
            raise ValueError(text)
    except ValueError as error:
        raise pytest.UsageError(
            f"--world-ports wants DNS,MX,SUBMISSION[,SUBMISSIONS] ports: {text!r}"
        ) from error
    return WorldPorts(*ports)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Undo what was wired early (a run whose tests never started the target wired it too),
    then stop the world."""
    config = session.config
    world = config.stash.get(_EARLY_WORLD, None)
    if world is None:
        return
    target = config.stash.get(_TARGET, None)
    if target is not None:
        target.stop()
    world.stop()


def pytest_report_header(config: pytest.Config) -> list[str]:
    """The CA under test and, for a running CA, where it must send and look things up."""
    target = config.stash.get(_TARGET, None)
    if target is None or not target.capabilities.serial_only:
        return []
    declared = [
        name
        for name, value in vars(target.capabilities).items()
        if value is True and name != "serial_only"
    ]
    lines = [
        f"server target: {target.name} {target.version}".rstrip(),
        f"server capabilities: {', '.join(declared) or 'none'}",
    ]
    world = config.stash.get(_EARLY_WORLD, None)
    if world is not None:
        dns, mx = world.dns_endpoint, world.mx
        lines += [
            f"world DNS (the CA's resolver, UDP+TCP): {dns.host}:{dns.port}",
            f"world MX (where the CA sends challenge emails, port for every MX host): "
            f"{mx.host}:{mx.port}",
            f"world submission (users' outbound mail, STARTTLS): {world.submission.host}:"
            f"{world.submission.port}",
            f"world submissions (users' outbound mail, implicit TLS): "
            f"{world.submissions.host}:{world.submissions.port}",
        ]
    if isinstance(target, WiredEarly):
        lines += target.header_lines()
    return lines


def configured_target(config: pytest.Config) -> ServerUnderTest:
    """The CA under test that the options chose (built at configure time)."""
    return config.stash[_TARGET]


def early_world(config: pytest.Config) -> World | None:
    """The world started before the run for a running CA, if any."""
    return config.stash.get(_EARLY_WORLD, None)


def configured_waits(config: pytest.Config) -> WaitBounds:
    """Bounds on the suite's waits: ``--acme-timeout``, else the target file's, else 10 s."""
    return config.stash[_WAITS]
