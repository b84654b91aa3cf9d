"""MIME parsing and composition: round trips, line endings, transfer encodings, junk input."""

import base64
import os
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rfc8823.messages.headers import decode_header_value, unfold
from rfc8823.messages.mime import (
    MAX_DEPTH,
    MAX_PARTS,
    Entity,
    alternative,
    assemble,
    encode_words,
    fold,
    format_date,
    format_headers,
    leaf,
    make_message_id,
    media_type,
    mixed,
    parse_message,
    text_html,
    text_plain,
)

HEADERS = [("From", "ca@ca.example"), ("To", "alice@mail.example"), ("Subject", "ACME: abc")]


def test_simple_message_round_trips() -> None:
    """Header fields come back in order, names as written; the text/plain part is the body."""
    raw = assemble(HEADERS, text_plain("Hello.\nSecond line."))
    message = parse_message(raw)
    assert message.headers[:3] == tuple(HEADERS)
    assert message.first("mime-version") == "1.0"
    assert message.problems == ()
    [part] = message.parts
    assert part.path == "1"
    assert part.content_type == "text/plain"
    assert part.charset == "us-ascii"
    assert part.transfer_encoding == "7bit"
    assert part.text == "Hello.\r\nSecond line.\r\n"
    assert part.ancestors == ()


def test_lookups_ignore_case_and_count_repeats() -> None:
    """all/first/count compare field names case-insensitively (RFC 5322 §1.2.2)."""
    message = parse_message(b"Received: a\r\nRECEIVED: b\r\nSubject: s\r\n\r\n")
    assert message.all("received") == ["a", "b"]
    assert message.count("Received") == 2
    assert message.first("SUBJECT") == "s"
    assert message.first("Cc") is None
    assert message.count("Cc") == 0


def test_folded_values_stay_folded() -> None:
    """Raw values keep their folds (RFC 5322 §2.2.3); unfolding is the reader's step."""
    message = parse_message(b"Subject: ACME: abc\r\n def\r\n\tghi\r\n\r\nbody")
    value = message.first("Subject")
    assert value == "ACME: abc\r\n def\r\n\tghi"
    assert unfold(value or "") == "ACME: abc def\tghi"


def test_lf_only_message_parses_like_crlf() -> None:
    """A message stored with bare LF line ends reads the same, folds included."""
    entity = alternative(text_plain("one\ntwo"), text_html("<p>x</p>"), boundary="b1")
    crlf = assemble([*HEADERS, ("Subject", fold("ACME: abcdef", at=[9]))], entity)
    lf = assemble([*HEADERS, ("Subject", fold("ACME: abcdef", at=[9]))], entity, line_ending=b"\n")
    assert b"\r" not in lf
    parsed_crlf, parsed_lf = parse_message(crlf), parse_message(lf)
    assert [unfold(v) for _, v in parsed_lf.headers] == [unfold(v) for _, v in parsed_crlf.headers]
    assert [p.content_type for p in parsed_lf.parts] == ["text/plain", "text/html"]
    assert parsed_lf.parts[0].text == "one\ntwo"
    assert parsed_lf.problems == ()


@pytest.mark.parametrize("encoding", ["7bit", "8bit", "quoted-printable", "base64"])
def test_text_transfer_encodings_round_trip(encoding: str) -> None:
    """Each Content-Transfer-Encoding decodes back to the text (RFC 2045 §6)."""
    text = "Grüße — ACME\nline two with a very long tail " + "x" * 120
    charset = "us-ascii" if encoding == "7bit" else "utf-8"
    if encoding == "7bit":
        text = text.encode("ascii", "replace").decode("ascii")
    entity = text_plain(text, charset=charset, transfer_encoding=encoding)  # type: ignore[arg-type]
    [part] = parse_message(assemble(HEADERS, entity)).parts
    assert part.transfer_encoding == encoding
    assert part.text == text.replace("\n", "\r\n") + "\r\n"
    if encoding in ("quoted-printable", "base64"):
        assert all(len(line) <= 78 for line in entity.body.split(b"\r\n"))


def test_seven_bit_refuses_non_ascii() -> None:
    """7bit cannot carry 8-bit octets (RFC 2045 §2.7); the caller must pick an encoding."""
    with pytest.raises(ValueError, match="7bit"):
        text_plain("é", charset="utf-8")


def test_nested_multiparts_number_parts_like_imap() -> None:
    """Leaf parts are listed depth-first with IMAP-style paths and their enclosing types."""
    inner = alternative(text_plain("plain"), text_html("<b>html</b>"), boundary="inner")
    outer = mixed(inner, leaf("application/json", b'{"a": 1}'), boundary="outer")
    message = parse_message(assemble(HEADERS, outer))
    assert [(p.path, p.content_type) for p in message.parts] == [
        ("1.1", "text/plain"),
        ("1.2", "text/html"),
        ("2", "application/json"),
    ]
    assert message.parts[0].ancestors == ("multipart/mixed", "multipart/alternative")
    assert message.parts[2].payload == b'{"a": 1}'
    assert message.parts[2].text is None
    assert message.content_type == "multipart/mixed"


