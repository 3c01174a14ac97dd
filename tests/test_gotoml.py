"""Tests of katacfg.gocompat.gotoml: the BurntSushi/toml v0.3.1 compatible decoder.

Expected error texts are derived by hand from the Go sources (lex.go,
parse.go, type_check.go of BurntSushi/toml v0.3.1): which items the parser
has pulled when the failure surfaces decides the line and the last key.
"""
from __future__ import annotations

import json
import math
import string
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from katacfg.gocompat import gotoml
from katacfg.gocompat.gotoml import (
    Document,
    GoDatetime,
    TableArray,
    TomlSyntaxError,
    go_quote,
    go_quote_rune,
    go_type_name,
    parse,
)

SEED = Path(__file__).resolve().parent / "data" / "seed000-configuration.toml"
CONFORMANCE = Path(__file__).resolve().parent / "data" / "conformance" / "cases" / "config_toml_syntax_error"

STOCK_LIKE = """\
# Copyright (c) 2017-2019 Intel Corporation
#
# SPDX-License-Identifier: Apache-2.0

[hypervisor.qemu]
path = "/usr/bin/qemu-lite-system-x86_64"
kernel = "/usr/share/kata-containers/vmlinuz.container"
machine_type = "pc"
kernel_params = ""
machine_accelerators=""
default_vcpus = 1
default_maxvcpus = 0
default_memory = 2048
disable_block_device_use = false
enable_annotations = []
valid_hypervisor_paths = ["/usr/bin/qemu-lite-system-x86_64", '/opt/q']
pflashes = [ ]
#enable_debug = true
\t# indented comment
virtio_fs_cache_size = 1024   # trailing comment
ratio = 0.5

[factory]

[proxy.kata]
path = "/usr/libexec/kata-containers/kata-proxy"

[agent.kata]
kernel_modules=["e1000e InterruptThrottleRate=3000,3000,3000 EEE=1", "i915 enable_ppgtt=0"]

[runtime]
internetworking_model="tcfilter"
disable_guest_seccomp=true
experimental=[]
ints = [1, -2, +3]"""


def canon(value):
    """A type-strict, comparable form of a decoded value."""
    t = type(value)
    if t is dict:
        return ("map", tuple(sorted((k, canon(v)) for k, v in value.items())))
    if t is TableArray:
        return ("tables", tuple(canon(v) for v in value))
    if t is list:
        return ("array", tuple(canon(v) for v in value))
    if t is float:
        return ("float", repr(value))
    if t is GoDatetime:
        return ("time", value.text)
    return (go_type_name(value), value)


def canon_doc(doc: Document):
    return canon(doc.data), tuple(sorted(doc.positions.items(), key=repr))


def outcome(fn, text):
    try:
        return ("ok", canon_doc(fn(text)))
    except TomlSyntaxError as exc:
        return ("err", exc.message, exc.line, exc.column, exc.go_panic)


def error_of(text: str) -> TomlSyntaxError:
    with pytest.raises(TomlSyntaxError) as info:
        parse(text)
    return info.value


