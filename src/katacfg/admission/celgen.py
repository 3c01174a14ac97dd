"""Pieces of CEL for the generated admission policies: literals and regular expressions.

CEL's `matches` is RE2, unanchored, exactly like Go's regexp.MatchString that Kata's
enable_annotations check uses; everything else Kata matches (Go filepath.Match globs,
containerd's path.Match patterns, strconv's digit rules) is turned into anchored RE2 here.
Only the standard library of CEL is used in validation expressions (plus `substring` of the
strings extension, which Kubernetes has enabled since 1.27); messageExpressions may use
`replace` and `split` from the same extension.
"""
from __future__ import annotations

from katacfg.gocompat.glob import BadPattern, _clean_bytes, _get_esc, _has_meta, _pattern_ok
from katacfg.gocompat.strconv import go_bytes

# Annotations API limit (apimachinery ValidateAnnotations): keys + values, in bytes.
ANNOTATIONS_SIZE_LIMIT = 256 * 1024
UINT32_MAX = 4294967295
# Longest path filepath.Glob can return on Linux: an openable directory (< PATH_MAX 4096)
# joined with one directory entry name (<= NAME_MAX 255).
GLOB_RESULT_MAX = 4095 + 1 + 255


def lit(s: str) -> str:
    """A CEL string literal for `s` (single quotes; escapes for quote, backslash, controls)."""
    out = ["'"]
    for ch in s:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif 0xD800 <= o <= 0xDFFF:  # a lone surrogate cannot be in a CEL source
            out.append("\\ufffd")
        elif not ch.isprintable():  # keep YAML and JSON output plain (U+2028 is a newline)
            out.append(f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{o:08x}")
        else:
            out.append(ch)
    out.append("'")
    return "".join(out)


def lit_list(items: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(lit(i) for i in items) + "]"


_RE2_SPECIAL = set("\\.+*?()|[]{}^$")


def re_escape(s: str) -> str:
    """RE2 literal text for `s` (only RE2's metacharacters escaped, so it stays readable)."""
    out = []
    for ch in s:
        o = ord(ch)
        if ch in _RE2_SPECIAL:
            out.append("\\" + ch)
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{{{o:x}}}")
        else:
            out.append(ch)
    return "".join(out)


def _class_char(r: int) -> str:
    ch = chr(r)
    if ch.isalnum() and r < 0x80:
        return ch
    return f"\\x{{{r:x}}}"


# ----------------------------------------------------------------------------- Go regexp


def unterminated_quote(pattern: str) -> bool:
    """Whether a Go regexp ends inside a \\Q...\\E literal (it would swallow what follows)."""
    i, n, quoted = 0, len(pattern), False
    while i < n:
        if quoted:
            if pattern.startswith("\\E", i):
                quoted = False
                i += 2
            else:
                i += 1
        elif pattern[i] == "\\":
            if pattern.startswith("\\Q", i):
                quoted = True
            i += 2
        else:
            i += 1
    return quoted


def alternation(patterns: list[str]) -> str:
    """One RE2 that finds a match wherever one of `patterns` does (unanchored search).

    Each pattern is wrapped in a non-capturing group, in which Go scopes its flags; a
    pattern that ends inside \\Q is closed with \\E first. Patterns must already compile.
    """
    if len(patterns) == 1:
        return patterns[0]
    parts = []
    for p in patterns:
        if unterminated_quote(p):
            p += "\\E"
        parts.append(f"(?:{p})")
    return "|".join(parts)


def _scan_top(pattern: str) -> tuple[list[int], bool, bool] | None:
    """Positions of unescaped '^' outside classes, whether there is a \\A, and whether
    there is a '|' outside groups; None when the pattern is too unusual to tell."""
    carets: list[int] = []
    start_anchor = bar = False
    depth = 0
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n:
                return None
            nxt = pattern[i + 1]
            if nxt == "A":
                start_anchor = True
            elif nxt == "Q":
                return None
            i += 2
            continue
        if ch == "[":
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                if pattern[j] == "\\":
                    j += 1
                elif pattern.startswith("[:", j):
                    end = pattern.find(":]", j + 2)
                    if end < 0:
                        return None
                    j = end + 1
                j += 1
            if j >= n:
                return None
            i = j + 1
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            bar = True
        elif ch == "^":
            carets.append(i)
        i += 1
    return carets, start_anchor, bar


def gate_key_regex(prefix: str, patterns: list[str]) -> str | None:
    """One RE2 on a whole annotation name that starts with `prefix`, equivalent to Kata's
    unanchored search of each pattern in the name after it; None when some pattern cannot
    be rewritten.

    A pattern without '^' or \\A may match anywhere after the prefix: `prefix.*(?:p)`. A
    pattern that starts with its only '^' and has no top-level '|' matches right after it.
    (At the prefix's end, \\b and \\B see the '.' before the name, which is not a word
    character, exactly as they see the start of text.) Names hold no newline.
    """
    alts = []
    for p in patterns:
        shape = _scan_top(p)
        if shape is None or unterminated_quote(p):
            return None
        carets, start_anchor, bar = shape
        if start_anchor:
            return None
        if not carets:
            alts.append(f".*(?:{p})")
        elif carets == [0] and not bar and p[1:2] not in ("*", "+", "?", "{"):
            alts.append(f"(?:(?:){p[1:]})")  # '^' is true right after the prefix
        else:
            return None
    if not alts:
        return None
    from katacfg.gocompat.re2 import compile_go

    # The caller has checked startsWith(prefix): skip it by length (a shorter regex is a
    # cheaper one in cel-go's cost model). The prefix is ASCII: one character per byte.
    rx = "^.{" + str(len(prefix)) + "}(?:" + "|".join(alts) + ")"
    return rx if compile_go(rx) is not None else None


# Patterns that find a match in every non-empty string without a newline (an annotation
# name's suffix is never empty: a valid key cannot end with '.').
MATCH_ANY = frozenset({"", ".*", ".+", ".", "^.*", "^.+", "^.", ".*$", ".+$", "^.*$",
                       "^.+$", "(.*)", "(?:.*)", "(.+)"})


# ----------------------------------------------------------------------------- strconv


def le_digits(bound: str) -> str:
    """RE2 (no anchors) for a decimal number of len(bound) digits that is <= bound."""
    alts = []
    n = len(bound)
    for i, d in enumerate(bound):
        digit = int(d)
        if digit == 0:
            continue
        rest = n - i - 1
        head = re_escape(bound[:i])
        cls = "0" if digit == 1 else f"[0-{digit - 1}]"
        alts.append(head + cls + (f"[0-9]{{{rest}}}" if rest > 1 else "[0-9]" if rest else ""))
    alts.append(bound)
    return "|".join(alts)


def gt_digits(bound: str) -> str:
    """RE2 (no anchors) for a decimal number of len(bound) digits that is > bound."""
    alts = []
    n = len(bound)
    for i, d in enumerate(bound):
        digit = int(d)
        if digit == 9:
            continue
        rest = n - i - 1
        head = re_escape(bound[:i])
        cls = "9" if digit == 8 else f"[{digit + 1}-9]"
        alts.append(head + cls + (f"[0-9]{{{rest}}}" if rest > 1 else "[0-9]" if rest else ""))
    return "|".join(alts)


# The leading run of digits overflows uint32: Go's ParseUint then says "value out of range"
# even when a non-digit follows (it stops at the overflow).
UINT32_OVERFLOW_PREFIX = "^0*(?:[1-9][0-9]{10}|" + gt_digits(str(UINT32_MAX)) + ")"
# A value strconv.ParseUint(v, 10, 32) accepts, as a cheap guard before int(): at most ten
# significant digits (int() then cannot overflow and never sees a sign or a space).
UINT_GUARD = "^0*[0-9]{1,10}$"


# ----------------------------------------------------------------------------- Go globs


def _component_rx(pattern: bytes, *, in_path: bool) -> str:
    """RE2 for a Go Match pattern. `in_path`: one path component (a name never has '/')."""
    out: list[str] = []
    p = pattern
    while p:
        c = p[0]
        if c == 0x2A:  # '*'
            out.append("[^/]*")
            p = p[1:]
        elif c == 0x3F:  # '?'
            out.append("[^/]")
            p = p[1:]
        elif c == 0x5B:  # '['
            p = p[1:]
            negated = bool(p) and p[0] == 0x5E
            if negated:
                p = p[1:]
            ranges = []
            nrange = 0
            while True:
                if p and p[0] == 0x5D and nrange > 0:
                    p = p[1:]
                    break
                lo, p = _get_esc(p)
                hi = lo
                if p[0] == 0x2D:
                    hi, p = _get_esc(p[1:])
                if lo <= hi:
                    ranges.append(_class_char(lo) if lo == hi
                                  else f"{_class_char(lo)}-{_class_char(hi)}")
                else:  # an empty range matches nothing
                    ranges.append("")
                nrange += 1
            body = "".join(ranges)
            if negated:
                out.append("[^" + ("/" if in_path else "") + body + "]")
            elif body:
                out.append("[" + body + "]")
            else:
                out.append("[^\\x00-\\x{10ffff}]")  # nothing
        else:
            if c == 0x5C:  # '\\'
                p = p[1:]
                if not p:
                    raise BadPattern()
            # one UTF-8 sequence, taken whole
            n = 1
            while n < len(p) and (p[n] & 0xC0) == 0x80:
                n += 1
            out.append(re_escape(p[:n].decode("utf-8", "replace")))
            p = p[n:]
    return "".join(out)


def path_match_rx(pattern: str) -> str | None:
    """Anchored RE2 equivalent of Go path.Match(pattern, key); None if the pattern is
    malformed (containerd ignores the error: such a pattern matches nothing)."""
    b = go_bytes(pattern)
    if not _pattern_ok(b):
        return None
    try:
        return "^" + _component_rx(b, in_path=False) + "$"
    except (BadPattern, IndexError):
        return None


class GlobRx:
    """What filepath.Glob(pattern) can return, as checks on a string (existence aside)."""

    __slots__ = ("literal", "regex", "join_prefix")

    def __init__(self, literal: str | None = None, regex: str | None = None,
                 join_prefix: str = "") -> None:
        self.literal = literal  # no meta characters: returned exactly as written
        self.regex = regex  # unanchored body; the value must match ^(?:regex)$
        # the literal start of every result (the cleaned directory and '/'); after it, Glob
        # joins directory entries: never an empty, '.' or '..' component
        self.join_prefix = join_prefix

    @property
    def bad_rx(self) -> str:
        """Anchored RE2: after join_prefix, some component is empty, '.' or '..'."""
        return "^" + re_escape(self.join_prefix) + "(?:[^/]*/)*\\.{0,2}(?:/|$)"


def glob_rx(pattern: str) -> GlobRx | None:
    """Go filepath.Glob(pattern) as a string check, or None when it can return nothing.

    Glob lists directories, so the names it joins are never '.', '..' or empty, and joins
    are lexically cleaned; a pattern without meta characters comes back exactly as written.
    Whether the path exists on the node cannot be decided here.
    """
    b = go_bytes(pattern)
    if not _pattern_ok(b):
        return None
    if not _has_meta(b):
        return GlobRx(literal=pattern) if pattern else None
    try:
        rx, prefix = _glob_body(b)
    except (BadPattern, IndexError):
        return None
    if rx is None:
        return None
    join = "" if prefix == b"." else "/" if prefix == b"/" else prefix.decode("utf-8", "replace") + "/"
    return GlobRx(regex=rx, join_prefix=join)


def _glob_body(pattern: bytes) -> tuple[str | None, bytes]:
    """RE2 of the results of Glob(pattern) (pattern has meta), and its literal prefix."""
    dir_, file = pattern[:pattern.rfind(b"/") + 1], pattern[pattern.rfind(b"/") + 1:]
    dir_ = b"." if dir_ == b"" else dir_ if dir_ == b"/" else dir_[:-1]
    if file == b"":
        return None, b""  # matches only an empty name: a directory never lists one
    comp = _component_rx(file, in_path=True)
    if not _has_meta(dir_):
        prefix = _clean_bytes(dir_)
        if prefix == b"/":
            return "/" + comp, prefix
        if prefix == b".":
            return comp, prefix
        return re_escape(prefix.decode("utf-8", "replace")) + "/" + comp, prefix
    if dir_ == pattern:
        return None, b""
    inner, prefix = _glob_body(dir_)
    if inner is None:
        return None, b""
    return f"{inner}/{comp}", prefix
