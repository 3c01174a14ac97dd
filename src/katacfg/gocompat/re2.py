"""Go ``regexp`` (RE2 syntax, Perl flags) for Kata's ``enable_annotations`` gate.

Backed by google-re2 (C++ RE2), whose default (non-POSIX) syntax equals
Go's ``syntax.Perl`` flags: ClassNL, OneLine (``^``/``$`` = text
boundaries), PerlX (``\\d \\w \\s \\b \\A \\z``, ``(?:)``, flags ``imsU``,
non-greedy, ``\\Q..\\E``), UnicodeGroups (``\\pN``, ``\\p{Greek}``); ``.``
excludes ``\\n``; case sensitive; repeat counts up to 1000 (also for the
product of nested counts).  Before compiling, the pattern is checked for the
constructs this RE2 accepts but Go 1.14-1.16 rejects:

* ``\\C`` (any byte) outside a class;
* ``(?<name>...)`` (only Go >= 1.22 accepts it);
* ``(?P<name>...)`` with a name outside ``[A-Za-z0-9_]``.

Texts are matched as Go sees them: each invalid UTF-8 byte (or lone
surrogate) of the text is one U+FFFD.

Residual differences (not reproduced):

* Unicode tables: ``\\p{...}`` scripts/categories and ``(?i)`` folding follow
  this RE2's Unicode version, not Go's (12.0/13.0); a script name added later
  (e.g. ``\\p{Vithkuqi}``) compiles here but not in Go 1.15.
* Size: RE2 refuses programs beyond its memory budget (raised here to
  1 GiB); Go 1.14-1.16 has no such limit.  Deep nesting limits likewise
  differ (Go 1.14-1.16 has none).
"""

from __future__ import annotations

import functools

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from katacfg.gocompat.strconv import decode_rune, go_bytes

__all__ = ["GoRegexp", "compile_go", "regexp_contains"]

_MAX_MEM = 1 << 30


class GoRegexp:
    """A compiled Go-compatible regexp; ``search(text)`` is Go's ``MatchString``."""

    __slots__ = ("pattern", "_re")

    def __init__(self, pattern: str, compiled: Any) -> None:
        self.pattern = pattern
        self._re = compiled

    def search(self, text: str) -> bool:
        """True when the pattern matches anywhere in ``text`` (unanchored, like Go)."""
        return self._re.search(_text_bytes(text)) is not None

    def __repr__(self) -> str:
        return f"GoRegexp({self.pattern!r})"


def _text_bytes(text: str) -> bytes:
    """UTF-8 of ``text`` with every byte Go would decode as RuneError replaced by U+FFFD."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    raw = go_bytes(text)
    out = bytearray()
    i = 0
    while i < len(raw):
        _, n = decode_rune(raw, i)
        if n == 1 and raw[i] >= 0x80:
            out += b"\xef\xbf\xbd"  # Go decodes an invalid byte as U+FFFD
        else:
            out += raw[i:i + n]
        i += n
    return bytes(out)


def _is_word_ascii(ch: str) -> bool:
    """Go ``isalnum(c) || c == '_'`` (ASCII only)."""
    return ch == "_" or ("0" <= ch <= "9") or ("A" <= ch <= "Z") or ("a" <= ch <= "z")


def _go_rejects_extra(p: str) -> bool:
    """True for constructs RE2 accepts but Go 1.14-1.16 ``regexp.Compile`` rejects."""
    i = 0
    n = len(p)
    while i < n:
        c = p[i]
        if c == "\\":
            if i + 1 >= n:
                return False  # trailing backslash: RE2 rejects it too
            d = p[i + 1]
            if d == "Q":
                end = p.find("\\E", i + 2)
                if end < 0:
                    return False  # literal up to the end of the pattern
                i = end + 2
                continue
            if d == "C":
                return True
            i += 2
            continue
        if c == "[":
            i = _skip_class(p, i)
            continue
        if c == "(" and p.startswith("(?", i):
            if p.startswith("(?<", i):
                return True
            if p.startswith("(?P<", i) and len(p) - i > 4:
                end = p.find(">", i)
                if end < 0:
                    return False  # RE2 rejects it too
                name = p[i + 4:end]
                if not name or not all(_is_word_ascii(ch) for ch in name):
                    return True
                i = end + 1
                continue
            i += 2
            continue
        i += 1
    return False


def _skip_class(p: str, i: int) -> int:
    """Index just past the character class starting at ``p[i] == '['`` (Go parseClass rules)."""
    n = len(p)
    i += 1
    if i < n and p[i] == "^":
        i += 1
    first = True
    while i < n and (p[i] != "]" or first):
        first = False
        if p.startswith("[:", i):
            end = p.find(":]", i + 2)
            if end >= 0:
                i = end + 2
                continue
        if p[i] == "\\":
            i += 2
            continue
        i += 1
    return i + 1


@functools.lru_cache(maxsize=512)
def compile_go(pattern: str) -> GoRegexp | None:
    """Go ``regexp.Compile(pattern)``; None where Go would return an error."""
    try:
        pat = pattern.encode("utf-8")
    except UnicodeEncodeError:
        return None  # Go: invalid UTF-8
    if _go_rejects_extra(pattern):
        return None
    import re2  # lazy: keeps CLI start-up fast

    opts = re2.Options()
    opts.log_errors = False
    opts.max_mem = _MAX_MEM
    opts.posix_syntax = False  # Perl-like flags, as Go's regexp.Compile
    opts.longest_match = False
    opts.case_sensitive = True
    opts.dot_nl = False
    opts.never_nl = False
    opts.literal = False
    opts.never_capture = False
    try:
        compiled = re2.compile(pat, opts)
    except re2.error:
        return None
    return GoRegexp(pattern, compiled)


def regexp_contains(patterns: list[str] | tuple[str, ...], text: str) -> bool:
    """Kata ``regexpContains``: some pattern matches anywhere in ``text``; invalid ones match nothing."""
    return _contains(tuple(patterns), text)


@functools.lru_cache(maxsize=4096)
def _contains(patterns: tuple[str, ...], text: str) -> bool:
    # Pure function of its arguments: cached, as the same names recur pod after pod.
    for candidate in patterns:
        rx = compile_go(candidate)
        if rx is not None and rx.search(text):
            return True
    return False