def to_plain(value):
    """Our decoded value as tomllib would give it (for dialect-agreeing input)."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value


# ---------------------------------------------------------------------------
# valid documents
# ---------------------------------------------------------------------------


def test_seed_matches_tomllib_and_slow_path():
    text = SEED.read_text()
    fast = gotoml._parse_fast(text)
    assert fast is not None, "the stock file must be handled by the fast path"
    slow = gotoml._parse_slow(text)
    assert canon_doc(fast) == canon_doc(slow)
    assert fast.data == tomllib.loads(text)
    lines = text.splitlines()
    # every recorded position points at its key in the source
    for path, (line, col) in fast.positions.items():
        name = [p for p in path if isinstance(p, str)][-1]
        assert lines[line - 1][col - 1:].startswith(name), (path, line, col)


def test_stock_like_fast_slow_tomllib():
    fast = gotoml._parse_fast(STOCK_LIKE)
    assert fast is not None
    slow = gotoml._parse_slow(STOCK_LIKE)
    assert canon_doc(fast) == canon_doc(slow)
    assert fast.data == tomllib.loads(STOCK_LIKE)
    p = fast.positions
    assert p[("hypervisor",)] == (5, 2)
    assert p[("hypervisor", "qemu")] == (5, 13)
    assert p[("hypervisor", "qemu", "path")] == (6, 1)
    assert p[("hypervisor", "qemu", "machine_accelerators")] == (10, 1)
    assert p[("factory",)] == (23, 2)
    assert p[("runtime", "ints")] == (35, 1)
    assert fast.data["runtime"]["ints"] == [1, -2, 3]
    assert fast.data["hypervisor"]["qemu"]["ratio"] == 0.5


def test_positions_slow_path_constructs():
    text = (
        "top = 1\n"                       # 1
        "  'quoted key' = { a = 1, \"b\" = [ {c = 2} ] }\n"  # 2
        "[[srv]]\n"                       # 3
        "name = \"x\"\n"                  # 4
        "[[srv]]\n"                       # 5
        "  name = \"y\"\n"                # 6
        "[srv.sub]\n"                     # 7
        "k = \"\"\"multi\n"               # 8
        "line\"\"\"\n"                    # 9
        "[ x . \"y z\" ]\n"               # 10
        "\"\"\"ml\nkey\"\"\" = 1\n"       # 11-12
    )
    doc = parse(text)
    p = doc.positions
    assert p[("top",)] == (1, 1)
    assert p[("quoted key",)] == (2, 3)
    assert p[("quoted key", "a")] == (2, 20)
    assert p[("quoted key", "b")] == (2, 27)
    assert p[("quoted key", "b", 0, "c")] == (2, 36)
    assert p[("srv",)] == (3, 3)
    assert p[("srv", 0)] == (3, 3)
    assert p[("srv", 0, "name")] == (4, 1)
    assert p[("srv", 1)] == (5, 3)
    assert p[("srv", 1, "name")] == (6, 3)
    assert p[("srv", 1, "sub")] == (7, 6)
    assert p[("srv", 1, "sub", "k")] == (8, 1)
    assert p[("x",)] == (10, 3)
    assert p[("x", "y z")] == (10, 7)
    assert p[("x", "y z", "ml\nkey")] == (11, 1)
    assert doc.data["srv"] == [{"name": "x"}, {"name": "y", "sub": {"k": "multi\nline"}}]
    assert type(doc.data["srv"]) is TableArray
    assert doc.data["x"]["y z"]["ml\nkey"] == 1


def test_implicit_table_position_updated_by_explicit_header():
    doc = parse("[a.b]\nx = 1\n[a]\ny = 2\n")
    assert doc.positions[("a",)] == (3, 2)
    assert doc.positions[("a", "b")] == (1, 4)
    assert doc.data == {"a": {"b": {"x": 1}, "y": 2}}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", {}),
        ("# only a comment", {}),
        ("   \n\t\n", {}),
        ("a = 1\rb = 2", {"a": 1, "b": 2}),                        # '\r' ends a line
        ("a = 007\nb = +007\nc = -0", {"a": 7, "b": 7, "c": 0}),   # leading zeros
        ("a = 1_000\nb = 1_000.5_5\nc = 1.5e5_0", {"a": 1000, "b": 1000.55, "c": 1.5e50}),
        ("a = 1e-400", {"a": 0.0}),                                 # underflow is no error
        ("a = -9223372036854775808", {"a": -(2**63)}),
        ("a = 9223372036854775807", {"a": 2**63 - 1}),
        ("a = {x = 1, y = 2,}", {"a": {"x": 1, "y": 2}}),           # trailing comma
        ("[x]\na = {b = 1, b = 2}", {"x": {"a": {"b": 2}}}),        # no check inside inline tables
        ("a = [[1,2],[\"a\"]]", {"a": [[1, 2], ["a"]]}),
        ("a = [{a=1},{b=\"x\"}]", {"a": [{"a": 1}, {"b": "x"}]}),
        ("a = \"\\u00e9\\U0001F600\\t\\\"\"", {"a": "é😀\t\""}),
        ("a = \"tab\there \x01\"", {"a": "tab\there \x01"}),        # control characters accepted
        ("a = 'lit\\n'", {"a": "lit\\n"}),
        ("a = \"\"\"\n\"\"\"", {"a": ""}),
        ("a = \"\"\"\n\nx\"\"\"", {"a": "\nx"}),
        ("a = \"\"\"abc\\\n   \n  def\"\"\"", {"a": "abcdef"}),
        ("a = \"\"\"a\\\\\nb\"\"\"", {"a": "a\x08"}),               # Go's escaped-backslash quirk
        ("x = '''\r\na'''", {"x": "\r\na"}),                        # only '\n' is stripped
        ("a = 1\x00garbage = = =", {"a": 1}),                        # NUL after a value = EOF
        ("[a.b.c]\n[a]\nb = 1", {"a": {"b": {"c": {}}}}),           # value silently dropped
        ("a = {x = 1}\n[a.b]\nc = 2", {"a": {"x": 1, "b": {"c": 2}}}),
        ("[a]\n[[a.b]]\n[[a.b]]\n[a.b.c]", {"a": {"b": [{}, {"c": {}}]}}),
        ("[ a . b ]\n[a]", {"a": {"b": {}}}),
        ("\"\" = 1", {"": 1}),
        ("true = false", {"true": False}),
        ("1979-05-27 = 1", {"1979-05-27": 1}),
        ("a=true#c\nb=\"x\"#c\nc=1#c", {"a": True, "b": "x", "c": 1}),
    ],
)
def test_valid_documents(text, expected):
    assert to_plain(parse(text).data) == expected
    assert outcome(gotoml._parse_slow, text)[0] == "ok"


@pytest.mark.parametrize(
    "text",
    [
        "a = 1979-05-27T07:32:00Z",
        "a = 1979-05-27T07:32:00-07:00",
        "a = 1979-05-27T7:32:00Z",               # Go's hour takes one or two digits
        "a = 1979-05-27T07:32:00.999999-07:00",
        "a = 1979-05-27T07:32:00.5",
        "a = 1979-05-27T07:32:00",
        "a = 1979-05-27",
        "a = 1980-02-29",
        "a = 0000-01-01",
        "a = 1979-05-27T00:00:00+24:00",
        "a = 1979-05-27T07:32:00.1234567891-07:00",
    ],
)
def test_datetimes_accepted(text):
    value = parse(text).data["a"]
    assert isinstance(value, GoDatetime)
    assert value.text == text[4:]
    assert go_type_name(value) == "time.Time"


def test_datetime_values():
    d = parse("a = 1979-05-27T07:32:00.999999-07:00").data["a"]
    assert d.value.isoformat() == "1979-05-27T07:32:00.999999-07:00"
    assert d.nanosecond == 999999000
    assert parse("a = 1979-05-27T07:32:00Z").data["a"].utc_offset == 0
    local = parse("a = 1979-05-27T07:32:00").data["a"]
    assert local.utc_offset is None and local.value.tzinfo is None
    assert parse("a = 0000-01-01").data["a"].value is None
    assert parse("a = 1979-05-27").data["a"].value.year == 1979


# ---------------------------------------------------------------------------
# errors: exact Go texts and lines
# ---------------------------------------------------------------------------

INVALID_ESCAPE = ("only the following escape characters are allowed: "
                  "\\b, \\t, \\n, \\f, \\r, \\\", \\\\, \\uXXXX, and \\UXXXXXXXX")

ERRORS = [
    # --- lexer messages
    ("a = \"abc", 1, "a", "unexpected EOF"),
    ("a = 'abc", 1, "a", "unexpected EOF"),
    ("a = \"\"\"abc", 1, "a", "unexpected EOF"),
    ("a = '''abc", 1, "a", "unexpected EOF"),
    ("\x00", 0, "", "unexpected EOF"),
    ("# c\x00", 1, "", "unexpected EOF"),
    ("a = \"x\x00\"", 1, "a", "unexpected EOF"),
    ("a = \"x\ny\"", 1, "a", "strings cannot contain newlines"),
    ("a = 'x\ry'", 1, "a", "strings cannot contain newlines"),
    ("a = _1", 1, "a", "expected value but found '_' instead"),
    ("a = ", 1, "a", "expected value but found '\\x00' instead"),
    ("a = \n1", 1, "a", "expected value but found '\\n' instead"),
    ("a = \t\u00a0", 1, "a", "expected value but found '\\u00a0' instead"),
    ("a = tru", 1, "a", "expected value but found \"tru\" instead"),
    ("a = trueabc", 1, "a", "expected value but found \"trueabc\" instead"),
    ("a = é", 1, "a", "expected value but found \"é\" instead"),
    ("a = inf", 1, "a", "expected value but found \"inf\" instead"),
    ("a.b = 1", 0, "", "bare keys cannot contain '.'"),
    ("a", 0, "", "bare keys cannot contain '\\x00'"),
    ("a\n= 1", 0, "", "bare keys cannot contain '\\n'"),
    ("\ufeffa = 1", 0, "", "bare keys cannot contain '\\ufeff'"),
    ("x = 1\nkey'q = 1", 1, "", "bare keys cannot contain '\\''"),
    ("=1", 0, "", "unexpected key separator '='"),
    ("a b = 1", 1, "a", "expected key separator '=', but got 'b' instead"),
    ("'a' : 1", 1, "a", "expected key separator '=', but got ':' instead"),
    ("a = 1 b", 1, "", "expected a top-level item to end with a newline, comment, or EOF, but got 'b' instead"),
    ("a = true1", 1, "", "expected a top-level item to end with a newline, comment, or EOF, but got '1' instead"),
    ("a = 0x10", 1, "", "expected a top-level item to end with a newline, comment, or EOF, but got 'x' instead"),
    ("k = 'a' 'b'", 1, "", "expected a top-level item to end with a newline, comment, or EOF, but got '\\'' instead"),
    ("a = \"\"\"\"\"\"\"\"", 1, "", "expected a top-level item to end with a newline, comment, or EOF, but got '\"' instead"),
    ("[a] x", 1, "a", "expected a top-level item to end with a newline, comment, or EOF, but got 'x' instead"),
    ("[a]]", 1, "a", "expected a top-level item to end with a newline, comment, or EOF, but got ']' instead"),
    ("a = 1979-05-27 07:32:00", 1, "", "expected a top-level item to end with a newline, comment, or EOF, but got '0' instead"),
    ("[a b]", 1, "", "expected '.' or ']' to end table name, but got 'b' instead"),
    ("[a", 1, "", "expected '.' or ']' to end table name, but got '\\x00' instead"),
    ("[a]\nb = 1\n\n\n[c\n", 5, "a", "expected '.' or ']' to end table name, but got '\\n' instead"),
    ("[a\tb]", 1, "", "expected '.' or ']' to end table name, but got 'b' instead"),
    ("[=]", 1, "", "expected '.' or ']' to end table name, but got '=' instead"),
    ("[]", 0, "", "unexpected end of table name (table names cannot be empty)"),
    ("[ ]", 0, "", "unexpected end of table name (table names cannot be empty)"),
    ("[", 0, "", "unexpected end of table name (table names cannot be empty)"),
    ("[a.]", 1, "", "unexpected end of table name (table names cannot be empty)"),
    ("[.a]", 0, "", "unexpected table separator (table names cannot be empty)"),
    ("[a..b]", 1, "", "unexpected table separator (table names cannot be empty)"),
    ("[[a]", 1, "", "expected end of table array name delimiter ']', but got '\\x00' instead"),
    ("[[a] ]", 1, "", "expected end of table array name delimiter ']', but got ' ' instead"),
    ("a = [1,,2]", 1, "a", "unexpected comma"),
    ("a = [,]", 1, "a", "unexpected comma"),
    ("a = {,}", 1, "a", "unexpected comma"),
    ("a = {x = 1,,}", 1, "a.x", "unexpected comma"),
    ("a = [1 2]", 1, "a", "expected a comma or array terminator ']', but got '2' instead"),
    ("a = [\n# c\n1,\n2 3]", 1, "a", "expected a comma or array terminator ']', but got '3' instead"),
    ("a = {x = 1 y = 2}", 1, "a.x", "expected a comma or an inline table terminator '}', but got 'y' instead"),
    ("a = {x = 1\n}", 1, "a.x", "newlines not allowed within inline tables"),
    ("a = {\nx = 1}", 1, "a", "newlines not allowed within inline tables"),
    ("a = .5", 1, "a", "floats must start with a digit, not '.'"),
    ("a = +.5", 1, "a", "floats must start with a digit, not '.'"),
    ("a = +x", 1, "a", "expected a digit but got 'x'"),
    ("a = -inf", 1, "a", "expected a digit but got 'i'"),
    ("a = \"\\x\"", 1, "a", "invalid escape character 'x'; " + INVALID_ESCAPE),
    ("a = \"\\ \"", 1, "a", "invalid escape character ' '; " + INVALID_ESCAPE),
    ("a = \"\"\"x\\ \n\"\"\"", 1, "a", "invalid escape character ' '; " + INVALID_ESCAPE),
    ("a = \"\\u12G4\"", 1, "a", "expected four hexadecimal digits after '\\u', but got \"\\\\u12G\" instead"),
    ("a = \"ab\\U0001F60\"", 1, "a",
     "expected eight hexadecimal digits after '\\U', but got \"ab\\\\U0001F60\\\"\" instead"),
    ("a = \"\\u12", 1, "a", "expected four hexadecimal digits after '\\u', but got \"\\\\u12\" instead"),
    # --- parser messages
    ("a = \"\\uD800\"", 1, "a", "Escaped character '\\uD800' is not valid UTF-8."),
    ("a = \"\\U00110000\"", 1, "a", "Escaped character '\\u00110000' is not valid UTF-8."),
    ("a = 1__0", 1, "a", "Invalid integer \"1__0\": underscores must be surrounded by digits"),
    ("a = 1_", 1, "a", "Invalid integer \"1_\": underscores must be surrounded by digits"),
    ("a = 99999999999999999999", 1, "a",
     "Integer '99999999999999999999' is out of the range of 64-bit signed integers."),
    ("a = 9223372036854775808", 1, "a",
     "Integer '9223372036854775808' is out of the range of 64-bit signed integers."),
    ("a = -9_223_372_036_854_775_809", 1, "a",
     "Integer '-9_223_372_036_854_775_809' is out of the range of 64-bit signed integers."),
    ("a = 1.e5", 1, "a", "Invalid float \"1.e5\": '.' must be followed by one or more digits"),
    ("a = 1.", 1, "a", "Invalid float \"1.\": '.' must be followed by one or more digits"),
    ("a = 1_.5", 1, "a", "Invalid float \"1_.5\": underscores must be surrounded by digits"),
    ("a = 1.5.5", 1, "a", "Invalid float value: \"1.5.5\""),
    ("a = 1e", 1, "a", "Invalid float value: \"1e\""),
    ("a = 1e400", 1, "a", "Float '1e400' is out of the range of 64-bit IEEE-754 floating-point numbers."),
    ("a = 1979-02-29", 1, "a", "Invalid TOML Datetime: \"1979-02-29\"."),
    ("a = 1979-5-27", 1, "a", "Invalid TOML Datetime: \"1979-5-27\"."),
    ("a = 1979-05-27T07:32", 1, "a", "Invalid TOML Datetime: \"1979-05-27T07:32\"."),
    ("a = 1979-05-27T24:00:00", 1, "a", "Invalid TOML Datetime: \"1979-05-27T24:00:00\"."),
    ("a = 1979-05-27T07:32:00.", 1, "a", "Invalid TOML Datetime: \"1979-05-27T07:32:00.\"."),
    ("a = 1979-05-27T00:00:00+25:00", 1, "a", "Invalid TOML Datetime: \"1979-05-27T00:00:00+25:00\"."),
    ("a = 1-2", 1, "a", "Invalid TOML Datetime: \"1-2\"."),
    ("a = 1\na = 2", 2, "a", "Key 'a' has already been defined."),
    ("a = 1\na = 2 x", 2, "a", "Key 'a' has already been defined."),   # parser fails first
    ("a = [1,2]\na = [1,2 x]", 2, "a", "expected a comma or array terminator ']', but got 'x' instead"),
    ("a = 1\r\nb = 2\r\nb = 3", 3, "b", "Key 'b' has already been defined."),
    ("\"\" = 1\n\"\" = 2", 2, "", "Key '' has already been defined."),
    ("[a]\nb = 1\n[a]", 3, "", "Key 'a' has already been defined."),
    ("[a.b]\n[a]\n[a]", 3, "", "Key 'a' has already been defined."),
    ("a = {}\n[a]", 2, "", "Key 'a' has already been defined."),
    ("[\"a.b\"]\n[\"a.b\"]", 2, "", "Key 'a.b' has already been defined."),
    ("[a]\n\"b c\" = 1\n\"b c\" = 2", 3, "a.b c", "Key 'a.b c' has already been defined."),
    ("\"\"\"a\nb\"\"\" = 1\nc = 2\nc = 3", 4, "c", "Key 'c' has already been defined."),
    # implicit flags are keyed by the joined name: "a.b" stands for both
    ("[\"a.b\".c]\n[a.b.x]\n[\"a.b\"]\n[a]\n[a.b]", 5, "a", "Key 'a.b' has already been defined."),
    ("a = 1\n[a.b]", 2, "", "Key 'a' was already created as a hash."),
    ("a = [{x = 1}]\n[a.b]", 2, "", "Key 'a' was already created as a hash."),
    ("[x]\na = 1\n[x.a.b]", 3, "x", "Key 'x.a' was already created as a hash."),
    ("a = 1\n[[a]]", 2, "", "Key '' was already created and cannot be used as an array."),
    ("[a]\n[[a]]", 2, "", "Key '' was already created and cannot be used as an array."),
    ("[x]\ny = 1\n[[x.y]]", 3, "x", "Key 'x' was already created and cannot be used as an array."),
    ("a = [1, 'x']", 1, "a",
     "Array contains values of type 'Integer' and 'String', but arrays must be homogeneous."),
    ("a = [[1], ['x'], 2]", 1, "a",
     "Array contains values of type 'Array' and 'Integer', but arrays must be homogeneous."),
    ("a = [1, 2.0]", 1, "a",
     "Array contains values of type 'Integer' and 'Float', but arrays must be homogeneous."),
    ("a = [{}, true]", 1, "a",
     "Array contains values of type 'Hash' and 'Bool', but arrays must be homogeneous."),
    ("a = [1979-05-27, \"x\"]", 1, "a",
     "Array contains values of type 'Datetime' and 'String', but arrays must be homogeneous."),
    ("a = [\n1,\n\"x\"\n]", 1, "a",
     "Array contains values of type 'Integer' and 'String', but arrays must be homogeneous."),
    ("a = {x = [1, \"a\"]}", 1, "a.x",
     "Array contains values of type 'Integer' and 'String', but arrays must be homogeneous."),
    ("a = {b = {c = 1_}}", 1, "a.b.c", "Invalid integer \"1_\": underscores must be surrounded by digits"),
    # approxLine comes from top-level comments, keys and first table-name parts
    ("a = 1\n# c\n\n=", 2, "", "unexpected key separator '='"),
    ("a = [\n1,\n2]\n\n\nb = 1 2", 6, "", "expected a top-level item to end with a newline, comment, or EOF, but got '2' instead"),
    ("[a.b.c]\n[x.\"y\\q\"]", 2, "a.b.c", "invalid escape character 'q'; " + INVALID_ESCAPE),
    ("[a]\n[\"\\uDFFF\"]", 2, "a", "Escaped character '\\uDFFF' is not valid UTF-8."),
    ("[a]\n[b.\"\\uDFFF\"]", 2, "a", "Escaped character '\\uDFFF' is not valid UTF-8."),
]


@pytest.mark.parametrize("text, line, key, detail", ERRORS)
def test_error_messages(text, line, key, detail):
    for fn in (parse, gotoml._parse_slow):
        with pytest.raises(TomlSyntaxError) as info:
            fn(text)
        exc = info.value
        assert exc.message == f"Near line {line} (last key parsed '{key}'): {detail}"
        assert str(exc) == exc.message
        assert exc.line == line
        assert exc.detail == detail
        assert exc.key == key
        assert not exc.go_panic
        assert exc.column is None or exc.column >= 1


def test_error_columns():
    e = error_of("a = 1\nb = [1, 2 x]\n")
    assert (e.line, e.char_line, e.column) == (2, 2, 11)
    e = error_of("a = [\n1,\n2 3]")
    assert (e.line, e.char_line, e.column) == (1, 3, 3)
    e = error_of("[a]\nx = 1\nx = 2")
    assert (e.char_line, e.column) == (3, 1)
    e = error_of("a = \"abc")
    assert (e.char_line, e.column) == (1, 9)


@pytest.mark.parametrize(
    "text, detail",
    [
        ("a = {x = 1 # c\n}", "BUG: Expected key start but instead found \"\", around line 1"),
        ("a = { # c\n}", "BUG: Expected key start but instead found \"\", around line 1"),
        ("a = \"\"\"a\\\\\n\"\"\"", "BUG: Escape sequence at end of string."),
        ("a = \"\"\"\\\r\n x\"\"\"", "BUG: Expected valid escape code after \\, but got '\\r'."),
    ],
)
def test_go_panics_become_errors(text, detail):
    e = error_of(text)
    assert e.go_panic
    assert e.detail == detail
    assert e.message.endswith("): " + detail)


def test_conformance_syntax_error_case():
    case = CONFORMANCE
    expected = json.loads((case / "expected.json").read_text())["error"]
    text = (case / "config.toml").read_text()
    e = error_of(text)
    assert e.message == expected
    assert e.line == 51
    assert e.key == "runtime"
    assert gotoml._parse_fast(text) is None


def test_errors_never_from_fast_path():
    for text, *_ in ERRORS:
        assert gotoml._parse_fast(text) is None, text


# ---------------------------------------------------------------------------
# Go quoting and type names
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "char, quoted",
    [("\n", "'\\n'"), ("x", "'x'"), ("\t", "'\\t'"), ("'", "'\\''"), ('"', "'\"'"),
     ("\\", "'\\\\'"), ("\x00", "'\\x00'"), ("\x7f", "'\\x7f'"), ("\u00a0", "'\\u00a0'"),
     ("\ufeff", "'\\ufeff'"), ("é", "'é'"), ("\U000e0001", "'\\U000e0001'"),
     ("\udcff", "'\ufffd'"), ("\v", "'\\v'"), ("\x1b", "'\\x1b'")],
)
def test_go_quote_rune(char, quoted):
    assert go_quote_rune(char) == quoted


def test_go_quote_string():
    assert go_quote("a\"b\\c\n'é\x01") == "\"a\\\"b\\\\c\\n'é\\x01\""
    assert go_quote("\udcff") == "\"\\xff\""


def test_go_type_name_every_kind():
    doc = parse(
        "s = 'x'\ni = 1\nf = 1.5\nb = true\nd = 1979-05-27\na = [1]\nt = {x = 1}\n"
        "[h]\n[[arr]]\n"
    ).data
    assert go_type_name(doc["s"]) == "string"
    assert go_type_name(doc["i"]) == "int64"
    assert go_type_name(doc["f"]) == "float64"
    assert go_type_name(doc["b"]) == "bool"
    assert go_type_name(doc["d"]) == "time.Time"
    assert go_type_name(doc["a"]) == "[]interface {}"
    assert go_type_name(doc["t"]) == "map[string]interface {}"
    assert go_type_name(doc["h"]) == "map[string]interface {}"
    assert go_type_name(doc["arr"]) == "[]map[string]interface {}"
    with pytest.raises(TypeError):
        go_type_name(None)


def test_parse_bytes_invalid_utf8():
    doc = gotoml.parse_bytes(b"a = '\xff'\nb = \"\xfe\"\n# \xfd\n")
    assert doc.data["a"] == "\udcff"          # raw strings keep the byte
    assert doc.data["b"] == "\ufffd"          # basic strings decode it as RuneError
    with pytest.raises(TomlSyntaxError) as info:
        gotoml.parse_bytes(b"\xff = 1")
    assert info.value.detail == "bare keys cannot contain '\ufffd'"


def test_document_is_frozen():
    doc = parse("a = 1")
    with pytest.raises(AttributeError):
        doc.data = {}  # type: ignore[misc]


# ---------------------------------------------------------------------------
# fast path == slow path
# ---------------------------------------------------------------------------

def assert_equivalent(text: str) -> None:
    slow = outcome(gotoml._parse_slow, text)
    fast = gotoml._parse_fast(text)
    if fast is not None:
        assert slow[0] == "ok", (text, slow)
        assert canon_doc(fast) == slow[1], text
    assert outcome(parse, text) == slow


FAST_CANDIDATES = [
    STOCK_LIKE,
    "a = 1\n[a.b]",
    "[a]\n[a.b]\n[a]",
    "[a.b]\n[a]",
    "a = 1\na = 2",
    "a = 12345678901234567890",
    "a = 123456789012345678",
    "a = 1e999",
    "a = [\"x\" \"y\"]",
    "a = [\"x\",]",
    "a = [1,]",
    "a = [ ]",
    "a = \"\"\"x\"\"\"",
    "a = '''x'''",
    "a = \"\"",
    "a = ''",
    "a = \"\" \"\"",
    "a=1\n\n   \n\t# x\n",
    "[a]\r\nb = 1",
    "a = true\nb = false\nc = truex",
    "a = 1.5\nb = +1.5e-3\nc = 1E5\nd = -0.0",
    "[ a.b ]\n[ a . c ]  # x\nk=1",
    "[a.b]\nx=1\n[a.c.d]\ny=2",
    "k = \"é ü 😀\"\nm = '€'",
    "a = \"\\\"\"",
    "x = 1 # [y]\n",
    "x = [\"a\", \"b\" ] # c\ny = [1, -2]",
]


@pytest.mark.parametrize("text", FAST_CANDIDATES)
def test_fast_slow_equivalence_examples(text):
    assert_equivalent(text)


_NAMES = st.sampled_from(["a", "b", "c", "path", "kata", "qemu", "x-y", "k_1", "1", "true"])
_WS = st.sampled_from(["", " ", "  ", "\t", " \t "])
_COMMENT = st.builds(lambda s: "#" + s, st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x00"),
    max_size=12))
_TRAIL = st.one_of(st.just(""), _COMMENT)
_EOL = st.sampled_from(["\n", "\n", "\n", "\r\n", ""])

_SIMPLE_STR_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\"\\\n\r\x00")


def _scalar_values():
    return st.one_of(
        st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
        st.integers(min_value=-(10**30), max_value=10**30).map(lambda i: f"{i:_}"),
        st.sampled_from(["007", "+0", "-0", "1__0", "1_", "0x1", "1e5", "1.5", "-2.5E-3", "1.",
                         "1e999", ".5", "+1.5e+5", "1.5.5", "1979-05-27", "1979-05-27T07:32:00Z",
                         "1979-13-01", "true", "false", "tru", "truex", "nan", "inf"]),
        st.text(_SIMPLE_STR_CHARS, max_size=8).map(lambda s: f'"{s}"'),
        st.text(_SIMPLE_STR_CHARS, max_size=8).map(lambda s: f"'{s}'"),
        st.sampled_from(['"\\n\\t\\u00e9"', '"\\x"', '"""a\nb"""', "'''a\n'''", '"a\nb"', '""',
                         "''", '"""', '"\\uD800"']),
    )