def test_preamble_epilogue_and_transport_padding_are_ignored() -> None:
    """Text outside the delimiters is not a part; delimiters may end in white space (RFC 2046)."""
    raw = (
        b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n"
        b"preamble\r\n--zz  \r\nContent-Type: text/plain\r\n\r\nA\r\n--zz--\t\r\nepilogue\r\n"
    )
    message = parse_message(raw)
    assert [p.text for p in message.parts] == ["A"]
    assert message.problems == ()


def test_missing_closing_boundary_keeps_the_last_part() -> None:
    """A truncated multipart still yields its parts, with a problem noted."""
    raw = b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n\r\nA\r\n--zz\r\n\r\nB"
    message = parse_message(raw)
    assert [p.text for p in message.parts] == ["A", "B"]
    assert any("closing boundary" in problem for problem in message.problems)


def test_boundary_that_never_appears_and_missing_boundary_parameter() -> None:
    """A multipart without usable boundaries is reported, never raised."""
    absent = parse_message(b"Content-Type: multipart/mixed; boundary=zz\r\n\r\nno parts\r\n")
    assert absent.parts == ()
    assert any("never appears" in p for p in absent.problems)
    no_param = parse_message(b"Content-Type: multipart/mixed\r\n\r\nraw\r\n")
    assert [p.content_type for p in no_param.parts] == ["application/octet-stream"]
    assert any("no boundary" in p for p in no_param.problems)


def test_bad_base64_is_decoded_as_far_as_possible() -> None:
    """Junk characters and missing padding in base64 are tolerated and reported."""
    good = base64.b64encode(b"hello world").decode()
    raw = (
        "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        f"{good[:6]}!!\r\n{good[6:].rstrip('=')}\r\n"
    ).encode()
    message = parse_message(raw)
    assert message.parts[0].payload == b"hello world"
    assert any("base64" in p for p in message.problems)


def test_unknown_charset_and_encoding_fall_back() -> None:
    """Unknown charsets read as UTF-8 with replacement; unknown encodings pass through."""
    raw = (
        b"Content-Type: text/plain; charset=x-unknown\r\n"
        b"Content-Transfer-Encoding: x-uuencode\r\n\r\nabc\xff"
    )
    [part] = parse_message(raw).parts
    assert part.text == "abc\ufffd"
    assert part.payload == b"abc\xff"


def test_parameters_quoted_continued_and_rfc2231() -> None:
    """Content-Type parameters: quotes, comments, RFC 2231 continuations and charsets."""
    found, params = media_type(
        "Text/HTML (comment); Charset=\"UTF-8\"; title*0*=utf-8'en'%C3%A9t;"
        ' title*1="\\"e\\""; name="a;b"'
    )
    assert found == "text/html"
    assert params == {"charset": "UTF-8", "title": 'ét"e"', "name": "a;b"}
    assert media_type(None) == ("text/plain", {})
    assert media_type("garbage") == ("text/plain", {})


def test_header_only_and_empty_input() -> None:
    """No blank line means header only; empty input is an empty message."""
    header_only = parse_message(b"Subject: x\r\nFrom: a@b")
    assert header_only.first("From") == "a@b"
    assert header_only.body == b""
    empty = parse_message(b"")
    assert empty.headers == ()
    assert [p.content_type for p in empty.parts] == ["text/plain"]


def test_malformed_header_lines_are_reported_and_skipped() -> None:
    """Lines that are neither fields nor continuations become problems (RFC 5322 §2.2)."""
    message = parse_message(b" leading continuation\r\nno colon here\r\nSubject: ok\r\n\r\n")
    assert message.headers == (("Subject", "ok"),)
    assert len(message.problems) == 2


def test_deep_nesting_stops_at_the_limit() -> None:
    """Multiparts nested beyond MAX_DEPTH become one opaque part instead of recursing on."""
    body = b"leaf"
    for depth in range(MAX_DEPTH + 5):
        boundary = f"b{depth}".encode()
        head = b"Content-Type: multipart/mixed; boundary=" + boundary + b"\r\n\r\n"
        body = head + b"--" + boundary + b"\r\n" + body + b"\r\n--" + boundary + b"--"
    message = parse_message(body)
    assert len(message.parts) == 1
    assert len(message.parts[0].ancestors) == MAX_DEPTH
    assert any("deeper" in p for p in message.problems)


def test_part_count_is_limited() -> None:
    """A multipart with too many parts is cut at MAX_PARTS."""
    parts = b"".join(b"--z\r\n\r\nx\r\n" for _ in range(MAX_PARTS + 50))
    message = parse_message(b"Content-Type: multipart/mixed; boundary=z\r\n\r\n" + parts + b"--z--")
    assert len(message.parts) == MAX_PARTS
    assert any(str(MAX_PARTS) in p for p in message.problems)


