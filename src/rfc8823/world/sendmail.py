"""Send one message over SMTP with explicit choices (TLS mode, source IP, AUTH, SMTPUTF8).

Used by the suites, the reference server and the reference client. The DATA bytes go out as
given (only dot-stuffed, and CRLF appended if missing), so a test controls the exact message.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

__all__ = ["SendError", "SendResult", "send_message", "send_message_async"]

TlsMode = Literal["none", "starttls", "implicit"]
Stage = Literal["connect", "tls", "ehlo", "auth", "mail", "rcpt", "data"]


@dataclass(frozen=True)
class SendResult:
    """The server's final reply to DATA, and what the session looked like."""

    code: int
    text: str
    recipients: tuple[str, ...]
    tls: bool
    extensions: frozenset[str]


class SendError(Exception):
    """The server refused the message or the session failed; ``code`` is None without a reply."""

    def __init__(
        self,
        stage: Stage,
        code: int | None,
        text: str,
        *,
        server: tuple[str, int],
        refused: dict[str, tuple[int, str]] | None = None,
    ) -> None:
        self.stage = stage
        self.code = code
        self.text = text
        self.server = server
        self.refused = dict(refused or {})
        reply = f"{code} {text}" if code is not None else text
        super().__init__(f"SMTP {stage} failed at {server[0]}:{server[1]}: {reply}")


def send_message(
    host: str,
    port: int,
    *,
    mail_from: str,
    rcpt_tos: Sequence[str],
    data: bytes,
    tls: TlsMode = "none",
    ssl_context: ssl.SSLContext | None = None,
    source_address: str | None = None,
    auth: tuple[str, str] | None = None,
    helo: str | None = None,
    smtputf8: bool = False,
    timeout: float = 10.0,
    utf8_undeclared: bool = False,
) -> SendResult:
    """Deliver ``data`` to every recipient in one transaction, or raise :class:`SendError`.

    ``ssl_context`` defaults to the system's verifying context; ``source_address`` binds the
    client (e.g. 127.0.0.2, the IP SPF will see); ``helo`` defaults to ``localhost``. SIZE and
    BODY=8BITMIME are declared when the server offers them. Any refused recipient fails the send.
    ``utf8_undeclared`` writes the commands in UTF-8 without naming SMTPUTF8, as a client that
    ignores RFC 6531 §3.4 does (for a test or fault that needs such a session).
    """
    server = (host, port)
    context = ssl_context
    if context is None and tls != "none":
        context = ssl.create_default_context()
    with _session(server, tls, context, source_address, helo, timeout) as client:
        stage: Stage = "ehlo"
        try:
            _greet(client)
            if tls == "starttls":
                stage = "tls"
                client.starttls(context=context)
                _greet(client)
            if auth is not None:
                stage = "auth"
                client.login(*auth)
            stage = "mail"
            if utf8_undeclared:
                client.command_encoding = "utf-8"
            _expect(client.mail(mail_from, _mail_options(client, data, smtputf8)), stage, server)
            stage = "rcpt"
            refused = _refused_recipients(client, rcpt_tos)
            if refused:
                address, (code, text) = next(iter(refused.items()))
                client.rset()
                raise SendError(
                    "rcpt", code, f"<{address}>: {text}", server=server, refused=refused
                )
            stage = "data"
            code, reply = client.data(data)
            if code != 250:
                raise SendError(stage, code, _text(reply), server=server)
            extensions = frozenset(client.esmtp_features)
        except smtplib.SMTPResponseException as error:
            text = _text(error.smtp_error)
            raise SendError(stage, error.smtp_code, text, server=server) from error
        except (smtplib.SMTPException, OSError, UnicodeEncodeError) as error:
            raise SendError(stage, None, _describe(error), server=server) from error
        return SendResult(
            code=code,
            text=_text(reply),
            recipients=tuple(rcpt_tos),
            tls=tls != "none",
            extensions=extensions,
        )


async def send_message_async(
    host: str,
    port: int,
    *,
    mail_from: str,
    rcpt_tos: Sequence[str],
    data: bytes,
    tls: TlsMode = "none",
    ssl_context: ssl.SSLContext | None = None,
    source_address: str | None = None,
    auth: tuple[str, str] | None = None,
    helo: str | None = None,
    smtputf8: bool = False,
    timeout: float = 10.0,  # noqa: ASYNC109
    utf8_undeclared: bool = False,
) -> SendResult:
    """:func:`send_message` in a worker thread, so the caller's loop keeps serving."""
    return await asyncio.to_thread(
        send_message,
        host,
        port,
        mail_from=mail_from,
        rcpt_tos=rcpt_tos,
        data=data,
        tls=tls,
        ssl_context=ssl_context,
        source_address=source_address,
        auth=auth,
        helo=helo,
        smtputf8=smtputf8,
        timeout=timeout,
        utf8_undeclared=utf8_undeclared,
    )


@contextmanager
def _session(
    server: tuple[str, int],
    tls: TlsMode,
    context: ssl.SSLContext | None,
    source_address: str | None,
    helo: str | None,
    timeout: float,
) -> Iterator[smtplib.SMTP]:
    """An open SMTP connection (TLS from the start if implicit), QUIT and closed at the end."""
    bind = (source_address, 0) if source_address is not None else None
    local_hostname = helo or "localhost"
    stage: Stage = "tls" if tls == "implicit" else "connect"
    try:
        if tls == "implicit":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                *server,
                local_hostname=local_hostname,
                timeout=timeout,
                source_address=bind,
                context=context,
            )
        else:
            client = smtplib.SMTP(
                *server, local_hostname=local_hostname, timeout=timeout, source_address=bind
            )
    except smtplib.SMTPResponseException as error:
        raise SendError(stage, error.smtp_code, _text(error.smtp_error), server=server) from error
    except (smtplib.SMTPException, OSError) as error:
        raise SendError(stage, None, _describe(error), server=server) from error
    try:
        yield client
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


def _greet(client: smtplib.SMTP) -> None:
    code, reply = client.ehlo()
    if code != 250:
        raise smtplib.SMTPHeloError(code, reply)


def _mail_options(client: smtplib.SMTP, data: bytes, smtputf8: bool) -> list[str]:
    options: list[str] = []
    if client.has_extn("size"):
        options.append(f"SIZE={len(data)}")
    if client.has_extn("8bitmime") and not data.isascii():
        options.append("BODY=8BITMIME")
    if smtputf8:
        options.append("SMTPUTF8")
    return options


def _refused_recipients(
    client: smtplib.SMTP, rcpt_tos: Sequence[str]
) -> dict[str, tuple[int, str]]:
    refused: dict[str, tuple[int, str]] = {}
    for rcpt in rcpt_tos:
        code, reply = client.rcpt(rcpt)
        if code not in (250, 251):
            refused[rcpt] = (code, _text(reply))
    return refused


def _expect(reply: tuple[int, bytes], stage: Stage, server: tuple[str, int]) -> None:
    code, text = reply
    if code != 250:
        raise SendError(stage, code, _text(text), server=server)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", errors="replace") if isinstance(reply, bytes) else reply


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
