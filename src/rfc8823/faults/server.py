"""Faults of the reference CA: each makes it break one server-side rule, and names its catchers.

``breaks`` names the rule (and any rule the catching tests record broken in a finding); other
IDs that a catching test covers fail along with it and are co-reported, not declared.
``suites`` are the server-suite tests that cover the rule and must catch the fault. The
reference CA asks ``config.faults.on(name)`` where each fault acts (``rfc8823.server``).
"""

from __future__ import annotations

from rfc8823.auth.dkim import RESPONSE_REQUIRED_HEADERS
from rfc8823.faults import Fault, declare

_S = "suites/server/"
_CHALLENGE_EMAIL = _S + "test_challenge_email.py::test_challenge_email_conforms"
_CHALLENGE_DKIM = _S + "test_challenge_email.py::test_challenge_dkim_signature"
_TOKEN_IN_SUBJECT = _S + "test_challenge_email.py::test_token_part1_in_subject"
_CHALLENGE_SMIME = _S + "test_challenge_email.py::test_challenge_smime_signature"
_SMIME_SIGN = ("--server-config", "smime_sign=true")
_FRESH_TOKENS = _S + "test_challenge_object.py::test_tokens_are_fresh_and_long"
_VALID_SHAPE = _S + "test_challenge_object.py::test_valid_authorization_shape"
_BASICS = _S + "test_acme_basics.py::"
_ORDERS = _S + "test_identifiers_orders.py::"
_FORGERY = _S + "test_reply_forgery.py::"
_VALIDATION = _S + "test_response_validation.py::"
_FINALIZE = _S + "test_finalize_certificates.py::"
_VARIATIONS = _S + "test_reply_variations.py::test_conforming_variations_validate"
"""Refusing one freedom of §3.2 must show on that freedom's rows alone (the isolation)."""
_ISSUED = _FINALIZE + "test_issued_certificate_matches_the_request"
_PROFILE = _S + "test_certificate_profile.py::"
_LINTED = _PROFILE + "test_issued_certificate_passes_the_lints"
_UNSIGNED_FIELDS = tuple(name for name in RESPONSE_REQUIRED_HEADERS if name != "from")
"""The fields of RESP-DKIM-2's list but From, one fault each (From: REF-6376-1)."""


def _server(
    name: str,
    breaks: tuple[str, ...],
    summary: str,
    *suites: str,
    options: tuple[str, ...] = (),
) -> Fault:
    return Fault(
        name=name, role="server", breaks=breaks, summary=summary, suites=suites, options=options
    )


