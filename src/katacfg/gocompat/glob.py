"""Go ``path/filepath`` Match/Glob on Linux, as Kata's path allow-lists use them.

The algorithm works on the bytes of Go strings (see ``strconv.go_bytes``),
like Go: ``*`` may resume matching in the middle of a multi-byte character
and ``?``/``[...]`` then consume one invalid byte as U+FFFD.

``match`` follows Go <= 1.15: a malformed pattern may report a plain
mismatch when the mismatch is found before the malformed part (Go 1.16
checks the rest of the pattern first).  ``glob`` results are the same for
both versions: a malformed pattern never yields matches.
"""

from __future__ import annotations

import os

from katacfg.gocompat.fspath import clean
from katacfg.gocompat.strconv import RUNE_ERROR, decode_rune, go_bytes

__all__ = ["BadPattern", "match", "path_match", "glob", "path_in_globs", "glob_may_return",
           "pattern_in_globs"]

_SEP = 0x2F  # '/'
_STAR = 0x2A  # '*'
_QMARK = 0x3F  # '?'
_LBRACK = 0x5B  # '['
_RBRACK = 0x5D  # ']'
_BSLASH = 0x5C  # '\\'
_CARET = 0x5E  # '^'
_DASH = 0x2D  # '-'


class BadPattern(ValueError):
    """Go ``filepath.ErrBadPattern``."""

    def __init__(self) -> None:
        super().__init__("syntax error in pattern")


# --------------------------------------------------------------------------
# Match
# --------------------------------------------------------------------------


def _scan_chunk(pattern: bytes) -> tuple[bool, bytes, bytes]:
    """Go ``scanChunk``: leading stars, the chunk up to the next unbracketed star, the rest."""
    star = False
    while pattern and pattern[0] == _STAR:
        pattern = pattern[1:]
        star = True
    inrange = False
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == _BSLASH:
            # error check handled in match_chunk: bad pattern.
            if i + 1 < n:
                i += 1
        elif c == _LBRACK:
            inrange = True
        elif c == _RBRACK:
            inrange = False
        elif c == _STAR and not inrange:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _get_esc(chunk: bytes) -> tuple[int, bytes]:
    """Go ``getEsc``: one possibly escaped character of a class; raises BadPattern."""
    if not chunk or chunk[0] == _DASH or chunk[0] == _RBRACK:
        raise BadPattern()
    if chunk[0] == _BSLASH:
        chunk = chunk[1:]
        if not chunk:
            raise BadPattern()
    r, n = decode_rune(chunk)
    if r == RUNE_ERROR and n == 1:
        raise BadPattern()
    chunk = chunk[n:]
    if not chunk:
        raise BadPattern()
    return r, chunk


def _match_chunk(chunk: bytes, s: bytes) -> tuple[bytes, bool]:
    """Go <= 1.15 ``matchChunk``: returns (rest, ok); stops at the first mismatch."""
    while chunk:
        if not s:
            return b"", False
        c = chunk[0]
        if c == _LBRACK:
            r, n = decode_rune(s)
            s = s[n:]
            chunk = chunk[1:]
            # We can't end right after '[': we expect at least ']' or '^'.
            if not chunk:
                raise BadPattern()
            negated = chunk[0] == _CARET
            if negated:
                chunk = chunk[1:]
            matched = False
            nrange = 0
            while True:
                if chunk and chunk[0] == _RBRACK and nrange > 0:
                    chunk = chunk[1:]
                    break
                lo, chunk = _get_esc(chunk)
                hi = lo
                if chunk[0] == _DASH:
                    hi, chunk = _get_esc(chunk[1:])
                if lo <= r <= hi:
                    matched = True
                nrange += 1
            if matched == negated:
                return b"", False
        elif c == _QMARK:
            if s[0] == _SEP:
                return b"", False
            _, n = decode_rune(s)
            s = s[n:]
            chunk = chunk[1:]
        else:
            if c == _BSLASH:
                chunk = chunk[1:]
                if not chunk:
                    raise BadPattern()
            if chunk[0] != s[0]:
                return b"", False
            s = s[1:]
            chunk = chunk[1:]
    return s, True


