"""A faithful, character-level port of the TOML decoder Kata 4.1.0 uses: BurntSushi/toml v1.6.0
(TOML 1.1 by default), its lexer (lex.go), parser (parse.go), the texts of error.go and the
key bookkeeping of meta.go that `toml.Decode` hands to `MetaData`.

What it returns (:func:`parse16`):

* ``data``: the generic values Go's parser builds (``p.mapping``): dict for
  ``map[string]any``, :class:`~katacfg.gocompat.gotoml.TableArray` for an array of tables
  (``[]map[string]any``), list for ``[]any``, int (int64), float (float64), bool, str, and for
  a datetime what ``tomllib`` gives (``datetime``/``date``/``time``; Go holds a ``time.Time``);
* ``positions``: Go's ``keyInfo``: for each key path (no index for arrays of tables: Go keys
  them by ``Key.String()``, later definitions overwrite earlier ones) the (line, column) Go
  records. That is the position of the *value* for ``key = value`` (a multi-line string: the
  line where it ends), of the key inside an inline table, of the ``[`` of a table header.
  Implicit tables (``a`` of ``[a.b]`` or ``a.b = 1``) have none, as in Go, so a decode error
  about them has no line (``toml: (last key "a"): ...``);
* ``keys``: ``MetaData.Keys()`` (``p.ordered``): every key and table header, in file order.

Errors are :class:`Toml16Error` whose text is ``ParseError.Error()``: ``toml: line N (last key
"a.b"): <message>`` (``toml: line N: <message>`` when no key was read yet), N and the last key
as the Go parser holds them when it panics. The lexer runs lazily, pulled by the parser item by
item like Go's (``nextItem``), so an error surfaces exactly when Go's would, after everything
the parser did with the items before it.

Go works on bytes, this port on characters: the text should be decoded with
``errors="surrogateescape"``; each undecodable byte is then Go's invalid UTF-8 byte
(``invalid UTF-8 byte: 0xff``). A one-byte ``utf8.RuneError`` and a character are both one
step here; only columns (never printed by ``Error()``) could differ for non-ASCII text.

Where Go would crash (its ``p.bug``/``panic`` calls, which ``parse`` re-panics), the error has
``go_panic = True``; none is known to be reachable.

Speed: Go's states read rune by rune; here runs of characters go by regular expressions, and
a few steps are fused (``_Lexer.fused``): blank and comment lines at the top level (whose
items the parser only skips), a bare key with its '=' and, at the top level, whole lines of
a key and a simple value (one KEY_VALUE item for the four Go emits). The lexer never hears
from the parser, so doing at once what the states do in turn hands over the same items;
tests/test_gotoml16.py compares both ways on generated text. The stock 4.1.0 file takes
0.55x tomllib's instructions.

Known deviation (every input is hostile): a table name or dotted key of more than
``MAX_KEY_PARTS`` parts, and arrays/inline tables nested more than ``MAX_VALUE_NESTING`` deep,
are refused ("nested too deeply for katacfg") where Go accepts them; this keeps the cost of any
input linear in its size and far from Python's recursion limit.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from collections import deque

from katacfg.gocompat.gotoml import MAX_TABLE_NAME_PARTS, MAX_VALUE_NESTING, TableArray
from katacfg.gocompat.strconv import quote as _go_quote
from katacfg.gocompat.strconv import quote_rune as _go_quote_rune
from katacfg.gocompat.tomlkey import key_string

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

__all__ = ["Toml16Error", "Doc16", "parse16", "MAX_KEY_PARTS", "MAX_VALUE_NESTING"]

MAX_KEY_PARTS = MAX_TABLE_NAME_PARTS

# item types (lex.go itemType)
ERROR = 0
EOF_ITEM = 1
TEXT = 2
STRING = 3
STRING_ESC = 4
RAW_STRING = 5
ML_STRING = 6
RAW_ML_STRING = 7
BOOL = 8
INTEGER = 9
FLOAT = 10
DATETIME = 11
ARRAY = 12
ARRAY_END = 13
TABLE_START = 14
TABLE_END = 15
ATABLE_START = 16
ATABLE_END = 17
KEY_START = 18
KEY_END = 19
COMMENT_START = 20
ITABLE_START = 21
ITABLE_END = 22
KEY_VALUE = 23  # katacfg's: KeyStart, a bare key's Text, KeyEnd and a simple value in one

# itemType.String()
_ITEM_NAMES = (
    "Error", "EOF", "Text", "String", "String", "String", "String", "String", "Bool",
    "Integer", "Float", "DateTime", "Array", "ArrayEnd", "TableStart", "TableEnd",
    "ArrayTableStart", "ArrayTableEnd", "KeyStart", "KeyEnd", "CommentStart",
    "InlineTableStart", "InlineTableEnd", "KeyStart",
)

# Go's eof rune is 0; a NUL in the text is a control character (an error) before it could
# be mistaken for the end, so the port uses the same marker.
_EOF = "\x00"
_RUNE_ERROR = "\ufffd"

# Runs of characters a state would consume one by one without doing anything else; they stop
# before anything next() refuses (control characters, a '\r', undecodable bytes).
_BAD = "\\x00-\\x08\\x0a-\\x1f\\x7f\\ud800-\\udfff"
_RE_COMMENT_BODY = re.compile(f"[^{_BAD}]*")
_RE_STRING_BODY = re.compile(f'[^"\\\\{_BAD}]*')
_RE_RAW_BODY = re.compile(f"[^'{_BAD}]*")
_ML_BAD = "\\x00-\\x08\\x0b-\\x1f\\x7f\\ud800-\\udfff"  # a '\n' is fine in multi-line strings
_RE_ML_BODY = re.compile(f'[^"\\\\{_ML_BAD}]*')
_RE_RAW_ML_BODY = re.compile(f"[^'{_ML_BAD}]*")
_RE_BARE = re.compile(r"[A-Za-z0-9_\-]*")
_RE_BARE_KEY_EQ = re.compile(r"([A-Za-z0-9_\-]+)[ \t]*=")
_STR = f'"(?!"")([^"\\\\{_BAD}]*)"|\'(?!\'\')([^\'{_BAD}]*)\''  # no escape, one line
_STR_NG = _STR.replace("(", "(?:").replace("(?:?!", "(?!")
_RE_STR = re.compile(_STR)
# A whole line `key = value # comment`: a bare key; a string as above, a decimal integer, a
# boolean, or a one-line array of such strings
_RE_TOP_LINE = re.compile(
    f"([A-Za-z0-9_\\-]+)[ \\t]*=[ \\t]*(?:{_STR}"
    f"|(0|[1-9][0-9]*|true|false)(?=[ \\t\\n#]|\\r\\n)"
    f"|(\\[[ \\t]*(?:(?:{_STR_NG})(?:[ \\t]*,[ \\t]*(?:{_STR_NG}))*[ \\t]*,?[ \\t]*)?\\]))"
    f"[ \\t]*(?:#[^{_BAD}]*+)?(?:\\r\\n|\\n)")
_RE_SIMPLE_VALUE = re.compile(
    f'[ \\t]*(?:"(?!"")([^"\\\\{_BAD}]*)"|\'(?!\'\')([^\'{_BAD}]*)\''
    r"|(0|[1-9][0-9]*|true|false)(?=[ \t\n#,\]}]|\r\n|\Z))")
_RE_BLANKS = re.compile(r"(?:[ \t\n]|\r\n)*")
_RE_TOP_BLANKS = re.compile(f"(?:[ \\t\\n]|\\r\\n|#[^{_BAD}]*+(?=\\r\\n|\\n|\\Z))*+")
_RE_DIGITS = re.compile(r"[0-9]*")
_RE_ASCII_LETTERS = re.compile(r"[A-Za-z]*")
_WORD_END = frozenset(" \t\n#,]}=0123456789.-+\"'[{_:")
_RE_FLOAT_CHARS = re.compile(r"[0-9_.\-+eE]*")
_RE_NEWLINE = re.compile("\n")

_HEX = frozenset("0123456789abcdefABCDEF")


def _is_control(r: str) -> bool:
    o = ord(r)
    return (o <= 0x1F and r not in "\t\r\n") or o == 0x7F


def _is_letter(r: str) -> bool:
    # unicode.IsLetter (category L); RuneError and undecodable bytes are not letters
    return r.isalpha()


def _first_byte(c: str) -> int:
    """The first byte of a character as Go holds it (an undecodable byte is itself)."""
    o = ord(c)
    if 0xDC80 <= o <= 0xDCFF:
        return o - 0xDC00
    return c.encode("utf-8", "surrogatepass")[0]


class Toml16Error(Exception):
    """``ParseError`` of v1.6: ``text`` is ``Error()``; ``line`` Position.Line; ``last_key``
    LastKey; ``message`` Message; ``go_panic`` when Go would crash instead."""

    def __init__(self, text: str, line: int, last_key: str, message: str, *,
                 offset: int | None = None, go_panic: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.line = line
        self.last_key = last_key
        self.message = message
        self.offset = offset
        self.go_panic = go_panic

    def __str__(self) -> str:
        return self.text


class Doc16:
    """The result of :func:`parse16`: ``data``, ``positions`` (Go's keyInfo), ``keys``."""

    __slots__ = ("data", "positions", "keys")

    def __init__(self, data: dict, positions: dict, keys: list) -> None:
        self.data = data
        self.positions = positions
        self.keys = keys


class _GoPanic(Exception):
    """A Go runtime panic inside the lexer (``panic("BUG in lexer: ...")``)."""


# ---------------------------------------------------------------------------------------------
# Lexer (lex.go)
# ---------------------------------------------------------------------------------------------

class _Lexer:
    """Pull lexer: :meth:`next_item` runs state functions until an item is queued.

    Items are tuples (type, value, line, start, length), Go's item with its Position; an error
    item carries its message as the value."""

    __slots__ = ("input", "n", "start", "pos", "line", "state", "items", "esc", "nprev",
                 "at_eof", "stack")

    # Steps that do at once what Go's states do rune by rune (runs of comment lines, a bare
    # key with its '=' and a simple value, a word): False runs the states as written, for the
    # tests that compare both.
    fused = True

    def __init__(self, text: str) -> None:
        self.input = text
        self.n = len(text)
        self.start = 0
        self.pos = 0
        self.line = 1
        self.state = self.lex_top
        self.items: deque = deque()
        self.esc = False
        self.nprev = 0  # how many runes backup() may step back over (Go's nprev)
        self.at_eof = False
        self.stack: list = []

    # -- machinery ------------------------------------------------------------------------

    def next_item(self) -> tuple:
        items = self.items
        while not items:
            state = self.state
            if state is None:  # Go would call a nil stateFn
                raise _GoPanic("runtime error: invalid memory address or nil pointer "
                               "dereference")
            self.state = state()
        return items.popleft()

    def push(self, state) -> None:
        self.stack.append(state)

    def pop(self):
        if not self.stack:
            raise _GoPanic("BUG in lexer: no states to pop")
        return self.stack.pop()

    def current(self) -> str:
        return self.input[self.start:self.pos]

    def get_pos(self) -> tuple:
        length = self.pos - self.start
        return self.line, self.start, (length if length > 0 else 1)

    def emit(self, typ: int) -> None:
        start = self.start
        pos = self.pos
        if start > pos:
            self.error("invalid UTF-8 byte: 0x%02x" % _first_byte(self.input[pos]))
            return
        self.items.append((typ, self.input[start:pos], self.line, start,
                           pos - start if pos > start else 1))
        self.start = pos

    def emit_trim(self, typ: int) -> None:
        line, start, length = self.get_pos()
        self.items.append((typ, self.input[self.start:self.pos].strip(_GO_SPACE), line, start,
                           length))
        self.start = self.pos

    def next(self) -> str:
        if self.at_eof:
            raise _GoPanic("BUG in lexer: next called after EOF")
        p = self.pos
        if p >= self.n:
            self.at_eof = True
            return _EOF
        r = self.input[p]
        if self.nprev < 4:
            self.nprev += 1
        if r < " " or r == "\x7f" or "\ud800" <= r <= "\udfff":
            if r == "\n":
                self.line += 1
            elif "\ud800" <= r:
                self.error("invalid UTF-8 byte: 0x%02x" % _first_byte(r))
                return _RUNE_ERROR
            elif _is_control(r) or (r == "\r" and (p == self.n - 1
                                                    or self.input[p + 1] != "\n")):
                self.error_pos(p - 1, 1, "TOML files cannot contain control characters: "
                                         "'0x%02x'" % ord(r))
                return _RUNE_ERROR
        self.pos = p + 1
        return r

    def advance(self, q: int) -> None:
        """Consume input[pos:q] (no newline, nothing next() refuses) as next() would."""
        if q > self.pos:
            self.nprev = min(4, self.nprev + q - self.pos)
            self.pos = q

    def ignore(self) -> None:
        self.start = self.pos

    def backup(self) -> None:
        # Go steps back by the width of the last rune read (prevWidths); every rune is one
        # character here. A next() that refused a rune did not move, yet counts as read: Go
        # then steps back over the rune before it, as this does (none at the start: 0).
        if self.at_eof:
            self.at_eof = False
            return
        if self.nprev < 1:
            raise _GoPanic("BUG in lexer: backed up too far")
        self.nprev -= 1
        if self.pos:
            self.pos -= 1
            if self.input[self.pos] == "\n":
                self.line -= 1

    def accept(self, valid: str) -> bool:
        if self.next() == valid:
            return True
        self.backup()
        return False

    def peek(self) -> str:
        p = self.pos
        if p < self.n and not self.at_eof:
            r = self.input[p]
            if " " <= r < "\x7f" or "\x7f" < r < "\ud800" or r > "\udfff":
                # next() then backup(), for a rune next() takes as it is
                if self.nprev == 4:
                    self.nprev = 3
                return r
        r = self.next()
        self.backup()
        return r

    def skip_ws(self) -> None:
        """lx.skip(isWhitespace)."""
        p = self.pos
        if p < self.n and not self.at_eof:
            r = self.input[p]
            if r != " " and r != "\t":
                # next() then backup() of a rune that ends the skip: only nprev moves. (A
                # rune next() refuses is refused again by the read that follows every skip.)
                if self.nprev == 4:
                    self.nprev = 3
                self.start = p
                return
        while True:
            r = self.next()
            if r == " " or r == "\t":
                continue
            self.backup()
            self.ignore()
            return

    def error(self, msg: str):
        if self.at_eof:
            return self.error_prev_line(msg)
        line, start, length = self.get_pos()
        self.items.append((ERROR, msg, line, start, length))
        return None

    def error_prev_line(self, msg: str):
        line, _, _ = self.get_pos()
        self.items.append((ERROR, msg, line - 1, self.pos - 1, 1))
        return None

    def error_pos(self, start: int, length: int, msg: str):
        self.items.append((ERROR, msg, self.line, start, length))
        return None

    def errorf(self, msg: str):
        if self.at_eof:
            line = self.line
            if self.pos >= 1 and self.input[self.pos - 1] == "\n":
                line -= 1
            self.items.append((ERROR, msg, line, self.pos - 1, 1))
            return None
        line, start, length = self.get_pos()
        self.items.append((ERROR, msg, line, start, length))
        return None

    def skip_blanks(self) -> None:
        """Fast-forward over blanks and newlines (what lexSkip loops would do)."""
        q = _RE_BLANKS.match(self.input, self.pos).end()  # type: ignore[union-attr]
        if q > self.pos:
            self.line += self.input.count("\n", self.pos, q)
            self.advance(q)
            self.start = q

    # -- states -----------------------------------------------------------------------------

    def lex_top(self):
        # Blank lines and whole comment lines at once: topLevel only expects the Text after a
        # CommentStart, so leaving out the items of top-level comments changes nothing the
        # parser does (a comment holding a character next() refuses goes the long way).
        if self.fused:
            self.top_lines()
        r = self.next()
        if r == " " or r == "\t" or r == "\n" or r == "\r":
            self.ignore()
            self.skip_blanks()
            return self.lex_top
        if r == "#":
            self.push(self.lex_top)
            return self.lex_comment_start
        if r == "[":
            return self.lex_table_start
        if r == _EOF:
            if self.pos > self.start:
                return self.errorf("unexpected EOF")
            self.emit(EOF_ITEM)
            return None
        self.backup()
        self.push(self.lex_top_end)
        return self.lex_key_start

    def top_lines(self) -> None:
        """lexTop's fused steps: blank and comment lines, then up to 64 lines of a bare key,
        '=' and a simple value (KEY_VALUE items) and a comment, all at once."""
        inp = self.input
        items = self.items
        p = self.pos
        for _ in range(64):
            q = _RE_TOP_BLANKS.match(inp, p).end()  # type: ignore[union-attr]
            if q > p:
                self.line += inp.count("\n", p, q)
            p = q
            m = _RE_TOP_LINE.match(inp, p)
            if m is None:
                break
            line = self.line
            g = m.lastindex or 0
            text: Any = m.group(g)
            start = m.start(g)
            if g == 2:
                typ = STRING
            elif g == 3:
                typ = RAW_STRING
            elif g == 4:
                typ = BOOL if text[0] in "tf" else INTEGER
            else:
                # lexValue's Array item: after the '[', of length 1; the elements' items
                # carry nothing the parser keeps but their values
                typ = ARRAY
                start += 1
                text = [e.group(e.lastindex or 0) for e in _RE_STR.finditer(text)]
            items.append((KEY_VALUE, m.group(1), line, p, m.end(1) - p,
                          (typ, text, line, start, len(text) or 1)))
            self.line = line + 1
            p = m.end()
        if p > self.pos:
            self.nprev = min(4, self.nprev + p - self.pos)
            self.pos = self.start = p

    def lex_top_end(self):
        r = self.next()
        if r == "#":
            self.push(self.lex_top)
            return self.lex_comment_start
        if r == " " or r == "\t":
            return self.lex_top_end
        if r == "\n" or r == "\r":
            self.ignore()
            return self.lex_top
        if r == _EOF:
            self.emit(EOF_ITEM)
            return None
        return self.errorf("expected a top-level item to end with a newline, comment, or EOF, "
                           "but got %s instead" % _go_quote_rune(r))

    def lex_table_start(self):
        if self.peek() == "[":
            self.next()
            self.emit(ATABLE_START)
            self.push(self.lex_array_table_end)
        else:
            self.emit(TABLE_START)
            self.push(self.lex_table_end)
        return self.lex_table_name_start

    def lex_table_end(self):
        self.emit(TABLE_END)
        return self.lex_top_end

    def lex_array_table_end(self):
        r = self.next()
        if r != "]":
            return self.errorf("expected end of table array name delimiter ']', but got %s "
                               "instead" % _go_quote_rune(r))
        self.emit(ATABLE_END)
        return self.lex_top_end

    def lex_table_name_start(self):
        self.skip_ws()
        r = self.peek()
        if r == "]" or r == _EOF:
            return self.errorf("unexpected end of table name (table names cannot be empty)")
        if r == ".":
            return self.errorf("unexpected table separator (table names cannot be empty)")
        if r == '"' or r == "'":
            self.ignore()
            self.push(self.lex_table_name_end)
            return self.lex_quoted_name
        self.push(self.lex_table_name_end)
        return self.lex_bare_name

    def lex_table_name_end(self):
        self.skip_ws()
        r = self.next()
        if r == ".":
            self.ignore()
            return self.lex_table_name_start
        if r == "]":
            return self.pop()
        return self.errorf("expected '.' or ']' to end table name, but got %s instead"
                           % _go_quote_rune(r))

    def lex_bare_name(self):
        # one state call per character in Go; the run of bare-key characters at once here
        q = _RE_BARE.match(self.input, self.pos).end()  # type: ignore[union-attr]
        self.advance(q)
        self.peek()  # the rune that ends the name: read, then backed up over
        self.emit(TEXT)
        return self.pop()

    def lex_quoted_name(self):
        r = self.next()
        if r == '"':
            self.ignore()
            return self.lex_string
        if r == "'":
            self.ignore()
            return self.lex_raw_string
        if r == " " or r == "\t":
            self.ignore()
            return self.lex_value
        if r == _EOF:
            return self.errorf("unexpected EOF; expected value")
        return self.errorf("expected value but found %s instead" % _go_quote_rune(r))

    def lex_key_start(self):
        self.skip_ws()
        m = _RE_BARE_KEY_EQ.match(self.input, self.pos) if self.fused else None
        if m is not None:
            # A bare key and '=': the items lexKeyStart, lexKeyNameStart, lexBareName and
            # lexKeyEnd emit for it, in one step (the lexer never hears from the parser, so
            # running ahead changes nothing it hands over).
            p = self.pos
            q = m.end(1)
            e = m.end() - 1
            line = self.line
            items = self.items
            self.nprev = 4
            v = _RE_SIMPLE_VALUE.match(self.input, e + 1)
            if v is None:
                items.extend(((KEY_START, "", line, p, 1), (TEXT, m.group(1), line, p, q - p),
                              (KEY_END, "=", line, e, 1)))
                self.pos = self.start = e + 1
                return self.lex_value
            # ... and a one-line string without escapes, a decimal integer or a boolean after
            # it: lexValue's item, as lexString, lexNumberOrDate or lexBool emit it
            text = v.group(1)
            if text is not None:
                typ = STRING
            else:
                text = v.group(2)
                if text is not None:
                    typ = RAW_STRING
                else:
                    text = v.group(3)
                    typ = BOOL if text[0] in "tf" else INTEGER
            start = v.start(v.lastindex or 0)
            value = (typ, text, line, start, len(text) or 1)
            if self.stack and self.stack[-1] == self.lex_top_end:
                # at the top level: one item for the four (see _Parser.key_value)
                items.append((KEY_VALUE, m.group(1), line, p, q - p, value))
            else:
                items.extend(((KEY_START, "", line, p, 1), (TEXT, m.group(1), line, p, q - p),
                              (KEY_END, "=", line, e, 1), value))
            if typ == STRING or typ == RAW_STRING:
                self.pos = self.start = start + len(text) + 1  # past the closing quote
            else:
                self.pos = self.start = start + len(text)  # the rune after: read, backed up
                self.nprev = 3
            return self.pop()
        r = self.peek()
        if r == "=" or r == _EOF:
            return self.errorf("unexpected '=': key name appears blank")
        if r == ".":
            return self.errorf("unexpected '.': keys cannot start with a '.'")
        if r == '"' or r == "'":
            self.ignore()
        self.emit(KEY_START)
        return self.lex_key_name_start

    def lex_key_name_start(self):
        self.skip_ws()
        r = self.peek()
        if r == '"' or r == "'":
            self.ignore()
            self.push(self.lex_key_end)
            return self.lex_quoted_name
        if r == "=" or r == _EOF:
            return self.errorf("unexpected '='")
        if r == ".":
            return self.errorf("unexpected '.'")
        self.push(self.lex_key_end)
        return self.lex_bare_name

    def lex_key_end(self):
        self.skip_ws()
        r = self.next()
        if r == " " or r == "\t":
            self.ignore()
            return self.lex_key_end
        if r == _EOF:
            return self.errorf("unexpected EOF; expected key separator '='")
        if r == ".":
            self.ignore()
            return self.lex_key_name_start
        if r == "=":
            self.emit(KEY_END)
            self.ignore()
            return self.lex_value
        if r == "\n":
            return self.error_prev_line("expected '.' or '=', but got %s instead"
                                        % _go_quote_rune(r))
        return self.errorf("expected '.' or '=', but got %s instead" % _go_quote_rune(r))

    def lex_value(self):
        r = self.next()
        if r == " " or r == "\t":
            self.ignore()
            return self.lex_value
        if "0" <= r <= "9":
            self.backup()
            return self.lex_number_or_date_start
        if r == "[":
            self.ignore()
            self.emit(ARRAY)
            return self.lex_array_value
        if r == "{":
            self.ignore()
            self.emit(ITABLE_START)
            return self.lex_inline_table_value
        if r == '"':
            if self.accept('"'):
                if self.accept('"'):
                    self.ignore()
                    return self.lex_multiline_string
                self.backup()
            self.ignore()
            return self.lex_string
        if r == "'":
            if self.accept("'"):
                if self.accept("'"):
                    self.ignore()
                    return self.lex_multiline_raw_string
                self.backup()
            self.ignore()
            return self.lex_raw_string
        if r == ".":
            return self.errorf("floats must start with a digit, not '.'")
        if r == "i" or r == "n":
            if (self.accept("n") and self.accept("f")) or (self.accept("a") and self.accept("n")):
                self.emit(FLOAT)
                return self.pop()
        elif r == "-" or r == "+":
            return self.lex_decimal_number_start
        if _is_letter(r):
            self.backup()
            return self.lex_bool
        if r == _EOF:
            return self.errorf("unexpected EOF; expected value")
        if r == "\n":
            return self.error_prev_line("expected value but found %s instead"
                                        % _go_quote_rune(r))
        return self.errorf("expected value but found %s instead" % _go_quote_rune(r))

    def lex_array_value(self):
        r = self.next()
        if r == " " or r == "\t" or r == "\n" or r == "\r":
            self.ignore()
            self.skip_blanks()
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
            self.ignore()
            self.skip_blanks()
            return self.lex_array_value_end
        if r == "#":
            self.push(self.lex_array_value_end)
            return self.lex_comment_start
        if r == ",":
            self.ignore()
            return self.lex_array_value
        if r == "]":
            return self.lex_array_end
        return self.errorf("expected a comma (',') or array terminator (']'), but got %s"
                           % _rune_or_eof(r))

    def lex_array_end(self):
        self.ignore()
        self.emit(ARRAY_END)
        return self.pop()

    def lex_inline_table_value(self):
        r = self.next()
        if r == " " or r == "\t" or r == "\n" or r == "\r":
            self.ignore()
            self.skip_blanks()
            return self.lex_inline_table_value
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
        if r == " " or r == "\t" or r == "\n" or r == "\r":
            self.ignore()
            self.skip_blanks()
            return self.lex_inline_table_value_end
        if r == "#":
            self.push(self.lex_inline_table_value_end)
            return self.lex_comment_start
        if r == ",":
            self.ignore()
            self.skip_ws()
            if self.peek() == "}":
                return self.lex_inline_table_value_end
            return self.lex_inline_table_value
        if r == "}":
            return self.lex_inline_table_end
        return self.errorf("expected a comma or an inline table terminator '}', but got %s "
                           "instead" % _rune_or_eof(r))

    def lex_inline_table_end(self):
        self.ignore()
        self.emit(ITABLE_END)
        return self.pop()

    def lex_string(self):
        self.advance(_RE_STRING_BODY.match(self.input, self.pos).end())
        r = self.next()
        if r == _EOF:
            return self.errorf("unexpected EOF; expected '\"'")
        if r == "\n" or r == "\r":
            return self.error_prev_line("strings cannot contain newlines")
        if r == "\\":
            self.push(self.lex_string)
            return self.lex_string_escape
        if r == '"':
            self.backup()
            if self.esc:
                self.esc = False
                self.emit(STRING_ESC)
            else:
                self.emit(STRING)
            self.next()
            self.ignore()
            return self.pop()
        return self.lex_string

    def lex_multiline_string(self):
        p = self.pos
        q = _RE_ML_BODY.match(self.input, p).end()
        if q > p:
            self.line += self.input.count("\n", p, q)
            self.advance(q)
        r = self.next()
        if r == _EOF:
            return self.errorf("unexpected EOF; expected '\"\"\"'")
        if r == "\\":
            return self.lex_multiline_string_escape
        if r == '"':
            if self.accept('"'):
                if self.accept('"'):
                    if self.peek() == '"':
                        cur = self.current()
                        if cur.endswith('"""""') and not cur.endswith('\\"""""'):
                            return self.errorf("unexpected '\"\"\"\"\"\"'")
                        self.backup()
                        self.backup()
                        return self.lex_multiline_string
                    self.backup()
                    self.backup()
                    self.backup()
                    self.esc = False
                    self.emit(ML_STRING)
                    self.next()
                    self.next()
                    self.next()
                    self.ignore()
                    return self.pop()
                self.backup()
        return self.lex_multiline_string

    def lex_raw_string(self):
        self.advance(_RE_RAW_BODY.match(self.input, self.pos).end())
        r = self.next()
        if r == _EOF:
            return self.errorf("unexpected EOF; expected \"'\"")
        if r == "\n" or r == "\r":
            return self.error_prev_line("strings cannot contain newlines")
        if r == "'":
            self.backup()
            self.emit(RAW_STRING)
            self.next()
            self.ignore()
            return self.pop()
        return self.lex_raw_string

    def lex_multiline_raw_string(self):
        p = self.pos
        q = _RE_RAW_ML_BODY.match(self.input, p).end()
        if q > p:
            self.line += self.input.count("\n", p, q)
            self.advance(q)
        r = self.next()
        if r == _EOF:
            return self.errorf("unexpected EOF; expected \"'''\"")
        if r == "'":
            if self.accept("'"):
                if self.accept("'"):
                    if self.peek() == "'":
                        if self.current().endswith("'''''"):
                            return self.errorf("unexpected \"''''''\"")
                        self.backup()
                        self.backup()
                        return self.lex_multiline_raw_string
                    self.backup()
                    self.backup()
                    self.backup()
                    self.emit(RAW_ML_STRING)
                    self.next()
                    self.next()
                    self.next()
                    self.ignore()
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
        self.esc = True
        r = self.next()
        if r in 'ebtnfr" \t\\' and r != _EOF:
            return self.pop()
        if r == "x":
            return self.lex_hex_escape
        if r == "u":
            return self.lex_short_unicode_escape
        if r == "U":
            return self.lex_long_unicode_escape
        # errLexEscape: %c of the rune (eof is rune 0)
        return self.error("invalid escape in string '\\%s'" % r)

    def _hex_digits(self, count: int, what: str):
        for _ in range(count):
            r = self.next()
            if r not in _HEX:
                return self.errorf("expected %s hexadecimal digits after '\\%s', but got %s "
                                   "instead" % (_HEX_WORDS[what], what, _go_quote(self.current())))
        return self.pop()

    def lex_hex_escape(self):
        return self._hex_digits(2, "x")

    def lex_short_unicode_escape(self):
        return self._hex_digits(4, "u")

    def lex_long_unicode_escape(self):
        return self._hex_digits(8, "U")

    def lex_number_or_date_start(self):
        if self.next() == "0":
            return self.lex_base_number_or_date
        return self.lex_number_or_date

    def lex_number_or_date(self):
        self.advance(_RE_DIGITS.match(self.input, self.pos).end())
        r = self.next()
        if "0" <= r <= "9":
            return self.lex_number_or_date
        if r == "-" or r == ":":
            return self.lex_datetime
        if r == "_":
            return self.lex_decimal_number
        if r == "." or r == "e" or r == "E":
            return self.lex_float
        self.backup()
        self.emit(INTEGER)
        return self.pop()

    def lex_datetime(self):
        while True:
            r = self.next()
            if ("0" <= r <= "9") or r in _DATETIME_CHARS and r != _EOF:
                continue
            break
        self.backup()
        self.emit_trim(DATETIME)
        return self.pop()

    def _base_integer(self, valid: frozenset):
        while True:
            r = self.next()
            if r in valid or r == "_":
                continue
            break
        self.backup()
        self.emit(INTEGER)
        return self.pop()

    def lex_hex_integer(self):
        return self._base_integer(_HEX)

    def lex_octal_integer(self):
        return self._base_integer(_OCTAL)

    def lex_binary_integer(self):
        return self._base_integer(_BINARY)

    def lex_decimal_number(self):
        while True:
            r = self.next()
            if "0" <= r <= "9" or r == "_":
                continue
            break
        if r == "." or r == "e" or r == "E":
            return self.lex_float
        self.backup()
        self.emit(INTEGER)
        return self.pop()

    def lex_decimal_number_start(self):
        r = self.next()
        if r == "i":
            if not self.accept("n") or not self.accept("f"):
                return self.errorf("invalid float: '%s'" % self.current())
            self.emit(FLOAT)
            return self.pop()
        if r == "n":
            if not self.accept("a") or not self.accept("n"):
                return self.errorf("invalid float: '%s'" % self.current())
            self.emit(FLOAT)
            return self.pop()
        if r == "0":
            p = self.peek()
            if p in ("b", "o", "x"):
                return self.errorf("cannot use sign with non-decimal numbers: '%s%s'"
                                   % (self.current(), p))
        elif r == ".":
            return self.errorf("floats must start with a digit, not '.'")
        if "0" <= r <= "9":
            return self.lex_decimal_number
        return self.errorf("expected a digit but got %s" % _go_quote_rune(r))

    def lex_base_number_or_date(self):
        r = self.next()
        if "0" <= r <= "9":
            return self.lex_number_or_date
        if r == "_":
            return self.lex_decimal_number
        if r == "." or r == "e" or r == "E":
            return self.lex_float
        if r == "b":
            r = self.peek()
            if r not in _BINARY:
                # Go ignores the returned state: the error is queued, lexing goes on
                self.errorf("not a binary number: '%s%s'" % (self.current(), r))
            return self.lex_binary_integer
        if r == "o":
            r = self.peek()
            if r not in _OCTAL:
                self.errorf("not an octal number: '%s%s'" % (self.current(), r))
            return self.lex_octal_integer
        if r == "x":
            r = self.peek()
            if r not in _HEX:
                self.errorf("not a hexadecimal number: '%s%s'" % (self.current(), r))
            return self.lex_hex_integer
        self.backup()
        self.emit(INTEGER)
        return self.pop()

    def lex_float(self):
        self.advance(_RE_FLOAT_CHARS.match(self.input, self.pos).end())
        self.next()
        self.backup()
        self.emit(FLOAT)
        return self.pop()

    def lex_bool(self):
        p = self.pos
        q = _RE_ASCII_LETTERS.match(self.input, p).end()  # type: ignore[union-attr]
        if self.fused and q < self.n and self.input[q] in _WORD_END:
            # a word of ASCII letters ended by a character next() takes (the usual case):
            # what the loop below reads and backs up over, at once
            self.nprev = min(4, self.nprev + q - p + 1) - 1  # q - p + 1 reads, one backup
            self.pos = q
            s = self.input[p:q]
            if s == "true" or s == "false":
                self.emit(BOOL)
                return self.pop()
            return self.errorf("expected value but found %s instead" % _go_quote(s))
        rs = []
        while True:
            r = self.next()
            if not _is_letter(r):
                self.backup()
                break
            rs.append(r)
        s = "".join(rs)
        if s == "true" or s == "false":
            self.emit(BOOL)
            return self.pop()
        return self.errorf("expected value but found %s instead" % _go_quote(s))

    def lex_comment_start(self):
        self.ignore()
        self.emit(COMMENT_START)
        return self.lex_comment

    def lex_comment(self):
        self.advance(_RE_COMMENT_BODY.match(self.input, self.pos).end())
        r = self.next()
        if r == "\n" or r == "\r" or r == _EOF:
            self.backup()
            self.emit(TEXT)
            return self.pop()
        return self.lex_comment


_HEX_WORDS = {"x": "two", "u": "four", "U": "eight"}
_OCTAL = frozenset("01234567")
_BINARY = frozenset("01")
_DATETIME_CHARS = frozenset("-:Tt .Zz+")
# unicode.IsSpace (strings.TrimSpace)
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006" \
            "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def _rune_or_eof(r: str) -> str:
    if r == _EOF:
        return "end of file"
    return "'" + r + "'"


# ---------------------------------------------------------------------------------------------
# Value helpers (parse.go)
# ---------------------------------------------------------------------------------------------

def _num_underscores_ok(s: str) -> bool:
    if s in ("nan", "+nan", "-nan", "inf", "-inf", "+inf"):
        return True
    accept = False
    for r in s:
        if r == "_" and not accept:
            return False
        accept = r in _HEX
    return accept


def _num_periods_ok(s: str) -> bool:
    period = False
    for r in s:
        if period and not ("0" <= r <= "9"):
            return False
        period = r == "."
    return not period


def _num_has_leading_zero(s: str) -> bool:
    if len(s) > 1 and s[0] == "0" and s[1] not in "box":
        return True
    return len(s) > 2 and s[0] in "-+" and s[1] == "0"


_RE_FLOAT_FIELDS = re.compile(r"[.eE]")
_RE_GO_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def _parse_int(s: str) -> int | None:
    """strconv.ParseInt(s, 0, 64) for what the lexer and the checks above let through:
    the value, or None when it is out of range (ErrRange); raises ValueError otherwise."""
    sign = 1
    body = s
    if body[:1] in ("+", "-"):
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    base = 10
    if body[:2] in ("0x", "0X"):
        base, body = 16, body[2:]
    elif body[:2] in ("0o", "0O"):
        base, body = 8, body[2:]
    elif body[:2] in ("0b", "0B"):
        base, body = 2, body[2:]
    digits = body.replace("_", "")
    if not digits or not digits.isascii() or not digits.isalnum():
        raise ValueError(s)
    significant = digits.lstrip("0")
    if len(significant) > 64:  # far beyond int64 in any base: no int() of a huge text
        int(significant[:64], base)  # still a ValueError for a bad digit
        return None
    value = sign * int(digits, base)
    if value < _INT64_MIN or value > _INT64_MAX:
        return None
    return value


def _strip_first_newline(s: str) -> str:
    if s[:1] == "\n":
        return s[1:]
    if s[:2] == "\r\n":
        return s[2:]
    return s


def _strip_escaped_newlines(s: str) -> str:
    """parser.stripEscapedNewlines."""
    if "\\" not in s:
        return s
    out = []
    i = 0
    while True:
        ix = s.find("\\", i)
        if ix < 0:
            out.append(s)
            return "".join(out)
        i = ix
        if len(s) > i + 1 and s[i + 1] == "\\":
            i += 2
            continue
        j = i + 1
        n = len(s)
        while j < n and s[j] in " \t\r\n":
            j += 1
        if j == i + 1:
            i += 1
            continue
        if "\n" not in s[i:j]:
            i += 1
            continue
        out.append(s[:i])
        s = s[j:]
        i = 0


# ---------------------------------------------------------------------------------------------
# Datetimes: time.ParseInLocation with the seven layouts of parse.go's dtTypes
# ---------------------------------------------------------------------------------------------

# (date, time, seconds with optional fraction, zone): RFC3339Nano, local datetime, local date,
# local time, then TOML 1.1's datetimes and times without seconds.
_DT_LAYOUTS = (
    ("2006-01-02T15:04:05.999999999Z07:00", True, True, True, True),
    ("2006-01-02T15:04:05.999999999", True, True, True, False),
    ("2006-01-02", True, False, False, False),
    ("15:04:05.999999999", False, True, True, False),
    ("2006-01-02T15:04Z07:00", True, True, False, True),
    ("2006-01-02T15:04", True, True, False, False),
    ("15:04", False, True, False, False),
)

_DAYS_BEFORE = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365)