CHALLENGE_FAULTS = (
    _server(
        "challenge-without-auto-submitted",
        ("CHAL-AUTO-1",),
        "the challenge email has no Auto-Submitted field (RFC 8823 §3.1 (5))",
        _CHALLENGE_EMAIL,
    ),
    _server(
        "challenge-without-date",
        ("REF-5322-4",),
        "the challenge email has no Date field, which every message needs (RFC 5322 §3.6)",
        _CHALLENGE_EMAIL,
    ),
    _server(
        "challenge-auto-submitted-without-type",
        ("CHAL-AUTO-2",),
        "Auto-Submitted is 'auto-generated' without the type=acme parameter (§3.1 (5))",
        _CHALLENGE_EMAIL,
    ),
    _server(
        "challenge-unsigned",
        ("CHAL-AUTH-1",),
        "the challenge email carries neither a DKIM nor an S/MIME signature (§3.1 (6))",
        _CHALLENGE_EMAIL,
    ),
    _server(
        "challenge-dkim-h-without-subject",
        ("CHAL-DKIM-1",),
        "the challenge's DKIM signature leaves Subject out of h= (§3.1 (6))",
        _CHALLENGE_EMAIL,
        _CHALLENGE_DKIM,
    ),
    _server(
        "challenge-dkim-other-domain",
        ("CHAL-DKIM-3",),
        "the challenge is DKIM-signed by other.test, not by its From domain (§3.1 (6))",
        _CHALLENGE_DKIM,
    ),
    _server(
        "challenge-from-not-announced",
        ("CHAL-HDR-1",),
        "the challenge email's From is not the challenge object's 'from' (§3.1 (2))",
        _CHALLENGE_EMAIL,
    ),
    _server(
        "challenge-to-not-identifier",
        ("CHAL-HDR-2",),
        "the challenge is addressed To the CA itself, the identifier only in the envelope "
        "(§3.1 (3))",
        _CHALLENGE_EMAIL,
    ),
    _server(
        "challenge-to-postmaster",
        ("SEC-11", "CHAL-HDR-2"),
        "the challenge goes to postmaster of the identifier's domain, envelope and To, not to "
        "the identifier (§3.1 (3), §3 step 4): no test can receive it, so the happy path breaks",
        _S + "test_challenge_email.py::test_when_the_challenge_email_is_sent",
    ),
    _server(
        "challenge-subject-latin1",
        ("CHAL-SUBJ-4", "CHAL-SUBJ-5"),
        "the Subject is an ISO-8859-1 encoded-word (§3.1 (1))",
        _CHALLENGE_EMAIL,
    ),
    _server(
        "challenge-subject-without-space",
        ("CHAL-SUBJ-1",),
        "the Subject is 'ACME:<token-part1>', no white space after the label (§3.1 (1))",
        _CHALLENGE_EMAIL,
    ),
    _server(
        "challenge-smime-unprotected",
        ("CHAL-BODY-3",),
        "the S/MIME signature covers the body only: no header field is protected (§3.1 (7))",
        _CHALLENGE_SMIME,
        options=_SMIME_SIGN,
    ),
    _server(
        "challenge-smime-protects-other-subject",
        ("CHAL-BODY-3",),
        "the RFC 7508 SecureHeaderFields attribute protects another Subject than the outer "
        "one (§3.1 (7))",
        _CHALLENGE_SMIME,
        options=_SMIME_SIGN,
    ),
    _server(
        "token-part1-short",
        ("TOK-3", "TOK-4", "SEC-5"),
        "token-part1 has 8 random octets, 64 bits (§3.1 (1))",
        _TOKEN_IN_SUBJECT,
        _FRESH_TOKENS,
    ),
    _server(
        "token-part1-reused",
        ("TOK-2", "SEC-5"),
        "every challenge to one address carries the same token-part1 (§3 step 4)",
        _FRESH_TOKENS,
    ),
    _server(
        "token-part2-reused",
        ("TOK-6",),
        "every challenge for one address carries the same token-part2, derived from the address "
        "(RFC 8555 §8.3, §11.3)",
        _FRESH_TOKENS,
    ),
    _server(
        "token-part1-not-base64url",
        ("TOK-4", "REF-4648-1"),
        "token-part1 is written with three '=' after it, which no base64url text has (§3.1 (1))",
        _TOKEN_IN_SUBJECT,
    ),
)

