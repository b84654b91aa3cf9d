"""Header rules of RFC 8823 §3.1 and §3.2 as pure functions: unfolding, encoded-words, Subject,
Auto-Submitted and addresses.

``whitespace`` unfolds values; ``encoded_words`` decodes RFC 2047 encoded-words and judges the
Subject charsets; ``acme_subject`` reads and writes ``ACME: <token-part1>``; ``auto_submitted``
parses RFC 3834 Auto-Submitted on top of ``lexer`` (RFC 5322 structured values), as does
``address_field`` for From, To and Reply-To; ``addr_spec`` normalises and compares addresses.
Nothing here raises on malformed input: each parser returns a frozen result whose ``problems``
say what was wrong, with the requirement ID or RFC section that was broken.
"""

from rfc8823.messages.headers.acme_subject import (
    ACME_LABEL,
    SubjectParse,
    format_challenge_subject,
    format_reply_subject,
    parse_acme_subject,
)
from rfc8823.messages.headers.addr_spec import (
    NormalizedAddress,
    addresses_equal,
    domain_of,
    inspect_address,
    normalize_address,
    normalize_domain,
)
from rfc8823.messages.headers.address_field import AddressParse, parse_single_address
from rfc8823.messages.headers.auto_submitted import (
    AutoSubmitted,
    is_auto_generated,
    parse_auto_submitted,
    type_is_acme,
)
from rfc8823.messages.headers.encoded_words import (
    ALLOWED_SUBJECT_CHARSETS,
    MAX_ENCODED_WORD,
    DecodedHeader,
    EncodedWord,
    decode_header_value,
)
from rfc8823.messages.headers.whitespace import unfold

__all__ = [
    "ACME_LABEL",
    "ALLOWED_SUBJECT_CHARSETS",
    "MAX_ENCODED_WORD",
    "AddressParse",
    "AutoSubmitted",
    "DecodedHeader",
    "EncodedWord",
    "NormalizedAddress",
    "SubjectParse",
    "addresses_equal",
    "decode_header_value",
    "domain_of",
    "format_challenge_subject",
    "format_reply_subject",
    "inspect_address",
    "is_auto_generated",
    "normalize_address",
    "normalize_domain",
    "parse_acme_subject",
    "parse_auto_submitted",
    "parse_single_address",
    "type_is_acme",
    "unfold",
]
