"""The faithful, character-level port of the Go TOML decoder (BurntSushi/toml v0.3.1).

katacfg.gocompat.gotoml's fast path handles the usual shapes of a Kata configuration; anything else,
and every error, comes here. Kept in its own module so that loading a plain file does not
pay for importing it.
"""
from __future__ import annotations

import re
from bisect import bisect_right

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

from katacfg.gocompat.gotoml import (
    _INF,
    MAX_TABLE_NAME_PARTS,
    MAX_VALUE_NESTING,
    Document,
    GoDatetime,
    TableArray,
    TomlSyntaxError,
    _utf8_bytes,
    go_quote,
    go_quote_rune,
    go_type_name,
)

_RE_SURROGATE = re.compile("[\ud800-\udfff]")
_RE_NEWLINE = re.compile("\n")
# Keys inside inline tables get a position down to this path length only: nothing reads
# deeper ones (Kata's deepest key is section.name.key), and a position per level of a
# 64-deep inline table on every line would hold the square of the depth in memory.
_MAX_POSITION_DEPTH = 16

# item types
_ERROR = 0
_NIL = 1
_EOF_ITEM = 2
_TEXT = 3
_STRING = 4
_RAW_STRING = 5
_ML_STRING = 6
_RAW_ML_STRING = 7
_BOOL = 8
_INTEGER = 9
_FLOAT = 10
_DATETIME = 11
_ARRAY = 12
_ARRAY_END = 13
_TABLE_START = 14
_TABLE_END = 15
_ATABLE_START = 16
_ATABLE_END = 17
_KEY_START = 18
_COMMENT_START = 19
_ITABLE_START = 20
_ITABLE_END = 21

_ITEM_NAMES = {
    _ERROR: "Error", _NIL: "NIL", _EOF_ITEM: "EOF", _TEXT: "Text",
    _STRING: "String", _RAW_STRING: "String", _ML_STRING: "String",
    _RAW_ML_STRING: "String", _BOOL: "Bool", _INTEGER: "Integer",
    _FLOAT: "Float", _DATETIME: "DateTime", _TABLE_START: "TableStart",
    _TABLE_END: "TableEnd", _KEY_START: "KeyStart", _ARRAY: "Array",
    _ARRAY_END: "ArrayEnd", _COMMENT_START: "CommentStart",
}

# Go's rune 0 is both the EOF marker and a real NUL character: the lexer
# cannot tell them apart, and neither can this port.
_EOF = "\x00"

_RE_WS = re.compile(r"[ \t]*")
_RE_BARE = re.compile(r"[A-Za-z0-9_\-]*")
_RE_COMMENT_BODY = re.compile(r"[^\n\r\x00]*")
_RE_STRING_BODY = re.compile(r'[^"\\\n\r\x00]*')
_RE_RAW_BODY = re.compile(r"[^'\n\r\x00]*")
_RE_ML_BODY = re.compile(r'[^"\\\x00]*')
_RE_RAW_ML_BODY = re.compile(r"[^'\x00]*")
_RE_DIGITS = re.compile(r"[0-9]*")
_RE_DATETIME_BODY = re.compile(r"[0-9\-T:.Z+]*")
_RE_FLOAT_BODY = re.compile(r"[0-9_.\-+eE]*")

_HEX = frozenset("0123456789abcdefABCDEF")


def _is_letter(c: str) -> bool:
    # unicode.IsLetter; surrogates (undecodable bytes) are RuneError, not letters
    return c.isalpha()


