"""Tests of katacfg.gocompat._gotoml16, the port of BurntSushi/toml v1.6.0 (Kata 4.1.0's TOML
decoder, TOML 1.1), and of its use by the 4.x profile (profiles/kata4x/toml.py).

Expected error texts are derived by hand from v1.6.0's lex.go, parse.go and error.go (there is
no Go toolchain here); each case names the Go function that produces it. The text is
ParseError.Error(): `toml: line N (last key "K"): <message>`, N being the Position.Line of the
item (or of p.pos for panicf), K what p.current() holds when the parser pulls the error.
"""
from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from katacfg.gocompat._gotoml16 import MAX_KEY_PARTS, MAX_VALUE_NESTING, Toml16Error, parse16
from katacfg.gocompat.gotoml import TableArray
from katacfg.profiles.kata4x.toml import TomlError, parse, parse_keys

DATA = Path(__file__).resolve().parent / "data"


def err(text: str) -> Toml16Error:
    with pytest.raises(Toml16Error) as exc:
        parse16(text)
    return exc.value


def norm(value):
    """Values compared with tomllib's: floats by repr (nan, -0.0), arrays of tables as lists."""
    if isinstance(value, dict):
        return {k: norm(v) for k, v in value.items()}
    if isinstance(value, list):
        return [norm(v) for v in value]
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else repr(value))
    return value


# -- TOML 1.1, as v1.6.0 reads it by default ----------------------------------------------------

@pytest.mark.parametrize("text,data", [
    # \e and \xHH escapes (lexStringEscape, lexHexEscape; replaceEscapes)
    ('x = "\\e[0m"\n', {"x": "\x1b[0m"}),
    ('x = "\\x41\\xe9\\x00"\n', {"x": "A\xe9\x00"}),
    ('x = """\\e\\x7f"""\n', {"x": "\x1b\x7f"}),
    # newlines and comments inside an inline table, a trailing comma
    ("a = {\n  b = 1, # one\n  c = 'x',\n}\n", {"a": {"b": 1, "c": "x"}}),
    ("a = {b = 1,}\n", {"a": {"b": 1}}),
    ("a = {\n}\n", {"a": {}}),
    ("a = { # c\n  b.c = [\n 1,\n ], }\n", {"a": {"b": {"c": [1]}}}),
    # times and datetimes without seconds (dtTypes "15:04", "2006-01-02T15:04[Z07:00]")
    ("t = 07:32\n", {"t": dt.time(7, 32)}),
    ("d = 1979-05-27T07:32\n", {"d": dt.datetime(1979, 5, 27, 7, 32)}),
    ("d = 1979-05-27 07:32Z\n", {"d": dt.datetime(1979, 5, 27, 7, 32, tzinfo=dt.UTC)}),
    ("d = 1979-05-27t07:32-07:00\n",
     {"d": dt.datetime(1979, 5, 27, 7, 32, tzinfo=dt.timezone(dt.timedelta(hours=-7)))}),
])
def test_toml_11_forms_are_read_with_their_values(text, data):
    assert parse16(text).data == data
    assert parse(text, "f.toml")[0] == data  # through the 4.x profile


def test_toml_11_file_loads_under_the_4x_profile(tmp_path):
    from katacfg.host.facts import Host
    from katacfg.profiles.kata4x.load import load

    example = DATA / "kata4x-example"
    text = (example / "configuration.toml").read_text()
    text = text.replace("tests/data/kata4x-example", str(example))
    text = text.replace("default_memory = 2048", 'default_memory = 2048\nmachine_type = "\\x71\\x335"')
    text = ("agent = { kata = { # TOML 1.1\n  dial_timeout = 45,\n"
            "  kernel_modules = ['e1000',],\n}, }\n" + text.replace("[agent.kata]\ndial_timeout = 45", ""))
    (tmp_path / "configuration.toml").write_text(text)
    host = Host.real().with_facts(cpus=4, vhost_vsock=True, memory_mib=8192)
    cfg = load(str(tmp_path / "configuration.toml"), host)
    assert cfg.hypervisor["machine_type"] == "q35"
    assert cfg.agent["dial_timeout"] == 45 and cfg.agent["kernel_modules"] == ("e1000",)


# -- values agree with tomllib on TOML 1.0 ------------------------------------------------------

def test_the_4x_corpus_reads_as_tomllib_reads_it():
    """Every TOML text of the 4.x cases and examples: the same values (v1.6 and tomllib both
    read TOML 1.0 alike), through the port and through the 4.x profile's parse (fast path)."""
    paths = sorted(DATA.glob("conformance-4x/cases/*/config.toml"))
    paths += sorted((DATA / "kata4x-example").rglob("*.toml"))
    paths.append(DATA / "seed000-configuration.toml")
    assert len(paths) > 150
    compared = 0
    for path in paths:
        text = path.read_text()
        try:
            want = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            with pytest.raises(Toml16Error):
                parse16(text)
            continue
        assert norm(parse16(text).data) == norm(want), path
        assert norm(parse(text, str(path))[0]) == norm(want), path
        compared += 1
    assert compared > 150


