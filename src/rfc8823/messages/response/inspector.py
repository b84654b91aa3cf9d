"""Judge a whole response email and decide whether a CA should accept it (RFC 8823 §3.2)."""

from __future__ import annotations

from rfc8823.messages.field_counts import judge_field_counts
from rfc8823.messages.judge import Judge
from rfc8823.messages.mime import parse_message
from rfc8823.messages.response.authentication import ResponseAuth
from rfc8823.messages.response.authentication_rules import judge_authentication
from rfc8823.messages.response.body_rules import judge_body
from rfc8823.messages.response.expectation import ResponseExpectation
from rfc8823.messages.response.header_rules import (
    judge_auto_submitted,
    judge_cc,
    judge_from,
    judge_lists,
    judge_subject,
    judge_threading,
    judge_to,
)
from rfc8823.messages.response.report import ResponseReport


def inspect_response(
    raw: bytes, expect: ResponseExpectation, auth: ResponseAuth | None = None
) -> ResponseReport:
    """Judge a response email against RFC 8823 §3.2 and decide if a CA should accept it.

    Pure and total: any bytes give a report. ``acceptable`` holds exactly when all of these do
    (SRV-VAL-1):

    * authentic: a DKIM signature passes with ``d=`` equal to the From domain (RESP-DKIM-1,
      RESP-DKIM-4), its ``h=`` covers every required field present in the message
      (RESP-DKIM-2; absent ones left out of ``h=`` only warn), and no ``l=`` stops short of the
      body (RESP-DKIM-5). Without ``auth`` the message is not authentic. SPF never stands in
      for DKIM (SEC-10); S/MIME alone does not either (RESP-DKIM-1);
    * exactly one From, naming the identifier (RESP-FROM-1);
    * exactly one Subject whose decoded ``ACME:`` token equals token-part1, ignoring white
      space and ``=`` padding, whatever precedes the label (RESP-SUBJ-1..4);
    * no List-* field (RESP-LIST-1);
    * a text/plain body, alone or inside multipart/alternative (a multipart/signed wrapper is
      looked through), holding the block (RESP-BODY-1, RESP-HTML-1);
    * every block carries the same digest, and it matches the key authorization under some
      reading: string, octets or string-unpadded (RESP-BODY-2, KA-1..KA-4,
      docs/decisions.md#decision-2).

    To, Cc, In-Reply-To, References, Auto-Submitted, the transfer encoding, line endings, text
    around the block and the Subject prefix are judged in ``findings`` but never decide.
    """
    message = parse_message(raw)
    judge = Judge()
    from_addr = judge_from(message, expect, judge)
    judge_to(message, expect, judge)
    judge_cc(message, judge)
    token_seen = judge_subject(message, expect, judge)
    judge_threading(message, expect, judge)
    judge_lists(message, judge)
    judge_field_counts(message, judge)
    judge_auto_submitted(message, judge)
    body = judge_body(message, expect, judge)
    authentic = judge_authentication(message, from_addr, auth, judge)
    return ResponseReport(
        findings=tuple(judge.findings),
        digests_found=body.digests,
        reading=body.reading,
        token_part1_seen=token_seen,
        authentic=authentic,
        acceptable=not judge.rejections,
        rejection_reasons=tuple(judge.rejections),
    )