def test_huge_header_and_ten_megabyte_body_parse_quickly() -> None:
    """A 1 MB header field and a 10 MB body parse in well under a few seconds."""
    big_body = (b"A" * 76 + b"\r\n") * (10 * 1024 * 1024 // 78)
    raw = b"X-Huge: " + b"y" * 1_000_000 + b"\r\nSubject: s\r\n\r\n" + big_body
    start = time.perf_counter()
    message = parse_message(raw)
    elapsed = time.perf_counter() - start
    assert message.first("Subject") == "s"
    assert len(message.parts[0].payload) == len(big_body)
    assert elapsed < 3.0


def test_binary_junk_never_raises() -> None:
    """Random octets give a ParsedMessage with problems, not an exception."""
    message = parse_message(os.urandom(50_000))
    assert isinstance(message.problems, tuple)
    assert len(message.problems) <= 51


@given(st.binary(max_size=4000))
def test_parse_message_is_total(raw: bytes) -> None:
    """parse_message accepts any bytes."""
    message = parse_message(raw)
    assert message.raw == raw


@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True),
            st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=60),
        ),
        max_size=8,
    ),
    st.sampled_from([b"\r\n", b"\n"]),
)
def test_format_headers_round_trips(fields: list[tuple[str, str]], ending: bytes) -> None:
    """Whatever fields are written come back unchanged, with either line ending."""
    raw = format_headers(fields, line_ending=ending) + ending + b"body"
    assert list(parse_message(raw).headers) == [(name, value.lstrip()) for name, value in fields]


def test_fold_at_explicit_positions_and_by_width() -> None:
    """``at`` folds exactly there; otherwise lines break before white space within the width."""
    assert fold("ACME: abcdef", at=[8, 10]) == "ACME: ab\r\n cd\r\n ef"
    assert fold("ACME: abcdef", at=[5], wsp="\t") == "ACME:\r\n\t abcdef"
    words = " ".join(["word"] * 40)
    folded = fold(words, width=30, offset=9)
    lines = folded.split("\r\n")
    assert len(lines[0]) + 9 <= 30
    assert all(len(line) <= 30 for line in lines)
    assert unfold(folded) == words
    with pytest.raises(ValueError, match="outside"):
        fold("abc", at=[3])


@pytest.mark.parametrize("encoding", ["Q", "B"])
@pytest.mark.parametrize("charset", ["utf-8", "us-ascii", "iso-8859-1"])
@pytest.mark.parametrize("language", [None, "en"])
def test_encode_words_decode_back(encoding: str, charset: str, language: str | None) -> None:
    """Encoded-words decode to the text, each within 75 characters (RFC 2047 §2, RFC 2231 §5)."""
    text = "ACME: LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME_-= and some more words"
    written = encode_words(text, charset=charset, encoding=encoding, language=language)  # type: ignore[arg-type]
    decoded = decode_header_value(written)
    assert decoded.text == text
    assert all(len(word.raw) <= 75 for word in decoded.encoded_words)
    assert {word.charset.lower() for word in decoded.encoded_words} == {charset}
    assert {word.language for word in decoded.encoded_words} == {language}


def test_encode_words_split_at_and_multibyte() -> None:
    """``split_at`` starts new words there; multibyte characters are never cut."""
    written = encode_words("ACME: abcdef", split_at=[5, 9])
    assert written == "=?utf-8?Q?ACME:?= =?utf-8?Q?_abc?= =?utf-8?Q?def?="
    long_text = "é" * 60
    words = encode_words(long_text, encoding="B").split(" ")
    assert len(words) > 1
    assert decode_header_value(" ".join(words)).text == long_text


def test_message_id_and_date_shapes() -> None:
    """Message-IDs are fresh msg-ids; dates are RFC 5322 §3.3 date-times in UTC."""
    first, second = make_message_id("ca.example"), make_message_id("ca.example")
    assert first != second
    assert first.startswith("<")
    assert first.endswith("@ca.example>")
    assert format_date(0) == "Thu, 01 Jan 1970 00:00:00 +0000"


def test_assemble_adds_mime_version_once() -> None:
    """MIME-Version is added unless the caller wrote one."""
    entity: Entity = text_plain("x")
    assert parse_message(assemble(HEADERS, entity)).count("MIME-Version") == 1
    given_version = assemble([*HEADERS, ("MIME-Version", "1.0")], entity)
    assert parse_message(given_version).count("MIME-Version") == 1


def test_multipart_needs_a_part() -> None:
    """An empty multipart is not allowed (RFC 2046 §5.1.1)."""
    with pytest.raises(ValueError, match="at least one"):
        mixed()


def test_disposition_and_part_headers() -> None:
    """A part's own fields and its Content-Disposition are kept."""
    attachment = leaf(
        "application/octet-stream",
        b"\x00\x01",
        extra_headers=[("Content-Disposition", 'attachment; filename="a.bin"')],
    )
    message = parse_message(assemble(HEADERS, mixed(text_plain("x"), attachment)))
    assert message.parts[1].disposition == "attachment"
    assert message.parts[1].payload == b"\x00\x01"
    assert ("Content-Transfer-Encoding", "base64") in message.parts[1].headers