class _Lexer:
    """Pull lexer: :meth:`next_item` runs states until one item is emitted."""

    __slots__ = ("input", "n", "start", "pos", "line", "at_eof", "stack", "items", "state")

    def __init__(self, text: str) -> None:
        self.input = text
        self.n = len(text)
        self.start = 0
        self.pos = 0
        self.line = 1
        self.at_eof = False
        self.stack: list = []
        self.items: list = []
        self.state = self.lex_top

    # -- machinery ---------------------------------------------------------

    def next_item(self) -> tuple:
        items = self.items
        while not items:
            state = self.state
            if state is None:  # Go would call a nil function: cannot happen
                raise _GoPanic("runtime error: invalid memory address or nil pointer dereference")
            self.state = state()
        return items.pop(0)

    def emit(self, typ: int) -> None:
        self.items.append((typ, self.input[self.start:self.pos], self.line, self.start))
        self.start = self.pos

    def errorf(self, msg: str, off: int | None = None) -> None:
        if off is None:
            off = self.pos if self.at_eof else max(self.pos - 1, 0)
        self.items.append((_ERROR, msg, self.line, off))
        return None

    def next(self) -> str:
        if self.at_eof:
            raise _GoPanic("next called after EOF")
        p = self.pos
        if p >= self.n:
            self.at_eof = True
            return _EOF
        c = self.input[p]
        if c == "\n":
            self.line += 1
        self.pos = p + 1
        return c

    def backup(self) -> None:
        if self.at_eof:
            self.at_eof = False
            return
        self.pos -= 1
        if self.pos < self.n and self.input[self.pos] == "\n":
            self.line -= 1

    def accept(self, valid: str) -> bool:
        if self.next() == valid:
            return True
        self.backup()
        return False

    def peek(self) -> str:
        r = self.next()
        self.backup()
        return r

    def push(self, state) -> None:
        self.stack.append(state)

    def pop(self):
        if not self.stack:
            return self.errorf("BUG in lexer: no states to pop")
        return self.stack.pop()

    def skip_ws(self) -> None:
        # lx.skip(isWhitespace): consume blanks, then ignore them
        m = _RE_WS.match(self.input, self.pos)
        self.pos = m.end() if m is not None else self.pos
        self.start = self.pos

    # -- states --------------------------------------------------------------

    def lex_top(self):
        r = self.next()
        if r == " " or r == "\t" or r == "\n" or r == "\r":
            self.start = self.pos
            return self.lex_top
        if r == "#":
            self.push(self.lex_top)
            return self.lex_comment_start
        if r == "[":
            return self.lex_table_start
        if r == _EOF:
            if self.pos > self.start:
                return self.errorf("unexpected EOF")
            self.emit(_EOF_ITEM)
            return None
        self.backup()
        self.push(self.lex_top_end)
        return self.lex_key_start

    def lex_top_end(self):
        r = self.next()
        if r == "#":
            self.push(self.lex_top)
            return self.lex_comment_start
        if r == " " or r == "\t":
            return self.lex_top_end
        if r == "\n" or r == "\r":
            self.start = self.pos
            return self.lex_top
        if r == _EOF:
            self.emit(_EOF_ITEM)
            return None
        return self.errorf(
            "expected a top-level item to end with a newline, comment, or EOF, "
            "but got %s instead" % go_quote_rune(r))

    def lex_table_start(self):
        if self.peek() == "[":
            self.next()
            self.emit(_ATABLE_START)
            self.push(self.lex_array_table_end)
        else:
            self.emit(_TABLE_START)
            self.push(self.lex_table_end)
        return self.lex_table_name_start

    def lex_table_end(self):
        self.emit(_TABLE_END)
        return self.lex_top_end

    def lex_array_table_end(self):
        r = self.next()
        if r != "]":
            return self.errorf(
                "expected end of table array name delimiter ']', but got %s instead"
                % go_quote_rune(r))
        self.emit(_ATABLE_END)
        return self.lex_top_end

    def lex_table_name_start(self):
        self.skip_ws()
        r = self.peek()
        if r == "]" or r == _EOF:
            return self.errorf("unexpected end of table name (table names cannot be empty)", self.pos)
        if r == ".":
            return self.errorf("unexpected table separator (table names cannot be empty)", self.pos)
        if r == '"' or r == "'":
            self.start = self.pos
            self.push(self.lex_table_name_end)
            return self.lex_value
        return self.lex_bare_table_name

    def lex_bare_table_name(self):
        # consume bare-key characters (never a newline), then emit the name
        self.pos = _RE_BARE.match(self.input, self.pos).end()
        self.emit(_TEXT)
        return self.lex_table_name_end

    def lex_table_name_end(self):
        self.skip_ws()
        r = self.next()
        if r == " " or r == "\t":
            return self.lex_table_name_end
        if r == ".":
            self.start = self.pos
            return self.lex_table_name_start
        if r == "]":
            return self.pop()
        return self.errorf("expected '.' or ']' to end table name, but got %s instead"
                           % go_quote_rune(r))

    def lex_key_start(self):
        r = self.peek()
        if r == "=":
            return self.errorf("unexpected key separator '='", self.pos)
        if r == " " or r == "\t" or r == "\n" or r == "\r":
            self.next()
            self.start = self.pos
            return self.lex_key_start
        if r == '"' or r == "'":
            self.start = self.pos
            self.emit(_KEY_START)
            self.push(self.lex_key_end)
            return self.lex_value
        self.start = self.pos
        self.emit(_KEY_START)
        return self.lex_bare_key

    def lex_bare_key(self):
        self.pos = _RE_BARE.match(self.input, self.pos).end()
        r = self.next()
        if r == " " or r == "\t" or r == "=":
            self.backup()
            self.emit(_TEXT)
            return self.lex_key_end
        return self.errorf("bare keys cannot contain %s" % go_quote_rune(r))

    def lex_key_end(self):
        r = self.next()
        if r == "=":
            self.start = self.pos
            return self.lex_value
        if r == " " or r == "\t":
            self.start = self.pos
            return self.lex_key_end
        return self.errorf("expected key separator '=', but got %s instead" % go_quote_rune(r))

    def lex_value(self):
        r = self.next()
        if r == " " or r == "\t":
            self.start = self.pos
            return self.lex_value
        if "0" <= r <= "9":
            self.backup()
            return self.lex_number_or_date_start
        if r == "[":
            self.start = self.pos
            self.emit(_ARRAY)
            return self.lex_array_value
        if r == "{":
            self.start = self.pos
            self.emit(_ITABLE_START)
            return self.lex_inline_table_value
        if r == '"':
            if self.accept('"'):
                if self.accept('"'):
                    self.start = self.pos
                    return self.lex_multiline_string
                self.backup()
            self.start = self.pos
            return self.lex_string
        if r == "'":
            if self.accept("'"):
                if self.accept("'"):
                    self.start = self.pos
                    return self.lex_multiline_raw_string
                self.backup()
            self.start = self.pos
            return self.lex_raw_string
        if r == "+" or r == "-":
            return self.lex_number_start
        if r == ".":
            return self.errorf("floats must start with a digit, not '.'")
        if _is_letter(r):
            self.backup()
            return self.lex_bool
        return self.errorf("expected value but found %s instead" % go_quote_rune(r))

    def lex_array_value(self):
        r = self.next()
        if r == " " or r == "\t" or r == "\n" or r == "\r":
            self.start = self.pos
            return self.lex_array_value
        if r == "#":
            self.push(self.lex_array_value)
            return self.lex_comment_start
        if r == ",":
            return self.errorf("unexpected comma")
        if r == "]":
            return self.lex_array_end
        self.backup()
        self.push(self.lex_array_value_end)
        return self.lex_value

    def lex_array_value_end(self):
        r = self.next()
        if r == " " or r == "\t" or r == "\n" or r == "\r":
            self.start = self.pos
            return self.lex_array_value_end
        if r == "#":
            self.push(self.lex_array_value_end)
            return self.lex_comment_start
        if r == ",":
            self.start = self.pos
            return self.lex_array_value
        if r == "]":
            return self.lex_array_end
        return self.errorf("expected a comma or array terminator ']', but got %s instead"
                           % go_quote_rune(r))

    def lex_array_end(self):
        self.start = self.pos
        self.emit(_ARRAY_END)
        return self.pop()

    def lex_inline_table_value(self):
        r = self.next()
        if r == " " or r == "\t":
            self.start = self.pos
            return self.lex_inline_table_value
        if r == "\n" or r == "\r":
            return self.errorf("newlines not allowed within inline tables")
        if r == "#":
            self.push(self.lex_inline_table_value)
            return self.lex_comment_start
        if r == ",":
            return self.errorf("unexpected comma")
        if r == "}":
            return self.lex_inline_table_end
        self.backup()
        self.push(self.lex_inline_table_value_end)
        return self.lex_key_start

    def lex_inline_table_value_end(self):
        r = self.next()
        if r == " " or r == "\t":
            self.start = self.pos
            return self.lex_inline_table_value_end
        if r == "\n" or r == "\r":
            return self.errorf("newlines not allowed within inline tables")
        if r == "#":
            self.push(self.lex_inline_table_value_end)
            return self.lex_comment_start
        if r == ",":
            self.start = self.pos
            return self.lex_inline_table_value
        if r == "}":
            return self.lex_inline_table_end
        return self.errorf("expected a comma or an inline table terminator '}', but got %s instead"
                           % go_quote_rune(r))

    def lex_inline_table_end(self):
        self.start = self.pos
        self.emit(_ITABLE_END)
        return self.pop()

    def lex_string(self):
        # characters other than these four leave the state unchanged
        self.pos = _RE_STRING_BODY.match(self.input, self.pos).end()
        r = self.next()
        if r == _EOF:
            return self.errorf("unexpected EOF")
        if r == "\n" or r == "\r":
            return self.errorf("strings cannot contain newlines")
        if r == "\\":
            self.push(self.lex_string)
            return self.lex_string_escape
        # closing quote
        self.backup()
        self.emit(_STRING)
        self.next()
        self.start = self.pos
        return self.pop()

    def lex_multiline_string(self):
        p = self.pos
        q = _RE_ML_BODY.match(self.input, p).end()
        if q != p:
            self.line += self.input.count("\n", p, q)
            self.pos = q
        r = self.next()
        if r == _EOF:
            return self.errorf("unexpected EOF")
        if r == "\\":
            return self.lex_multiline_string_escape
        # r == '"'
        if self.accept('"'):
            if self.accept('"'):
                self.backup()
                self.backup()
                self.backup()
                self.emit(_ML_STRING)
                self.next()
                self.next()
                self.next()
                self.start = self.pos
                return self.pop()
            self.backup()
        return self.lex_multiline_string

    def lex_raw_string(self):
        self.pos = _RE_RAW_BODY.match(self.input, self.pos).end()
        r = self.next()
        if r == _EOF:
            return self.errorf("unexpected EOF")
        if r == "\n" or r == "\r":
            return self.errorf("strings cannot contain newlines")
        self.backup()
        self.emit(_RAW_STRING)
        self.next()
        self.start = self.pos
        return self.pop()

    def lex_multiline_raw_string(self):
        p = self.pos
        q = _RE_RAW_ML_BODY.match(self.input, p).end()
        if q != p:
            self.line += self.input.count("\n", p, q)
            self.pos = q
        r = self.next()
        if r == _EOF:
            return self.errorf("unexpected EOF")
        if self.accept("'"):
            if self.accept("'"):
                self.backup()
                self.backup()
                self.backup()
                self.emit(_RAW_ML_STRING)
                self.next()
                self.next()
                self.next()
                self.start = self.pos
                return self.pop()
            self.backup()
        return self.lex_multiline_raw_string

    def lex_multiline_string_escape(self):
        r = self.next()
        if r == "\n" or r == "\r":
            return self.lex_multiline_string
        self.backup()
        self.push(self.lex_multiline_string)
        return self.lex_string_escape()

    def lex_string_escape(self):
        r = self.next()
        if r in 'btnfr"\\' and r != _EOF:
            return self.pop()
        if r == "u":
            return self.lex_short_unicode_escape
        if r == "U":
            return self.lex_long_unicode_escape
        return self.errorf(
            "invalid escape character %s; only the following escape characters are "
            "allowed: \\b, \\t, \\n, \\f, \\r, \\\", \\\\, \\uXXXX, and \\UXXXXXXXX"
            % go_quote_rune(r))

    def lex_short_unicode_escape(self):
        for _ in range(4):
            r = self.next()
            if r not in _HEX:
                return self.errorf(
                    "expected four hexadecimal digits after '\\u', but got %s instead"
                    % go_quote(self.input[self.start:self.pos]))
        return self.pop()

    def lex_long_unicode_escape(self):
        for _ in range(8):
            r = self.next()
            if r not in _HEX:
                return self.errorf(
                    "expected eight hexadecimal digits after '\\U', but got %s instead"
                    % go_quote(self.input[self.start:self.pos]))
        return self.pop()

    def lex_number_or_date_start(self):
        r = self.next()
        if "0" <= r <= "9":
            return self.lex_number_or_date
        if r == "_":
            return self.lex_number
        if r == "e" or r == "E":
            return self.lex_float
        if r == ".":
            return self.errorf("floats must start with a digit, not '.'")
        return self.errorf("expected a digit but got %s" % go_quote_rune(r))

    def lex_number_or_date(self):
        self.pos = _RE_DIGITS.match(self.input, self.pos).end()
        r = self.next()
        if r == "-":
            return self.lex_datetime
        if r == "_":
            return self.lex_number
        if r == "." or r == "e" or r == "E":
            return self.lex_float
        self.backup()
        self.emit(_INTEGER)
        return self.pop()

    def lex_datetime(self):
        self.pos = _RE_DATETIME_BODY.match(self.input, self.pos).end()
        self.emit(_DATETIME)
        return self.pop()

    def lex_number_start(self):
        r = self.next()
        if not ("0" <= r <= "9"):
            if r == ".":
                return self.errorf("floats must start with a digit, not '.'")
            return self.errorf("expected a digit but got %s" % go_quote_rune(r))
        return self.lex_number

    def lex_number(self):
        r = self.next()
        while ("0" <= r <= "9") or r == "_":
            r = self.next()
        if r == "." or r == "e" or r == "E":
            return self.lex_float
        self.backup()
        self.emit(_INTEGER)
        return self.pop()

    def lex_float(self):
        self.pos = _RE_FLOAT_BODY.match(self.input, self.pos).end()
        self.emit(_FLOAT)
        return self.pop()

    def lex_bool(self):
        rs = []
        while True:
            r = self.next()
            if not _is_letter(r):
                self.backup()
                break
            rs.append(r)
        s = "".join(rs)
        if s == "true" or s == "false":
            self.emit(_BOOL)
            return self.pop()
        return self.errorf("expected value but found %s instead" % go_quote(s), self.start)

    def lex_comment_start(self):
        self.start = self.pos
        self.emit(_COMMENT_START)
        return self.lex_comment

    def lex_comment(self):
        # everything up to (not including) a newline character or EOF
        self.pos = _RE_COMMENT_BODY.match(self.input, self.pos).end()
        self.emit(_TEXT)
        return self.pop()