_BARE = st.text("abcXYZ019_-", min_size=1, max_size=6)
# (no empty key: v1.6 records the type of `"" = v` on the table holding it, see below)
_KEY_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x7f",
                                  min_codepoint=0x20), min_size=1, max_size=6)
_STRING = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


def _basic(s: str) -> str:
    out = []
    for c in s:
        if c == '"' or c == "\\":
            out.append("\\" + c)
        elif c in "\b\t\n\f\r":
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[c])
        elif ord(c) < 0x20 or c == "\x7f":
            out.append("\\u%04x" % ord(c))
        elif ord(c) > 0xFFFF:
            out.append("\\U%08x" % ord(c))
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


@st.composite
def _key(draw) -> tuple[str, str]:
    if draw(st.booleans()):
        k = draw(_BARE)
        return k, k
    k = draw(_KEY_TEXT)
    if "'" not in k and draw(st.booleans()):
        return k, "'" + k + "'"
    return k, _basic(k)


@st.composite
def _scalar(draw) -> tuple[object, str]:
    kind = draw(st.sampled_from(["int", "hex", "float", "special", "bool", "str", "lit",
                                 "ml", "mllit", "date", "datetime", "time"]))
    if kind == "int":
        v = draw(st.integers(-(2**63), 2**63 - 1))
        text = str(v)
        if draw(st.booleans()) and abs(v) >= 10:
            digits = str(abs(v))
            text = ("-" if v < 0 else "") + digits[0] + "_" + digits[1:]
        return v, text
    if kind == "hex":
        v = draw(st.integers(0, 2**63 - 1))
        return v, draw(st.sampled_from([hex(v), oct(v), bin(v)]))
    if kind == "float":
        v = draw(st.floats(allow_nan=False, allow_infinity=False))
        return v, repr(v).replace("e+", "e")
    if kind == "special":
        text = draw(st.sampled_from(["inf", "+inf", "-inf", "nan", "+nan", "-nan"]))
        return tomllib.loads("v = " + text)["v"], text
    if kind == "bool":
        v = draw(st.booleans())
        return v, "true" if v else "false"
    if kind == "str":
        s = draw(_STRING)
        return s, _basic(s)
    if kind == "lit":
        s = draw(st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12))
        s = s.replace("'", "")
        return s, "'" + s + "'"
    if kind == "ml":
        s = draw(_STRING).replace("\r", "")
        body = _basic(s)[1:-1].replace("\\n", "\n")
        return s, '"""\n' + body + '"""'
    if kind == "mllit":
        s = draw(st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12))
        s = s.replace("'", "") + "\nend"
        return s, "'''\n" + s + "'''"
    if kind == "date":
        d = draw(st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)))
        return d, d.isoformat()
    if kind == "time":
        t = draw(st.times())
        return t, t.isoformat()
    d = draw(st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)))
    sep = draw(st.sampled_from(["T", " ", "t"]))
    text = d.isoformat(sep=sep)
    if draw(st.booleans()):
        minutes = draw(st.integers(-23 * 60 - 59, 23 * 60 + 59))
        zone = dt.timezone(dt.timedelta(minutes=minutes))
        d = d.replace(tzinfo=zone)
        text = d.isoformat(sep=sep)
        if minutes == 0 and draw(st.booleans()):
            text = text[:-6] + draw(st.sampled_from(["Z", "z"]))
    return d, text


def _value(depth: int):
    if depth >= 3:
        return _scalar()
    inner = st.deferred(lambda: _value(depth + 1))
    return st.one_of(
        _scalar(), _scalar(),
        st.lists(inner, max_size=3).map(
            lambda xs: ([v for v, _ in xs], "[" + ", ".join(t for _, t in xs) + "]")),
        st.lists(st.tuples(_key(), inner), max_size=3, unique_by=lambda kv: kv[0][0]).map(
            lambda kvs: ({k[0]: v for k, (v, _) in kvs},
                         "{" + ", ".join(f"{k[1]} = {t}" for k, (_, t) in kvs) + "}")))