REPLY_FAULTS = (
    _server(
        "accept-unsigned-reply",
        ("RESP-DKIM-1", "SEC-11"),
        "a reply without a valid DKIM signature is accepted (§3.2 (8))",
        _FORGERY + "test_unauthenticated_reply",
    ),
    _server(
        "accept-misaligned-dkim-reply",
        ("RESP-DKIM-4", "SEC-11"),
        "a reply DKIM-signed by a domain other than its From domain is accepted (§3.2 (8))",
        _FORGERY + "test_misaligned_dkim_domain",
    ),
    _server(
        "accept-reply-h-without-from",
        ("REF-6376-1", "SEC-11"),
        "a reply whose DKIM h= leaves out From is verified and accepted, as a verifier skipping "
        "RFC 6376 §5.4 would: the signature no longer names the mailbox (§3.2 (8))",
        _FORGERY + "test_signature_not_covering_a_field[from]",
    ),
    *(
        _server(
            f"accept-reply-h-without-{field}",
            ("RESP-DKIM-2",),
            f"a reply whose DKIM h= leaves out its {field} field is accepted: the CA's list of "
            "fields that must be signed lacks it (§3.2 (8))",
            _FORGERY + f"test_signature_not_covering_a_field[{field}]",
        )
        for field in _UNSIGNED_FIELDS
    ),
    _server(
        "accept-org-aligned-dkim-reply",
        ("RESP-DKIM-4", "SEC-11"),
        "a reply DKIM-signed by any domain of the From domain's organization is accepted, as "
        "DMARC's relaxed alignment would (§3.2 (8); RFC 7489 §3.1.1)",
        _FORGERY + "test_misaligned_dkim_domain",
    ),
    _server(
        "accept-affix-matched-dkim-reply",
        ("RESP-DKIM-4", "SEC-11"),
        "a reply is accepted when its d= and the From domain start or end with each other as "
        "text, label boundaries ignored (§3.2 (8))",
        _FORGERY + "test_misaligned_dkim_domain",
    ),
    _server(
        "accept-reply-beyond-body-length",
        ("RESP-DKIM-5", "SEC-11"),
        "a reply whose block lies after the DKIM l= limit is accepted (RFC 6376 §8.2)",
        _FORGERY + "test_body_length_limit_with_appended_block",
    ),
    _server(
        "accept-spf-only-reply",
        ("SEC-10", "RESP-DKIM-1", "SEC-11"),
        "an SPF pass stands in for a failed or missing DKIM signature (§6)",
        _FORGERY + "test_spf_pass_without_dkim",
        _FORGERY + "test_unauthenticated_reply",
    ),
    _server(
        "accept-list-reply",
        ("RESP-LIST-1", "SEC-3"),
        "a reply carrying List-* fields is accepted (§3.2 (6), §6)",
        _FORGERY + "test_list_headers",
    ),
    _server(
        "accept-reply-from-other-address",
        ("RESP-FROM-1", "SEC-11"),
        "a reply From another mailbox of the identifier's domain is accepted (§3.2 (2))",
        _FORGERY + "test_reply_from_another_address",
    ),
    _server(
        "accept-other-accounts-digest",
        ("SEC-7", "KA-2", "SEC-11"),
        "a digest made with another account's key authorization is accepted (§3.2 (7))",
        _FORGERY + "test_digest_built_wrongly",
    ),
    _server(
        "accept-swapped-token-parts",
        ("KA-1", "SEC-11"),
        "a digest of token-part2 joined before token-part1 is accepted too (§3 step 6)",
        _FORGERY + "test_digest_built_wrongly[parts-swapped]",
    ),
    _server(
        "accept-digest-without-token-part1",
        ("KA-1", "SEC-11"),
        "a digest of token-part2 alone with the thumbprint is accepted too, as an http-01 check "
        "computes the key authorization: no need to read the email (§3 step 6)",
        _FORGERY + "test_digest_built_wrongly[no-token-part1]",
    ),
    _server(
        "accept-digest-without-token-part2",
        ("KA-1", "SEC-11"),
        "a digest of token-part1 alone with the thumbprint is accepted too (§3 step 6)",
        _FORGERY + "test_digest_built_wrongly[no-token-part2]",
    ),
    _server(
        "accept-earlier-token-part1",
        ("SRV-VAL-3", "SEC-11"),
        "a digest made with any token-part1 the account was mailed for the address, joined with "
        "this token-part2, is accepted, as if token-part1 were kept per address (§3 step 4)",
        _FORGERY + "test_replayed_or_foreign_token[earlier-token-part1]",
    ),
    _server(
        "accept-earlier-authorizations-digest",
        ("SRV-VAL-3", "SEC-5", "SEC-11"),
        "a digest made for any challenge the account was sent for the address is accepted, "
        "as if replies were matched by address (§3 step 4)",
        _FORGERY + "test_replayed_or_foreign_token",
    ),
    _server(
        "accept-html-only-reply",
        ("RESP-BODY-1", "RESP-HTML-1"),
        "a reply without the block in a text/plain part is accepted (§3.2 (7))",
        _FORGERY + "test_block_outside_text_plain",
    ),
    _server(
        "reject-wrapped-digest",
        ("RESP-BODY-3",),
        "a digest broken over several lines is not reassembled, so the reply is refused (§3.2 (7))",
        _VALIDATION + "test_digest_line_breaks",
        _VARIATIONS,
    ),
    _server(
        "reject-encoded-word-subject",
        ("RESP-SUBJ-2", "CHAL-SUBJ-3", "REF-2047-1", "REF-2231-1"),
        "a reply Subject written as encoded-words is refused (§3.2 (1))",
        _VALIDATION + "test_encoded_word_subject",
        _VARIATIONS,
    ),
    _server(
        "reject-folded-token",
        ("RESP-SUBJ-4", "CHAL-SUBJ-2"),
        "white space inside the reply's token-part1 is not dropped, so the reply is refused "
        "(§3.2 (1))",
        _VALIDATION + "test_whitespace_inside_the_token",
        _VARIATIONS,
    ),
    _server(
        "reject-uncommon-reply-prefix",
        ("RESP-SUBJ-3", "RESP-SUBJ-1"),
        "only a 'Re: ' prefix is stripped; replies with 'RE:', 'AW:' and the like are refused "
        "(§3.2 (1))",
        _VALIDATION + "test_reply_prefixes_are_ignored",
        _VARIATIONS,
    ),
    _server(
        "body-length-read-as-simple",
        ("SRV-VAL-1",),
        "a signature's l= is measured against the body under simple canonicalization whatever "
        "its c= says, so a relaxed l= covering the whole body is refused as short "
        "(RFC 6376 §3.4.4)",
        _VALIDATION + "test_body_length_covering_the_body[relaxed]",
    ),
    _server(
        "body-length-needs-c-tag",
        ("SRV-VAL-1",),
        "a signature with l= and no c= is taken as unmeasurable and its l= as short, though c= "
        "defaults to simple/simple (RFC 6376 §3.5)",
        _VALIDATION + "test_body_length_covering_the_body[absent]",
    ),
    _server(
        "require-in-reply-to",
        ("RESP-IRT-1",),
        "a reply without In-Reply-To is refused although its Subject names the challenge "
        "(§3.2 (5))",
        _VALIDATION + "test_reply_without_in_reply_to",
    ),
    _server(
        "wrong-digest-not-invalid",
        ("SRV-VAL-2",),
        "an authentic reply with a wrong digest leaves the challenge pending, no error "
        "(RFC 8555 §7.1.6)",
        _VALIDATION + "test_wrong_digest_fails_the_challenge",
        _FORGERY + "test_digest_built_wrongly",
    ),
)

