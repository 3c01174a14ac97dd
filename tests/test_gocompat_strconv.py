"""Tests for katacfg.gocompat.strconv (Go strconv.ParseUint / ParseBool / Quote / QuoteRune)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from katacfg.gocompat.strconv import (
    NumError,
    decode_rune,
    go_bytes,
    is_print,
    parse_bool,
    parse_uint,
    quote,
    quote_rune,
)

# ---------------------------------------------------------------------------
# parse_uint
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "s,want",
    [
        ("0", 0),
        ("1", 1),
        ("007", 7),
        ("512", 512),
        ("4294967295", 4294967295),
        ("0000000000000000000004294967295", 4294967295),
    ],
)
def test_parse_uint_ok(s: str, want: int) -> None:
    assert parse_uint(s) == want


@pytest.mark.parametrize(
    "s,text",
    [
        ("", 'strconv.ParseUint: parsing "": invalid syntax'),
        ("-1", 'strconv.ParseUint: parsing "-1": invalid syntax'),
        ("+1", 'strconv.ParseUint: parsing "+1": invalid syntax'),
        (" 1", 'strconv.ParseUint: parsing " 1": invalid syntax'),
        ("1 ", 'strconv.ParseUint: parsing "1 ": invalid syntax'),
        ("1_000", 'strconv.ParseUint: parsing "1_000": invalid syntax'),
        ("0x10", 'strconv.ParseUint: parsing "0x10": invalid syntax'),
        ("abc", 'strconv.ParseUint: parsing "abc": invalid syntax'),
        ("1.5", 'strconv.ParseUint: parsing "1.5": invalid syntax'),
        ("١", 'strconv.ParseUint: parsing "١": invalid syntax'),  # Arabic-Indic digit
        ("４", 'strconv.ParseUint: parsing "４": invalid syntax'),  # fullwidth digit
        ('"1"', 'strconv.ParseUint: parsing "\\"1\\"": invalid syntax'),
        ("1\n", 'strconv.ParseUint: parsing "1\\n": invalid syntax'),
        ("a\\b", 'strconv.ParseUint: parsing "a\\\\b": invalid syntax'),
        ("\x00", 'strconv.ParseUint: parsing "\\x00": invalid syntax'),
        ("4294967296", 'strconv.ParseUint: parsing "4294967296": value out of range'),
        ("99999999999999999999999", 'strconv.ParseUint: parsing "99999999999999999999999": value out of range'),
        # Go reports the first problem met scanning left to right
        ("4294967296x", 'strconv.ParseUint: parsing "4294967296x": value out of range'),
        ("1x4294967296", 'strconv.ParseUint: parsing "1x4294967296": invalid syntax'),
    ],
)
def test_parse_uint_errors(s: str, text: str) -> None:
    with pytest.raises(NumError) as ei:
        parse_uint(s)
    assert str(ei.value) == text
    assert isinstance(ei.value, ValueError)


def test_parse_uint_bit_sizes() -> None:
    assert parse_uint("255", 8) == 255
    with pytest.raises(NumError, match="value out of range"):
        parse_uint("256", 8)
    assert parse_uint("18446744073709551615", 64) == 2**64 - 1
    assert parse_uint("18446744073709551615", 0) == 2**64 - 1
    with pytest.raises(NumError, match="value out of range"):
        parse_uint("18446744073709551616", 64)
    with pytest.raises(NumError) as ei:
        parse_uint("1", 65)
    assert str(ei.value) == 'strconv.ParseUint: parsing "1": invalid bit size 65'


def _model_parse_uint(s: str, bits: int = 32) -> tuple[str, int | None]:
    """Straightforward digits-only model of Go's left-to-right scan."""
    if s == "":
        return ("syntax", None)
    k = 0
    while k < len(s) and s[k] in "0123456789":
        k += 1
    prefix = int(s[:k]) if k else 0
    if prefix > 2**bits - 1:
        return ("range", None)
    if k < len(s):
        return ("syntax", None)
    return ("ok", prefix)


_NUMERIC_TEXT = st.one_of(
    st.text(max_size=15),
    st.text(alphabet="0123456789", min_size=1, max_size=25),
    st.integers(min_value=0, max_value=2**70).map(str),
    st.tuples(st.integers(min_value=0, max_value=2**40).map(str), st.sampled_from(["", "x", " ", "_", "-", "\x00", "é", "0"]))
    .map("".join),
    st.tuples(st.sampled_from(["+", "-", " ", "0x", "_"]), st.integers(min_value=0, max_value=2**33).map(str)).map("".join),
)


@settings(max_examples=800)
@given(_NUMERIC_TEXT, st.sampled_from([8, 16, 32, 64]))
def test_parse_uint_agrees_with_model(s: str, bits: int) -> None:
    kind, value = _model_parse_uint(s, bits)
    if kind == "ok":
        assert parse_uint(s, bits) == value
        return
    with pytest.raises(NumError) as ei:
        parse_uint(s, bits)
    err = "invalid syntax" if kind == "syntax" else "value out of range"
    assert str(ei.value) == f"strconv.ParseUint: parsing {quote(s)}: {err}"


@pytest.mark.parametrize("s", ["0", "000000000", "999999999", "4096", "12\u0663", "\u0663",
                               "\u00b2", "1_000", " 12", "12 ", "+1", "", "1234567890"])