def _days_in(month: int, year: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _DAYS_BEFORE[month] - _DAYS_BEFORE[month - 1]


def _getnum(s: str, i: int, fixed: bool) -> tuple[int, int] | None:
    """time.getnum on s[i:]: (value, new index) or None."""
    if i >= len(s) or not ("0" <= s[i] <= "9"):
        return None
    if i + 1 >= len(s) or not ("0" <= s[i + 1] <= "9"):
        if fixed:
            return None
        return ord(s[i]) - 48, i + 1
    return (ord(s[i]) - 48) * 10 + ord(s[i + 1]) - 48, i + 2


def _go_parse(s: str, has_date: bool, has_time: bool, has_seconds: bool,
              has_zone: bool) -> tuple | None:
    """One layout: (kind, year, month, day, hour, minute, second, nsec, offset) or None."""
    year, month, day = 0, 1, 1
    hour = minute = second = nsec = 0
    offset = None
    i = 0
    n = len(s)
    if has_date:
        if n < 4 or not s[:4].isdigit():
            return None
        year = int(s[:4])
        if s[4:5] != "-":
            return None
        r = _getnum(s, 5, True)
        if r is None or not 1 <= r[0] <= 12:
            return None
        month, i = r
        if s[i:i + 1] != "-":
            return None
        r = _getnum(s, i + 1, True)
        if r is None:
            return None
        day, i = r
        if has_time:
            if s[i:i + 1] != "T":
                return None
            i += 1
    if has_time:
        r = _getnum(s, i, False)
        if r is None or r[0] >= 24:
            return None
        hour, i = r
        if s[i:i + 1] != ":":
            return None
        r = _getnum(s, i + 1, True)
        if r is None or r[0] >= 60:
            return None
        minute, i = r
        if has_seconds:
            if s[i:i + 1] != ":":
                return None
            r = _getnum(s, i + 1, True)
            if r is None or r[0] >= 60:
                return None
            second, i = r
            # .999999999: any number of digits, the first nine kept
            if n - i >= 2 and s[i] == "." and "0" <= s[i + 1] <= "9":
                j = i + 1
                while j < n and "0" <= s[j] <= "9":
                    j += 1
                frac = s[i + 1:min(j, i + 10)]
                nsec = int(frac) * 10 ** (9 - len(frac))
                i = j
    if has_zone:
        if s[i:i + 1] == "Z":
            offset = 0
            i += 1
        else:
            if n - i < 6 or s[i + 3] != ":":
                return None
            rh = _getnum(s[i + 1:i + 3], 0, True)
            rm = _getnum(s[i + 4:i + 6], 0, True)
            if rh is None or rm is None or rh[0] > 24 or rm[0] > 60:
                return None
            offset = (rh[0] * 60 + rm[0]) * 60
            if s[i] == "-":
                offset = -offset
            elif s[i] != "+":
                return None
            i += 6
    if i != n:
        return None
    if day < 1 or day > _days_in(month, year):
        return None
    return year, month, day, hour, minute, second, nsec, offset


def _missing_leading_zero(d: str, layout: str) -> bool:
    for i, c in enumerate(layout):
        if c == "." or c == "Z":
            return False
        if not ("0" <= c <= "9") and (i >= len(d) or d[i] != c):
            return True
    return False


def _datetime_value(text: str, parts: tuple, has_date: bool, has_time: bool,
                    has_zone: bool) -> Any:
    """The Python value tomllib gives for the datetime (Go: a time.Time)."""
    from datetime import UTC, date, datetime, time, timedelta, timezone

    year, month, day, hour, minute, second, nsec, offset = parts
    try:
        if not has_date:
            return time(hour, minute, second, nsec // 1000)
        if not has_time:
            return date(year, month, day)
        value = datetime(year, month, day, hour, minute, second, nsec // 1000)
        if offset is None:
            return value
        try:
            return value.replace(tzinfo=timezone(timedelta(seconds=offset)))
        except ValueError:  # an offset of 24:00 or more: Go accepts it
            return (value - timedelta(seconds=offset)).replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        from katacfg.gocompat.gotoml import GoDatetime

        return GoDatetime(text, year, month, day, hour, minute, second, nsec, offset)


# ---------------------------------------------------------------------------------------------
# Parser (parse.go)
# ---------------------------------------------------------------------------------------------

# Positions and MetaData.Keys() keep key paths up to this length (Kata's deepest key has 3
# or 4 parts): a path per key of a 64-deep inline table would hold the square of the depth.
KEPT_PARTS = 16


def _kept(context: list, key: str | None = None) -> tuple:
    """A key path for MetaData.Keys(): its first KEPT_PARTS parts and "..." when longer."""
    n = len(context) + (key is not None)
    if n <= KEPT_PARTS:
        return tuple(context) if key is None else (*context, key)
    return (*context[:KEPT_PARTS], "...")


class _Parser:
    __slots__ = ("text", "lx", "context", "current_key", "pos_line", "pos_start", "ordered",
                 "positions", "arrays", "mapping", "implicits", "newlines", "walks",
                 "trunc")

    def __init__(self, text: str) -> None:
        self.text = text
        self.lx = _Lexer(text)
        self.context: list = []
        self.current_key = ""
        self.pos_line = 0
        self.pos_start = 0
        self.ordered: list = []
        self.positions: dict = {}  # keyInfo pos: path -> (line, start)
        self.arrays: set = set()   # keyInfo paths whose tomlType is Array (isArray)
        self.mapping: dict = {}
        self.implicits: set = set()
        self.newlines: list | None = None
        self.walks: dict = {}  # resolve(): context path -> its table
        self.trunc: tuple | None = None  # the cut key shared by keys deeper than KEPT_PARTS

    # -- errors -----------------------------------------------------------------------------

    def current(self) -> str:
        if not self.current_key:
            return key_string(self.context)
        if not self.context:
            return self.current_key
        return "%s.%s" % (key_string(self.context), self.current_key)

    def _raise(self, message: str, line: int, offset: int | None,
               go_panic: bool = False) -> NoReturn:
        last = self.current()
        if last:
            text = "toml: line %d (last key %s): %s" % (line, _go_quote(last), message)
        else:
            text = "toml: line %d: %s" % (line, message)
        raise Toml16Error(text, line, last, message, offset=offset, go_panic=go_panic)

    def panic_item(self, it: tuple, message: str) -> NoReturn:
        """panicItemf / panicErr: the item's position."""
        self._raise(message, it[2], it[3])

    def panicf(self, message: str) -> NoReturn:
        """panicf: p.pos, the first part of the last key or table name read."""
        self._raise(message, self.pos_line, self.pos_start)

    def bug(self, message: str) -> NoReturn:
        self._raise("BUG: " + message, self.pos_line, self.pos_start, go_panic=True)

    def too_deep(self, what: str, it: tuple) -> NoReturn:
        """katacfg's own refusal (Go reads these): see the module docstring."""
        self._raise("%s: nested too deeply for katacfg (Go reads them; Kata's files use a "
                    "few levels)" % what, it[2], it[3])

    # -- items ------------------------------------------------------------------------------

    def next(self) -> tuple:
        lx = self.lx
        items = lx.items
        while not items:  # lx.nextItem(), inline: this runs for every item
            state = lx.state
            if state is None:
                raise _GoPanic("runtime error: invalid memory address or nil pointer "
                               "dereference")
            lx.state = state()
        it = items.popleft()
        if it[0] == ERROR:
            self._raise(it[1], it[2], it[3])
        return it

    def next_pos(self) -> tuple:
        it = self.next()
        self.pos_line = it[2]
        self.pos_start = it[3]
        return it

    def expect(self, typ: int) -> tuple:
        it = self.next()
        self.assert_equal(typ, it[0])
        return it

    def assert_equal(self, expected: int, got: int) -> None:
        if expected != got:
            self.bug("Expected '%s' but got '%s'." % (_ITEM_NAMES[expected], _ITEM_NAMES[got]))

    # -- top level --------------------------------------------------------------------------

    def run(self) -> Doc16:
        while True:
            it = self.next()
            if it[0] == EOF_ITEM:
                break
            self.top_level(it)
        return Doc16(self.mapping, self._positions(), self.ordered)

    def _positions(self) -> dict:
        """keyInfo positions as (line, column): the column of Position.Start (withCol)."""
        nl = [m.start() for m in _RE_NEWLINE.finditer(self.text)]
        out = {}
        for path, (line, start) in self.positions.items():
            i = bisect_right(nl, start - 1)
            out[path] = (line, start - (nl[i - 1] + 1 if i else 0) + 1)
        return out

    def read_key(self, end: int) -> list:
        """The parts of a key or table name, up to the item `end` (or EOF)."""
        items = self.lx.items
        if len(items) >= 2 and items[0][0] == TEXT and items[1][0] == end:
            # a bare one-part key the lexer has already handed over with its end: what the
            # loop below does for it, without the item-by-item round trips
            name = items.popleft()
            items.popleft()
            self.pos_line = name[2]
            self.pos_start = name[3]
            return [name[1]]
        name = self.next_pos()
        key: list[str] = []
        while name[0] != end and name[0] != EOF_ITEM:
            if len(key) >= MAX_KEY_PARTS:
                self.too_deep("a key or table name of more than %d parts" % MAX_KEY_PARTS, name)
            key.append(self.key_string(name))
            name = self.next()
        self.assert_equal(end, name[0])
        return key

    def top_level(self, it: tuple) -> None:
        typ = it[0]
        if len(self.walks) > 256:
            self.walks.clear()  # memory: only a few walks are worth keeping
        if typ == COMMENT_START:
            self.expect(TEXT)
        elif typ == TABLE_START or typ == ATABLE_START:
            array = typ == ATABLE_START
            key = self.read_key(ATABLE_END if array else TABLE_END)
            self.add_context(key, array)
            self.set_type("", "ArrayHash" if array else "Hash", it)
            self.ordered.append(_kept(key))
        elif typ == KEY_VALUE:
            self.key_value(it)
        elif typ == KEY_START:
            outer_context = self.context
            key = self.read_key(KEY_END)
            self.current_key = key[-1]
            for part in key[:-1]:
                self.add_implicit_context(self.context + [part])
            self.ordered.append(_kept(self.context, self.current_key))
            vitem = self.next()
            val, vtyp = self.value(vitem, False, 0)
            self.set_value(self.current_key, val)
            self.set_type(self.current_key, vtyp, vitem)
            self.context = outer_context
            self.current_key = ""
        else:
            self.bug("Unexpected type at top level: %s" % _ITEM_NAMES[typ])

    def key_value(self, it: tuple) -> None:
        """What the KEY_START branch above does for a bare one-part key and a simple value."""
        self.pos_line = it[2]
        self.pos_start = it[3]
        key = self.current_key = it[1]
        context = self.context
        self.ordered.append((*context, key) if len(context) < KEPT_PARTS else _kept(context, key))
        vitem = it[5]
        typ = vitem[0]
        if typ == ARRAY:
            self.set_type(key, "Array", vitem)  # valueArray's, before setValue
            val: Any = vitem[1]
            vtyp = "Array"
        elif typ == INTEGER:
            val = self.value_integer(vitem)
            vtyp = "Integer"
        elif typ == BOOL:
            val = vitem[1] == "true"
            vtyp = "Bool"
        else:
            val = vitem[1]
            vtyp = "String"
        self.set_value(key, val)
        self.set_type(key, vtyp, vitem)
        self.current_key = ""

    def key_string(self, it: tuple) -> str:
        typ = it[0]
        if typ == TEXT:
            return it[1]
        if typ in (STRING, STRING_ESC, ML_STRING, RAW_STRING, RAW_ML_STRING):
            return self.value(it, False, 0)[0]
        self.bug("Unexpected key type: %s" % _ITEM_NAMES[typ])

    # -- values -----------------------------------------------------------------------------

    def value(self, it: tuple, parent_is_array: bool, depth: int) -> tuple:
        typ = it[0]
        if typ == STRING or typ == RAW_STRING:
            return it[1], "String"
        if typ == STRING_ESC:
            return self.replace_escapes(it, it[1]), "String"
        if typ == ML_STRING:
            s = _strip_escaped_newlines(_strip_first_newline(it[1]))
            return self.replace_escapes(it, s), "String"
        if typ == RAW_ML_STRING:
            return _strip_first_newline(it[1]), "String"
        if typ == INTEGER:
            return self.value_integer(it), "Integer"
        if typ == FLOAT:
            return self.value_float(it), "Float"
        if typ == BOOL:
            if it[1] == "true":
                return True, "Bool"
            if it[1] == "false":
                return False, "Bool"
            self.bug("Expected boolean value, but got '%s'." % it[1])
        if typ == DATETIME:
            return self.value_datetime(it), "Datetime"
        if typ == ARRAY:
            if depth >= MAX_VALUE_NESTING:
                self.too_deep("arrays and inline tables nested more than %d deep"
                              % MAX_VALUE_NESTING, it)
            return self.value_array(it, depth), "Array"
        if typ == ITABLE_START:
            if depth >= MAX_VALUE_NESTING:
                self.too_deep("arrays and inline tables nested more than %d deep"
                              % MAX_VALUE_NESTING, it)
            return self.value_inline_table(it, parent_is_array, depth), "Hash"
        self.bug("Unexpected value type: %s" % _ITEM_NAMES[typ])

    def value_integer(self, it: tuple) -> int:
        val = it[1]
        if not _num_underscores_ok(val):
            self.panic_item(it, "Invalid integer %s: underscores must be surrounded by digits"
                            % _go_quote(val))
        if _num_has_leading_zero(val):
            self.panic_item(it, "Invalid integer %s: cannot have leading zeroes" % _go_quote(val))
        try:
            num = _parse_int(val)
        except ValueError:
            self.bug("Expected integer value, but got '%s'." % val)
        if num is None:
            self.panic_item(it, "%s is out of range for int64" % val)  # errParseRange
        return num

    def value_float(self, it: tuple) -> float:
        val = it[1]
        parts = [p for p in _RE_FLOAT_FIELDS.split(val) if p]  # strings.FieldsFunc
        for part in parts:
            if not _num_underscores_ok(part):
                self.panic_item(it, "Invalid float %s: underscores must be surrounded by digits"
                                % _go_quote(val))
        if parts and _num_has_leading_zero(parts[0]):
            self.panic_item(it, "Invalid float %s: cannot have leading zeroes" % _go_quote(val))
        if not _num_periods_ok(val):
            self.panic_item(it, "Invalid float %s: '.' must be followed by one or more digits"
                            % _go_quote(val))
        v = val.replace("_", "")
        negative_nan = False
        if v == "+nan" or v == "-nan":
            negative_nan = v == "-nan"
            v = "nan"
        if v in ("nan", "inf", "+inf", "-inf"):
            num = float(v)
        elif _RE_GO_FLOAT.fullmatch(v) is None:
            self.panic_item(it, "Invalid float value: %s" % _go_quote(val))
        else:
            num = float(v)
            if num in (_INF, -_INF):
                self.panic_item(it, "%s is out of range for float64" % val)  # errParseRange
        if negative_nan:
            import math

            num = math.copysign(num, -1.0)
        return num

    def value_datetime(self, it: tuple) -> Any:
        val = it[1].replace("z", "Z").replace("t", "T").replace(" ", "T")  # datetimeRepl
        for layout, has_date, has_time, has_seconds, has_zone in _DT_LAYOUTS:
            parts = _go_parse(val, has_date, has_time, has_seconds, has_zone)
            if parts is not None:
                if _missing_leading_zero(val, layout):
                    break
                return _datetime_value(val, parts, has_date, has_time, has_zone)
        self.panic_item(it, "invalid datetime: %s" % _go_quote(val))  # errParseDate

    def value_array(self, it: tuple, depth: int) -> list:
        self.set_type(self.current_key, "Array", it)
        array: list = []
        it = self.next()
        while it[0] != ARRAY_END:
            if it[0] == COMMENT_START:
                self.expect(TEXT)
            else:
                array.append(self.value(it, True, depth + 1)[0])
            it = self.next()
        return array

    def value_inline_table(self, it: tuple, parent_is_array: bool, depth: int) -> dict:
        top_hash: dict = {}
        outer_context = self.context
        outer_key = self.current_key
        self.context = self.context + [self.current_key]
        prev_context = self.context
        if len(prev_context) > MAX_KEY_PARTS + MAX_VALUE_NESTING:
            self.too_deep("inline tables whose keys have more than %d parts together"
                          % (MAX_KEY_PARTS + MAX_VALUE_NESTING), it)
        self.current_key = ""
        outer_trunc = self.trunc
        trunc = None
        if len(prev_context) >= KEPT_PARTS:
            # the first parts of every key below are the same: keep one cut key for them all
            trunc = self.trunc = outer_trunc or (*prev_context[:KEPT_PARTS], "...")
        self.add_implicit(self.context)
        self.add_context(self.context, parent_is_array)
        it = self.next()
        while it[0] != ITABLE_END:
            if it[0] == COMMENT_START:
                self.expect(TEXT)
                it = self.next()
                continue
            key = self.read_key(KEY_END)
            self.current_key = key[-1]
            context = key[:-1]
            for part in context:
                self.add_implicit_context(self.context + [part])
            if trunc is not None and len(self.context) >= KEPT_PARTS:
                self.ordered.append(trunc)  # one shared tuple for every key this deep
            else:
                self.ordered.append(_kept(self.context, self.current_key))
            val, vtyp = self.value(self.next(), False, depth + 1)
            self.set_value(self.current_key, val)
            self.set_type(self.current_key, vtyp, it)
            h = top_hash
            for c in context:
                sub = h.get(c)
                if sub is None:
                    sub = h[c] = {}
                if type(sub) is not dict:
                    self.panicf("%s is not a table" % _go_quote(key_string(self.context)))
                h = sub
            h[self.current_key] = val
            self.context = prev_context
            it = self.next()
        self.context = outer_context
        self.current_key = outer_key
        self.trunc = outer_trunc
        return top_hash

    def replace_escapes(self, it: tuple, s: str) -> str:
        if "\\" not in s:
            return s
        out = []
        i = 0
        n = len(s)
        while i < n:
            c = s[i]
            if c != "\\":
                j = s.find("\\", i)
                if j < 0:
                    j = n
                out.append(s[i:j])
                i = j
                continue
            if i + 1 >= n:  # Go: index out of range
                self._raise("runtime error: index out of range", it[2], it[3], go_panic=True)
            e = s[i + 1]
            simple = _ESCAPES.get(e)
            if simple is not None:
                out.append(simple)
                i += 2
            elif e == " " or e == "\t":
                self.panic_item(it, "invalid escape: '\\%s'" % e)
            elif e in _HEX_WIDTH:
                width = _HEX_WIDTH[e]
                out.append(self.ascii_escape_to_unicode(it, s[i + 2:i + 2 + width]))
                i += 2 + width
            else:
                self.bug("Expected valid escape code after \\, but got %s." % _go_quote_rune(e))
        return "".join(out)

    def ascii_escape_to_unicode(self, it: tuple, s: str) -> str:
        if not s or not all(c in _HEX for c in s):
            self.bug("Could not parse '%s' as a hexadecimal number, but the lexer claims it's "
                     "OK" % s)
        cp = int(s, 16)
        if cp > 0x7FFFFFFF:  # rune(uint64) wraps to a negative rune
            cp = -1
        if not (0 <= cp < 0xD800 or 0xDFFF < cp <= 0x10FFFF):
            self.panic_item(it, "Escaped character '\\u%s' is not valid UTF-8." % s)
        return chr(cp)

    # -- tables -----------------------------------------------------------------------------

    def resolve(self, path: list, create: bool) -> dict:
        """The table a context path names, walked from the root as addContext (`create`:
        missing tables are made, implicit) and setValue (missing: a bug) walk it.

        Walks are remembered until the mapping changes under a known path (a value replaced,
        a table appended to an array of tables): a remembered walk found every part already
        there, so repeating it would do nothing but find them again. With it, a table nested
        64 deep costs one step per level instead of a walk from the root."""
        key = tuple(path)
        cache = self.walks
        h = cache.get(key)
        if h is not None:
            return h
        n = len(path)
        start = 0
        h = self.mapping
        if n > 1:
            parent = cache.get(key[:-1])
            if parent is not None:
                h = parent
                start = n - 1
        for i in range(start, n):
            k = path[i]
            if k not in h:
                if not create:
                    self.bug("Context for key '%s' has not been established."
                             % key_string(path[:i + 1]))
                self.add_implicit(path[:i + 1])
                h[k] = {}
            t = h[k]
            if type(t) is TableArray:
                h = t[-1]
            elif type(t) is dict:
                h = t
            elif create:
                self.panicf("Key '%s' was already created as a hash." % key_string(path[:i + 1]))
            else:
                self.panicf("Key '%s' has already been defined." % key_string(path[:i + 1]))
        cache[key] = h
        return h

    def add_context(self, key: list, array: bool) -> None:
        key_context = key[:-1]
        hash_context = self.resolve(key_context, True)
        self.context = key_context
        last = key[-1]
        if array:
            if last not in hash_context:
                hash_context[last] = TableArray()
            arr = hash_context[last]
            if type(arr) is TableArray:
                arr.append({})
                self.walks.clear()  # paths through this array now lead to the new table
            else:
                self.panicf("Key '%s' was already created and cannot be used as an array."
                            % key_string(key))
        else:
            self.set_value(last, {})
        self.context = key_context + [last]

    def set_value(self, key: str, value: Any) -> None:
        h = self.resolve(self.context, False)
        if key in h:
            path = (*self.context, key)
            if path in self.arrays:
                if path not in self.implicits:
                    self.panicf("Key '%s' has already been defined." % key_string(path))
                self.implicits.discard(path)
                h[key] = value
                self.walks.clear()  # a table replaced by an array: walks through it change
                return
            if path in self.implicits:
                self.implicits.discard(path)
                return
            self.panicf("Key '%s' has already been defined." % key_string(path))
        h[key] = value

    def set_type(self, key: str, typ: str, it: tuple) -> None:
        path = tuple(self.context)
        if key:
            path += (key,)
        if not path:
            path = ("",)
        if typ == "Array":
            self.arrays.add(path)
        else:
            self.arrays.discard(path)
        if len(path) <= KEPT_PARTS:
            self.positions[path] = (it[2], it[3])

    def add_implicit(self, key: list) -> None:
        self.implicits.add(tuple(key))

    def add_implicit_context(self, key: list) -> None:
        self.add_implicit(key)
        self.add_context(key, False)


_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", "e": "\x1b", '"': '"',
            "\\": "\\"}
_HEX_WIDTH = {"x": 2, "u": 4, "U": 8}
_INF = float("inf")


def parse16(text: str) -> Doc16:
    """Decode ``text`` as BurntSushi/toml v1.6.0's ``parse`` does; raises Toml16Error."""
    # Read over a BOM (UTF-16's are two undecodable bytes here, UTF-8's one character).
    if text[:2] in ("\udcff\udcfe", "\udcfe\udcff"):
        text = text[2:]
    elif text[:1] == "\ufeff":
        text = text[1:]
    i = text.find("\x00", 0, 6)
    if i >= 0:
        message = ("files cannot contain NULL bytes; probably using UTF-16; TOML files must "
                   "be UTF-8")
        raise Toml16Error("toml: line 1: " + message, 1, "", message, offset=i)
    parser = _Parser(text)
    try:
        return parser.run()
    except RecursionError:  # unreachable with the bounds above; never a traceback
        parser._raise("values nested too deeply for katacfg", parser.pos_line, None)
    except _GoPanic as exc:
        parser._raise(str(exc), parser.pos_line, None, go_panic=True)
    raise AssertionError("unreachable")