def _values(depth=0):
    scalars = _scalar_values()
    if depth >= 2:
        return scalars

    def array(parts):
        items, seps = parts
        body = ""
        for item, sep in zip(items, seps):
            body += item + sep
        return "[" + body + "]"

    arrays = st.tuples(
        st.lists(st.deferred(lambda: _values(depth + 1)), max_size=4),
        st.lists(st.sampled_from([",", ", ", " ,", ",\n", ",  # c\n", " ", ""]), min_size=4, max_size=4),
    ).map(array)
    inline = st.lists(st.tuples(_NAMES, st.deferred(lambda: _values(depth + 1))), max_size=3).map(
        lambda kvs: "{" + ", ".join(f"{k} = {v}" for k, v in kvs) + "}")
    return st.one_of(scalars, scalars, arrays, inline)


def _header():
    name = st.one_of(_NAMES, _NAMES, st.sampled_from(['"q k"', "'lit'", '"a.b"', "", "a b"]))
    return st.tuples(st.booleans(), st.lists(st.tuples(_WS, name, _WS), min_size=1, max_size=3)).map(
        lambda t: ("[[" if t[0] else "[")
        + ".".join(a + n + b for a, n, b in t[1])
        + ("]]" if t[0] else "]"))


def _line():
    key = st.one_of(_NAMES, _NAMES, st.sampled_from(['"quoted"', "'lit'", "a.b", "", '""']))
    kv = st.tuples(_WS, key, _WS, _WS, _values()).map(lambda t: f"{t[0]}{t[1]}{t[2]}={t[3]}{t[4]}")
    junk = st.text(st.sampled_from(list("ab=[]{}#\"', .\t\\")), min_size=1, max_size=6)
    return st.tuples(
        st.one_of(kv, kv, kv, _header(), st.just(""), _COMMENT, junk), _WS, _TRAIL, _EOL
    ).map(lambda t: t[0] + t[1] + t[2] + t[3])