# ---------------------------------------------------------------------------
# Value helpers (ports of the parser's helpers)
# ---------------------------------------------------------------------------

# unicode.IsSpace
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006" \
            "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"

_RE_FLOAT_SYNTAX = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_RE_FLOAT_FIELDS = re.compile(r"[.eE]")


def _num_underscores_ok(s: str) -> bool:
    accept = False
    for c in s:
        if c == "_":
            if not accept:
                return False
            accept = False
        else:
            accept = True
    return accept


def _num_periods_ok(s: str) -> bool:
    period = False
    for c in s:
        if period and not ("0" <= c <= "9"):
            return False
        period = c == "."
    return not period


def _strip_first_newline(s: str) -> str:
    if s[:1] == "\n":
        return s[1:]
    return s


def _strip_escaped_whitespace(s: str) -> str:
    parts = s.split("\\\n")
    if len(parts) > 1:
        for i in range(1, len(parts)):
            parts[i] = parts[i].lstrip(_GO_SPACE)
    return "".join(parts)


def _is_digit_at(s: str, i: int) -> bool:
    return i < len(s) and "0" <= s[i] <= "9"


def _getnum(s: str, i: int, fixed: bool):
    """Go time.getnum on s[i:]: (value, new index) or None."""
    if not _is_digit_at(s, i):
        return None
    if not _is_digit_at(s, i + 1):
        if fixed:
            return None
        return ord(s[i]) - 48, i + 1
    return (ord(s[i]) - 48) * 10 + ord(s[i + 1]) - 48, i + 2