def _match_bytes(pattern: bytes, name: bytes) -> bool:
    """Go ``filepath.Match`` on byte strings (Go <= 1.15 algorithm)."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            # Trailing * matches the rest of the string unless it has a '/'.
            return _SEP not in name
        # Look for a match at the current position.
        t, ok = _match_chunk(chunk, name)
        # If this is the last chunk, the name must be exhausted; otherwise
        # the star below may still give a match.
        if ok and (not t or pattern):
            name = t
            continue
        if star:
            # Look for a match skipping i+1 bytes; cannot skip '/'.
            i = 0
            found = False
            while i < len(name) and name[i] != _SEP:
                t, ok = _match_chunk(chunk, name[i + 1:])
                if ok:
                    if not pattern and t:
                        i += 1
                        continue
                    name = t
                    found = True
                    break
                i += 1
            if found:
                continue
        return False
    return not name


def match(pattern: str, name: str) -> bool:
    """Go ``filepath.Match`` (Linux): shell pattern match of the whole name; raises BadPattern."""
    return _match_bytes(go_bytes(pattern), go_bytes(name))


def path_match(pattern: str, name: str) -> bool:
    """Go ``path.Match``: same algorithm as filepath.Match on Linux (containerd pod_annotations)."""
    return _match_bytes(go_bytes(pattern), go_bytes(name))


def _pattern_ok(pattern: bytes) -> bool:
    """Go 1.16 ``Match(pattern, "")`` syntax check: is every part of the pattern well-formed?"""
    while pattern:
        _, chunk, pattern = _scan_chunk(pattern)
        while chunk:
            c = chunk[0]
            if c == _LBRACK:
                chunk = chunk[1:]
                if chunk and chunk[0] == _CARET:
                    chunk = chunk[1:]
                nrange = 0
                try:
                    while True:
                        if chunk and chunk[0] == _RBRACK and nrange > 0:
                            chunk = chunk[1:]
                            break
                        _, chunk = _get_esc(chunk)
                        if chunk[0] == _DASH:
                            _, chunk = _get_esc(chunk[1:])
                        nrange += 1
                except BadPattern:
                    return False
            elif c == _BSLASH:
                chunk = chunk[1:]
                if not chunk:
                    return False
                chunk = chunk[1:]
            else:
                chunk = chunk[1:]
    return True


# --------------------------------------------------------------------------
# Glob
# --------------------------------------------------------------------------


def _has_meta(path: bytes) -> bool:
    """Go ``hasMeta`` (non-Windows): contains one of ``*?[\\``."""
    return any(c in path for c in (b"*", b"?", b"[", b"\\"))


def _clean_bytes(path: bytes) -> bytes:
    """Go ``filepath.Clean`` on bytes (only '/' and '.' are special, so latin-1 round-trips)."""
    return clean(path.decode("latin-1")).encode("latin-1")


def _join(dir_: bytes, name: bytes) -> bytes:
    """Go ``filepath.Join(dir, name)``: join the non-empty elements and clean."""
    if dir_ == b"":
        if name == b"":
            return b""
        return _clean_bytes(name)
    return _clean_bytes(dir_ + b"/" + name)


def _split(path: bytes) -> tuple[bytes, bytes]:
    """Go ``filepath.Split``: everything up to and including the last '/', and the rest."""
    i = path.rfind(b"/")
    return path[:i + 1], path[i + 1:]


def _clean_glob_path(path: bytes) -> bytes:
    """Go ``cleanGlobPath``: "" -> ".", "/" stays, otherwise chop the trailing '/'."""
    if path == b"":
        return b"."
    if path == b"/":
        return path
    return path[:-1]


def _lstat_ok(path: bytes) -> bool:
    """Go ``os.Lstat(path) == nil`` (an embedded NUL is EINVAL in Go: not found)."""
    try:
        os.lstat(path)
    except (OSError, ValueError):
        return False
    return True


def _glob_in_dir(dir_: bytes, pattern: bytes, matches: list[bytes]) -> None:
    """Go ``glob``: list one directory (errors ignored), sort, match, append joined names."""
    try:
        st_ok = os.path.isdir(dir_)  # os.Stat follows symlinks; errors are ignored
    except (OSError, ValueError):
        return
    if not st_ok:
        return
    try:
        names = os.listdir(dir_)
    except (OSError, ValueError):
        return
    names.sort()  # Go sort.Strings: bytewise order
    for n in names:
        if _match_bytes(pattern, n):
            matches.append(_join(dir_, n))


def _glob_bytes(pattern: bytes) -> list[bytes]:
    """Go ``filepath.Glob`` on bytes; a malformed pattern gives no matches (error dropped)."""
    if not _pattern_ok(pattern):
        return []
    try:
        return _glob_rec(pattern)
    except BadPattern:
        return []


def _glob_rec(pattern: bytes) -> list[bytes]:
    """Go ``Glob`` body after the syntax check; may raise BadPattern.

    Go recurses once per directory level holding meta characters; this walks the same
    levels in a loop (a pattern of 10,000 levels must not exhaust Python's stack).
    """
    if not _has_meta(pattern):
        return [pattern] if _lstat_ok(pattern) else []
    files: list[bytes] = []  # the last component of each level, innermost last
    p = pattern
    while True:
        dir_, file = _split(p)
        dir_ = _clean_glob_path(dir_)
        files.append(file)
        if not _has_meta(dir_):
            break
        if dir_ == p:  # prevent infinite recursion (Go issue 15879)
            raise BadPattern()
        p = dir_
    dirs = [dir_]
    for file in reversed(files):
        matches: list[bytes] = []
        for d in dirs:
            _glob_in_dir(d, file, matches)
        dirs = matches
    return dirs


def glob(pattern: str) -> list[str]:
    """Go ``filepath.Glob`` on the real file system, error ignored as Kata does."""
    return [m.decode("utf-8", "surrogateescape") for m in _glob_bytes(go_bytes(pattern))]


def path_in_globs(globs: list[str], value: str) -> bool:
    """Kata ``checkPathIsInGlobs``: some glob result is byte-identical to ``value``."""
    if not globs or value == "" or "\x00" in value:
        return False
    want = go_bytes(value)
    for g in globs:
        if want in _glob_bytes(go_bytes(g)):
            return True
    return False


# --------------------------------------------------------------------------
# Glob without the file system
# --------------------------------------------------------------------------


def glob_may_return(pattern: str, value: str) -> bool:
    """Could Go ``filepath.Glob(pattern)`` return ``value`` on some file system?

    The check of an allow-list when the node's files are not here (``explain
    --assume-node-files``, admission policies): the entries are assumed to exist, and
    everything else is Glob's. Pattern matching alone (``filepath.Match``) is not enough:

    - Glob reads directories, whose names are never ``.`` or ``..``, so
      ``/dev/hugepages/..`` never comes back from ``/dev/hugepages/*``;
    - Glob joins names with ``filepath.Join``, which cleans: ``/opt//kata/*`` returns
      ``/opt/kata/qemu``, never ``/opt//kata/qemu``, and no result ends in ``/``;
    - a pattern without meta characters comes back exactly as written (when it exists);
    - a malformed pattern returns nothing.
    """
    return _glob_may_return(go_bytes(pattern), go_bytes(value))


def _glob_may_return(pattern: bytes, value: bytes) -> bool:
    if not _pattern_ok(pattern):
        return False
    if not _has_meta(pattern):
        return value == pattern and value != b""
    # Walk the levels from the last component inwards (Go recurses; a loop keeps 10,000
    # levels off Python's stack). Each level's result is Join(dir result, name), with name
    # a directory entry: non-empty, not '.' or '..', matching that level's component.
    p, v = pattern, value
    while True:
        dir_, file = _split(p)
        dir_ = _clean_glob_path(dir_)
        vdir, name = _split(v)
        if name in (b"", b".", b"..") or not _match_ok(file, name):
            return False
        if not _has_meta(dir_):
            return _join(dir_, name) == v
        if dir_ == p:
            return False  # Go: ErrBadPattern
        # a level with meta characters returns only Join results: clean, never "/" or "."
        if vdir in (b"", b"/"):
            return False
        p, v = dir_, vdir[:-1]


def _match_ok(pattern: bytes, name: bytes) -> bool:
    try:
        return _match_bytes(pattern, name)
    except BadPattern:
        return False


def pattern_in_globs(globs: list[str], value: str) -> bool:
    """``path_in_globs`` without the file system: some glob may return ``value``."""
    if not globs or value == "" or "\x00" in value:
        return False
    want = go_bytes(value)
    return any(_glob_may_return(go_bytes(g), want) for g in globs)
