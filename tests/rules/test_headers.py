"""Header rules: unfolding, encoded-words, the ACME Subject, Auto-Submitted and addresses."""

import pytest

from rfc8823.messages.headers import (
    addresses_equal,
    decode_header_value,
    domain_of,
    format_challenge_subject,
    format_reply_subject,
    inspect_address,
    is_auto_generated,
    normalize_address,
    normalize_domain,
    parse_acme_subject,
    parse_auto_submitted,
    parse_single_address,
    type_is_acme,
    unfold,
)

RFC_TOKEN = "LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME="
ACME4J_SUBJECT = "=?UTF-8?Q?ACME:_LgYemJLy3F1LDki=20JrdIGbEzyFJyOyf=20=206vBdyZ1TG3sME=3D?="


@pytest.mark.parametrize(
    ("raw", "unfolded"),
    [
        ("ACME:\r\n abc", "ACME: abc"),
        ("ACME:\r\n\tabc\r\n def", "ACME:\tabc def"),
        ("a\n b", "a b"),
        ("a\r\nb", "a\r\nb"),
        ("plain", "plain"),
    ],
)
def test_unfold_removes_line_breaks_before_wsp(raw: str, unfolded: str) -> None:
    """Only a line break followed by WSP is removed (RFC 5322 §2.2.3)."""
    assert unfold(raw) == unfolded


def test_acme4j_q_encoded_subject_yields_the_rfc_token() -> None:
    """acme4j's challenge.eml Subject decodes, and the token loses its inner spaces."""
    parsed = parse_acme_subject(ACME4J_SUBJECT)
    assert parsed.decoded == "ACME: LgYemJLy3F1LDki JrdIGbEzyFJyOyf  6vBdyZ1TG3sME="
    assert parsed.token_part1 == RFC_TOKEN
    assert parsed.label_space_ok
    assert parsed.token_alphabet_ok
    assert parsed.charsets == ("utf-8",)
    assert parsed.problems == ()


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("=?UTF-8?Q?ACME:_abc?= =?UTF-8?Q?def?=", "ACME: abcdef"),
        ("=?utf-8?q?ACME:?=\r\n =?utf-8?b?IGFi?=\t=?UTF-8?Q?c?=", "ACME: abc"),
        ("ACME: =?us-ascii?Q?ab?= cd", "ACME: ab cd"),
        ("=?US-ASCII*EN?Q?ACME:_abc?=", "ACME: abc"),
        ("=?utf-8*en-US?B?QUNNRTogYWJj?=", "ACME: abc"),
        ("=?utf-8?q?a=3d=5F?=", "a=_"),
    ],
)
def test_encoded_words_decode(raw: str, text: str) -> None:
    """Q and B decode; space between adjacent encoded-words is dropped (RFC 2047 §6.2)."""
    decoded = decode_header_value(raw)
    assert decoded.text == text
    assert decoded.problems == ()


def test_language_tag_is_recorded() -> None:
    """An RFC 2231 §5 language tag is kept apart from the charset."""
    (word,) = decode_header_value("=?US-ASCII*EN?Q?x?=").encoded_words
    assert (word.charset, word.language, word.encoding, word.text) == ("us-ascii", "EN", "Q", "x")


def test_other_charset_decodes_with_a_problem() -> None:
    """ISO-8859-1 is decoded but flagged: only UTF-8 and US-ASCII are allowed (CHAL-SUBJ-4)."""
    parsed = parse_acme_subject("=?ISO-8859-1?Q?ACME:_abc=E9?=")
    assert parsed.decoded == "ACME: abcé"
    assert parsed.charsets == ("iso-8859-1",)
    assert "charset iso-8859-1 is not UTF-8 or US-ASCII (CHAL-SUBJ-4)" in parsed.problems


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ("=?utf-8?x?abc?=", "is not Q or B"),
        ("=?utf-8?q?a=G1?=", "malformed Q encoding"),
        ("=?utf-8?b?!!!!?=", "malformed B encoding"),
        ("=?no-such-charset?q?abc?=", "unknown charset"),
        ("=?utf-8*1?q?abc?=", "bad language tag"),
        ("=?utf-8?q?hello world?=", "resembles an encoded-word"),
    ],
)
def test_malformed_encoded_words_stay_literal(raw: str, complaint: str) -> None:
    """A broken encoded-word is left as text and the problem is named (RFC 2047 §2, §4)."""
    decoded = decode_header_value(raw)
    assert decoded.text == raw
    assert decoded.encoded_words == ()
    assert any(complaint in problem for problem in decoded.problems), decoded.problems


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ("=?utf-8?q?=FF?=", "replaced with U+FFFD"),
        ("=?us-ascii?q?=C3=A9?=", "replaced with U+FFFD"),
        ("x=?utf-8?q?a?=", "not separated"),
        ("=?utf-8?b?YWJj?=", ""),
        ("=?utf-8?b?YWI?=", "padding"),
        ("=?utf-8?q?" + "a" * 70 + "?=", "longer than 75"),
    ],
)
def test_damaged_encoded_words_decode_with_problems(raw: str, complaint: str) -> None:
    """Bad octets, missing separation, padding and length are reported, not fatal."""
    decoded = decode_header_value(raw)
    assert len(decoded.encoded_words) == 1
    if complaint:
        assert any(complaint in problem for problem in decoded.problems), decoded.problems
    else:
        assert decoded.problems == ()