@st.composite
def _document(draw) -> tuple[dict, str]:
    """A TOML 1.0 document: top-level keys, then tables as headers, dotted keys or arrays of
    tables."""
    data: dict = {}
    lines: list[str] = []
    for (k, ktext), (v, vtext) in draw(st.lists(st.tuples(_key(), _value(0)), max_size=4,
                                                unique_by=lambda kv: kv[0][0])):
        data[k] = v
        lines.append(f"{ktext} = {vtext}")
    tables = [(name, ntext, draw(st.sampled_from(["header", "dotted", "array"])))
              for name, ntext in draw(st.lists(_key(), max_size=3, unique_by=lambda k: k[0]))]
    tables.sort(key=lambda t: t[2] != "dotted")  # dotted keys belong before any header
    for name, ntext, style in tables:
        if name in data:
            continue
        if style == "array":
            items = []
            for _ in range(draw(st.integers(1, 3))):
                lines.append(f"[[{ntext}]]")
                table = {}
                for (k, ktext), (v, vtext) in draw(st.lists(st.tuples(_key(), _scalar()),
                                                            max_size=3,
                                                            unique_by=lambda kv: kv[0][0])):
                    table[k] = v
                    lines.append(f"{ktext} = {vtext}")
                items.append(table)
            data[name] = items
            continue
        table = {}
        if style == "header":
            lines.append(f"[{ntext}]")
        for (k, ktext), (v, vtext) in draw(st.lists(st.tuples(_key(), _value(1)), max_size=3,
                                                    unique_by=lambda kv: kv[0][0])):
            table[k] = v
            lines.append(f"{ktext} = {vtext}" if style == "header"
                         else f"{ntext}.{ktext} = {vtext}")
        data[name] = table
        if style == "dotted" and not table:
            data.pop(name)
    blank = draw(st.sampled_from(["\n", "\n\n", "  # c\n", "\r\n"]))
    return data, blank.join(lines) + "\n"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_document())
def test_generated_toml_10_documents_read_as_tomllib_reads_them(doc):
    data, text = doc
    want = tomllib.loads(text)
    assert norm(want) == norm(data)
    assert norm(parse16(text).data) == norm(want)
    assert norm(parse(text, "f.toml")[0]) == norm(want)


def test_an_empty_key_is_read_as_v16_reads_it():
    """setType skips an empty key name (`if len(key) > 0`): `"" = v` inside a table records
    v's type on the table's own path. At the top that is Key{""}, as for the key itself; inside
    an inline table of an array, it overwrites the array's type, so setValue then keeps the
    table the parser built (addContext) and drops the rest of the array, as Go does."""
    assert parse16('"" = 1\n').data == {"": 1}
    assert parse16('a = [0, {"" = 1}]\n').data == {"a": [{"": 1}]}
    assert tomllib.loads('a = [0, {"" = 1}]\n') == {"a": [0, {"": 1}]}


def _outcome(text: str):
    try:
        doc = parse16(text)
    except Toml16Error as exc:
        return ("error", exc.text, exc.go_panic)
    return ("ok", norm(doc.data), doc.positions, doc.keys)


_TOML_PIECES = st.sampled_from(
    list("ab01_-.=[]{}\"'#, \t\n\\xueUZTtz:+ni") + ['"""', "'''", "\x01", "\r", "\r\n",
                                                 "\udcff", "\u00e9", "0x", "1979-05-27",
                                                 "07:32", "# c\n", "true", "= 1\n", "k = 'v'\n",
                                                 'k = "v"\n', "k = 12\n", "k = 0\n",
                                                 "k = ['a', \"b\",] # c\n", "k = []\r\n",
                                                 ' = ["v"]\n'])


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.lists(_TOML_PIECES, max_size=40).map("".join),
                 _document().map(lambda d: d[1])))
def test_the_fused_lexer_steps_change_nothing(text):
    """The steps that read a comment run, a `key = value` line or a word at once give the
    values, positions, keys and error texts of the states run rune by rune, as in Go."""
    from katacfg.gocompat import _gotoml16

    fused = _outcome(text)
    _gotoml16._Lexer.fused = False
    try:
        plain = _outcome(text)
    finally:
        _gotoml16._Lexer.fused = True
    assert fused == plain
    assert not (fused[0] == "error" and fused[2])  # never a Go panic


# -- error texts: every path of the lexer ------------------------------------------------------

