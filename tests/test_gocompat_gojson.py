"""JSON decoded as Go's encoding/json decodes it (annotations files, OCI config.json)."""
from __future__ import annotations

import pytest

from katacfg.gocompat.gojson import JSONError, JSONNumber, decode_utf8, go_string, kind, loads


@pytest.mark.parametrize("text,want", [
    (r'{"a": "x\udc80y"}', {"a": "x\ufffdy"}),  # a lone low surrogate
    (r'{"a": "\ud800"}', {"a": "\ufffd"}),  # a lone high surrogate
    (r'{"a": "\ud800\ud800"}', {"a": "\ufffd\ufffd"}),  # two high ones: each replaced
    (r'{"a": "\ud83d\ude00"}', {"a": "\U0001f600"}),  # a valid pair is one rune
    (r'{"\udc80": "k"}', {"\ufffd": "k"}),  # keys too
    ('{"a": "1", "a": "2"}', {"a": "2"}),  # the last duplicate wins, as in Go
])
def test_strings_as_go(text, want):
    assert loads(text.encode()) == want


def test_invalid_utf8_is_one_replacement_per_byte():
    # Go's utf8.DecodeRune: a truncated 3-byte sequence is two errors of width one
    assert loads(b'{"a": "q\xe2\x82"}') == {"a": "q\ufffd\ufffd"}
    assert decode_utf8(b"\xed\xa0\x80") == "\ufffd" * 3  # an encoded surrogate: invalid
    assert decode_utf8("é€😀".encode()) == "é€😀"


def test_numbers_keep_their_text():
    got = loads(b'{"a": ' + b"9" * 5000 + b', "b": 1e999, "c": -0.5}')
    assert got["a"] == JSONNumber("9" * 5000) and str(got["b"]) == "1e999"
    assert kind(got["c"]) == "number" and kind("x") == "string" and kind(None) == "null"
    assert kind(True) == "bool" and kind([]) == "array" and kind({}) == "object"


@pytest.mark.parametrize("text", [b'{"a": NaN}', b'{"a": Infinity}', b"[-Infinity]",
                                  b"\xef\xbb\xbf{}", b"{", b'{"a": "\x01"}', b""])
def test_what_go_refuses(text):
    with pytest.raises(JSONError):
        loads(text)


def test_deep_nesting_is_an_error_not_a_crash():
    with pytest.raises(JSONError, match="nested too deeply"):
        loads(b"[" * 100_000 + b"]" * 100_000)
    assert loads(b"[" * 200 + b"]" * 200)


def test_go_string():
    assert go_string("plain") == "plain"
    assert go_string("a\udc80\ud800b") == "a\ufffd\ufffdb"