@pytest.mark.parametrize(
    ("raw", "prefix", "is_reply"),
    [
        ("ACME: x", "", False),
        ("Re: ACME: x", "Re: ", True),
        ("RE: ACME: x", "RE: ", True),
        ("re: ACME: x", "re: ", True),
        ("AW: ACME: x", "AW: ", True),
        ("SV: ACME: x", "SV: ", True),
        ("Antw: ACME: x", "Antw: ", True),
        ("Re: Re: ACME: x", "Re: Re: ", True),
        ("Re[2]: ACME: x", "Re[2]: ", True),
        ("[EXT] Re: ACME: x", "[EXT] Re: ", True),
        ("[EXT] ACME: x", "[EXT] ", False),
        ("Fwd: ACME: x", "Fwd: ", False),
        ("Fwd: Re: ACME: x", "Fwd: Re: ", False),
        ("=?UTF-8?Q?Re:_ACME:_x?=", "Re: ", True),
    ],
)
def test_prefixes_are_recorded(raw: str, prefix: str, is_reply: bool) -> None:
    """The text before the label is the prefix; it looks like a reply unless a tag or Fwd:."""
    parsed = parse_acme_subject(raw)
    assert (parsed.prefix, parsed.is_reply, parsed.token_part1) == (prefix, is_reply, "x")
    assert parsed.problems == ()


@pytest.mark.parametrize(
    ("raw", "token"),
    [
        ("ACME:\r\n LgYemJLy3F1LDki\r\n\tJrdIGbEzyFJyOyf6vBdyZ1TG3sME=", RFC_TOKEN),
        ("ACME:\tabc\tdef ", "abcdef"),
        ("ACME:  ab cd\r\n ef==", "abcdef=="),
    ],
)
def test_whitespace_inside_the_token_is_ignored(raw: str, token: str) -> None:
    """Folds, tabs and spaces inside token-part1 do not count (CHAL-SUBJ-2, RESP-SUBJ-4)."""
    parsed = parse_acme_subject(raw)
    assert parsed.token_part1 == token
    assert parsed.label_space_ok


def test_label_without_space_is_flagged() -> None:
    """``ACME:tok`` lacks the FWS after the label (CHAL-SUBJ-1); the token is still read."""
    parsed = parse_acme_subject("ACME:tok")
    assert parsed.token_part1 == "tok"
    assert not parsed.label_space_ok
    assert any("CHAL-SUBJ-1" in problem for problem in parsed.problems)


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ("Hello", "no 'ACME:' label"),
        ("acme: abc", "not written 'ACME:'"),
        ("XACME: abc", "no 'ACME:' label"),
        ("ACME:   ", "no token-part1"),
        ("", "no 'ACME:' label"),
    ],
)
def test_subject_without_a_token(raw: str, complaint: str) -> None:
    """Without the exact label or a token there is no token-part1 (CHAL-SUBJ-1)."""
    parsed = parse_acme_subject(raw)
    assert parsed.token_part1 is None
    assert any(complaint in problem for problem in parsed.problems), parsed.problems