@pytest.mark.parametrize("text,message", [
    # lexTopEnd (the key is done: the parser has reset its last key)
    ("a = 1 b", "toml: line 1: expected a top-level item to end with a newline, comment, or "
                "EOF, but got 'b' instead"),
    # lexArrayTableEnd
    ("[[a]x", "toml: line 1: expected end of table array name delimiter ']', but got 'x' "
              "instead"),
    # lexTableNameStart
    ("[]", "toml: line 1: unexpected end of table name (table names cannot be empty)"),
    ("[a.]", "toml: line 1: unexpected end of table name (table names cannot be empty)"),
    ("[.a]", "toml: line 1: unexpected table separator (table names cannot be empty)"),
    # lexTableNameEnd: errorf after next() counted the newline, so the next line
    ("[a b]", "toml: line 1: expected '.' or ']' to end table name, but got 'b' instead"),
    ("x = 1\n[a\n", "toml: line 3: expected '.' or ']' to end table name, but got '\\n' "
                    "instead"),
    # lexKeyStart
    ("= 1", "toml: line 1: unexpected '=': key name appears blank"),
    (".a = 1", "toml: line 1: unexpected '.': keys cannot start with a '.'"),
    ("a = {", "toml: line 1 (last key \"a\"): unexpected '=': key name appears blank"),
    # lexKeyNameStart
    ("a. = 1", "toml: line 1: unexpected '='"),
    ("a..b = 1", "toml: line 1: unexpected '.'"),
    # lexKeyEnd: EOF; a newline (errorPrevLine); anything else
    ("x = 1\na", "toml: line 2: unexpected EOF; expected key separator '='"),
    ("a\n= 1", "toml: line 1: expected '.' or '=', but got '\\n' instead"),
    ("a b = 1", "toml: line 1: expected '.' or '=', but got 'b' instead"),
    ("[t]\nk\u00e9 = 1", "toml: line 2 (last key \"t\"): expected '.' or '=', but got "
                         "'\u00e9' instead"),
    # lexValue
    ("a = .5", "toml: line 1 (last key \"a\"): floats must start with a digit, not '.'"),
    ("a =", "toml: line 1 (last key \"a\"): unexpected EOF; expected value"),
    ("a =\n", "toml: line 1 (last key \"a\"): expected value but found '\\n' instead"),
    ("a = @", "toml: line 1 (last key \"a\"): expected value but found '@' instead"),
    # lexArrayValue, lexArrayValueEnd (runeOrEOF)
    ("a = [,]", "toml: line 1 (last key \"a\"): unexpected comma"),
    ("a = [1 2]", "toml: line 1 (last key \"a\"): expected a comma (',') or array terminator "
                  "(']'), but got '2'"),
    ("a = [1", "toml: line 1 (last key \"a\"): expected a comma (',') or array terminator "
               "(']'), but got end of file"),
    ("a = [\n1\n", "toml: line 2 (last key \"a\"): expected a comma (',') or array "
                   "terminator (']'), but got end of file"),
    # lexInlineTableValue, lexInlineTableValueEnd
    ("a = {,}", "toml: line 1 (last key \"a\"): unexpected comma"),
    ("a = {b = 1,,}", "toml: line 1 (last key \"a.b\"): unexpected comma"),
    ("a = {b = 1 c = 2}", "toml: line 1 (last key \"a.b\"): expected a comma or an inline "
                          "table terminator '}', but got 'c' instead"),
    ("a = {b = 1", "toml: line 1 (last key \"a.b\"): expected a comma or an inline table "
                   "terminator '}', but got end of file instead"),
    # lexString (errLexStringNL by errorPrevLine: the string's line)
    ('a = "abc', "toml: line 1 (last key \"a\"): unexpected EOF; expected '\"'"),
    ('a = "abc\nb = 1', "toml: line 1 (last key \"a\"): strings cannot contain newlines"),
    # ... a '\r' before '\n' is a newline too, but next() counted no line: Go says line 0
    ('a = "abc\r\n', "toml: line 0 (last key \"a\"): strings cannot contain newlines"),
    # lexMultilineString
    ('a = """abc', "toml: line 1 (last key \"a\"): unexpected EOF; expected '\"\"\"'"),
    ('a = """\nabc\n', "toml: line 2 (last key \"a\"): unexpected EOF; expected '\"\"\"'"),
    ('a = """x""""""', "toml: line 1 (last key \"a\"): unexpected '\"\"\"\"\"\"'"),
    # lexRawString, lexMultilineRawString
    ("x = 1\na = 'abc", "toml: line 2 (last key \"a\"): unexpected EOF; expected \"'\""),
    ("a = 'x\nb'", "toml: line 1 (last key \"a\"): strings cannot contain newlines"),
    ("a = '''abc", "toml: line 1 (last key \"a\"): unexpected EOF; expected \"'''\""),
    ("a = '''x''''''", "toml: line 1 (last key \"a\"): unexpected \"''''''\""),
    # lexStringEscape (errLexEscape: %c of the rune)
    ('[t]\na.b = "x\\qy"', "toml: line 2 (last key \"t.a.b\"): invalid escape in string '\\q'"),
    ('a = """x\\qy\n"""', "toml: line 1 (last key \"a\"): invalid escape in string '\\q'"),
    # lexHexEscape, lexShortUnicodeEscape, lexLongUnicodeEscape (%q of lx.current())
    ('a = "ab\\xZ1"', "toml: line 1 (last key \"a\"): expected two hexadecimal digits after "
                      "'\\x', but got \"ab\\\\xZ\" instead"),
    ('a = "\\u12"', "toml: line 1 (last key \"a\"): expected four hexadecimal digits after "
                    "'\\u', but got \"\\\\u12\\\"\" instead"),
    ('a = "\\U0001F60"', "toml: line 1 (last key \"a\"): expected eight hexadecimal digits "
                         "after '\\U', but got \"\\\\U0001F60\\\"\" instead"),
    # lexDecimalNumberStart
    ("a = +ix", "toml: line 1 (last key \"a\"): invalid float: '+i'"),
    ("a = -nax", "toml: line 1 (last key \"a\"): invalid float: '-na'"),
    ("a = +0x1", "toml: line 1 (last key \"a\"): cannot use sign with non-decimal numbers: "
                 "'+0x'"),
    ("a = -.5", "toml: line 1 (last key \"a\"): floats must start with a digit, not '.'"),
    ("a = +x", "toml: line 1 (last key \"a\"): expected a digit but got 'x'"),
    # lexBaseNumberOrDate (the error it queues while lexing goes on)
    ("a = 0b2", "toml: line 1 (last key \"a\"): not a binary number: '0b2'"),
    ("a = 0o8", "toml: line 1 (last key \"a\"): not an octal number: '0o8'"),
    ("a = 0xg", "toml: line 1 (last key \"a\"): not a hexadecimal number: '0xg'"),
    # lexBool
    ("[hypervisor.qemu]\nmachine_type = q35",
     "toml: line 2 (last key \"hypervisor.qemu.machine_type\"): expected value but found "
     "\"q\" instead"),
    ("a = True", "toml: line 1 (last key \"a\"): expected value but found \"True\" instead"),
    ("a = nope", "toml: line 1 (last key \"a\"): expected value but found \"nope\" instead"),
    # lexer.next(): control characters (errLexControl), a lone '\r', invalid UTF-8 (errLexUTF8)
    ('a = "\x01"', "toml: line 1 (last key \"a\"): TOML files cannot contain control "
                   "characters: '0x01'"),
    ("# bell \x07\na = 1", "toml: line 1: TOML files cannot contain control characters: "
                           "'0x07'"),
    # (the error is queued before the integer item it interrupts: the key is still "a")
    ("a = 1\r", "toml: line 1 (last key \"a\"): TOML files cannot contain control characters: "
                "'0x0d'"),
    ("a = 1\r\nb = 2\r", "toml: line 2 (last key \"b\"): TOML files cannot contain control "
                          "characters: '0x0d'"),
    ("a = 'x\x7f'", "toml: line 1 (last key \"a\"): TOML files cannot contain control "
                    "characters: '0x7f'"),
    ("a = 1\n# \udcff", "toml: line 2: invalid UTF-8 byte: 0xff"),
    # parse(): a NUL in the first six bytes (UTF-16)
    ("a\x00=\x001", "toml: line 1: files cannot contain NULL bytes; probably using UTF-16; "
                    "TOML files must be UTF-8"),
    ("\udcff\udcfea\x00", "toml: line 1: files cannot contain NULL bytes; probably using "
                          "UTF-16; TOML files must be UTF-8"),
])
def test_lexer_errors_are_worded_and_located_as_v16(text, message):
    assert err(text).text == message
    with pytest.raises(TomlError) as exc:
        parse(text, "f.toml")
    assert exc.value.text == message and exc.value.syntax


