"""Targets: the implementations the suites drive, each behind a small protocol.

Server targets (:class:`~rfc8823.targets.server.ServerUnderTest`): ``reference`` (the
project's CA, in-process; the default) and ``remote`` (a running CA described by TOML and
options). Client targets (:class:`~rfc8823.targets.client.ClientUnderTest`): ``reference``
(the project's client, in-process; the default) and ``command`` (any program, from a command
template). Suites import this package, never the implementations' internals.
"""

from rfc8823.targets.server import (
    DkimRecord,
    EabCredentials,
    ServerCapabilities,
    ServerEndpoints,
    ServerUnderTest,
    TargetUnavailable,
    WiredEarly,
    capability_table,
    default_contact,
    wire_from_domain,
)

__all__ = [
    "DkimRecord",
    "EabCredentials",
    "ServerCapabilities",
    "ServerEndpoints",
    "ServerUnderTest",
    "TargetUnavailable",
    "WiredEarly",
    "capability_table",
    "default_contact",
    "wire_from_domain",
]