@pytest.mark.parametrize("token", ["a+b/", "abc=d", "ab===", "toké"])
def test_token_outside_base64url_is_flagged(token: str) -> None:
    """``+``, ``/``, inner ``=`` and non-ASCII are not base64url (TOK-4)."""
    parsed = parse_acme_subject(f"ACME: {token}")
    assert parsed.token_part1 == token
    assert not parsed.token_alphabet_ok
    assert any("TOK-4" in problem for problem in parsed.problems)


def test_formatted_subjects_parse_back() -> None:
    """The challenge and reply Subjects we write are read back as written."""
    assert format_challenge_subject(RFC_TOKEN) == f"ACME: {RFC_TOKEN}"
    assert format_reply_subject(RFC_TOKEN) == f"Re: ACME: {RFC_TOKEN}"
    reply = parse_acme_subject(format_reply_subject(RFC_TOKEN, prefix="RE: "))
    assert (reply.prefix, reply.is_reply, reply.token_part1) == ("RE: ", True, RFC_TOKEN)


@pytest.mark.parametrize(
    ("raw", "parameters"),
    [
        ("auto-generated", {}),
        ("auto-generated; type=acme", {"type": "acme"}),
        ('AUTO-GENERATED (comment); type = "acme" ; foo=bar', {"type": "acme", "foo": "bar"}),
        ("Auto-Generated;\r\n TYPE=acme", {"type": "acme"}),
        ('(why) auto-generated ; (c) type=(x)"acme"(y)', {"type": "acme"}),
        ('auto-generated; reason="a;b=c"', {"reason": "a;b=c"}),
    ],
)
def test_auto_generated_forms(raw: str, parameters: dict[str, str]) -> None:
    """Case, CFWS, quoted values and extra parameters are all fine (CHAL-AUTO-1..3)."""
    parsed = parse_auto_submitted(raw)
    assert parsed.keyword == "auto-generated"
    assert is_auto_generated(parsed)
    assert parsed.parameters == parameters
    assert type_is_acme(parsed) == ("type" in parameters)
    assert parsed.problems == ()


@pytest.mark.parametrize(
    ("raw", "keyword"),
    [
        (None, None),
        ("", None),
        ("no", "no"),
        ("auto-replied", "auto-replied"),
        ("(auto-generated)", None),
        ('"auto-generated"', None),
        ("auto generated", "auto"),
        ("autogenerated", "autogenerated"),
    ],
)
def test_not_auto_generated(raw: str | None, keyword: str | None) -> None:
    """Absent, other keywords and near misses are not ``auto-generated`` (CHAL-AUTO-1)."""
    parsed = parse_auto_submitted(raw)
    assert parsed.keyword == keyword
    assert not is_auto_generated(parsed)


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ("auto-generated;", "empty parameter"),
        ("auto-generated; type", "malformed parameter"),
        ("auto-generated type=acme", "where ';' was expected"),
        ("auto-generated; type=acme; TYPE=x", "repeated"),
        ("auto-generated (open", "unterminated comment"),
        ('auto-generated; type="acme', "unterminated quoted-string"),
    ],
)
def test_auto_submitted_damage_is_reported(raw: str, complaint: str) -> None:
    """Malformed parameters leave the keyword readable and are named (RFC 3834 §5)."""
    parsed = parse_auto_submitted(raw)
    assert parsed.keyword == "auto-generated"
    assert any(complaint in problem for problem in parsed.problems), parsed.problems


def test_type_acme_is_case_insensitive() -> None:
    """``type=ACME`` still names the ACME type (CHAL-AUTO-2)."""
    assert type_is_acme(parse_auto_submitted("auto-generated; type=ACME"))
    assert not type_is_acme(parse_auto_submitted("auto-generated; type=other"))


