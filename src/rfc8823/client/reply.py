"""The response email: built per RFC 8823 §3.2 and submitted over SMTP.

The message comes from :class:`~rfc8823.messages.response.ResponseEmail`: string
concatenation of the token parts (docs/decisions.md#decision-2),
``Subject: Re: ACME: <token-part1>``, To the challenge's Reply-To else its From (RESP-TO-1),
In-Reply-To and References (RESP-IRT-1/2), text/plain in 7bit with the digest block wrapped at 64
characters (RESP-BODY-2/3/5). It is DKIM-signed here when the user domain's key is configured
(RESP-DKIM-1/2/4); otherwise signing is left to the submission server.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Callable
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
    answered_before: tuple[str, ...] = (),
) -> ResponseEmail:
    """The reply to one accepted challenge email (RFC 8823 §3 step 6, §3.2).

    Raises ValueError when the challenge lacks a From or token-part1 (the decision step has
    refused such mail before this is called). ``faults`` and ``answered_before`` (the
    token-part1 of challenges this client answered before for the identifier, which one fault
    reuses): self-validation only.
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
        _with_faults(
            response,
            _Answered(parse_message(challenge_raw), token_part2, thumbprint, answered_before),
            faults,
        )
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


@dataclass(frozen=True)
class _Answered:
    """What a faulty writer of the response works from: the challenge and the ACME side."""

    challenge: ParsedMessage
    token_part2: str
    thumbprint: str
    answered_before: tuple[str, ...]


ResponseFault = Callable[[ResponseEmail, _Answered], ResponseEmail]


def _to_challenge_from(response: ResponseEmail, answered: _Answered) -> ResponseEmail:
    sender = parse_single_address(answered.challenge.first("From") or "").addr_spec
    return response.with_to(sender or "")


def _from_other_address(response: ResponseEmail, _: _Answered) -> ResponseEmail:
    local, _at, domain = response.from_addr.rpartition("@")
    return response.with_from(f"{local}.other@{domain}")


def _key_authorization_as_digest(response: ResponseEmail, answered: _Answered) -> ResponseEmail:
    token = acme_token(response.token_part1, answered.token_part2, Concatenation.STRING)
    return response.with_digest(key_authorization(token, answered.thumbprint))


def _token_parts_swapped(response: ResponseEmail, answered: _Answered) -> ResponseEmail:
    token = acme_token(answered.token_part2, response.token_part1, Concatenation.STRING)
    digest = response_digest(key_authorization(token, answered.thumbprint))
    return replace(response, digest=digest)


def _token_part2_alone(response: ResponseEmail, answered: _Answered) -> ResponseEmail:
    key = key_authorization(answered.token_part2, answered.thumbprint)
    return replace(response, digest=response_digest(key))


def _token_part1_alone(response: ResponseEmail, answered: _Answered) -> ResponseEmail:
    key = key_authorization(response.token_part1, answered.thumbprint)
    return replace(response, digest=response_digest(key))


def _earlier_token_part1(response: ResponseEmail, answered: _Answered) -> ResponseEmail:
    """The digest made with the token-part1 of the first challenge answered for the identifier,
    as a client keeping one token-part1 per address would."""
    if not answered.answered_before:
        return response
    return _with_token_part1(response, answered, answered.answered_before[0])


def _with_token_part1(response: ResponseEmail, answered: _Answered, misread: str) -> ResponseEmail:
    """The digest made from token-part1 as a faulty reader took it from the Subject."""
    text = f"{misread}{answered.token_part2}.{answered.thumbprint}".encode()
    return replace(response, digest=b64url_encode(hashlib.sha256(text).digest()))


def _undecoded_token(response: ResponseEmail, answered: _Answered) -> ResponseEmail:
    subject = unfold(answered.challenge.first("Subject") or "")
    if "=?" not in subject:
        return response
    misread = subject.partition(ACME_LABEL)[2].strip(" \t") or subject.split()[-1]
    return _with_token_part1(response, answered, misread)


def _spaced_token(response: ResponseEmail, answered: _Answered) -> ResponseEmail:
    subject = unfold(answered.challenge.first("Subject") or "")
    written = decode_header_value(subject).text.partition(ACME_LABEL)[2].strip(" \t")
    if " " not in written and "\t" not in written:
        return response
    return _with_token_part1(response, answered, written)


RESPONSE_FAULTS: tuple[tuple[str, ResponseFault], ...] = (
    (client_faults.REPLIES_TO_FROM, _to_challenge_from),
    (client_faults.OMITS_IN_REPLY_TO, lambda response, _: response.with_in_reply_to(None)),
    (client_faults.REPLIES_HTML_ONLY, lambda response, _: response.as_html_only()),
    (client_faults.ADDS_LIST_ID, lambda response, _: response.with_list_header()),
    (client_faults.OMITS_DATE, lambda response, _: response.without_header("Date")),
    (
        client_faults.OMITS_ACME_LABEL,
        lambda response, _: response.with_subject(f"Re: {response.token_part1}"),
    ),
    (client_faults.REPLIES_FROM_OTHER, _from_other_address),
    (client_faults.MAILS_KEY_AUTHORIZATION, _key_authorization_as_digest),
    (client_faults.PUTS_TOKEN_PART2_FIRST, _token_parts_swapped),
    (client_faults.OMITS_TOKEN_PART1, _token_part2_alone),
    (client_faults.OMITS_TOKEN_PART2, _token_part1_alone),
    (client_faults.REUSES_EARLIER_TOKEN_PART1, _earlier_token_part1),
    (client_faults.SKIPS_SUBJECT_DECODING, _undecoded_token),
    (client_faults.KEEPS_TOKEN_WHITESPACE, _spaced_token),
)
"""Faults that write the response wrongly, each with how, applied in this order.

The client's counterpart of the reference CA's ``LENIENT_FAULTS`` (self-validation).
A token-part1 kept with its white space wins over one read undecoded when both apply.
"""


def _with_faults(response: ResponseEmail, answered: _Answered, faults: FaultSet) -> ResponseEmail:
    """The response as the switched-on faults write it (``RESPONSE_FAULTS``)."""
    for name, write in RESPONSE_FAULTS:
        if faults.on(name):
            response = write(response, answered)
    return response


def recipients(response: ResponseEmail) -> tuple[str, ...]:
    """The envelope recipients: every address of the response's To field."""
    return parse_single_address(response.to_field).addresses


async def submit(
    message: bytes,
    *,
    mail_from: str,
    rcpt_tos: tuple[str, ...],
    config: SubmissionConfig,
    faults: FaultSet = NO_FAULTS,
) -> SendResult:
    """Submit the response; :class:`EnrollmentError` naming the SMTP stage if refused.

    SMTPUTF8 is named on MAIL FROM whenever the envelope or the message is not ASCII (RFC 6531
    §3.4, RFC 6532); ``faults`` (self-validation) may leave it out.
    """
    utf8 = not (mail_from.isascii() and all(r.isascii() for r in rcpt_tos) and message.isascii())
    undeclared = utf8 and faults.on(client_faults.SUBMITS_WITHOUT_SMTPUTF8)
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
            smtputf8=utf8 and not undeclared,
            utf8_undeclared=undeclared,
            timeout=config.timeout,
        )
    except SendError as error:
        raise EnrollmentError(
            "response email",
            f"submission refused: {error}",
            url=f"smtp://{config.host}:{config.port}",
        ) from error