IDENTIFIER_FAULTS = (
    _server(
        "accept-wildcard-identifier",
        ("ID-EMAIL-3", "A-ORD-3"),
        "an email identifier containing '*' is accepted and mailed (§3)",
        _ORDERS + "test_wildcard_email_values_are_refused",
        _ORDERS + "test_one_bad_identifier_refuses_the_order",
    ),
    _server(
        "accept-text-after-address",
        ("ID-EMAIL-5", "SEC-9"),
        "an identifier is checked only up to its first separator or line break (an unanchored "
        "match): an address followed by a header, a list or SMTP parameters is accepted and "
        "mailed (§3, RFC 8555 §7.4)",
        _ORDERS + "test_injection_values_are_refused_unmailed",
    ),
    _server(
        "accept-dns-identifier-with-at",
        ("A-ORD-3", "IANA-2"),
        "a 'dns' identifier holding an email address is ordered as if it were 'email' "
        "(RFC 8555 §7.4)",
        _ORDERS + "test_dns_identifier_holding_an_address_is_refused",
    ),
)

ACME_FAULTS = (
    _server(
        "bad-jws-is-internal-error",
        ("A-ERR-1", "A-JWS-4"),
        "a JWS in a form RFC 8555 §6.2 forbids (unprotected header, general serialization, "
        "no payload) gets HTTP 500 serverInternal",
        _BASICS + "test_jws_serialization_rules",
    ),
    _server(
        "accept-alg-none",
        ("A-JWS-3",),
        "a JWS with alg 'none' and no signature is accepted (RFC 8555 §6.2)",
        _BASICS + "test_none_and_mac_algorithms_are_refused",
    ),
    _server(
        "accept-json-content-type",
        ("A-JWS-1",),
        "a JWS POSTed as application/json is accepted (RFC 8555 §6.2)",
        _BASICS + "test_wrong_content_type_is_415",
    ),
    _server(
        "accept-jwk-for-kid",
        ("A-JWS-2",),
        "a request that needs 'kid' is accepted with 'jwk', its account found by key "
        "(RFC 8555 §6.2)",
        _BASICS + "test_key_header_rules",
    ),
    _server(
        "accept-wrong-url",
        ("A-URL-1",),
        "the JWS 'url' is not compared with the request URL (RFC 8555 §6.4)",
        _BASICS + "test_url_header_must_match",
    ),
    _server(
        "plain-get-serves-resources",
        ("A-GET-1",),
        "orders, authorizations and challenges are served to a plain GET (RFC 8555 §6.3)",
        _BASICS + "test_resources_need_post_as_get",
    ),
    _server(
        "no-replay-nonce-on-success",
        ("A-NONCE-1",),
        "successful POST answers carry no Replay-Nonce (RFC 8555 §6.5)",
        _BASICS + "test_new_nonce_and_replay_nonce_headers",
    ),
    _server(
        "accept-bad-nonce",
        ("A-NONCE-2",),
        "the JWS nonce is not checked: reused and invented nonces pass (RFC 8555 §6.5)",
        _BASICS + "test_bad_nonce_on_challenge_post",
    ),
    _server(
        "directory-without-key-change",
        ("A-DIR-1",),
        "the directory lists no keyChange (RFC 8555 §7.1.1)",
        _BASICS + "test_directory_lists_the_entry_points",
    ),
    _server(
        "new-account-without-location",
        ("A-ACCT-1",),
        "a created account is answered 201 without Location (RFC 8555 §7.3)",
        _BASICS + "test_account_creation_and_lookup",
    ),
    _server(
        "new-order-without-expires",
        ("A-ORD-1",),
        "the newOrder answer has no 'expires' (RFC 8555 §7.1.3)",
        _ORDERS + "test_email_order_is_created_and_echoed",
    ),
    _server(
        "order-drops-valid-authorizations",
        ("A-ORD-2",),
        "an order lists only its authorizations that are not yet valid (RFC 8555 §7.1.3)",
        _ORDERS + "test_order_arrays_never_change",
    ),
    _server(
        "valid-authz-without-expires",
        ("A-AUTHZ-1",),
        "a valid authorization has no 'expires' (RFC 8555 §7.1.4)",
        _VALID_SHAPE,
    ),
    _server(
        "valid-challenge-without-validated",
        ("A-CHAL-1",),
        "a valid challenge has no 'validated' time (RFC 8555 §8)",
        _VALID_SHAPE,
    ),
    _server(
        "invalid-challenge-without-error",
        ("A-CHAL-1",),
        "a challenge that failed validation shows no 'error' (RFC 8555 §7.1.5, §8.2)",
        _S + "test_challenge_object.py::test_invalid_authorization_shows_the_error",
    ),
    _server(
        "authz-post-triggers-challenge",
        ("A-CHAL-2",),
        "'{}' POSTed to the authorization URL starts validation like the challenge POST "
        "(RFC 8555 §7.5.1)",
        _BASICS + "test_posting_the_authz_is_no_trigger",
    ),
    _server(
        "deactivation-not-kept",
        ("A-AUTHZ-2",),
        "deactivation is answered but not stored, so a later reply validates the "
        "authorization (RFC 8555 §7.5.2)",
        _BASICS + "test_deactivated_authz_stays_deactivated",
    ),
    _server(
        "valid-challenge-repost-goes-back",
        ("A-STATE-1",),
        "a valid challenge POSTed again is answered as pending (RFC 8555 §7.1.6)",
        _BASICS + "test_state_sequence_and_repost",
    ),
    _server(
        "order-survives-failed-authorization",
        ("A-STATE-2",),
        "an order stays pending when one of its authorizations becomes invalid or is "
        "deactivated (RFC 8555 §7.1.6)",
        _S + "test_lifecycle.py::test_order_fails_with_its_authorization",
    ),
    _server(
        "valid-authz-never-expires",
        ("A-STATE-3",),
        "only pending authorizations expire: a valid one stays valid past its expires "
        "(RFC 8555 §7.1.4, §7.1.6)",
        _S + "test_lifecycle.py::test_valid_authorization_expires",
    ),
    _server(
        "invalid-challenge-retried",
        ("A-STATE-1",),
        "a re-POST of an invalid challenge reopens it, its authorization and order, as if it "
        "were a retry, so a later reply validates it (RFC 8555 §7.1.6, §8.2)",
        _S + "test_lifecycle.py::test_invalid_challenge_stays_invalid",
    ),
    _server(
        "repost-while-processing-refused",
        ("A-CHAL-4",),
        "a second POST to a processing challenge is refused as malformed (RFC 8555 §7.5.1)",
        _BASICS + "test_state_sequence_and_repost",
    ),
    _server(
        "account-thumbprint-not-canonical",
        ("A-KA-1", "SRV-VAL-1"),
        "the account key's thumbprint is hashed over the JWK with spaces after ':' and ',', "
        "not its RFC 7638 form (RFC 8555 §8.1)",
        _BASICS + "test_key_authorization_for_each_account_key_type",
    ),
    _server(
        "no-rate-limit",
        ("SEC-8",),
        "challenge emails to one address are never rate-limited (§6)",
        _S + "test_security.py::test_challenge_mail_to_one_address_is_rate_limited",
    ),
)

