"""Go ``strconv`` behaviours Kata's error texts depend on (Go 1.14-1.16).

Go strings are byte strings.  A Python ``str`` is mapped to the bytes Go
would hold with :func:`go_bytes`: normal characters are UTF-8 encoded,
``surrogateescape`` characters (U+DC80..U+DCFF, what ``os.fsdecode`` makes
of undecodable bytes) become the original raw byte, and any other lone
surrogate becomes its 3-byte (invalid in Go) encoding.
"""

from __future__ import annotations

__all__ = [
    "NumError",
    "parse_uint",
    "parse_bool",
    "quote",
    "quote_rune",
    "go_bytes",
    "decode_rune",
    "is_print",
    "RUNE_ERROR",
]

RUNE_ERROR = 0xFFFD
MAX_RUNE = 0x10FFFF

_LOWERHEX = "0123456789abcdef"


# --------------------------------------------------------------------------
# UTF-8 helpers shared by the gocompat modules
# --------------------------------------------------------------------------


def go_bytes(s: str | bytes) -> bytes:
    """Return the bytes a Go string holding ``s`` would contain (see module doc)."""
    if isinstance(s, bytes):
        return s
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError:
        pass
    out = bytearray()
    for ch in s:
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:
            out.append(o - 0xDC00)
        else:
            out += ch.encode("utf-8", "surrogatepass")
    return bytes(out)


def _seq_len(b0: int) -> int:
    """Length of the UTF-8 sequence announced by lead byte ``b0`` (0 if invalid)."""
    if b0 < 0x80:
        return 1
    if 0xC2 <= b0 <= 0xDF:
        return 2
    if 0xE0 <= b0 <= 0xEF:
        return 3
    if 0xF0 <= b0 <= 0xF4:
        return 4
    return 0


def decode_rune(b: bytes, i: int = 0) -> tuple[int, int]:
    """Go ``utf8.DecodeRune(b[i:])``: (rune, width); (RuneError, 1) if invalid, (RuneError, 0) if empty."""
    if i >= len(b):
        return RUNE_ERROR, 0
    b0 = b[i]
    if b0 < 0x80:
        return b0, 1
    n = _seq_len(b0)
    if n == 0 or i + n > len(b):
        return RUNE_ERROR, 1
    try:
        # Python's strict decoder rejects overlong forms, surrogates and
        # values above U+10FFFF exactly like Go's decoder.
        ch = b[i:i + n].decode("utf-8")
    except UnicodeDecodeError:
        return RUNE_ERROR, 1
    return ord(ch), n


def is_print(r: int) -> bool:
    """Go ``strconv.IsPrint``/``unicode.IsPrint``: categories L, M, N, P, S plus U+0020."""
    if r == 0x20:
        return True
    if r < 0x20 or r == 0x7F or r > MAX_RUNE or 0xD800 <= r <= 0xDFFF:
        return False
    if r < 0x7F:
        return True
    import unicodedata  # only for non-ASCII runes (a C module, but an import all the same)

    return unicodedata.category(chr(r))[0] in "LMNPS"


# --------------------------------------------------------------------------
# Quote
# --------------------------------------------------------------------------


def _append_escaped_rune(buf: list[str], r: int, quote_char: str) -> None:
    """Go ``appendEscapedRune`` (ASCIIonly = graphicOnly = false)."""
    if r == ord(quote_char) or r == 0x5C:
        buf.append("\\" + chr(r))
        return
    if is_print(r):
        buf.append(chr(r))
        return
    simple = {
        0x07: "\\a",
        0x08: "\\b",
        0x0C: "\\f",
        0x0A: "\\n",
        0x0D: "\\r",
        0x09: "\\t",
        0x0B: "\\v",
    }
    if r in simple:
        buf.append(simple[r])
    elif r < 0x20 or r == 0x7F:
        buf.append("\\x" + _LOWERHEX[r >> 4] + _LOWERHEX[r & 0xF])
    else:
        if r > MAX_RUNE:
            r = RUNE_ERROR
        if r < 0x10000:
            buf.append("\\u%04x" % r)
        else:
            buf.append("\\U%08x" % r)


def quote(s: str | bytes) -> str:
    """Go ``strconv.Quote``: double-quoted Go literal, used in strconv and %q error texts."""
    b = go_bytes(s)
    buf = ['"']
    i = 0
    n = len(b)
    while i < n:
        r, width = decode_rune(b, i)
        if width == 1 and r == RUNE_ERROR:
            c = b[i]
            buf.append("\\x" + _LOWERHEX[c >> 4] + _LOWERHEX[c & 0xF])
            i += 1
            continue
        _append_escaped_rune(buf, r, '"')
        i += width
    buf.append('"')
    return "".join(buf)


def quote_rune(ch: str | int) -> str:
    """Go ``strconv.QuoteRune`` (fmt ``%q`` of a rune): single-quoted, invalid runes become U+FFFD."""
    r = ord(ch) if isinstance(ch, str) else int(ch)
    if r < 0 or r > MAX_RUNE or 0xD800 <= r <= 0xDFFF:
        r = RUNE_ERROR
    buf = ["'"]
    _append_escaped_rune(buf, r, "'")
    buf.append("'")
    return "".join(buf)


# --------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------


class NumError(ValueError):
    """Go ``*strconv.NumError``; ``str()`` is Go's exact ``Error()`` text."""

    def __init__(self, func: str, num: str, err: str) -> None:
        self.func = func
        self.num = num
        self.err = err
        super().__init__(f"strconv.{func}: parsing {quote(num)}: {err}")

    def __str__(self) -> str:
        return f"strconv.{self.func}: parsing {quote(self.num)}: {self.err}"


ERR_SYNTAX = "invalid syntax"
ERR_RANGE = "value out of range"


def parse_uint(s: str, bits: int = 32) -> int:
    """Go ``strconv.ParseUint(s, 10, bits)`` (Go 1.14 rules): digits only; overflow reported
    when first seen."""
    if 0 < len(s) <= 9 and 30 <= bits <= 64 and s.isdigit() and s.isascii():
        return int(s)  # ASCII digits below 10**9 <= 2**30: the loop below would agree
    func = "ParseUint"
    if s == "":
        raise NumError(func, s, ERR_SYNTAX)
    if bits == 0:
        bits = 64
    elif bits < 0 or bits > 64:
        raise NumError(func, s, "invalid bit size " + str(bits))
    max_val = (1 << bits) - 1
    n = 0
    # Go walks the bytes in order: the first offending byte decides the
    # error (a value already out of range wins over a later bad byte).
    for c in go_bytes(s):
        if 0x30 <= c <= 0x39:
            d = c - 0x30
        else:
            # letters are digits >= base 10, anything else is not a digit:
            # both are syntax errors for base 10.
            raise NumError(func, s, ERR_SYNTAX)
        n = n * 10 + d
        if n > max_val:
            raise NumError(func, s, ERR_RANGE)
    return n


_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_bool(s: str) -> bool:
    """Go ``strconv.ParseBool``: only Go's 12 spellings; otherwise NumError (a ValueError)."""
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise NumError("ParseBool", s, ERR_SYNTAX)