@pytest.mark.parametrize("bits", [30, 31, 32, 64, 16])
def test_parse_uint_short_digit_strings_agree_with_model(s: str, bits: int) -> None:
    """The short path for up to nine ASCII digits (an annotation's usual value) gives the
    scan's answer, and everything else (non-ASCII digits, signs, spaces) still fails."""
    kind, value = _model_parse_uint(s, bits)
    if kind == "ok":
        assert parse_uint(s, bits) == value and type(parse_uint(s, bits)) is int
    else:
        with pytest.raises(NumError):
            parse_uint(s, bits)


# ---------------------------------------------------------------------------
# parse_bool
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("s", ["1", "t", "T", "TRUE", "true", "True"])
def test_parse_bool_true(s: str) -> None:
    assert parse_bool(s) is True


@pytest.mark.parametrize("s", ["0", "f", "F", "FALSE", "false", "False"])
def test_parse_bool_false(s: str) -> None:
    assert parse_bool(s) is False


@pytest.mark.parametrize("s", ["", "yes", "no", "on", "tRUE", "TrUe", " true", "true ", "2", "fAlse", "y"])
def test_parse_bool_invalid(s: str) -> None:
    with pytest.raises(ValueError) as ei:
        parse_bool(s)
    assert str(ei.value) == f"strconv.ParseBool: parsing {quote(s)}: invalid syntax"


# ---------------------------------------------------------------------------
# quote / quote_rune
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "s,want",
    [
        ("", '""'),
        ("abc", '"abc"'),
        ('"Fran & Freddie\'s Diner\t☺"', '"\\"Fran & Freddie\'s Diner\\t☺\\""'),  # Go's doc example
        ("\a\b\f\n\r\t\v", '"\\a\\b\\f\\n\\r\\t\\v"'),
        ("\x00\x01\x1f", '"\\x00\\x01\\x1f"'),
        ("\x7f", '"\\x7f"'),
        ("\x80", '"\\u0080"'),
        ("\u00a0", '"\\u00a0"'),  # no-break space: not printable for Go
        ("\u2028", '"\\u2028"'),
        ("\u3000", '"\\u3000"'),
        ("\u00ad", '"\\u00ad"'),  # soft hyphen (Cf)
        ("\ufeff", '"\\ufeff"'),
        ("\ue000", '"\\ue000"'),  # private use
        ("\U0010ffff", '"\\U0010ffff"'),
        ("\U000e0001", '"\\U000e0001"'),
        ("\U0001f600", '"\U0001f600"'),
        ("\ufffd", '"\ufffd"'),
        ("é日本", '"é日本"'),
        (" ", '" "'),
        ("\\", '"\\\\"'),
        ("'", '"\'"'),
        ("\udcff", '"\\xff"'),  # surrogateescape byte: invalid UTF-8 in Go
        ("a\udce2\udc82b", '"a\\xe2\\x82b"'),
        ("\ud800", '"\\xed\\xa0\\x80"'),  # lone surrogate: its 3 invalid bytes
    ],
)
def test_quote(s: str, want: str) -> None:
    assert quote(s) == want


def test_quote_bytes_input() -> None:
    assert quote(b"\xff\xe2\x82\xac") == '"\\xff€"'
    assert quote(b"\xc0\x80") == '"\\xc0\\x80"'  # overlong form is invalid


@pytest.mark.parametrize(
    "ch,want",
    [
        ("x", "'x'"),
        ("\n", "'\\n'"),
        ("'", "'\\''"),
        ('"', "'\"'"),
        ("\\", "'\\\\'"),
        ("☺", "'☺'"),
        ("\x00", "'\\x00'"),
        ("\x7f", "'\\x7f'"),
        ("\u00a0", "'\\u00a0'"),
        ("\U0010ffff", "'\\U0010ffff'"),
        ("\ud800", "'\ufffd'"),
        (0x110000, "'\ufffd'"),
    ],
)
def test_quote_rune(ch, want: str) -> None:
    assert quote_rune(ch) == want


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30))
def test_quote_printable_ascii(s: str) -> None:
    assert quote(s) == '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


@given(st.text(max_size=30))
def test_quote_roundtrips_through_python_literal(s: str) -> None:
    # for valid Unicode text, Go's escapes are valid Python escapes
    q = quote(s)
    if all(not (0xD800 <= ord(c) <= 0xDFFF) for c in s):
        assert eval(q) == s  # noqa: S307 - q only contains Go/Python string escapes


def test_is_print_matches_go_definition() -> None:
    assert is_print(ord(" "))
    assert not is_print(0xA0)
    assert not is_print(0x2000)
    assert is_print(ord("a")) and is_print(0x263A) and is_print(0x0301)
    assert not is_print(0x7F) and not is_print(0x85)


def test_go_bytes_and_decode_rune() -> None:
    assert go_bytes("a\udcffb") == b"a\xffb"
    assert go_bytes("\ud800") == b"\xed\xa0\x80"
    assert decode_rune(b"") == (0xFFFD, 0)
    assert decode_rune(b"\xe2\x82\xac") == (0x20AC, 3)
    assert decode_rune(b"\xe2\x82") == (0xFFFD, 1)
    assert decode_rune(b"\xed\xa0\x80") == (0xFFFD, 1)
    assert decode_rune(b"\xf4\x90\x80\x80") == (0xFFFD, 1)
    assert decode_rune(b"\xef\xbf\xbd") == (0xFFFD, 3)