# -- error texts: every path of the parser ------------------------------------------------------

@pytest.mark.parametrize("text,message", [
    # valueInteger
    ("a = 1__0", "toml: line 1 (last key \"a\"): Invalid integer \"1__0\": underscores must "
                 "be surrounded by digits"),
    ("a = 0x1__2", "toml: line 1 (last key \"a\"): Invalid integer \"0x1__2\": underscores "
                   "must be surrounded by digits"),
    ("a = 01", "toml: line 1 (last key \"a\"): Invalid integer \"01\": cannot have leading "
               "zeroes"),
    ("a = -0_1", "toml: line 1 (last key \"a\"): Invalid integer \"-0_1\": cannot have "
                 "leading zeroes"),
    ("a = 9223372036854775808", "toml: line 1 (last key \"a\"): 9223372036854775808 is out "
                                "of range for int64"),
    ("a = 0x8000000000000000", "toml: line 1 (last key \"a\"): 0x8000000000000000 is out of "
                               "range for int64"),
    ("a = " + "9" * 5000, "toml: line 1 (last key \"a\"): " + "9" * 5000 + " is out of range "
                          "for int64"),
    # valueFloat (strings.FieldsFunc parts, numPeriodsOK, strconv.ParseFloat)
    ("a = 1_.5", "toml: line 1 (last key \"a\"): Invalid float \"1_.5\": underscores must be "
                 "surrounded by digits"),
    ("a = 1.5e-", "toml: line 1 (last key \"a\"): Invalid float \"1.5e-\": underscores must "
                  "be surrounded by digits"),
    ("a = 03.14", "toml: line 1 (last key \"a\"): Invalid float \"03.14\": cannot have "
                  "leading zeroes"),
    ("a = 1.e5", "toml: line 1 (last key \"a\"): Invalid float \"1.e5\": '.' must be followed "
                 "by one or more digits"),
    ("a = 1e400", "toml: line 1 (last key \"a\"): 1e400 is out of range for float64"),
    ("a = 1.2.3", "toml: line 1 (last key \"a\"): Invalid float value: \"1.2.3\""),
    ("a = inan", "toml: line 1 (last key \"a\"): Invalid float \"inan\": underscores must be "
                 "surrounded by digits"),
    # valueDatetime (errParseDate: the text after datetimeRepl)
    ("a = 1979-02-30", "toml: line 1 (last key \"a\"): invalid datetime: \"1979-02-30\""),
    ("a = 1979-05-27 25:00:00", "toml: line 1 (last key \"a\"): invalid datetime: "
                                "\"1979-05-27T25:00:00\""),
    ("a = 1979-05-27T7:32:00", "toml: line 1 (last key \"a\"): invalid datetime: "
                               "\"1979-05-27T7:32:00\""),  # missingLeadingZero
    ("a = 07:32:60", "toml: line 1 (last key \"a\"): invalid datetime: \"07:32:60\""),
    ("a = 1979-05-27T07:32:00+25:00", "toml: line 1 (last key \"a\"): invalid datetime: "
                                      "\"1979-05-27T07:32:00+25:00\""),
    # replaceEscapes: '\ ' passes the lexer, the parser refuses it
    ('a = "x\\ y"', "toml: line 1 (last key \"a\"): invalid escape: '\\ '"),
    ('a = "x\\\ty"', "toml: line 1 (last key \"a\"): invalid escape: '\\\t'"),
    ('a = """\nx\\ y\n"""', "toml: line 3 (last key \"a\"): invalid escape: '\\ '"),
    # asciiEscapeToUnicode: %s of the hex digits as written
    ('a = "\\uD800"', "toml: line 1 (last key \"a\"): Escaped character '\\uD800' is not valid "
                      "UTF-8."),
    ('a = "\\U00110000"', "toml: line 1 (last key \"a\"): Escaped character '\\u00110000' is "
                          "not valid UTF-8."),
    # setValue: a key defined twice (p.pos: the line of the key)
    ("[a]\nb = 'x'\nb = 'y'", "toml: line 3 (last key \"a.b\"): Key 'a.b' has already been "
                              "defined."),
    ("a = [1]\na = [2]", "toml: line 2 (last key \"a\"): Key 'a' has already been defined."),
    ("a = 1\na.b = 2", "toml: line 2 (last key \"a.b\"): Key 'a' has already been defined."),
    ("a = {b = 1, b.c = 2}", "toml: line 1 (last key \"a.b.c\"): Key 'a.b' has already been "
                             "defined."),
    ("a.b = 1\na = {c = 1}", "toml: line 2 (last key \"a\"): Key 'a' has already been "
                             "defined."),
    ('"a.b" = 1\n"a.b" = 2', "toml: line 2 (last key \"a.b\"): Key '\"a.b\"' has already been "
                             "defined."),
    # the last key is p.currentKey as it is (%q: strconv.Quote); the message's is Key.String()
    # (dblQuotedReplacer: \u0001)
    ('"a\\u0001" = 1\n"a\\u0001" = 2', "toml: line 2 (last key \"a\\x01\"): Key '\"a\\u0001\"' "
                                     "has already been defined."),
    ('[t]\n"\u00e9\\t" = 1\n"\u00e9\\t" = 2', "toml: line 3 (last key \"t.\u00e9\\t\"): Key "
                                           "'t.\"\u00e9\\t\"' has already been defined."),
    # (addContext has set p.context to the parents before setValue refuses: no last key)
    ("[a]\n[a]", "toml: line 2: Key 'a' has already been defined."),
    ("[a.b]\nc = 1\n[a.b]", "toml: line 3 (last key \"a\"): Key 'a.b' has already been "
                            "defined."),
    # addContext
    ("a = 1\n[a.b]", "toml: line 2: Key 'a' was already created as a hash."),
    ("a = 1\n[[a]]", "toml: line 2: Key 'a' was already created and cannot be used as an "
                     "array."),
    ("a = [{}]\n[[a]]", "toml: line 2: Key 'a' was already created and cannot be used as an "
                        "array."),
    # valueInlineTable: %q of p.context
    ("x = {a = [{}], a.b = 1}", "toml: line 1 (last key \"x.a.b\"): \"x.a\" is not a table"),
])
def test_parser_errors_are_worded_and_located_as_v16(text, message):
    e = err(text)
    assert e.text == message and not e.go_panic


