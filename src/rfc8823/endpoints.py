"""``host:port`` text as the command lines and TOML files of every role write it."""

from __future__ import annotations


def parse_host_port(text: str, default_host: str | None = None) -> tuple[str, int]:
    """``host:port`` (IPv6 in brackets) as a (host, port) pair; ``ValueError`` otherwise.

    With ``default_host``, ``:port`` and a bare ``port`` are accepted too and port 0 (let the
    kernel choose) is allowed; without it the host and a non-zero port are required.
    """
    host, colon, port = text.strip().rpartition(":")
    if not colon and default_host is not None:
        host, port = default_host, text.strip()
    host = host.strip("[]") or (default_host or "")
    lowest = 0 if default_host is not None else 1
    if not host or not port.isdigit() or not lowest <= int(port) <= 65535:
        raise ValueError(f"{text!r} is not host:port")
    return host, int(port)