_DAYS_BEFORE = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365)


def _days_in(month: int, year: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _DAYS_BEFORE[month] - _DAYS_BEFORE[month - 1]


def _go_parse_layout(s: str, layout: int):
    """time.ParseInLocation for the three layouts the decoder tries.

    layout 0: "2006-01-02T15:04:05Z07:00", 1: "2006-01-02T15:04:05",
    2: "2006-01-02".  Returns a GoDatetime or None.
    """
    n = len(s)
    if n < 4 or not _is_digit_at(s, 0):
        return None
    ys = s[0:4]
    if not ys.isdigit() or not ys.isascii():
        return None
    year = int(ys)
    i = 4
    if s[i:i + 1] != "-":
        return None
    r = _getnum(s, i + 1, True)
    if r is None:
        return None
    month, i = r
    if month <= 0 or month > 12:
        return None
    if s[i:i + 1] != "-":
        return None
    r = _getnum(s, i + 1, True)
    if r is None:
        return None
    day, i = r
    hour = minute = second = nsec = 0
    offset = None
    if layout != 2:
        t = _go_parse_clock(s, i, layout == 0)
        if t is None:
            return None
        hour, minute, second, nsec, offset, i = t
    if i != n:
        return None
    if day < 1 or day > _days_in(month, year):
        return None
    return GoDatetime(s, year, month, day, hour, minute, second, nsec, offset)


def _go_parse_clock(s: str, i: int, zone: bool):
    """"T15:04:05" (fraction accepted) and, with `zone`, "Z07:00" from s[i]; returns
    (hour, minute, second, nsec, offset, end) or None."""
    n = len(s)
    nsec = 0
    offset = None
    if s[i:i + 1] != "T":
        return None
    r = _getnum(s, i + 1, False)
    if r is None:
        return None
    hour, i = r
    if hour >= 24:
        return None
    if s[i:i + 1] != ":":
        return None
    r = _getnum(s, i + 1, True)
    if r is None:
        return None
    minute, i = r
    if minute >= 60:
        return None
    if s[i:i + 1] != ":":
        return None
    r = _getnum(s, i + 1, True)
    if r is None:
        return None
    second, i = r
    if second >= 60:
        return None
    # fractional seconds are accepted although the layouts have none
    if n - i >= 2 and s[i] in ".," and _is_digit_at(s, i + 1):
        j = i + 2
        while j < n and "0" <= s[j] <= "9":
            j += 1
        nbytes = min(j - i, 10)
        nsec = int(s[i + 1:i + nbytes]) * 10 ** (10 - nbytes)
        i = j
    if zone:
        z = _go_parse_zone(s, i)
        if z is None:
            return None
        offset, i = z
    return hour, minute, second, nsec, offset, i


def _go_parse_zone(s: str, i: int):
    """"Z" or "+07:00" at s[i]: (offset seconds, end) or None."""
    n = len(s)
    if i < n and s[i] == "Z":
        return 0, i + 1
    if n - i < 6 or s[i + 3] != ":":
        return None
    sign = s[i]
    rh = _getnum(s[i + 1:i + 3], 0, True)
    rm = _getnum(s[i + 4:i + 6], 0, True)
    if rh is None or rm is None:
        return None
    if rh[0] > 24 or rm[0] > 60:
        return None
    if sign == "+":
        return (rh[0] * 60 + rm[0]) * 60, i + 6
    if sign == "-":
        return -(rh[0] * 60 + rm[0]) * 60, i + 6
    return None


def _parse_datetime(s: str):
    for layout in (0, 1, 2):
        t = _go_parse_layout(s, layout)
        if t is not None:
            return t
    return None


# ---------------------------------------------------------------------------
# Parser (a port of parse.go)
# ---------------------------------------------------------------------------


class _GoPanic(Exception):
    """Go would crash here (internal panic) instead of returning an error."""


class _Parser:
    __slots__ = ("text", "lx", "mapping", "context", "current_key", "approx_line",
                 "implicits", "positions", "ctx_ipath", "newlines")

    def __init__(self, text: str) -> None:
        self.text = text
        self.lx = _Lexer(text)
        self.mapping: dict = {}
        self.context: list = []
        self.current_key = ""
        self.approx_line = 0
        self.implicits: dict = {}
        self.positions: dict = {}
        self.ctx_ipath: tuple = ()
        self.newlines: list | None = None

    # -- errors --------------------------------------------------------------

    def current(self) -> str:
        if not self.current_key:
            return ".".join(self.context)
        if not self.context:
            return self.current_key
        return "%s.%s" % (".".join(self.context), self.current_key)

    def _raise(self, detail: str, off: int | None, go_panic: bool = False) -> NoReturn:
        key = self.current()
        msg = "Near line %d (last key parsed '%s'): %s" % (self.approx_line, key, detail)
        col = char_line = None
        if off is not None:
            text = self.text
            off = max(0, min(off, len(text)))
            col = off - (text.rfind("\n", 0, off) + 1) + 1
            char_line = text.count("\n", 0, off) + 1
        raise TomlSyntaxError(msg, self.approx_line, col, detail, char_line=char_line,
                              key=key, offset=off, go_panic=go_panic)

    def panicf(self, detail: str, off: int | None) -> NoReturn:
        self._raise(detail, off)

    def bug(self, detail: str, off: int | None) -> NoReturn:
        self._raise("BUG: " + detail, off, go_panic=True)

    # -- items ---------------------------------------------------------------

    def next(self) -> tuple:
        it = self.lx.next_item()
        if it[0] == _ERROR:
            self.panicf(it[1], it[3])
        return it

    def expect(self, typ: int) -> tuple:
        it = self.next()
        if it[0] != typ:
            self.bug("Expected '%s' but got '%s'." % (_ITEM_NAMES.get(typ, typ),
                                                     _ITEM_NAMES.get(it[0], it[0])), it[3])
        return it

    def _position(self, it: tuple) -> tuple:
        typ, _, line, off = it
        if typ == _STRING or typ == _RAW_STRING:
            off -= 1
        elif typ == _ML_STRING or typ == _RAW_ML_STRING:
            off -= 3
        line, start = self._line_of(off)
        return line, off - start + 1

    def _line_of(self, off: int) -> tuple:
        """(1-based line, offset of its first character) of `off`, by bisection over the
        newline offsets found once: a scan back per key would make a long line quadratic."""
        nl = self.newlines
        if nl is None:
            nl = self.newlines = [m.start() for m in _RE_NEWLINE.finditer(self.text)]
        i = bisect_right(nl, off - 1)
        return i + 1, (nl[i - 1] + 1 if i else 0)

    # -- top level -----------------------------------------------------------

    def run(self) -> Document:
        while True:
            it = self.next()
            if it[0] == _EOF_ITEM:
                break
            self.top_level(it)
        return Document(self.mapping, self.positions)

    def top_level(self, it: tuple) -> None:
        typ = it[0]
        if typ == _COMMENT_START:
            self.approx_line = it[2]
            self.expect(_TEXT)
        elif typ == _TABLE_START or typ == _ATABLE_START:
            end = _TABLE_END if typ == _TABLE_START else _ATABLE_END
            kg = self.next()
            self.approx_line = kg[2]
            key = []
            kitems = []
            while kg[0] != end and kg[0] != _EOF_ITEM:
                key.append(self.key_string(kg))
                kitems.append(kg)
                if len(key) > MAX_TABLE_NAME_PARTS:
                    self._raise("table name has more than %d parts; katacfg reads at most %d "
                                "(Kata's use 2 or 3)" % (MAX_TABLE_NAME_PARTS,
                                                         MAX_TABLE_NAME_PARTS), kg[3])
                kg = self.next()
            if kg[0] != end:
                self.bug("Expected '%s' but got '%s'." % (_ITEM_NAMES.get(end, end),
                                                         _ITEM_NAMES.get(kg[0], kg[0])), kg[3])
            self.establish_context(key, kitems, typ == _ATABLE_START)
        elif typ == _KEY_START:
            kname = self.next()
            self.approx_line = kname[2]
            self.current_key = self.key_string(kname)
            ipath = self.ctx_ipath + (self.current_key,)
            vit = self.next()
            inner: dict | None
            if vit[0] == _ARRAY or vit[0] == _ITABLE_START:
                inner = {}
                val, _ = self.value(vit, ipath, inner)
            else:
                inner = None
                val, _ = self.value(vit, ipath, None)
            if self.set_value(self.current_key, val, kname[3]):
                self.positions[ipath] = self._position(kname)
                if inner:
                    self.positions.update(inner)
            self.current_key = ""
        else:
            self.bug("Unexpected type at top level: %s" % _ITEM_NAMES.get(typ, typ), it[3])

    def key_string(self, it: tuple) -> str:
        typ = it[0]
        if typ == _TEXT:
            return it[1]
        if typ in (_STRING, _ML_STRING, _RAW_STRING, _RAW_ML_STRING):
            return self.value(it, (), None)[0]
        self.bug("Unexpected key type: %s" % _ITEM_NAMES.get(typ, typ), it[3])

    # -- values --------------------------------------------------------------

    def value(self, it: tuple, ipath: tuple, posd, depth: int = 0):
        typ, val, _line, off = it
        if typ == _STRING:
            return self.replace_escapes(val, off), "String"
        if typ == _RAW_STRING:
            return val, "String"
        if typ == _INTEGER:
            return self._integer(val, off), "Integer"
        if typ == _BOOL:
            if val == "true":
                return True, "Bool"
            if val == "false":
                return False, "Bool"
            self.bug("Expected boolean value, but got '%s'." % val, off)
        if typ == _ML_STRING:
            trimmed = _strip_first_newline(_strip_escaped_whitespace(val))
            return self.replace_escapes(trimmed, off), "String"
        if typ == _RAW_ML_STRING:
            return _strip_first_newline(val), "String"
        if typ == _FLOAT:
            return self._float(val, off), "Float"
        if typ == _DATETIME:
            t = _parse_datetime(val)
            if t is None:
                self.panicf("Invalid TOML Datetime: %s." % go_quote(val), off)
            return t, "Datetime"
        if (typ == _ARRAY or typ == _ITABLE_START) and depth >= MAX_VALUE_NESTING:
            self._raise("arrays and inline tables nested more than %d deep; katacfg reads at "
                        "most %d" % (MAX_VALUE_NESTING, MAX_VALUE_NESTING), off)
        if typ == _ARRAY:
            return self._array(ipath, posd, depth), "Array"
        if typ == _ITABLE_START:
            return self._inline_table(ipath, posd, depth), "Hash"
        self.bug("Unexpected value type: %s" % _ITEM_NAMES.get(typ, typ), off)

    def _integer(self, val: str, off: int) -> int:
        if not _num_underscores_ok(val):
            self.panicf("Invalid integer %s: underscores must be surrounded by digits"
                        % go_quote(val), off)
        v = val.replace("_", "")
        digits = v.lstrip("+-").lstrip("0")
        if len(digits) > 19:
            num = None
        else:
            num = int(v)
            if not (-(1 << 63) <= num < (1 << 63)):
                num = None
        if num is None:
            self.panicf("Integer '%s' is out of the range of 64-bit signed integers." % val, off)
        return num

    def _float(self, val: str, off: int) -> float:
        for part in _RE_FLOAT_FIELDS.split(val):
            if part and not _num_underscores_ok(part):
                self.panicf("Invalid float %s: underscores must be surrounded by digits"
                            % go_quote(val), off)
        if not _num_periods_ok(val):
            self.panicf("Invalid float %s: '.' must be followed by one or more digits"
                        % go_quote(val), off)
        v = val.replace("_", "")
        if _RE_FLOAT_SYNTAX.fullmatch(v) is None:
            self.panicf("Invalid float value: %s" % go_quote(val), off)
        fnum = float(v)
        if fnum in (_INF, -_INF):
            self.panicf("Float '%s' is out of the range of 64-bit IEEE-754 "
                        "floating-point numbers." % val, off)
        return fnum

    def _array(self, ipath: tuple, posd: dict | None, depth: int) -> list:
        array: list = []
        types: list = []
        it = self.next()
        while it[0] != _ARRAY_END:
            if it[0] == _COMMENT_START:
                self.expect(_TEXT)
                it = self.next()
                continue
            v, t = self.value(it, ipath + (len(array),), posd, depth + 1)
            array.append(v)
            types.append((t, it[3]))
            it = self.next()
        if types:
            first = types[0][0]
            for t, toff in types[1:]:
                if t != first:
                    self.panicf("Array contains values of type '%s' and '%s', but arrays "
                                "must be homogeneous." % (first, t), toff)
        return array

    def _inline_table(self, ipath: tuple, posd: dict | None, depth: int) -> dict:
        h: dict = {}
        outer_context = self.context
        outer_key = self.current_key
        self.context = outer_context + [self.current_key]
        self.current_key = ""
        it = self.next()
        while it[0] != _ITABLE_END:
            if it[0] != _KEY_START:
                self.bug("Expected key start but instead found %s, around line %d"
                         % (go_quote(it[1]), self.approx_line), it[3])
            k = self.next()
            self.approx_line = k[2]
            kname = self.key_string(k)
            self.current_key = kname
            kpath = ipath + (kname,)
            v, _ = self.value(self.next(), kpath, posd, depth + 1)
            if posd is not None and len(kpath) <= _MAX_POSITION_DEPTH:
                posd[kpath] = self._position(k)
            h[kname] = v
            it = self.next()
        self.context = outer_context
        self.current_key = outer_key
        return h

    def replace_escapes(self, s: str, off: int) -> str:
        if "\\" not in s and (s.isascii() or _RE_SURROGATE.search(s) is None):
            return s
        out = []
        i = 0
        n = len(s)
        while i < n:
            c = s[i]
            if c != "\\":
                if "\ud800" <= c <= "\udfff":
                    c = "\ufffd"
                out.append(c)
                i += 1
                continue
            i += 1
            if i >= n:
                self.bug("Escape sequence at end of string.", off)
            c = s[i]
            e = _ESCAPE_VALUES.get(c)
            if e is not None:
                out.append(e)
                i += 1
            elif c == "u" or c == "U":
                width = 4 if c == "u" else 8
                if i + 1 + width > n:
                    # Go slices past the end of the string here and crashes
                    self._raise("runtime error: slice bounds out of range", off, go_panic=True)
                out.append(self.ascii_escape_to_unicode(s[i + 1:i + 1 + width], off))
                i += 1 + width
            else:
                if c.isascii():
                    shown = go_quote_rune(c)
                else:
                    shown = go_quote_rune(chr(_utf8_bytes(c)[0]))
                self.bug("Expected valid escape code after \\, but got %s." % shown, off)
        return "".join(out)

    def ascii_escape_to_unicode(self, s: str, off: int) -> str:
        low = s.lower()
        if not all(ch in _HEX for ch in low):
            self.bug("Could not parse '%s' as a hexadecimal number, but the lexer claims "
                     "it's OK: strconv.ParseUint: parsing %s: invalid syntax" % (s, go_quote(low)),
                     off)
        cp = int(low, 16)
        if cp > 0x7FFFFFFF:  # rune(uint64) wraps to a negative rune
            cp = -1
        if not (0 <= cp < 0xD800 or 0xDFFF < cp <= 0x10FFFF):
            self.panicf("Escaped character '\\u%s' is not valid UTF-8." % s, off)
        return chr(cp)

    # -- tables --------------------------------------------------------------

    def establish_context(self, key: list, kitems: list, array: bool) -> None:
        hash_context = self.mapping
        key_context: list = []
        ipath: tuple = ()
        for i in range(len(key) - 1):
            k = key[i]
            key_context.append(k)
            ipath += (k,)
            if k not in hash_context:
                self.implicits[".".join(key_context)] = True
                hash_context[k] = {}
                self.positions[ipath] = self._position(kitems[i])
            t = hash_context[k]
            if type(t) is TableArray:
                hash_context = t[-1]
                ipath += (len(t) - 1,)
            elif type(t) is dict:
                hash_context = t
            else:
                self.panicf("Key '%s' was already created as a hash." % ".".join(key_context),
                            kitems[i][3])
        self.context = key_context
        last = key[-1]
        lit = kitems[-1]
        if array:
            if last not in hash_context:
                hash_context[last] = TableArray()
                self.positions[ipath + (last,)] = self._position(lit)
            arr = hash_context[last]
            if type(arr) is TableArray:
                arr.append({})
                ipath += (last, len(arr) - 1)
                self.positions[ipath] = self._position(lit)
            else:
                self.panicf("Key '%s' was already created and cannot be used as an array."
                            % ".".join(key_context), lit[3])
        else:
            self.set_value(last, {}, lit[3])
            ipath += (last,)
            self.positions[ipath] = self._position(lit)
        self.context = key_context + [last]
        self.ctx_ipath = ipath

    def set_value(self, key: str, value, off: int) -> bool:
        h = self.mapping
        key_context: list = []
        for k in self.context:
            key_context.append(k)
            if k not in h:
                self.bug("Context for key '%s' has not been established." % ".".join(key_context), off)
            t = h[k]
            if type(t) is TableArray:
                h = t[-1]
            elif type(t) is dict:
                h = t
            else:
                self.bug("Expected hash to have type 'map[string]interface{}', but it has '%s' "
                         "instead." % go_type_name(t), off)
        key_context.append(key)
        if key in h:
            s = ".".join(key_context)
            if self.implicits.get(s):
                self.implicits[s] = False
                return False
            self.panicf("Key '%s' has already been defined." % s, off)
        h[key] = value
        return True


_ESCAPE_VALUES = {
    "b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\",
}



def parse_slow(text: str) -> Document:
    """The faithful character-level port; the only source of errors."""
    parser = _Parser(text)
    try:
        return parser.run()
    except RecursionError:
        # Go has no such limit; Python's recursion limit caps nesting near 900 levels
        parser._raise("values nested too deeply for this decoder", None)
    except _GoPanic as exc:  # unreachable with the states as written
        parser._raise("runtime error: " + str(exc), None, go_panic=True)
    raise AssertionError("unreachable")
