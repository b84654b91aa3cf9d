"""Judge a whole challenge email against the rules a single message shows (RFC 8823 §3.1)."""

from __future__ import annotations

from rfc8823.messages.challenge.authentication import ChallengeAuth
from rfc8823.messages.challenge.authentication_rules import (
    dkim_signatures,
    judge_auth,
    judge_dkim,
    judge_smime,
    relies_on_smime,
)
from rfc8823.messages.challenge.body_rules import judge_body, judge_line_length, readable_parts
from rfc8823.messages.challenge.expectation import ChallengeExpectation
from rfc8823.messages.challenge.header_rules import (
    judge_address,
    judge_auto_submitted,
    judge_challenge_from,
    judge_other_headers,
    judge_subject,
)
from rfc8823.messages.challenge.protection_rules import judge_protection
from rfc8823.messages.challenge.report import ChallengeReport
from rfc8823.messages.challenge.smime_layer import secure_headers_of, signed_content, smime_shape
from rfc8823.messages.field_counts import judge_field_counts
from rfc8823.messages.headers import domain_of, parse_single_address
from rfc8823.messages.judge import Judge
from rfc8823.messages.mime import parse_message


def inspect_challenge(
    raw: bytes, expect: ChallengeExpectation, auth: ChallengeAuth | None = None
) -> ChallengeReport:
    """Judge one challenge email against every rule a single message shows (RFC 8823 §3.1).

    Pure and total: malformed input yields findings, never an exception. One finding per
    requirement the message lets us judge:

    * Subject: exactly one, ``ACME:`` FWS token-part1 with nothing before the label
      (CHAL-SUBJ-1); folds and spaces inside the token recorded (CHAL-SUBJ-2); encoded-words
      in UTF-8 or US-ASCII (CHAL-SUBJ-4), none at all preferred (CHAL-SUBJ-5), each at most 75
      characters (REF-2047-1);
    * token-part1: base64url (TOK-4), at least 128 bits (TOK-3), whether the concatenation
      readings agree, padding a risk (KA-4, AMB-1/2);
    * From names the challenge object's ``from`` and To the identifier, as bare addr-specs
      (CHAL-HDR-1/2, AMB-12); the object's ``from`` is one addr-spec (CHAL-OBJ-3); Reply-To
      and Cc recorded (CHAL-HDR-3); one well-formed Message-ID (CHAL-HDR-4);
    * Auto-Submitted ``auto-generated`` with ``type=acme`` (CHAL-AUTO-1..3, REF-3834-1);
    * one Date and one From, no origination or destination field repeated (REF-5322-4);
    * a verified DKIM or S/MIME signature (CHAL-AUTH-1); DKIM aligned with From unless S/MIME
      stands in, covering the required and recommended fields (CHAL-DKIM-1..3, REF-6376-1);
      S/MIME in a standard form, signer naming From, a trusted path (CHAL-BODY-2,
      CHAL-SMIME-1/2), From/To/Subject protected and equal to the outer ones (CHAL-BODY-3);
    * the body recorded, decoys noted (CHAL-BODY-1, CHAL-HTML-1); no line over 998 characters
      (REF-5322-1).

    Without ``auth`` the signatures are read but not verified, and CHAL-AUTH-1 is only
    recorded as not checked. Whether to answer is the receiver's policy, not decided here.
    """
    parsed = parse_message(raw)
    judge = Judge()
    token = judge_subject(parsed, expect, judge)
    announced = expect.challenge_from
    if announced is not None:
        announced = parse_single_address(announced).addr_spec or announced
    from_addr = judge_address(
        parsed, "From", "CHAL-HDR-1", announced, "challenge object's from", judge
    )
    judge_challenge_from(expect, judge)
    judge_address(parsed, "To", "CHAL-HDR-2", expect.identifier, "identifier", judge)
    reply_to, message_id = judge_other_headers(parsed, judge)
    judge_auto_submitted(parsed, judge)
    judge_field_counts(parsed, judge)
    shape = smime_shape(parsed)
    smime_result = auth.smime if auth is not None else None
    judge_auth(auth, shape, judge)
    from_domain = domain_of(from_addr) if from_addr else None
    smime_relied = relies_on_smime(shape, smime_result, from_addr)
    present = frozenset(name.lower() for name, _ in parsed.headers)
    judge_dkim(dkim_signatures(parsed, auth), from_domain, smime_relied, judge, present)
    signed = None
    if shape is not None:
        judge_smime(shape, smime_result, from_addr, judge)
        signed = signed_content(parsed, shape, smime_result)
        judge_protection(parsed, signed, secure_headers_of(parsed, shape, smime_result), judge)
    judge_body(readable_parts(parsed, signed), judge)
    judge_line_length(raw, judge)
    return ChallengeReport(
        findings=tuple(judge.findings),
        token_part1=token,
        message_id=message_id,
        reply_to=reply_to,
        from_address=from_addr,
        parsed=parsed,
    )
