"""TOML decoding with the exact behaviour of the Go decoder used by Kata 1.x.

Kata Containers 1.x reads ``configuration.toml`` with BurntSushi/toml v0.3.1,
a TOML 0.4 decoder with its own quirks (no dotted keys, homogeneous arrays,
implicit tables redefinable once, a lazy lexer whose error surfaces only when
the parser pulls it, messages of the form ``Near line N (last key parsed
'K'): ...``).  This module reproduces that behaviour and additionally records
the source position of every key.

Two parsers share one result format:

* a *fast path* (:func:`_parse_fast`): a line-oriented scanner built on one
  precompiled regular expression that understands the shapes of ordinary
  Kata files (blank and comment lines, ``[a.b]`` headers with bare names,
  ``key = value`` with simple strings, integers, floats, booleans and one-line
  arrays of simple strings or integers).  It never reports an error: on
  anything else (escapes, multi-line values, inline tables, quoted keys,
  array tables, redefinitions, ``\\r``, NUL, undecodable bytes, ...) it gives up
  and returns ``None``;
* a *slow path* (:func:`_parse_slow`): a character-level re-implementation of
  the Go lexer state machine and parser.  It is the only producer of errors.

Line numbers in messages are the parser's ``approxLine``: the line of the last
key, first table-name part or top-level comment that the parser consumed when
the failure surfaced.  Because the Go lexer only runs until the next item is
available, the error of the lexer is seen exactly when the parser asks for
that item; the port keeps the same pull order.

Places where the Go library would not return an error but crash with an
internal ``panic`` (its ``p.bug(...)`` calls, a slice out of range) are
reported as :class:`TomlSyntaxError` with ``go_panic = True`` and a detail text
starting with ``BUG:`` (or ``runtime error:``).  Reachable cases:

* a comment inside an inline table (``a = { # x``), Go: ``BUG: Expected key
  start but instead found "", around line N``;
* a multi-line basic string whose line-ending backslash is followed by
  ``\\r\\n``, or whose escaped backslash ends a line (Go's escape stripping
  mis-handles both), e.g. ``BUG: Expected valid escape code after \\, but got
  '\\r'.`` / ``BUG: Escape sequence at end of string.``.

Source text containing undecodable bytes should be decoded with
``errors="surrogateescape"`` (see :func:`parse_bytes`); each such byte then
behaves like Go's ``utf8.RuneError`` of width one.

Known deviation (every input is hostile): a table name of more than
``MAX_TABLE_NAME_PARTS`` parts, or arrays/inline tables nested more than
``MAX_VALUE_NESTING`` deep, are refused (``... has N parts; katacfg reads at most
64``) where Go accepts them; this keeps the cost of any input linear in its size.

Datetimes follow ``time.ParseInLocation`` of a current Go toolchain (Go >=
1.20: two-digit zone offsets checked with ``getnum``, zone hour <= 24 and
minute <= 60; more than nine fractional digits are truncated).  Older Go
releases differed in these corner cases only.
"""
from __future__ import annotations

from katacfg.config.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime

__all__ = [
    "TomlSyntaxError",
    "TableArray",
    "GoDatetime",
    "Document",
    "parse",
    "parse_bytes",
    "go_type_name",
    "go_quote",
    "go_quote_rune",
]


# Nesting bounds. Kata's files use table names of two or three parts and arrays one level
# deep; every name prefix and nested value carries its own position, so a 20,000-part header
# (40 KB of input) would cost 20,000**2 / 2 path elements (1.6 GB). 64 is twenty times any
# real file and keeps the worst 1 MiB input (safeio.MAX_CONFIG_BYTES) within seconds and the
# memory ceiling; it is also far below Python's recursion limit.
MAX_TABLE_NAME_PARTS = 64
MAX_VALUE_NESTING = 64


# ---------------------------------------------------------------------------
# Public value types
# ---------------------------------------------------------------------------