def test_a_multi_line_value_is_located_where_go_records_it(tmp_path):
    """keyInfo keeps the position of the value item: a multi-line string ends on line 4."""
    from katacfg.host.facts import Host
    from katacfg.profiles.kata4x.load import load

    config = tmp_path / "c.toml"
    config.write_text('[hypervisor.qemu]\ndefault_memory = """\n1\n"""\n')
    with pytest.raises(TomlError) as exc:
        load(str(config), Host.real())
    assert exc.value.text == ('toml: line 4 (last key "hypervisor.qemu.default_memory"): '
                              "incompatible types: TOML value has type string; destination "
                              "has type integer")


def test_an_implicit_table_has_no_line_in_go(tmp_path):
    """[a.b.c] records a.b.c only: an error about a.b has no line (md.e without keyInfo)."""
    from katacfg.host.facts import Host
    from katacfg.profiles.kata4x.load import load

    config = tmp_path / "c.toml"
    config.write_text("[hypervisor.qemu.enable_annotations.x]\ny = 1\n")
    with pytest.raises(TomlError) as exc:
        load(str(config), Host.real())
    assert exc.value.text == ('toml: (last key "hypervisor.qemu.enable_annotations"): '
                              "incompatible types: TOML value has type map[string]any; "
                              "destination has type slice")


