"""The world's DNS where a system resolver looks: port 53 of a loopback address, and a
resolv.conf naming it.

A client that only uses the system resolver (it reads ``/etc/resolv.conf``, which cannot name
a port) is pointed at the world by running it with this resolv.conf in place of the system's,
for example in a mount namespace of its own (``unshare --mount``; docs/testing-a-client.md).
The server shares the world's records, so live edits and faults apply to it too. Binding
port 53 needs privileges (root, or ``CAP_NET_BIND_SERVICE``).
"""

from __future__ import annotations

import ipaddress
import tempfile
from pathlib import Path
from typing import Self

from rfc8823.world.dns import DnsServer, RecordStore
from rfc8823.world.service import Service

PORT = 53


class SystemResolverStandIn(Service):
    """A DNS server on ``address``:53 serving ``records``, and ``resolv_conf`` naming it."""

    def __init__(self, records: RecordStore, address: str) -> None:
        if not ipaddress.ip_address(address).is_loopback:
            raise ValueError(f"{address} is not a loopback address")
        self.address = address
        self._server = DnsServer(host=address, port=PORT, records=records)
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self.resolv_conf: Path | None = None

    def start(self) -> Self:
        """Bind port 53 (OSError without the privilege) and write the resolv.conf."""
        try:
            self._server.start()
        except (OSError, RuntimeError) as error:
            raise OSError(
                f"cannot serve DNS on {self.address}:{PORT} (it needs root or "
                f"CAP_NET_BIND_SERVICE, and a free port): {error}"
            ) from error
        self._folder = tempfile.TemporaryDirectory(prefix="rfc8823-resolv-")
        self.resolv_conf = Path(self._folder.name) / "resolv.conf"
        self.resolv_conf.write_text(
            f"# the rfc8823 test world's DNS\nnameserver {self.address}\n", encoding="ascii"
        )
        return self

    def stop(self) -> None:
        """Stop serving and remove the resolv.conf; safe to call twice."""
        self._server.stop()
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None
        self.resolv_conf = None
