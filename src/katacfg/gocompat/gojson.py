"""JSON text decoded as Go's encoding/json decodes it (annotations files, OCI config.json).

Where Python's json module and Go's differ on the same bytes, a pod would get different
annotation values; these are Go's rules:

- invalid UTF-8 inside a string becomes U+FFFD, one per bad byte (Go's utf8.DecodeRune);
- a `\\uXXXX` escape of a lone surrogate (`\\udc80`, or a high one not followed by a low
  one) becomes U+FFFD; Python keeps the surrogate code point, a string Go never produces;
- `NaN`, `Infinity` are syntax errors;
- numbers are kept as their text (`JSONNumber`): a 5,000-digit integer is a value of the
  wrong type for an annotation, not a conversion error.

Nesting is bounded by Python's recursion limit (about 1,000 levels; Go allows 10,000):
deeper input raises JSONError, never RecursionError.
"""
from __future__ import annotations

import codecs
import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class JSONError(ValueError):
    """Malformed or too deeply nested JSON; `line`/`column` are 1-based when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


class JSONNumber:
    """A JSON number, kept as its text (Go's json.Number)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"JSONNumber({self.text!r})"

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JSONNumber) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def _go_replace(exc: UnicodeError) -> tuple[str, int]:
    """Each invalid byte is one U+FFFD (Go), not each maximal bad sequence (Python)."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "\ufffd", exc.start + 1


codecs.register_error("katacfg-go-utf8", _go_replace)


def decode_utf8(data: bytes) -> str:
    """Bytes as Go reads them into a string: invalid bytes become U+FFFD each."""
    return data.decode("utf-8", "katacfg-go-utf8")


def _no_constant(name: str) -> Any:
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")


def _is_surrogate(c: str) -> bool:
    return "\ud800" <= c <= "\udfff"


def go_string(s: str) -> str:
    """A decoded string as Go holds it: each lone surrogate (from a `\\uDC80` escape in JSON
    or YAML) becomes U+FFFD. For any decoder of Kubernetes input (manifests too)."""
    if any(_is_surrogate(c) for c in s):
        return "".join("\ufffd" if _is_surrogate(c) else c for c in s)
    return s


def _clean(value: Any) -> Any:
    """Replace lone surrogates (left by \\u escapes) with U+FFFD in every string."""
    if isinstance(value, str):
        return go_string(value)
    if isinstance(value, dict):
        return {go_string(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def loads(data: bytes | str) -> Any:
    """Decode one JSON document as Go would into interface{} (numbers as JSONNumber)."""
    text = decode_utf8(data) if isinstance(data, bytes) else data
    try:
        value = json.loads(text, parse_int=JSONNumber, parse_float=JSONNumber,
                           parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise JSONError(exc.msg, exc.lineno, exc.colno) from None
    except RecursionError:
        raise JSONError("nested too deeply (katacfg reads up to about 1,000 levels)") from None
    except ValueError as exc:
        raise JSONError(str(exc)) from None
    try:
        return _clean(value)
    except RecursionError:
        raise JSONError("nested too deeply (katacfg reads up to about 1,000 levels)") from None


def kind(value: Any) -> str:
    """Go's name for a decoded JSON value's type, as in `cannot unmarshal <kind>`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, JSONNumber):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
