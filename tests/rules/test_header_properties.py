"""Properties of the header rules: every allowed spelling reads back the same, nothing raises."""

import base64
from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from rfc8823.messages.headers import (
    addresses_equal,
    decode_header_value,
    domain_of,
    format_challenge_subject,
    inspect_address,
    is_auto_generated,
    normalize_address,
    parse_acme_subject,
    parse_auto_submitted,
    parse_single_address,
    type_is_acme,
    unfold,
)
from rfc8823.strategies.headers import (
    address_forms,
    auto_submitted_values,
    encoded_word_subjects,
    folded_subjects,
    non_auto_generated_values,
    reply_prefixes,
)
from rfc8823.strategies.tokens import padded_token_parts, token_parts

tokens = st.one_of(token_parts(), padded_token_parts())
addresses = st.from_regex(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\.[A-Za-z0-9_-]{1,8}){0,2}"
    r"@([a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?\.){1,3}(test|example|xn--bcher-kva)",
    fullmatch=True,
)
raw_text = st.one_of(
    st.text(),
    st.binary().map(lambda data: data.decode("utf-8", "surrogateescape")),
)
parsers: list[Callable[[str], object]] = [
    unfold,
    decode_header_value,
    parse_acme_subject,
    parse_auto_submitted,
    parse_single_address,
    inspect_address,
    normalize_address,
    domain_of,
]


def assert_reads_token(raw: str, token: str) -> None:
    parsed = parse_acme_subject(raw)
    assert parsed.token_part1 == token, parsed
    assert parsed.label_space_ok, parsed
    assert parsed.token_alphabet_ok, parsed
    assert parsed.problems == (), parsed


@given(tokens.flatmap(lambda token: st.tuples(st.just(token), folded_subjects(token))))
def test_folded_subjects_read_back_the_token(case: tuple[str, str]) -> None:
    """Folding anywhere in the Subject leaves token-part1 intact (CHAL-SUBJ-2, REF-5322-1)."""
    token, raw = case
    assert_reads_token(raw, token)


@given(tokens.flatmap(lambda token: st.tuples(st.just(token), encoded_word_subjects(token))))
def test_encoded_subjects_read_back_the_token(case: tuple[str, str]) -> None:
    """Every Q/B, split and mixed encoding decodes to the token (CHAL-SUBJ-3,
    docs/decisions.md#decision-6)."""
    token, raw = case
    assert_reads_token(raw, token)
    assert set(parse_acme_subject(raw).charsets) <= {"utf-8", "us-ascii"}


@given(reply_prefixes(), tokens)
def test_reply_prefixes_are_replies(prefix: str, token: str) -> None:
    """A reply prefix before the label is kept and marks a reply (RESP-SUBJ-1, RESP-SUBJ-3)."""
    parsed = parse_acme_subject(prefix + format_challenge_subject(token))
    assert (parsed.prefix, parsed.is_reply, parsed.token_part1) == (prefix, True, token)
    assert parsed.problems == ()


@given(st.booleans().flatmap(lambda acme: st.tuples(st.just(acme), auto_submitted_values(acme))))
def test_conforming_auto_submitted_values(case: tuple[bool, str]) -> None:
    """All conforming spellings parse as auto-generated, with type=acme when present (CHAL-AUTO)."""
    acme_type, raw = case
    parsed = parse_auto_submitted(raw)
    assert is_auto_generated(parsed), parsed
    assert type_is_acme(parsed) is acme_type, parsed
    assert parsed.problems == (), parsed


@given(non_auto_generated_values())
def test_non_auto_generated_values(raw: str | None) -> None:
    """Absent, other keywords and garbage never count as auto-generated (CHAL-AUTO-1)."""
    assert not is_auto_generated(parse_auto_submitted(raw))


@given(addresses.flatmap(lambda addr: st.tuples(st.just(addr), address_forms(addr))))
def test_address_forms_yield_the_address(case: tuple[str, str]) -> None:
    """Every single-mailbox form reads back the addr-spec (CHAL-HDR-1, CHAL-HDR-2, AMB-12)."""
    addr, raw = case
    parsed = parse_single_address(raw)
    assert (parsed.addr_spec, parsed.count) == (addr, 1), parsed
    assert parsed.bare is ("<" not in raw)
    assert parsed.problems == (), parsed


@given(addresses)
def test_domain_case_does_not_matter(addr: str) -> None:
    """Domains compare case-insensitively, local parts exactly (I18N-5)."""
    local, _, domain = addr.rpartition("@")
    assert addresses_equal(addr, f"{local}@{domain.upper()}")
    if local.lower() != local.upper():
        assert not addresses_equal(addr, f"{local.swapcase()}@{domain}")


@given(st.text(min_size=1, max_size=10))
def test_b_encoded_text_round_trips(text: str) -> None:
    """Any text B-encoded in UTF-8 decodes to itself (RFC 2047 §4.1)."""
    encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
    decoded = decode_header_value(f"=?utf-8?b?{encoded}?=")
    assert decoded.text == text
    assert decoded.problems == ()


@given(raw_text)
def test_parsers_never_raise(raw: str) -> None:
    """Arbitrary text, including lone surrogates, gets a result, never an exception."""
    for parser in parsers:
        parser(raw)
    addresses_equal(raw, raw)
