"""The response email: built per RFC 8823 §3.2 and submitted over SMTP.

The message comes from :class:`~rfc8823.messages.response.ResponseEmail`: string
concatenation of the token parts (decision 2), ``Subject: Re: ACME: <token-part1>``, To the
challenge's Reply-To else its From (RESP-TO-1), In-Reply-To and References (RESP-IRT-1/2),
text/plain in 7bit with the digest block wrapped at 64 characters (RESP-BODY-2/3/5). It is
DKIM-signed here when the user domain's key is configured (RESP-DKIM-1/2/4); otherwise signing
is left to the submission server.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from rfc8823.auth.dkim import DkimPrivateKey
from rfc8823.client.errors import EnrollmentError
from rfc8823.messages.headers import parse_single_address
from rfc8823.messages.response import ResponseEmail
from rfc8823.tokens import Concatenation
from rfc8823.world.sendmail import SendError, SendResult, TlsMode, send_message_async

DIGEST_LINE_WIDTH = 64
EXPLANATION = (
    "This is an automatic reply to an ACME challenge (RFC 8823): it proves that this mailbox\n"
    "asked for an S/MIME certificate. The block below is for the certificate authority.\n"
)


@dataclass(frozen=True)
class DkimConfig:
    """The user domain's DKIM key; ``domain`` None signs as the From domain (RESP-DKIM-4)."""

    private_key: DkimPrivateKey
    selector: str
    domain: str | None = None


@dataclass(frozen=True)
class SubmissionConfig:
    """Where the response is submitted: host, port, TLS mode and optional AUTH (RFC 6409)."""

    host: str
    port: int
    tls: TlsMode = "none"
    user: str | None = None
    password: str | None = None
    ssl_context: ssl.SSLContext | None = None
    timeout: float = 10.0


def build_response(
    challenge_raw: bytes,
    *,
    identifier: str,
    thumbprint: str,
    token_part2: str,
    dkim: DkimConfig | None,
) -> ResponseEmail:
    """The reply to one accepted challenge email (RFC 8823 §3 step 6, §3.2).

    Raises ValueError when the challenge lacks a From or token-part1 (the decision step has
    refused such mail before this is called).
    """
    response = (
        ResponseEmail.answering(
            challenge_raw,
            identifier=identifier,
            thumbprint=thumbprint,
            token_part2=token_part2,
            reading=Concatenation.STRING,
        )
        .with_digest_wrapped(DIGEST_LINE_WIDTH)
        .with_text_around(before=EXPLANATION)
    )
    if dkim is not None:
        response = response.signed_dkim(
            dkim.private_key, selector=dkim.selector, domain=dkim.domain
        )
    return response


def recipients(response: ResponseEmail) -> tuple[str, ...]:
    """The envelope recipients: every address of the response's To field."""
    return parse_single_address(response.to).addresses


async def submit(
    message: bytes, *, mail_from: str, rcpt_tos: tuple[str, ...], config: SubmissionConfig
) -> SendResult:
    """Submit the response; :class:`EnrollmentError` naming the SMTP stage if refused."""
    auth = None
    if config.user is not None:
        auth = (config.user, config.password or "")
    try:
        return await send_message_async(
            config.host,
            config.port,
            mail_from=mail_from,
            rcpt_tos=rcpt_tos,
            data=message,
            tls=config.tls,
            ssl_context=config.ssl_context,
            auth=auth,
            smtputf8=not (mail_from.isascii() and all(r.isascii() for r in rcpt_tos)),
            timeout=config.timeout,
        )
    except SendError as error:
        raise EnrollmentError(
            "response email",
            f"submission refused: {error}",
            url=f"smtp://{config.host}:{config.port}",
        ) from error