_DOCS = st.lists(_line(), max_size=14).map("".join)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_DOCS)
def test_fast_slow_equivalence_generated(text):
    assert_equivalent(text)


# Documents built mostly of fast-path shapes, so that the fast path answers often.
_FAST_KEYS = st.sampled_from(["a", "b", "c", "path", "x-y", "k_1", "9"])
_FAST_VALUES = st.one_of(
    st.integers(min_value=-(10**19), max_value=10**19).map(str),
    st.sampled_from(["true", "false", "1.5", "-2e3", "1e999", "007", "[]", "[ ]", '["a", "b",]',
                     "[1, -2 ,3]", '["x" , ""]', "[1, 'a']", "1.", '"a', "'b"]),
    st.text(_SIMPLE_STR_CHARS, max_size=6).map(lambda s: f'"{s}"'),
    st.text(_SIMPLE_STR_CHARS, max_size=6).map(lambda s: f"'{s}'"),
)
_FAST_LINE = st.one_of(
    st.tuples(_WS, _FAST_KEYS, _WS, _WS, _FAST_VALUES, _WS, _TRAIL).map(lambda t: "{0}{1}{2}={3}{4}{5}{6}\n".format(*t)),
    st.lists(st.tuples(_WS, _FAST_KEYS, _WS), min_size=1, max_size=3).map(
        lambda parts: "[" + ".".join(a + n + b for a, n, b in parts) + "]\n"),
    _COMMENT.map(lambda c: c + "\n"),
    _WS.map(lambda w: w + "\n"),
)


