"""Open an IMAP session with explicit choices (TLS mode, timeout), logged in (RFC 9051 §6.2).

Used by the reference client's mailbox source, the reference CA's reply reader and the test
Dovecot's delivery agent, so all three connect the same way.
"""

from __future__ import annotations

import contextlib
import imaplib
import ssl
from typing import Literal

__all__ = ["ImapTls", "open_imap"]

ImapTls = Literal["none", "starttls", "implicit"]


def open_imap(
    host: str,
    port: int,
    *,
    user: str,
    password: str,
    tls: ImapTls = "none",
    ssl_context: ssl.SSLContext | None = None,
    folder: str | None = None,
    timeout: float = 10.0,
) -> imaplib.IMAP4:
    """A logged-in IMAP session, ``folder`` selected if given (RFC 9051 §6.3.2);
    ``imaplib.IMAP4.error`` or ``OSError`` when that fails.

    ``ssl_context`` defaults to the system's verifying context; implicit TLS is RFC 8314 §3.
    """
    context = ssl_context or ssl.create_default_context()
    client: imaplib.IMAP4
    if tls == "implicit":
        client = imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=timeout)
    else:
        client = imaplib.IMAP4(host, port, timeout=timeout)
    try:
        if tls == "starttls":
            client.starttls(ssl_context=context)
        client.login(user, password)
        if folder is not None:
            status, detail = client.select(folder)
            if status != "OK":
                raise imaplib.IMAP4.error(f"SELECT {folder}: {detail!r}")
    except BaseException:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            client.shutdown()
        raise
    return client