FINALIZE_FAULTS = (
    _server(
        "refuse-every-csr",
        ("CSR-ID-1",),
        "a ready order's finalize is refused as badCSR whatever the CSR, so no certificate is "
        "ever issued (a broken prerequisite of every certificate test; RFC 8555 §7.4)",
        _FINALIZE + "test_csr_names_exactly_the_ordered_addresses",
    ),
    _server(
        "finalize-before-ready",
        ("A-FIN-1",),
        "finalizing a pending order is not refused as orderNotReady; the issuance that follows "
        "fails with serverInternal (RFC 8555 §7.4)",
        _FINALIZE + "test_finalize_before_ready_is_order_not_ready",
    ),
    _server(
        "padded-csr-accepted",
        ("A-HTTPS-1",),
        "a finalize 'csr' written with '=' padding is accepted (RFC 8555 §6.1)",
        _FINALIZE + "test_csr_encoding_rules",
    ),
    _server(
        "refused-csr-ends-order",
        ("A-FIN-4",),
        "a finalize refused for its CSR makes the order invalid, so a corrected CSR can never "
        "be finalized (RFC 8555 §7.4, §7.1.6)",
        _FINALIZE + "test_refused_csr_leaves_the_order_finalizable",
        _FINALIZE + "test_csr_encoding_rules",
    ),
    _server(
        "certificate-as-x-pem-file",
        ("A-CERT-1",),
        "the certificate is served as application/x-pem-file (RFC 8555 §7.4.2)",
        _ISSUED + "[p256-both]",
    ),
    _server(
        "already-revoked-not-reported",
        ("A-REV-1",),
        "revoking a revoked certificate again succeeds (RFC 8555 §7.6)",
        _FINALIZE + "test_revocation",
    ),
    _server(
        "dual-use-for-signing-only",
        ("CSR-KU-5",),
        "a signing-only CSR gets a certificate that also allows encryption (§3.3)",
        _ISSUED + "[p256-signing]",
        _ISSUED + "[rsa2048-signing]",
    ),
    _server(
        "encryption-bit-for-other-key-type",
        ("CSR-KU-3", "REF-5280-7", "REF-SMBR-3"),
        "the certificate's encryption bit is keyEncipherment for EC keys and keyAgreement "
        "for RSA keys (§3.3)",
        _ISSUED + "[p256-encryption]",
        _ISSUED + "[rsa2048-encryption]",
    ),
    _server(
        "issue-for-csr-addresses",
        ("CSR-ID-1", "A-FIN-2"),
        "the certificate names whatever addresses the CSR names, ordered or not (RFC 8555 §7.4)",
        _FINALIZE + "test_csr_names_exactly_the_ordered_addresses",
    ),
    _server(
        "no-email-protection-eku",
        ("CERT-1", "REF-SMBR-3"),
        "the certificate's extendedKeyUsage is clientAuth, not emailProtection (RFC 8550)",
        _ISSUED + "[p256-both]",
    ),
)