@settings(max_examples=600, deadline=None)
@given(st.lists(_FAST_LINE, max_size=12).map("".join), st.booleans())
def test_fast_slow_equivalence_fast_shapes(text, strip_final_newline):
    if strip_final_newline:
        text = text.rstrip("\n")
    assert_equivalent(text)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fast_slow_equivalence_mutated_stock(data):
    lines = STOCK_LIKE.split("\n")
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        i = data.draw(st.integers(min_value=0, max_value=len(lines)))
        lines.insert(i, data.draw(_line()).rstrip("\n"))
    assert_equivalent("\n".join(lines))


def test_force_slow_path_flag(monkeypatch):
    monkeypatch.setattr(gotoml, "FAST_PATH_ENABLED", False)
    calls = []
    real = gotoml._parse_fast
    monkeypatch.setattr(gotoml, "_parse_fast", lambda t: calls.append(t) or real(t))
    assert parse("a = 1").data == {"a": 1}
    assert calls == []


# ---------------------------------------------------------------------------
# agreement with tomllib on documents both dialects read the same way
# ---------------------------------------------------------------------------

_T_KEYS = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=6)
_T_STR_CHARS = st.characters(min_codepoint=0x20, blacklist_categories=("Cs",),
                             blacklist_characters="\x7f")


