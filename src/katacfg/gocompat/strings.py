"""Go's white space (unicode.IsSpace), strings.TrimSpace and strings.Fields.

Python's str.split()/strip() also treat U+001C..U+001F as white space; Go does not.
No imports: the start-up path of every command uses this.
"""
from __future__ import annotations

GO_SPACE = ("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
            "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_TO_SPACE = {ord(c): " " for c in GO_SPACE}


def trim_space(s: str) -> str:
    """Go strings.TrimSpace."""
    return s.strip(GO_SPACE)


def fields(s: str) -> list[str]:
    """Go strings.Fields: the words between runs of Go white space."""
    return [f for f in s.translate(_TO_SPACE).split(" ") if f]