PROFILE_FAULTS = (
    _server(
        "san-not-critical-empty-subject",
        ("REF-5280-6",),
        "the certificate has an empty subject and a non-critical subjectAltName "
        "(RFC 5280 §4.2.1.6)",
        _LINTED + "[p256-both]",
    ),
    _server(
        "key-encipherment-on-ec-key",
        ("REF-5280-7", "REF-SMBR-3"),
        "an EC key's certificate allows keyEncipherment beside keyAgreement (RFC 5480 §3)",
        _LINTED + "[p256-both]",
    ),
    _server(
        "server-auth-eku",
        ("REF-SMBR-3",),
        "the certificate's extendedKeyUsage adds serverAuth to emailProtection (S/MIME BR "
        "§7.1.2.3 (f))",
        _LINTED + "[p256-both]",
    ),
    _server(
        "no-certificate-policies",
        ("REF-SMBR-1",),
        "the certificate has no certificatePolicies under the declared S/MIME BR profile "
        "(BR §7.1.2.3 (a))",
        _LINTED + "[p256-both]",
    ),
    _server(
        "crl-omits-revoked",
        ("REF-5280-12",),
        "the CRL named in the certificates lists no revoked certificate (RFC 5280 §5.1.2.6)",
        _PROFILE + "test_revoked_certificate_is_on_the_crl",
    ),
)

declare(
    *CHALLENGE_FAULTS,
    *REPLY_FAULTS,
    *IDENTIFIER_FAULTS,
    *ACME_FAULTS,
    *FINALIZE_FAULTS,
    *PROFILE_FAULTS,
)