def _t_scalar():
    return st.one_of(
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.text(_T_STR_CHARS, max_size=10),
    )


def _t_array():
    return st.one_of(
        st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=4),
        st.lists(st.text(_T_STR_CHARS, max_size=5), max_size=4),
        st.lists(st.booleans(), max_size=3),
        st.lists(st.lists(st.integers(min_value=0, max_value=9), max_size=2), max_size=3),
    )


_T_TABLE = st.recursive(
    st.dictionaries(_T_KEYS, st.one_of(_t_scalar(), _t_array()), max_size=4),
    lambda inner: st.dictionaries(
        _T_KEYS,
        st.one_of(_t_scalar(), _t_array(), inner, st.lists(inner, min_size=1, max_size=2)),
        max_size=4),
    max_leaves=12,
)


def _fmt_string(draw, s: str) -> str:
    style = draw(st.sampled_from(["basic", "basic", "literal", "ml"]))
    if style == "literal" and "'" not in s and "\n" not in s:
        return "'" + s + "'"
    if style == "ml" and '"' not in s and "\\" not in s and not s.startswith("\n"):
        return '"""' + s + '"""'
    out = []
    for c in s:
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif ord(c) < 0x20 or c == "\x7f":
            out.append("\\u%04x" % ord(c))
        elif ord(c) > 0x7f and draw(st.booleans()):
            out.append("\\U%08x" % ord(c) if ord(c) > 0xFFFF else "\\u%04X" % ord(c))
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _fmt_value(draw, v, inline_ok=True) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        if abs(v) >= 1000 and draw(st.booleans()):
            return f"{v:_}"
        return ("+" if v >= 0 and draw(st.booleans()) else "") + str(v)
    if isinstance(v, float):
        r = repr(v)
        if "e" in r and "." not in r.split("e")[0]:
            return r
        if "." not in r and "e" not in r:
            r += ".0"
        if r.lstrip("-").startswith("0") and not r.lstrip("-").startswith("0."):
            return repr(v)
        return r
    if isinstance(v, str):
        return _fmt_string(draw, v)
    if isinstance(v, list):
        sep = draw(st.sampled_from([", ", ",", " , ", ",\n  ", ", # c\n"]))
        trail = draw(st.sampled_from(["", "", ",", ",\n"])) if v else ""
        return "[" + sep.join(_fmt_value(draw, x) for x in v) + trail + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_fmt_value(draw, x)}" for k, x in v.items()) + "}"
    raise AssertionError(v)