@pytest.mark.parametrize("text,message", [
    # fmtType: an array of tables is a []map[string]any, any other array a []any
    ("[[hypervisor.qemu.path]]\n", "toml: line 1 (last key \"hypervisor.qemu.path\"): "
     "incompatible types: TOML value has type []map[string]any; destination has type string"),
    ("[hypervisor.qemu]\npath = [{a = 1}]\n", "toml: line 2 (last key "
     "\"hypervisor.qemu.path\"): incompatible types: TOML value has type []any; destination "
     "has type string"),
])
def test_decode_errors_name_go_types(tmp_path, text, message):
    from katacfg.host.facts import Host
    from katacfg.profiles.kata4x.load import load

    config = tmp_path / "c.toml"
    config.write_text(text)
    with pytest.raises(TomlError) as exc:
        load(str(config), Host.real())
    assert exc.value.text == message


@pytest.mark.parametrize("raw,message", [
    (b'version = "0.1.0"\nalgorithm = "sha384"\n[data]\n"a" = "\xff"\n',
     "parsing initdata annotation failed: toml: line 4 (last key \"data.a\"): invalid UTF-8 "
     "byte: 0xff"),
    (b'version = "0.1.0"\nalgorithm = "sha384"\n[data]\na = """\n\\e\n"""\nb = "\\x41"\n', None),
])
def test_initdata_is_decoded_as_v16(raw, message):
    """addHypervisorInitdataOverrides: toml.Decode of the gunzipped bytes (TOML 1.1)."""
    import base64
    import gzip

    from katacfg.profiles.kata4x.annotations import decode_initdata

    value = base64.b64encode(gzip.compress(raw)).decode()
    if message is None:
        text, digest = decode_initdata(value, "x")
        assert "\\e" in text and len(digest) == 96
        return
    with pytest.raises(Exception) as exc:
        decode_initdata(value, "x")
    assert exc.value.text == message  # type: ignore[attr-defined]


# -- keyInfo positions and MetaData.Keys() -------------------------------------------------------

def test_positions_and_keys_are_go_keyinfo_and_ordered():
    text = ("[hypervisor.qemu]\npath = '/q'\nx.y = 1\ns = '''\nz\n'''\n"
            "t = {a = 1,\n b = 2}\n[[e]]\nn = 1\n[[e]]\nn = 2\n")
    doc = parse16(text)
    assert doc.data == {"hypervisor": {"qemu": {"path": "/q", "x": {"y": 1}, "s": "z\n",
                                                "t": {"a": 1, "b": 2}}},
                        "e": [{"n": 1}, {"n": 2}]}
    assert type(doc.data["e"]) is TableArray
    pos = {k: v[0] for k, v in doc.positions.items()}
    assert pos == {
        ("hypervisor", "qemu"): 1,                  # the header ('[': itemTableStart)
        ("hypervisor", "qemu", "path"): 2,          # the value item
        ("hypervisor", "qemu", "x", "y"): 3,        # no line for the implicit x
        ("hypervisor", "qemu", "s"): 6,             # a multi-line string: where it ends
        ("hypervisor", "qemu", "t", "a"): 7,        # inline: the key (itemKeyStart)
        ("hypervisor", "qemu", "t", "b"): 8,
        ("hypervisor", "qemu", "t"): 7,
        ("e",): 11, ("e", "n"): 12,                 # arrays of tables: the last one wins
    }
    assert doc.keys == [("hypervisor", "qemu"), ("hypervisor", "qemu", "path"),
                        ("hypervisor", "qemu", "x", "y"), ("hypervisor", "qemu", "s"),
                        ("hypervisor", "qemu", "t"), ("hypervisor", "qemu", "t", "a"),
                        ("hypervisor", "qemu", "t", "b"), ("e",), ("e", "n"), ("e",),
                        ("e", "n")]


