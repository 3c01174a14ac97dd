"""BurntSushi/toml v1.x `Key.String()` (meta.go): the dotted key of error texts and of
`MetaData.Keys()`, shared by the v1.6.0 port and the 4.x profile's decoder."""
from __future__ import annotations

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
# encode.go's dblQuotedReplacer: '"' and '\\' escaped, control characters as \b \t \n \f \r or
# \u00XX; everything else (non-ASCII included) as it is
_SHORT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
          "\r": "\\r"}


def dbl_quoted(s: str) -> str:
    """dblQuotedReplacer.Replace(s)."""
    out = []
    for c in s:
        e = _SHORT.get(c)
        if e is not None:
            out.append(e)
        elif c < " " or c == "\x7f":
            out.append("\\u%04x" % ord(c))
        else:
            out.append(c)
    return "".join(out)


def key_string(key) -> str:  # key: an iterable of parts (str; an int index is shown as is)
    """Key.String(): the parts joined by '.', each bare part as it is, `""` for an empty
    one, any other in double quotes (dblQuotedReplacer)."""
    out = []
    for k in key:
        k = str(k)
        if k == "":
            out.append('""')
        elif all(c in _BARE for c in k):
            out.append(k)
        else:
            out.append('"' + dbl_quoted(k) + '"')
    return ".".join(out)