def _emit_table(draw, table: dict, path: list, out: list) -> None:
    subs = []
    for k, v in table.items():
        if isinstance(v, dict) and (draw(st.booleans()) or not v):
            subs.append((k, v, False))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            subs.append((k, v, True))
        else:
            ws1, ws2 = draw(_WS), draw(_WS)
            trail = draw(st.sampled_from(["", " # note", "\t#"]))
            out.append(f"{draw(_WS)}{k}{ws1}={ws2}{_fmt_value(draw, v)}{trail}")
            if draw(st.booleans()):
                out.append(draw(st.sampled_from(["", "# comment", "   ", "## x = 1"])))
    for k, v, is_array in subs:
        sub = path + [k]
        if is_array:
            for element in v:
                out.append("[[" + ".".join(sub) + "]]")
                _emit_table(draw, element, sub, out)
        else:
            out.append("[" + draw(st.sampled_from([".", " . "])).join(sub) + "]")
            _emit_table(draw, v, sub, out)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_agrees_with_tomllib(data):
    table = data.draw(_T_TABLE)
    out: list = []
    _emit_table(data.draw, table, [], out)
    text = "\n".join(out) + data.draw(st.sampled_from(["", "\n"]))
    expected = tomllib.loads(text)
    got = parse(text)
    assert to_plain(got.data) == expected
    assert canon_doc(gotoml._parse_slow(text)) == canon_doc(got)
    # every key of the document has a position
    def walk(value, path):
        if isinstance(value, dict):
            for k, v in value.items():
                assert path + (k,) in got.positions, (path + (k,), text)
                walk(v, path + (k,))
        elif isinstance(value, TableArray):
            for i, v in enumerate(value):
                walk(v, path + (i,))
    walk(got.data, ())


