"""Trace fields written by a delivering MTA and read back by a mailbox reader (RFC 5321 §4.4)."""

from __future__ import annotations

import pytest

from rfc8823.world.trace import Trace, read_trace, trace_fields

MESSAGE = b"From: user@example.test\r\nSubject: Re: ACME: abc\r\n\r\nbody\r\n"


@pytest.mark.parametrize(
    "trace",
    [
        Trace("user@example.test", "mx.example.test", "127.0.0.11"),
        Trace("", "relay.invalid", "127.0.0.250"),
        Trace("ü@xn--bcher-kva.test", "mx.xn--bcher-kva.test", "::1"),
    ],
)
def test_written_trace_reads_back(trace: Trace) -> None:
    raw = trace_fields(trace, by="mx.ca.test", tls=True, when=0) + MESSAGE
    assert read_trace(raw) == trace
    assert b"by mx.ca.test with ESMTPS; Thu, 01 Jan 1970 00:00:00 -0000\r\n" in raw


def test_the_topmost_fields_win() -> None:
    """A sender's own Received fields lie below the final MTA's, which is the one trusted."""
    forged = b"Return-Path: <boss@ca.test>\r\nReceived: from a ([127.0.0.1])\r\n\tby b; x\r\n"
    real = trace_fields(Trace("user@example.test", "h", "127.0.0.11"), by="mx", tls=False)
    assert read_trace(real + forged + MESSAGE) == Trace("user@example.test", "h", "127.0.0.11")


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"Return-Path: <a@b.test>\r\n",
        b"Received: from h ([127.0.0.1]) by x; date\r\n",
        b"Return-Path: <a@b.test>\r\nReceived: by x with local; date\r\n",
    ],
)
def test_no_trace_without_both_fields(head: bytes) -> None:
    assert read_trace(head + MESSAGE) is None
