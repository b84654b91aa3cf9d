"""Faults of the reference client (each breaks one client-side requirement).

Each fault acts at one place of :mod:`rfc8823.client` and names the client suite tests that
must notice it. ``breaks`` lists what the fault really violates; where a catching test covers
further IDs (its failure marks them all), the self-check reports those apart as co-reported.
"""

from __future__ import annotations

from rfc8823.faults import Fault, declare

ANSWERS_UNSIGNED = "client-answers-unsigned-challenge"
ANSWERS_FAILED_DKIM = "client-answers-failed-dkim"
ANSWERS_MISALIGNED_DKIM = "client-answers-misaligned-dkim"
ANSWERS_ORG_ALIGNED_DKIM = "client-answers-org-aligned-dkim"
ANSWERS_AFFIX_MATCHED_DKIM = "client-answers-affix-matched-dkim"
ANSWERS_THIN_DKIM = "client-answers-thin-dkim-coverage"
ANSWERS_WITHOUT_AUTO_SUBMITTED = "client-answers-without-auto-submitted"
ANSWERS_AUTO_REPLIED = "client-answers-other-auto-submitted"
ANSWERS_FOREIGN_FROM = "client-answers-foreign-from"
ANSWERS_FOREIGN_TO = "client-answers-foreign-to"
ANSWERS_REPLY_SUBJECT = "client-answers-reply-subject"
ANSWERS_UNTRUSTED_SMIME = "client-answers-untrusted-smime"
ANSWERS_SMIME_SIGNER_MISMATCH = "client-answers-smime-signer-mismatch"
ANSWERS_UNPROTECTED_HEADERS = "client-answers-unprotected-headers"
ANSWERS_TWICE = "client-answers-twice"
FORGETS_ANSWERS = "client-forgets-answers-across-restarts"
KEEPS_TOKEN_WHITESPACE = "client-keeps-token-whitespace"
SKIPS_SUBJECT_DECODING = "client-skips-subject-decoding"
MAILS_KEY_AUTHORIZATION = "client-mails-key-authorization"
PUTS_TOKEN_PART2_FIRST = "client-puts-token-part2-first"
OMITS_TOKEN_PART1 = "client-omits-token-part1"
OMITS_TOKEN_PART2 = "client-omits-token-part2"
REUSES_EARLIER_TOKEN_PART1 = "client-reuses-earlier-token-part1"
JOINS_TOKEN_OCTETS = "client-joins-token-octets"
SPACED_THUMBPRINT = "client-spaced-thumbprint"
REPLIES_TO_FROM = "client-replies-to-from-despite-reply-to"
OMITS_IN_REPLY_TO = "client-omits-in-reply-to"
REPLIES_HTML_ONLY = "client-replies-html-only"
ADDS_LIST_ID = "client-adds-list-id"
OMITS_DATE = "client-reply-without-date"
OMITS_ACME_LABEL = "client-omits-acme-label"
REPLIES_FROM_OTHER = "client-replies-from-another-address"
OMITS_DKIM = "client-omits-dkim-signature"
SIGNS_FEW_HEADERS = "client-dkim-signs-few-headers"
SUBMITS_WITHOUT_SMTPUTF8 = "client-submits-utf8-without-smtputf8"
CSR_WITHOUT_SAN = "client-csr-without-rfc822name"
CSR_SIGNING_CAN_ENCRYPT = "client-csr-signing-only-can-encrypt"
CSR_ENCRYPTION_CAN_SIGN = "client-csr-encryption-only-can-sign"
CSR_IN_STANDARD_BASE64 = "client-csr-in-standard-base64"
NO_BAD_NONCE_RETRY = "client-no-bad-nonce-retry"
IGNORES_RETRY_AFTER = "client-ignores-retry-after"
POSTS_TO_AUTHORIZATION = "client-posts-readiness-to-authorization"
ORDERS_ASTERISK = "client-orders-asterisk-address"
ORDERS_DNS_IDENTIFIER = "client-orders-dns-identifier"
MISSES_MAIL_ALREADY_THERE = "client-misses-mail-already-there"

_SUITE = "suites/client/"
_AUTH = _SUITE + "test_challenge_authentication.py"
_RESPONSE = _SUITE + "test_response_email.py"
_KA = _SUITE + "test_key_authorization.py"
_CSR = _SUITE + "test_csr.py"
_ACME = _SUITE + "test_acme_behaviour.py"
_RESTART = _SUITE + "test_restart.py"
_TIMING = _SUITE + "test_mailbox_timing.py"