class TomlSyntaxError(Exception):
    """A decoding failure, worded exactly as the Go decoder words it.

    ``message``  full Go text: ``Near line N (last key parsed 'K'): <detail>``
    ``line``     N, the Go parser's approximate line
    ``column``   1-based column of the offending character (our own estimate),
                 counted on line ``char_line``
    ``char_line`` the line of that character (may differ from ``line``)
    ``detail``   the bare lexer/parser message after ``"): "``
    ``key``      the "last key parsed" text
    ``go_panic`` True when Go would have crashed instead of returning an error
    """

    def __init__(
        self,
        message: str,
        line: int,
        column: int | None,
        detail: str,
        *,
        char_line: int | None = None,
        key: str = "",
        offset: int | None = None,
        go_panic: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.detail = detail
        self.char_line = char_line
        self.key = key
        self.offset = offset
        self.go_panic = go_panic

    def __str__(self) -> str:
        return self.message


class TableArray(list):
    """The value of an array of tables ``[[x]]`` (Go ``[]map[string]interface {}``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"TableArray({list.__repr__(self)})"


class GoDatetime:
    """A TOML datetime as Go holds it (``time.Time``).

    ``text`` is the raw TOML text; ``value`` a :class:`datetime.datetime`
    (naive for Go's ``time.Local``, aware otherwise) or ``None`` when Python
    cannot represent it (year 0).  Components are kept with nanoseconds.
    ``utc_offset`` is ``None`` for local times, else seconds east of UTC.
    """

    __slots__ = (
        "text", "year", "month", "day", "hour", "minute", "second",
        "nanosecond", "utc_offset", "value",
    )

    def __init__(self, text: str, year: int, month: int, day: int, hour: int = 0,
                 minute: int = 0, second: int = 0, nanosecond: int = 0,
                 utc_offset: int | None = None) -> None:
        self.text = text
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
        self.nanosecond = nanosecond
        self.utc_offset = utc_offset
        self.value = self._to_datetime()

    def _to_datetime(self) -> datetime | None:
        # datetime is imported here: few configurations hold one, and start-up counts
        from datetime import UTC, timedelta, timezone
        from datetime import datetime as _dt

        try:
            naive = _dt(self.year, self.month, self.day, self.hour, self.minute,
                        self.second, self.nanosecond // 1000)
        except ValueError:
            return None
        if self.utc_offset is None:
            return naive
        try:
            return naive.replace(tzinfo=timezone(timedelta(seconds=self.utc_offset)))
        except ValueError:
            try:
                return (naive - timedelta(seconds=self.utc_offset)).replace(tzinfo=UTC)
            except OverflowError:
                return None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GoDatetime):
            return NotImplemented
        return self.text == other.text

    def __hash__(self) -> int:
        return hash(("GoDatetime", self.text))

    def __repr__(self) -> str:
        return f"GoDatetime({self.text!r})"

    def __str__(self) -> str:
        return self.text


class Document(Record):
    """Decoded data plus the position (line, column; 1-based) of every key.

    Keys of ``positions`` are paths: table/key names, plus integer indexes for
    the elements of arrays of tables (and of plain arrays holding inline
    tables), e.g. ``("hypervisor", "qemu", "path")`` or ``("a", 0, "x")``.
    A table path points at its name in the header that defined it (for an
    implicitly created parent: the first header that mentioned it, replaced
    by the header that later defines it explicitly).  ``("t",)`` of an array
    of tables points at the first ``[[t]]``, ``("t", i)`` at the i-th.
    """

    data: dict
    positions: dict


# Python type of a decoded value -> Go's %T of what the Go decoder holds (bool before int,
# TableArray before list: the more specific type first).
_GO_TYPE_NAMES: tuple[tuple[type, str], ...] = (
    (bool, "bool"), (str, "string"), (int, "int64"), (float, "float64"),
    (GoDatetime, "time.Time"), (TableArray, "[]map[string]interface {}"),
    (list, "[]interface {}"), (dict, "map[string]interface {}"),
)


def go_type_name(value: object) -> str:
    """Go's ``%T`` of the value the Go decoder holds for ``value``."""
    for cls, name in _GO_TYPE_NAMES:
        if isinstance(value, cls):
            return name
    raise TypeError(f"not a decoded TOML value: {type(value).__name__}")


# ---------------------------------------------------------------------------
# Go string/rune quoting (strconv.Quote / strconv.QuoteRune, i.e. %q)
# ---------------------------------------------------------------------------

_SIMPLE_ESCAPES = {
    "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n",
    "\r": "\\r", "\t": "\\t", "\v": "\\v",
}


def _escape_rune(c: str, quote: str) -> str:
    if c == quote or c == "\\":
        return "\\" + c
    if c.isprintable():
        return c
    e = _SIMPLE_ESCAPES.get(c)
    if e is not None:
        return e
    o = ord(c)
    if o < 0x20 or o == 0x7F:
        return "\\x%02x" % o
    if o < 0x10000:
        return "\\u%04x" % o
    return "\\U%08x" % o


def _utf8_bytes(s: str) -> bytes:
    try:
        return s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogatepass")


def go_quote_rune(c: str) -> str:
    """Go ``%q`` of one rune (``strconv.QuoteRune``); ``c`` is one character.

    A surrogate (an undecodable byte kept by ``surrogateescape``) stands for
    Go's ``utf8.RuneError``.
    """
    if "\ud800" <= c <= "\udfff":
        c = "\ufffd"
    return "'" + _escape_rune(c, "'") + "'"


def go_quote(s: str) -> str:
    """Go ``%q`` of a string (``strconv.Quote``)."""
    out = ['"']
    for c in s:
        if "\ud800" <= c <= "\udfff":
            for b in _utf8_bytes(c):
                out.append("\\x%02x" % b)
        else:
            out.append(_escape_rune(c, '"'))
    out.append('"')
    return "".join(out)


# ---------------------------------------------------------------------------
# Lexer (a port of the state machine of BurntSushi/toml v0.3.1 lex.go)
# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# Fast path
# ---------------------------------------------------------------------------

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_NOT_BARE = {ord(c): None for c in _BARE}  # str.translate deletes bare-key characters
_DIGITS = frozenset("0123456789")
_INF = float("inf")


def _is_bare(name: str) -> bool:
    return bool(name) and not name.translate(_NOT_BARE)


def _is_int(text: str) -> bool:
    """[+-]?[0-9]{1,18}: fits int64 without a range check."""
    digits = text[1:] if text[:1] in ("+", "-") else text
    return 0 < len(digits) <= 18 and digits.isascii() and digits.isdigit()


def _float_text(text: str) -> bool:
    """[+-]?[0-9]+(\\.[0-9]+([eE][+-]?[0-9]+)?|[eE][+-]?[0-9]+)"""
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body.isascii():
        return False
    mantissa, e, exponent = body.replace("E", "e").partition("e")
    whole, dot, frac = mantissa.partition(".")
    if not (whole.isdigit() and (not dot or frac.isdigit())):
        return False
    if not e:
        return bool(dot)
    if dot and not frac:
        return False
    exponent = exponent[1:] if exponent[:1] in ("+", "-") else exponent
    return exponent.isdigit()


def _end_ok(rest: str) -> bool:
    """What may follow a value or a header on its line: blanks, then a comment."""
    rest = rest.lstrip(" \t")
    return not rest or rest[0] == "#"


def _array(text: str, i: int) -> tuple[list | None, int]:
    """A one-line array of plain strings, or of small integers, starting at text[i] == '['.

    Returns (values, index after ']') or (None, _) when the shape is anything else.
    """
    n = len(text)
    i += 1
    values: list = []
    kind = ""
    while True:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            return None, i
        c = text[i]
        if c == "]":
            return values, i + 1
        if c == '"' or c == "'":
            j = text.find(c, i + 1)
            if j < 0:
                return None, i
            item = text[i + 1:j]
            if c == '"' and "\\" in item:
                return None, i
            if kind == "int":
                return None, i
            kind = "str"
            values.append(item)
            i = j + 1
        else:
            j = i
            while j < n and text[j] not in " \t,]":
                j += 1
            item = text[i:j]
            if kind == "str" or not _is_int(item):
                return None, i
            kind = "int"
            values.append(int(item))
            i = j
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            return None, i
        if text[i] == ",":
            i += 1
        elif text[i] != "]":
            return None, i


def _has_surrogate(text: str) -> bool:
    """Undecodable bytes (surrogateescape) are for the slow path, which treats them as Go."""
    return any("\ud800" <= c <= "\udfff" for c in text)


def _parse_fast(text: str, implicit_positions: bool = True):
    """Parse the common shapes of Kata files; ``None`` means "use the slow path".

    Line by line with str methods (no regular expressions: importing `re` costs 5 ms of
    start-up). Accepts only: blank and comment lines; `[a.b]` headers of bare names; `key =`
    with a bare key and a one-line basic or literal string without escapes, an integer of
    at most 18 digits, true/false, a float, or a one-line array of such strings or
    integers; each optionally followed by a comment. Never raises TomlSyntaxError and never
    accepts what the Go decoder rejects (the slow path decides everything else).

    ``implicit_positions=False`` leaves out the positions of implicit tables (``a`` of a lone
    ``[a.b]``), as v1.6's keyInfo does: positions are then the keys and headers, in order.
    """
    if "\r" in text or "\x00" in text:
        return None
    if not text.isascii() and _has_surrogate(text):
        return None
    root: dict = {}
    cur = root
    cur_path: tuple = ()
    positions: dict = {}
    for number, line in enumerate(text.split("\n"), 1):
        s = line.lstrip(" \t")
        if not s or s[0] == "#":
            continue
        indent = len(line) - len(s)
        if s[0] == "[":
            table = _fast_header(s, indent, number, root, positions, implicit_positions)
            if table is None:
                return None
            cur, cur_path = table
            continue
        key, eq, value = s.partition("=")
        key = key.rstrip(" \t")
        if not eq or not _is_bare(key) or key in cur:
            return None
        value = value.lstrip(" \t")
        c = value[:1]
        if c == '"' or c == "'":
            end = value.find(c, 1)
            if end < 0:
                return None
            v: object = value[1:end]
            if c == '"' and "\\" in v:  # type: ignore[operator]
                return None
            rest = value[end + 1:]
        elif c == "[":
            v, end = _array(value, 0)
            if v is None:
                return None
            rest = value[end:]
        else:
            hash_at = value.find("#")
            word = (value if hash_at < 0 else value[:hash_at]).rstrip(" \t")
            rest = value[len(word):]
            if word == "true" or word == "false":
                v = word == "true"
            elif _is_int(word):
                v = int(word)
            elif _float_text(word):
                v = float(word)
                if v == _INF or v == -_INF:
                    return None
            else:
                return None
        if not _end_ok(rest):
            return None
        cur[key] = v
        positions[cur_path + (key,)] = (number, indent + 1)
    return Document(root, positions)


def _fast_header(s: str, indent: int, number: int, root: dict,
                 positions: dict, implicit_positions: bool = True) -> tuple[dict, tuple] | None:
    """A `[a.b]` header line of the fast path: the new table and its path, or None."""
    close = s.find("]")
    if close < 0 or s[1:2] == "[" or not _end_ok(s[close + 1:]):
        return None
    h = root
    path: tuple = ()
    col = indent + 2  # 1-based column just after '['
    parts = s[1:close].split(".")
    if len(parts) > MAX_TABLE_NAME_PARTS:
        return None  # the slow path refuses it, with its line
    last = len(parts) - 1
    for k, part in enumerate(parts):
        name = part.strip(" \t")
        if not _is_bare(name):
            return None
        name_col = col + (len(part) - len(part.lstrip(" \t")))
        col += len(part) + 1
        path += (name,)
        if k == last:
            if name in h:
                return None
            table: dict = {}
            h[name] = table
            positions[path] = (number, name_col)
            return table, path
        t = h.get(name)
        if t is None:
            t = h[name] = {}
            if implicit_positions:
                positions[path] = (number, name_col)
        elif type(t) is not dict:
            return None
        h = t
    return None


# Set to False to force every parse through the character-level port.
FAST_PATH_ENABLED = True


def parse(text: str) -> Document:
    """Decode ``text`` as BurntSushi/toml v0.3.1 would; raises TomlSyntaxError."""
    if FAST_PATH_ENABLED:
        doc = _parse_fast(text)
        if doc is not None:
            return doc
    return _parse_slow(text)


def _parse_slow(text: str) -> Document:
    """The faithful character-level port of Go's lexer and parser (katacfg.gocompat._gotoml_slow),
    imported only when the fast path gives up: it is most of this decoder's import cost."""
    from katacfg.gocompat._gotoml_slow import parse_slow

    return parse_slow(text)


def parse_bytes(data: bytes) -> Document:
    """Decode raw file bytes; undecodable bytes behave like Go's RuneError."""
    return parse(data.decode("utf-8", "surrogateescape"))