def test_float_formats_agree_with_tomllib():
    for lit in ["1.5", "-0.0", "+1.0", "1e5", "1E-5", "6.02e23", "1_000.000_1", "3.14159265358979"]:
        text = f"a = {lit}"
        got = parse(text).data["a"]
        assert got == tomllib.loads(text)["a"] and type(got) is float
        assert not math.isnan(got)


def test_nesting_is_bounded():
    limit = gotoml.MAX_VALUE_NESTING
    assert parse("a = " + "[" * limit + "]" * limit).data["a"]
    assert parse("a = " + "{a = " * limit + "1" + "}" * limit).data["a"]
    for text in ("x = 1\na = " + "[" * (limit + 1) + "]" * (limit + 1),
                 "x = 1\na = " + "[" * 100_000 + "]" * 100_000,
                 "x = 1\na = " + "{a = " * 20_000 + "1" + "}" * 20_000):
        e = error_of(text)
        assert e.line == 2 and e.detail.startswith(
            f"arrays and inline tables nested more than {limit} deep")


@pytest.mark.parametrize("brackets", [("[", "]"), ("[[", "]]")])
def test_table_names_are_bounded(brackets):
    limit = gotoml.MAX_TABLE_NAME_PARTS
    start, end = brackets
    assert parse(start + ".".join(["a"] * limit) + end + "\n").data["a"]
    for n in (limit + 1, 20_000):
        e = error_of("x = 1\n" + start + ".".join(["a"] * n) + end + "\n")
        assert e.line == 2 and e.detail.startswith(f"table name has more than {limit} parts")


def test_positions_on_one_long_line_and_after_it():
    """Positions come from one table of line starts (linear; benchmarks/bench_hostile.py
    measures the cost), on a long line and on the lines after it."""
    n = 5_000
    text = ("a = [" + "{b=1}," * n + "{b=1}]\n" + 'c = """x\ny"""\n' + "d = [{e = 1}]\n")
    doc = gotoml._parse_slow(text)
    assert doc.positions[("a", n, "b")] == (1, 6 + 6 * n + 1)
    assert doc.positions[("c",)] == (2, 1)
    assert doc.positions[("d", 0, "e")] == (4, 7)