_RELATION_CASES = (
    "dkim-other-domain",
    "dkim-parent-domain",
    "dkim-subdomain",
    "dkim-sibling",
    "dkim-grandparent",
    "dkim-suffix-lookalike",
    "dkim-prefix-lookalike",
)
"""The must-not-answer cases of the DKIM d= relations (rfc8823.world.relations)."""


def _refused(*names: str) -> tuple[str, ...]:
    """Node IDs of the must-not-answer challenges ``names``."""
    return tuple(f"{_AUTH}::test_challenge_is_not_answered[{name}]" for name in names)


_VARIATIONS = _SUITE + "test_challenge_variations.py"
_DRAWN = f"{_VARIATIONS}::test_conforming_challenges_are_answered"


def _variations(*names: str) -> tuple[str, ...]:
    """Node IDs of the conforming challenge variations ``names``, and the Hypothesis test of
    drawn challenges (its example of each freedom)."""
    test = f"{_VARIATIONS}::test_variation_is_answered"
    return (*(f"{test}[{name}]" for name in names), _DRAWN)


def _fault(name: str, breaks: tuple[str, ...], summary: str, suites: tuple[str, ...]) -> Fault:
    return Fault(name=name, role="client", breaks=breaks, summary=summary, suites=suites)


declare(
    _fault(
        ANSWERS_UNSIGNED,
        ("CHAL-AUTH-1", "SEC-6"),
        "answers a challenge that carries neither a DKIM nor an S/MIME signature",
        _refused("unsigned"),
    ),
    _fault(
        ANSWERS_FAILED_DKIM,
        ("CHAL-AUTH-1", "SEC-6"),
        "answers a challenge whose only signatures are DKIM ones that fail to verify",
        _refused("dkim-wrong-key", "dkim-body-changed"),
    ),
    _fault(
        ANSWERS_MISALIGNED_DKIM,
        ("CHAL-DKIM-3", "SEC-6"),
        "answers a challenge whose valid DKIM signature has a d= other than the From domain",
        _refused(*_RELATION_CASES),
    ),
    _fault(
        ANSWERS_ORG_ALIGNED_DKIM,
        ("CHAL-DKIM-3", "SEC-6"),
        "answers a challenge DKIM-signed by any domain of its From domain's organization, as "
        "DMARC's relaxed alignment would (RFC 7489 §3.1.1)",
        _refused(*_RELATION_CASES),
    ),
    _fault(
        ANSWERS_AFFIX_MATCHED_DKIM,
        ("CHAL-DKIM-3", "SEC-6"),
        "answers a challenge whose d= and From domain start or end with each other as text",
        _refused(*_RELATION_CASES),
    ),
    _fault(
        ANSWERS_THIN_DKIM,
        ("CHAL-DKIM-1", "SEC-6"),
        "answers a challenge whose DKIM h= leaves out fields §3.1 (6) requires",
        _refused("dkim-h-without-subject", "dkim-h-without-auto-submitted"),
    ),
    _fault(
        ANSWERS_WITHOUT_AUTO_SUBMITTED,
        ("CHAL-AUTO-1", "SEC-6"),
        "answers a challenge that has no Auto-Submitted field",
        _refused("no-auto-submitted"),
    ),
    _fault(
        ANSWERS_AUTO_REPLIED,
        ("CHAL-AUTO-1", "SEC-6", "REF-3834-1"),
        "answers a challenge whose Auto-Submitted keyword is not auto-generated",
        _refused("auto-replied", "auto-submitted-no"),
    ),
    _fault(
        ANSWERS_FOREIGN_FROM,
        ("CHAL-HDR-1", "FLOW-4", "SEC-6"),
        "answers a challenge whose From is not the challenge object's from (unsolicited ones too)",
        _refused("wrong-from", "unsolicited"),
    ),
    _fault(
        ANSWERS_FOREIGN_TO,
        ("CHAL-HDR-2", "FLOW-4", "SEC-6"),
        "answers a challenge addressed To another mailbox than the identifier",
        _refused("wrong-to"),
    ),
    _fault(
        ANSWERS_REPLY_SUBJECT,
        ("FLOW-4", "SEC-6"),
        "answers a message whose Subject reads as a reply ('Re: ACME: ...')",
        _refused("reply-subject"),
    ),
    _fault(
        ANSWERS_UNTRUSTED_SMIME,
        ("CHAL-SMIME-2", "REF-8550-1", "CHAL-AUTH-1", "SEC-6"),
        "takes an S/MIME signature as authentic although its signer chains to no trusted root",
        _refused("smime-untrusted-signer"),
    ),
    _fault(
        ANSWERS_SMIME_SIGNER_MISMATCH,
        ("CHAL-SMIME-1", "REF-8550-1", "SEC-6"),
        "answers an S/MIME-signed challenge whose signer certificate does not name the From",
        _refused("smime-san-not-from"),
    ),
    _fault(
        ANSWERS_UNPROTECTED_HEADERS,
        ("CHAL-BODY-3", "REF-8551-1", "REF-7508-1", "SEC-6"),
        "ignores S/MIME header protection (RFC 8551 wrapping or RFC 7508 attribute): answers "
        "the outer Subject when it differs",
        _refused("smime-header-protection-broken", "smime-7508-subject-differs"),
    ),
    _fault(
        ANSWERS_TWICE,
        ("FLOW-6", "SEC-6"),
        "sends its response to a challenge twice",
        (f"{_AUTH}::test_duplicate_challenge_is_answered_once",),
    ),
    _fault(
        FORGETS_ANSWERS,
        ("FLOW-6", "SEC-6"),
        "keeps its answered challenges in memory only, so a restarted client answers again",
        (f"{_RESTART}::test_restarted_client_does_not_answer_again",),
    ),
    _fault(
        KEEPS_TOKEN_WHITESPACE,
        ("CHAL-SUBJ-2", "REF-5322-1"),
        "keeps the folding white space inside token-part1 when it computes the digest",
        _variations("subject-folded-in-token", "subject-folded-twice"),
    ),
    _fault(
        SKIPS_SUBJECT_DECODING,
        ("CHAL-SUBJ-3", "REF-2047-1", "REF-2231-1"),
        "reads token-part1 from the Subject without decoding its encoded-words",
        _variations(
            "subject-q-utf8",
            "subject-b-us-ascii",
            "subject-split-encoded-words",
            "subject-rfc2231-language",
        ),
    ),
    _fault(
        MAILS_KEY_AUTHORIZATION,
        ("KA-3", "FLOW-5"),
        "mails the key authorization itself instead of its SHA-256 digest",
        (_KA,),
    ),
    _fault(
        PUTS_TOKEN_PART2_FIRST,
        ("KA-1", "FLOW-5"),
        "joins the token parts as token-part2 then token-part1",
        (_KA,),
    ),
    _fault(
        OMITS_TOKEN_PART1,
        ("KA-1", "FLOW-5"),
        "hashes token-part2 alone with the thumbprint, as for http-01, leaving token-part1 out",
        (_KA,),
    ),
    _fault(
        OMITS_TOKEN_PART2,
        ("KA-1", "FLOW-5"),
        "hashes token-part1 alone with the thumbprint, leaving token-part2 out",
        (_KA,),
    ),
    _fault(
        REUSES_EARLIER_TOKEN_PART1,
        ("KA-1", "FLOW-5"),
        "keeps the token-part1 of the first challenge it answered for an address and hashes it "
        "into every later response for that address",
        (f"{_KA}::test_digest_uses_this_challenges_token_part1",),
    ),
    _fault(
        JOINS_TOKEN_OCTETS,
        ("KA-4",),
        "joins the token parts as decoded octets (a reading the RFC leaves open, AMB-1)",
        (_KA,),
    ),
    _fault(
        SPACED_THUMBPRINT,
        ("A-KA-1", "KA-2", "FLOW-5", "RESP-BODY-2"),
        "hashes the JWK with spaces after ',' and ':' for its thumbprint (not RFC 7638 form)",
        (_KA,),
    ),
    _fault(
        REPLIES_TO_FROM,
        ("RESP-TO-1",),
        "sends the response to the challenge's From even when it has a Reply-To",
        (f"{_RESPONSE}::test_response_goes_to_the_reply_to_address",),
    ),
    _fault(
        OMITS_IN_REPLY_TO,
        ("RESP-IRT-1",),
        "leaves In-Reply-To out of the response",
        (f"{_RESPONSE}::test_response_header_fields",),
    ),
    _fault(
        REPLIES_HTML_ONLY,
        ("RESP-BODY-1", "RESP-HTML-1"),
        "sends the response as a single text/html part",
        (f"{_RESPONSE}::test_response_body_holds_the_block_in_text_plain",),
    ),
    _fault(
        ADDS_LIST_ID,
        ("RESP-LIST-1",),
        "adds a List-Id field to the response",
        (f"{_RESPONSE}::test_response_header_fields",),
    ),
    _fault(
        OMITS_DATE,
        ("REF-5322-4",),
        "writes the response without a Date field, which every message needs (RFC 5322 §3.6)",
        (f"{_RESPONSE}::test_response_header_fields",),
    ),
    _fault(
        OMITS_ACME_LABEL,
        ("RESP-SUBJ-1",),
        "writes the response Subject without the 'ACME:' label",
        (f"{_RESPONSE}::test_response_header_fields",),
    ),
    _fault(
        REPLIES_FROM_OTHER,
        ("RESP-FROM-1",),
        "writes another address of the same domain into the response's From",
        (f"{_RESPONSE}::test_response_header_fields",),
    ),
    _fault(
        OMITS_DKIM,
        ("RESP-DKIM-1",),
        "does not DKIM-sign its response although it is configured to",
        (f"{_RESPONSE}::test_response_is_dkim_signed_for_the_from_domain",),
    ),
    _fault(
        SIGNS_FEW_HEADERS,
        ("RESP-DKIM-2", "RESP-DKIM-3"),
        "DKIM-signs only From, To and Subject of its response",
        (f"{_RESPONSE}::test_response_is_dkim_signed_for_the_from_domain",),
    ),
    _fault(
        SUBMITS_WITHOUT_SMTPUTF8,
        ("REF-6531-1",),
        "submits the response for an internationalized address in UTF-8 without naming "
        "SMTPUTF8 on MAIL FROM (RFC 6531 §3.4)",
        (f"{_RESPONSE}::test_response_for_an_internationalized_address_uses_smtputf8",),
    ),
    _fault(
        CSR_WITHOUT_SAN,
        ("CSR-ID-1",),
        "names the address only as the CSR's subject common name, with no rfc822Name",
        (_CSR,),
    ),
    _fault(
        CSR_SIGNING_CAN_ENCRYPT,
        ("CSR-KU-2", "CSR-KU-3"),
        "adds the key's encryption bit to the keyUsage of a signing-only CSR",
        (_CSR,),
    ),
    _fault(
        CSR_ENCRYPTION_CAN_SIGN,
        ("CSR-KU-3",),
        "adds digitalSignature to the keyUsage of an encryption-only CSR",
        (_CSR,),
    ),
    _fault(
        CSR_IN_STANDARD_BASE64,
        ("A-HTTPS-1",),
        "sends the finalize CSR in padded standard base64, not unpadded base64url",
        (f"{_ACME}::test_requests_are_well_formed_jws",),
    ),
    _fault(
        NO_BAD_NONCE_RETRY,
        ("A-NONCE-2",),
        "gives up on a badNonce error instead of retrying with the fresh nonce",
        (f"{_ACME}::test_bad_nonce_is_retried_with_a_fresh_nonce",),
    ),
    _fault(
        IGNORES_RETRY_AFTER,
        ("A-CHAL-4",),
        "polls at its own back-off pace whatever Retry-After the server sends",
        (f"{_ACME}::test_retry_after_is_honoured_while_validation_runs",),
    ),
    _fault(
        POSTS_TO_AUTHORIZATION,
        ("A-CHAL-2",),
        "announces readiness by POSTing {} to the authorization URL, not the challenge's",
        (f"{_ACME}::test_readiness_is_an_empty_object_posted_to_the_challenge",),
    ),
    _fault(
        ORDERS_ASTERISK,
        ("ID-EMAIL-3",),
        "puts an address whose local part holds '*' into newOrder",
        (f"{_ACME}::test_no_order_for_an_address_with_an_asterisk",),
    ),
    _fault(
        ORDERS_DNS_IDENTIFIER,
        ("FLOW-1", "ID-EMAIL-1"),
        "orders a 'dns' identifier holding the address, as certbot-based clients do; the CA "
        "refuses it, so nothing after the order can happen (a broken prerequisite)",
        (f"{_ACME}::test_new_order_names_the_email_identifier",),
    ),
    _fault(
        MISSES_MAIL_ALREADY_THERE,
        ("FLOW-8",),
        "acts only on IMAP mail that arrives after it fetched its authorization, as a client "
        "that only listens for new-mail notifications does: a challenge already there is skipped",
        (f"{_TIMING}::test_challenge_already_in_the_mailbox_is_answered",),
    ),
)
