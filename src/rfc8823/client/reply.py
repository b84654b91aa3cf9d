"""The response email: built per RFC 8823 §3.2 and submitted over SMTP.

The message comes from :class:`~rfc8823.messages.response.ResponseEmail`: string
concatenation of the token parts (decision 2), ``Subject: Re: ACME: <token-part1>``, To the
challenge's Reply-To else its From (RESP-TO-1), In-Reply-To and References (RESP-IRT-1/2),
text/plain in 7bit with the digest block wrapped at 64 characters (RESP-BODY-2/3/5). It is
DKIM-signed here when the user domain's key is configured (RESP-DKIM-1/2/4); otherwise signing
is left to the submission server.
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass, replace

from rfc8823.auth.dkim import DkimPrivateKey
from rfc8823.client.errors import EnrollmentError
from rfc8823.faults import NO_FAULTS, FaultSet
from rfc8823.faults import client as client_faults
from rfc8823.messages.headers import ACME_LABEL, decode_header_value, parse_single_address, unfold
from rfc8823.messages.mime import ParsedMessage, parse_message
from rfc8823.messages.response import ResponseEmail
from rfc8823.tokens import (
    Concatenation,
    acme_token,
    b64url_encode,
    key_authorization,
    response_digest,
)
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
    faults: FaultSet = NO_FAULTS,
) -> ResponseEmail:
    """The reply to one accepted challenge email (RFC 8823 §3 step 6, §3.2).

    Raises ValueError when the challenge lacks a From or token-part1 (the decision step has
    refused such mail before this is called). ``faults``: self-validation only (issue 9).
    """
    octets = faults.on(client_faults.JOINS_TOKEN_OCTETS)
    response = ResponseEmail.answering(
        challenge_raw,
        identifier=identifier,
        thumbprint=thumbprint,
        token_part2=token_part2,
        reading=Concatenation.OCTETS if octets else Concatenation.STRING,
    )
    response = (
        _with_faults(response, parse_message(challenge_raw), token_part2, thumbprint, faults)
        .with_digest_wrapped(DIGEST_LINE_WIDTH)
        .with_text_around(before=EXPLANATION)
    )
    if dkim is not None and not faults.on(client_faults.OMITS_DKIM):
        few = faults.on(client_faults.SIGNS_FEW_HEADERS)
        response = response.signed_dkim(
            dkim.private_key,
            selector=dkim.selector,
            domain=dkim.domain,
            headers=("from", "to", "subject") if few else None,
        )
    return response


def _with_faults(
    response: ResponseEmail,
    challenge: ParsedMessage,
    token_part2: str,
    thumbprint: str,
    faults: FaultSet,
) -> ResponseEmail:
    """The response as the switched-on faults write it (self-validation, issue 9)."""
    if not faults:
        return response
    if faults.on(client_faults.REPLIES_TO_FROM):
        response = response.with_to(
            parse_single_address(challenge.first("From") or "").addr_spec or ""
        )
    if faults.on(client_faults.OMITS_IN_REPLY_TO):
        response = response.with_in_reply_to(None)
    if faults.on(client_faults.REPLIES_HTML_ONLY):
        response = response.as_html_only()
    if faults.on(client_faults.ADDS_LIST_ID):
        response = response.with_list_header()
    if faults.on(client_faults.OMITS_ACME_LABEL):
        response = response.with_subject(f"Re: {response.token_part1}")
    if faults.on(client_faults.REPLIES_FROM_OTHER):
        local, _, domain = response.from_addr.rpartition("@")
        response = response.with_from(f"{local}.other@{domain}")
    token_part1 = response.token_part1
    if faults.on(client_faults.MAILS_KEY_AUTHORIZATION):
        token = acme_token(token_part1, token_part2, Concatenation.STRING)
        response = response.with_digest(key_authorization(token, thumbprint))
    if faults.on(client_faults.PUTS_TOKEN_PART2_FIRST):
        token = acme_token(token_part2, token_part1, Concatenation.STRING)
        response = replace(response, digest=response_digest(key_authorization(token, thumbprint)))
    misread = _misread_token_part1(challenge, faults)
    if misread is not None:
        text = f"{misread}{token_part2}.{thumbprint}".encode()
        response = replace(response, digest=b64url_encode(hashlib.sha256(text).digest()))
    return response


def _misread_token_part1(challenge: ParsedMessage, faults: FaultSet) -> str | None:
    """token-part1 as a faulty reader takes it from the Subject; None where it reads it right."""
    subject = unfold(challenge.first("Subject") or "")
    if faults.on(client_faults.KEEPS_TOKEN_WHITESPACE):
        written = decode_header_value(subject).text.partition(ACME_LABEL)[2].strip(" \t")
        if " " in written or "\t" in written:
            return written
    if faults.on(client_faults.SKIPS_SUBJECT_DECODING) and "=?" in subject:
        return subject.partition(ACME_LABEL)[2].strip(" \t") or subject.split()[-1]
    return None


def recipients(response: ResponseEmail) -> tuple[str, ...]:
    """The envelope recipients: every address of the response's To field."""
    return parse_single_address(response.to_field).addresses


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
