"""CSRs for RFC 8823 certificates: build one for a usage, and judge one against an order.

The rules: the CSR names exactly the ordered addresses (CSR-ID-1, docs/decisions.md#decision-7), as
rfc822Name with an A-label domain or, for a non-ASCII local part, as SmtpUTF8Mailbox (I18N-3,
RFC 9598); its keyUsage says signing-only, encryption-only or both (RFC 8823 §3.3, CSR-KU-2..5).
``builder`` writes a request; ``inspector`` reads one and applies ``name_rules`` (the names,
written as ``mailbox_names`` says) and ``key_usage`` (the bits, for the ``keys`` it holds).
Inspectors never raise on malformed bytes; they report findings and problems.
"""

from rfc8823.csr.builder import build_csr
from rfc8823.csr.inspector import (
    PARSE_ERRORS,
    CsrReport,
    decode_csr_field,
    extension_value,
    inspect_csr,
)
from rfc8823.csr.key_usage import (
    ENCRYPTION_BITS,
    SIGNING_BITS,
    USAGE_REQUIREMENT,
    Usage,
    UsageVerdict,
    describe_key_usage,
    format_bits,
    judge_key_usage,
    key_usage_bits,
    key_usage_for,
    key_usage_from_bits,
    usage_bits_text,
)
from rfc8823.csr.keys import encryption_bit, key_description, signature_hash, spki_der
from rfc8823.csr.mailbox_names import (
    SMTP_UTF8_MAILBOX,
    decode_utf8_string,
    describe_general_name,
    encode_utf8_string,
    mailbox_general_name,
    mailbox_hint,
)
from rfc8823.csr.name_rules import NAME_PASSES, NameReview, review_names, with_passes

__all__ = [
    "ENCRYPTION_BITS",
    "NAME_PASSES",
    "PARSE_ERRORS",
    "SIGNING_BITS",
    "SMTP_UTF8_MAILBOX",
    "USAGE_REQUIREMENT",
    "CsrReport",
    "NameReview",
    "Usage",
    "UsageVerdict",
    "build_csr",
    "decode_csr_field",
    "decode_utf8_string",
    "describe_general_name",
    "describe_key_usage",
    "encode_utf8_string",
    "encryption_bit",
    "extension_value",
    "format_bits",
    "inspect_csr",
    "judge_key_usage",
    "key_description",
    "key_usage_bits",
    "key_usage_for",
    "key_usage_from_bits",
    "mailbox_general_name",
    "mailbox_hint",
    "review_names",
    "signature_hash",
    "spki_der",
    "usage_bits_text",
    "with_passes",
]
