"""Trace fields a delivering MTA prepends, and reading them back (RFC 5321 §4.4).

When mail is filed into a mailbox instead of being handed to the recipient's own SMTP
listener, the SMTP envelope and session are gone; the final MTA keeps them as a
``Return-Path`` (the reverse-path) and a ``Received`` field naming the client's HELO and IP
address. A reader of that mailbox (a CA reading replies over IMAP) recovers them from the
topmost fields, the ones its own MTA wrote, to check SPF as its MX would have (RFC 7208 §2.4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.parser import HeaderParser
from email.policy import compat32
from email.utils import formatdate

__all__ = ["Trace", "read_trace", "trace_fields"]

_FROM_CLAUSE = re.compile(
    r"^\s*from\s+(?P<helo>\S+)\s+\((?:[^()\[\]]*\s)?\[(?:IPv6:)?(?P<ip>[0-9A-Fa-f:.]+)\]\)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Trace:
    """What the delivering MTA saw: reverse-path, the client's HELO name and IP address."""

    mail_from: str
    helo: str
    peer_ip: str


def trace_fields(trace: Trace, *, by: str, tls: bool, when: float | None = None) -> bytes:
    """``Return-Path`` and ``Received`` lines to prepend to a message being filed (§4.4).

    ``by`` is the receiving host's name; ``tls`` picks ``ESMTPS`` over ``ESMTP`` (RFC 3848).
    An internationalized reverse-path is written in UTF-8 (RFC 6532 §3.2).
    """
    literal = f"IPv6:{trace.peer_ip}" if ":" in trace.peer_ip else trace.peer_ip
    protocol = "ESMTPS" if tls else "ESMTP"
    return (
        f"Return-Path: <{trace.mail_from}>\r\n"
        f"Received: from {trace.helo or 'unknown'} ([{literal}])\r\n"
        f"\tby {by} with {protocol}; {formatdate(when)}\r\n"
    ).encode()


def read_trace(raw: bytes) -> Trace | None:
    """The topmost ``Return-Path`` and ``Received`` of ``raw``; None when either is missing."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    header = HeaderParser(policy=compat32).parsestr(head)
    return_path = header.get("Return-Path")
    received = header.get("Received")
    if return_path is None or received is None:
        return None
    match = _FROM_CLAUSE.match(str(received))
    if match is None:
        return None
    mail_from = str(return_path).strip().removeprefix("<").removesuffix(">").strip()
    return Trace(mail_from=mail_from, helo=match["helo"], peer_ip=match["ip"])