def test_the_fast_path_gives_the_same_positions_keys_and_values():
    text = "# c\n[hypervisor.qemu]\npath = '/q'\nn = 2\n\n[agent.kata]\nk = [1, 2]\n"
    data, positions, keys = parse_keys(text, "f.toml")
    doc = parse16(text)
    assert data == doc.data
    assert {k: v[0] for k, v in positions.items()} == {k: v[0] for k, v in doc.positions.items()}
    assert keys == doc.keys


def test_a_drop_in_applies_keys_in_go_order(tmp_path):
    """applyKey runs over md.Keys(): the first unknown key in file order is the one named."""
    from katacfg.host.facts import Host
    from katacfg.profiles.kata4x.load import load

    main = (DATA / "kata4x-example" / "configuration.toml").read_text()
    (tmp_path / "configuration.toml").write_text(main)
    (tmp_path / "config.d").mkdir()
    (tmp_path / "config.d" / "10.toml").write_text(
        "hypervisor.qemu.zz_unknown = 1\n[agent.kata]\naa_unknown = 2\n")
    with pytest.raises(Exception) as exc:
        load(str(tmp_path / "configuration.toml"), Host.real())
    assert "error applying key 'hypervisor.qemu.zz_unknown'" in exc.value.text  # type: ignore[attr-defined]


# -- hostile input: bounded, one clear line -------------------------------------------------------

@pytest.mark.parametrize("text,words", [
    ("[" + ".".join(["a"] * 20_000) + "]\n", "more than %d parts" % MAX_KEY_PARTS),
    (".".join(["a"] * 20_000) + " = 1\n", "more than %d parts" % MAX_KEY_PARTS),
    ("a = " + "[" * 20_000 + "]" * 20_000 + "\n", "more than %d deep" % MAX_VALUE_NESTING),
    ("a = " + "{b = " * 20_000 + "1" + "}" * 20_000 + "\n", "more than %d deep"
     % MAX_VALUE_NESTING),
    ("a = " + "{b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r = " * 60 + "1" + "}" * 60 + "\n",
     "nested too deeply for katacfg"),
])
def test_deep_input_ends_in_one_refusal(text, words):
    e = err(text)
    assert words in e.text and "nested too deeply for katacfg" in e.text and e.line == 1


def test_long_strings_and_many_keys_are_read():
    big = "x" * 500_000
    assert parse16(f'a = "{big}"\nb = """\n{big}"""\n').data == {"a": big, "b": big}
    text = "".join(f"k{i} = {{a = {{b = [{i}, '{i}']}}}}\n" for i in range(20_000))
    doc = parse16(text)
    assert len(doc.data) == 20_000 and doc.data["k7"] == {"a": {"b": [7, "7"]}}


_HOSTILE_CHILD = """
import sys, time
from katacfg.gocompat._gotoml16 import Toml16Error, parse16
text = sys.stdin.read()
start = time.process_time()
try:
    parse16(text)
    outcome = "ok"
except Toml16Error as exc:
    outcome = exc.message[:40]
# VmHWM: this process's own peak (ru_maxrss would count the forking pytest's size)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print(outcome, time.process_time() - start, int(hwm) // 1024)
"""


@pytest.mark.parametrize("make", [
    lambda: "".join(f"k{i} = {'{a=' * 63}1{'}' * 63}\n" for i in range(3000)),
    lambda: "a = [" + "{b=1}," * 150_000 + "]\n",
    lambda: "a = {\n" + "".join(f"k{i}.c = 1, # c\n" for i in range(55_000)) + "}\n",
])
def test_hostile_megabyte_stays_within_the_memory_ceiling(make):
    """README "Limits": 256 MiB whatever the input (time is bench_hostile's business)."""
    text = make()
    assert len(text) <= 1 << 20
    p = subprocess.run([sys.executable, "-c", _HOSTILE_CHILD], input=text, text=True,
                       capture_output=True, check=True)
    outcome, _, rss_mib = p.stdout.split()
    assert outcome == "ok" and int(rss_mib) < 200, p.stdout
