"""The server suite's setup: which CA to test, its start once per session, and per-test drivers.

Default target: the reference CA, in-process. ``--acme-directory`` (with ``--acme-from`` and
``--acme-reply-smtp``) or ``--target-config FILE.toml`` selects a running CA instead; the suite
then starts its world before the run and prints the DNS and MX endpoints the CA must use.

Fixtures: ``started_target`` and ``server_target`` (session), ``server_endpoints`` (per test:
UNSUPPORTED when the CA cannot run here), ``server_capabilities``, ``timeouts``,
``barrier_state`` (session), and ``ca`` (per test: a :class:`helpers.ServerSuite` with its own
HTTP client).
Mark a test ``@pytest.mark.capability("eai")`` to report it UNSUPPORTED when the target does
not declare that capability.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from typing import NamedTuple

import httpx
import pytest

from rfc8823.acme.driver import AcmeDriver
from rfc8823.report.outcomes import HarnessError
from rfc8823.report.plugin import Conformance
from rfc8823.report.records import Target
from rfc8823.targets import (
    ServerCapabilities,
    ServerEndpoints,
    ServerUnderTest,
    TargetUnavailable,
)
from rfc8823.targets.capability_marks import require_marked
from rfc8823.targets.server_plugin import (
    CAPABILITY_MARK,
    configured_target,
    configured_waits,
    early_world,
)
from rfc8823.world.world import World

from .helpers import BarrierState, ServerSuite, Timeouts
from .sanity import block_if_needed

FIRST_MARK = "first"


def pytest_configure(config: pytest.Config) -> None:
    """The suite's own mark: ``first`` tests (the happy path) run before the rest."""
    config.addinivalue_line("markers", f"{FIRST_MARK}: run before the other tests (sanity)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The happy path first, so its verdict is known before the tests that build on it."""
    items.sort(key=lambda item: item.get_closest_marker(FIRST_MARK) is None)


@pytest.fixture(scope="session")
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    """The world: the one started early for a serial-only target, else a fresh one."""
    early = early_world(request.config)
    if early is not None:
        yield early
        return
    with World() as running:
        yield running


class TargetDidNotStart(NamedTuple):
    """Why the CA under test failed to start (anything but unavailable): every test's ERROR."""

    error: str


Started = ServerEndpoints | TargetUnavailable | TargetDidNotStart


@pytest.fixture(scope="session")
def started_target(request: pytest.FixtureRequest, world: World) -> Iterator[Started]:
    """The CA under test started and wired to the world (per xdist worker), or why it cannot
    run here, or why it did not start — kept, not raised, so that each test reports it once
    it has named its target (a session fixture fails before the test's ``_server_case``)."""
    target = configured_target(request.config)
    try:
        endpoints = target.start(world)
    except TargetUnavailable as unavailable:
        yield unavailable
        return
    except Exception as error:  # noqa: BLE001 - reported as each test's ERROR, with its name
        yield TargetDidNotStart(f"{type(error).__name__}: {error}")
        return
    try:
        yield endpoints
    finally:
        target.stop()


@pytest.fixture
def server_endpoints(
    request: pytest.FixtureRequest, started_target: Started, conformance: Conformance
) -> ServerEndpoints:
    """Where the started CA is reached; the test is UNSUPPORTED when the CA cannot run here,
    ERROR (a HarnessError naming the target) when it did not start."""
    name = configured_target(request.config).name
    if isinstance(started_target, TargetUnavailable):
        conformance.unsupported(name, str(started_target))
    if isinstance(started_target, TargetDidNotStart):
        raise HarnessError(f"{name} did not start: {started_target.error}")
    return started_target


@pytest.fixture(scope="session")
def server_target(request: pytest.FixtureRequest, started_target: Started) -> ServerUnderTest:
    """The CA under test (started)."""
    return configured_target(request.config)


@pytest.fixture(scope="session")
def server_capabilities(server_target: ServerUnderTest) -> ServerCapabilities:
    """What the CA under test declares it implements."""
    return server_target.capabilities


@pytest.fixture(scope="session")
def timeouts(request: pytest.FixtureRequest) -> Timeouts:
    """Bounds on waits (``--acme-timeout``, else the target file's ``[timeouts]``)."""
    waits = configured_waits(request.config)
    return Timeouts(mail=waits.mail, state=waits.state, http=waits.http)


@pytest.fixture(scope="session")
def https_context(started_target: Started) -> ssl.SSLContext:
    """TLS trust for the CA's HTTPS: its CA bundle, else the system store."""
    bundle = started_target.ca_bundle if isinstance(started_target, ServerEndpoints) else None
    return ssl.create_default_context(cafile=str(bundle) if bundle is not None else None)


@pytest.fixture(autouse=True)
def _server_case(request: pytest.FixtureRequest, conformance: Conformance) -> Iterator[None]:
    """Name the target in the report, then start it (a target that cannot run here makes the
    test UNSUPPORTED); UNSUPPORTED too when a needed capability is not declared; ERROR when
    the CA crashed inside while the test ran (a crash is no verdict)."""
    target = configured_target(request.config)
    conformance.target = Target(target.name, target.version)
    request.getfixturevalue("server_endpoints")
    require_marked(request.node, CAPABILITY_MARK, target.capabilities, target.name, conformance)
    before = len(target.internal_errors())
    yield
    crashes = target.internal_errors()[before:]
    if crashes:
        raise HarnessError(f"{target.name} failed internally: {'; '.join(crashes)}")


@pytest.fixture(scope="session")
def barrier_state() -> BarrierState:
    """What this process learnt of the barrier (shared by every test's ``ca``)."""
    return BarrierState()


@pytest.fixture
async def ca(
    request: pytest.FixtureRequest,
    barrier_state: BarrierState,
    world: World,
    server_endpoints: ServerEndpoints,
    server_capabilities: ServerCapabilities,
    https_context: ssl.SSLContext,
    timeouts: Timeouts,
    conformance: Conformance,
) -> AsyncIterator[ServerSuite]:
    """This test's driver of the CA: world, endpoints, capabilities, ACME, mail, findings."""
    async with httpx.AsyncClient(verify=https_context, timeout=timeouts.http) as http:
        suite = ServerSuite(
            world,
            server_endpoints,
            server_capabilities,
            AcmeDriver(
                http,
                server_endpoints.directory_url,
                eab=server_endpoints.eab,
                contact=server_endpoints.contact,
                agree_terms=server_endpoints.agree_terms,
            ),
            timeouts,
            conformance,
            barrier_state,
        )
        await block_if_needed(request.node, suite)
        yield suite
