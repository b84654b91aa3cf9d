"""The client suite's setup: which client to test, its capabilities, and per-test enrollments.

Default target: the reference client, in-process. ``--client-command TEMPLATE`` runs any
program instead, once per enrollment (placeholders below). The suite plays the CA (the
reference server as a test peer, one per enrollment) and the mail world (its own, started once
per session and per xdist worker); the client's mailbox is the kind ``--client-mailbox`` names.

Fixtures: ``client_target`` and ``client_capabilities`` (session), ``client`` (per test: a
:class:`harness.ClientSuite`). Mark a test ``@pytest.mark.client_capability("smime")`` to
report it UNSUPPORTED when the client does not declare that capability. A client target that
cannot run here (an input of its TOML file unset) makes every test UNSUPPORTED. A command
target's per-test folders (its workdir, command line and output) are kept under the log
folder the options chose, one per test.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from rfc8823.report.plugin import Conformance
from rfc8823.report.records import Target
from rfc8823.targets.capability_marks import require_marked
from rfc8823.targets.client import ClientCapabilities, ClientUnderTest
from rfc8823.targets.client_plugin import (
    CAPABILITY_MARK,
    ClientSuiteSettings,
    configured_client,
    suite_settings,
    unavailable_reason,
)
from rfc8823.targets.dovecot import Dovecot, dovecot_binary
from rfc8823.world.system_resolver import SystemResolverStandIn
from rfc8823.world.world import World

from .harness import ClientSuite
from .sanity import block_if_needed

FIRST_MARK = "first"


def pytest_configure(config: pytest.Config) -> None:
    """The suite's own mark: ``first`` tests (the happy path) run before the rest."""
    config.addinivalue_line("markers", f"{FIRST_MARK}: run before the other tests (sanity)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The happy path first, so its verdict is known before the tests that build on it."""
    items.sort(key=lambda item: item.get_closest_marker(FIRST_MARK) is None)


@pytest.fixture(scope="session")
def world() -> Iterator[World]:
    """The client suite's world: DNS, domains with DKIM/SPF/DMARC, submission."""
    with World() as running:
        yield running


@pytest.fixture(scope="session")
def client_target(request: pytest.FixtureRequest) -> ClientUnderTest:
    """The client under test."""
    return configured_client(request.config)


@pytest.fixture(scope="session")
def client_capabilities(client_target: ClientUnderTest) -> ClientCapabilities:
    """What the client under test declares."""
    return client_target.capabilities


@pytest.fixture(scope="session")
def client_settings(request: pytest.FixtureRequest) -> ClientSuiteSettings:
    """The mailbox kind and the bounds on waits."""
    return suite_settings(request.config)


@pytest.fixture(scope="session")
def _dovecot_holder() -> Iterator[list[Dovecot]]:
    """Where the session's Dovecot is kept once a test needs it (started lazily)."""
    holder: list[Dovecot] = []
    yield holder
    for server in holder:
        server.stop()


@pytest.fixture(scope="session")
def _system_resolver(
    world: World, client_settings: ClientSuiteSettings
) -> Iterator[SystemResolverStandIn | None]:
    """The world's DNS on port 53 of --client-system-resolver's address, when given."""
    address = client_settings.system_resolver
    if address is None:
        yield None
        return
    with SystemResolverStandIn(world.records, address) as stand_in:
        yield stand_in


@pytest.fixture
def _test_folder(request: pytest.FixtureRequest, client_settings: ClientSuiteSettings) -> Path:
    """This test's folder: kept under the log folder for a command target, else temporary."""
    root = client_settings.log_root
    if root is None:
        path: Path = request.getfixturevalue("tmp_path")
        return path
    folder = root / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid).strip("_")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture(scope="session")
def _peer_stops() -> Iterator[list[threading.Thread]]:
    """Threads stopping the tests' CAs in the background; joined at the end of the session."""
    threads: list[threading.Thread] = []
    yield threads
    for thread in threads:
        thread.join(10.0)


@pytest.fixture(autouse=True)
def _client_case(
    request: pytest.FixtureRequest, conformance: Conformance, client_target: ClientUnderTest
) -> None:
    """Name the target in the report; UNSUPPORTED when the target cannot run here or a needed
    capability is not declared."""
    conformance.target = Target(client_target.name, client_target.version)
    reason = unavailable_reason(client_target)
    if reason:
        conformance.unsupported(f"{client_target.name} not installed", reason)
    require_marked(
        request.node, CAPABILITY_MARK, client_target.capabilities, client_target.name, conformance
    )


@pytest.fixture
async def client(
    request: pytest.FixtureRequest,
    world: World,
    client_target: ClientUnderTest,
    client_settings: ClientSuiteSettings,
    conformance: Conformance,
    _test_folder: Path,
    _dovecot_holder: list[Dovecot],
    _peer_stops: list[threading.Thread],
    _system_resolver: SystemResolverStandIn | None,
) -> AsyncIterator[ClientSuite]:
    """This test's driver: enrollments of the client against CAs of the suite."""

    def dovecot() -> Dovecot:
        if not _dovecot_holder:
            if dovecot_binary() is None:
                conformance.unsupported(
                    "imap", "Dovecot is not installed (apt-get install dovecot-imapd)"
                )
            _dovecot_holder.append(Dovecot().start())
        return _dovecot_holder[0]

    suite = ClientSuite(
        world,
        client_target,
        client_settings,
        conformance,
        _test_folder,
        dovecot,
        _peer_stops,
        resolv_conf=_system_resolver.resolv_conf if _system_resolver is not None else None,
    )
    try:
        await block_if_needed(request.node, suite)
        yield suite
    finally:
        await suite.close()