@pytest.mark.parametrize(
    ("raw", "addr_spec", "display_name", "bare"),
    [
        ("alexey@example.com", "alexey@example.com", None, True),
        ("<alexey@example.com>", "alexey@example.com", None, False),
        ("Alexey <alexey@example.com>", "alexey@example.com", "Alexey", False),
        ('"Doe, Jane" <jane@example.com>', "jane@example.com", "Doe, Jane", False),
        ('"a \\"b\\"" <a@example.com>', "a@example.com", 'a "b"', False),
        ("=?UTF-8?Q?J=C3=B6rg?= <j@example.com>", "j@example.com", "Jörg", False),
        ("=?UTF-8?B?SsO2?= =?UTF-8?B?cmc=?= <j@example.com>", "j@example.com", "Jörg", False),
        ("=?ISO-8859-1?Q?J=F6rg?= <j@example.com>", "j@example.com", "Jörg", False),
        ("John Q. Public <jqp@example.com>", "jqp@example.com", "John Q. Public", False),
        ("alice@example.com (Alice)", "alice@example.com", None, True),
        ("(c) Alice (d) <alice@example.com> (e)", "alice@example.com", "Alice", False),
        ("Alice\r\n <alice@example.com>", "alice@example.com", "Alice", False),
        ('"a b"@example.com', '"a b"@example.com', None, True),
        ('"alice"@example.com', "alice@example.com", None, True),
        ("a@[127.0.0.1]", "a@[127.0.0.1]", None, True),
        ("jörg@bücher.test", "jörg@bücher.test", None, True),
    ],
)
def test_single_address_forms(
    raw: str, addr_spec: str, display_name: str | None, bare: bool
) -> None:
    """Display names, comments, quoting and encoded-words yield one addr-spec (RFC 5322 §3.4)."""
    parsed = parse_single_address(raw)
    assert (parsed.addr_spec, parsed.display_name, parsed.bare) == (addr_spec, display_name, bare)
    assert parsed.count == 1
    assert parsed.problems == ()


@pytest.mark.parametrize(
    ("raw", "count"),
    [
        ("a@example.com, b@example.com", 2),
        ("Team: a@example.com, b@example.com;", 2),
        ("undisclosed-recipients:;", 0),
        ("", 0),
        ("garbage", 0),
        ("@example.com", 0),
        ("<no-at-sign>", 0),
    ],
)
def test_address_fields_without_exactly_one_mailbox(raw: str, count: int) -> None:
    """acme4j needs exactly one address (AMB-12): other counts leave addr_spec empty."""
    parsed = parse_single_address(raw)
    assert parsed.count == count
    assert parsed.addr_spec is None
    assert any("AMB-12" in problem for problem in parsed.problems)


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ("Team: a@example.com;", "inside a group"),
        ("<a@example.com", "'<' without '>'"),
        ("<@relay.example:a@example.com>", "source route"),
        ("Alice <a@example.com> trailing", "after an address"),
        ("a..b@example.com", "not a dot-atom"),
        ("a@exa_mple.com", "not a valid host name"),
        ("a . b@example.com", "white space inside"),
        ('"open@example.com', "unterminated quoted-string"),
    ],
)
def test_damaged_single_address_is_reported(raw: str, complaint: str) -> None:
    """A readable but damaged address is kept and the damage named."""
    parsed = parse_single_address(raw)
    assert any(complaint in problem for problem in parsed.problems), parsed.problems


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        ("user@BÜCHER.test", "user@xn--bcher-kva.test", True),
        ("user@Example.COM", "user@example.com", True),
        ("User@example.com", "user@example.com", False),
        ('"user"@example.com', "user@example.com", True),
        ("caf\u00e9@example.com", "cafe\u0301@example.com", True),
        ("<user@example.com>", "user@example.com", True),
        ("user@example.com", "user@example.org", False),
    ],
)
def test_addresses_equal(a: str, b: str, equal: bool) -> None:
    """Domains compare as lower-case A-labels, local parts exactly after NFC (I18N-2, I18N-5)."""
    assert addresses_equal(a, b) is equal


def test_normalized_forms() -> None:
    """Normalisation and domain extraction give A-labels (I18N-2)."""
    assert normalize_address("Jörg@BÜCHER.Test") == "Jörg@xn--bcher-kva.test"
    assert domain_of("x@Bücher.TEST") == "xn--bcher-kva.test"
    assert normalize_domain("EXAMPLE.org") == "example.org"
    assert domain_of("no-at-sign") == ""


@pytest.mark.parametrize(
    ("addr", "complaint"),
    [
        ("user@bü..test", "no A-label form"),
        ("user@exa mple.test", "not a valid host name"),
        ("no-at-sign", "has no '@'"),
    ],
)
def test_invalid_domains_are_lower_cased_with_a_problem(addr: str, complaint: str) -> None:
    """A domain that cannot become A-labels is kept lower-case and flagged (I18N-2)."""
    checked = inspect_address(addr)
    assert checked.value == normalize_address(addr)
    assert checked.domain == checked.domain.lower()
    assert any(complaint in problem for problem in checked.problems), checked.problems
