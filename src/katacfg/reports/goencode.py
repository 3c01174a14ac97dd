"""Byte-exact Go encoders for reports: BurntSushi TOML v0.3.1 and encoding/json (indented).

Input is plain data mirroring a Go struct: a dict is a struct (keys in field order), a list
of dicts is a slice of structs, a list of scalars is a slice, `NIL` is a nil slice (omitted
in TOML, `null` in JSON), `[]` an empty one. Strings may hold lone surrogates (bytes that
were not UTF-8, decoded with "surrogateescape"): TOML writes the raw bytes back, JSON writes
U+FFFD for each, as Go does.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class _Nil:
    """A nil Go slice (or pointer): no TOML key at all, JSON `null`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NIL"

    def __bool__(self) -> bool:
        return False


NIL: Any = _Nil()

_TOML_ESCAPES = str.maketrans({"\t": "\\t", "\n": "\\n", "\r": "\\r", '"': '\\"', "\\": "\\\\"})
# BurntSushi v1 (Kata 4.x): every control character escaped, the short forms where TOML has one
_TOML_V1_ESCAPES = str.maketrans({**{chr(c): f"\\u{c:04x}" for c in (*range(0x20), 0x7F)},
                                  "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
                                  "\r": "\\r", '"': '\\"', "\\": "\\\\"})
_BARE_KEY = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def _is_hash(value: Any) -> bool:
    """BurntSushi typeIsHash: a struct, or a non-empty slice whose first element is a struct."""
    if isinstance(value, dict):
        return True
    return isinstance(value, (list, tuple)) and len(value) > 0 and isinstance(value[0], dict)


def _toml_key_part(part: str) -> str:
    if part and all(c in _BARE_KEY for c in part):
        return part
    return '"' + part.replace('"', '\\"') + '"'


class _TomlWriter:
    def __init__(self, indent: str, escapes: dict[int, str] = _TOML_ESCAPES) -> None:
        self.indent = indent
        self.escapes = escapes
        self.out: list[str] = []

    def newline(self) -> None:
        if self.out:
            self.out.append("\n")

    def element(self, value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, str):
            return '"' + value.translate(self.escapes) + '"'
        if isinstance(value, (list, tuple)):
            return "[" + ", ".join(self.element(v) for v in value) + "]"
        raise TypeError(f"goencode: cannot encode {type(value).__name__} in TOML")

    def encode(self, key: list[str], value: Any) -> None:
        if value is NIL:
            return
        if isinstance(value, dict):
            self.table(key, value)
        elif _is_hash(value):
            for item in value:
                self.newline()
                head = ".".join(_toml_key_part(k) for k in key)
                self.out.append(f"{self.indent * (len(key) - 1)}[[{head}]]")
                self.newline()
                self.struct(key, item)
        else:
            if not key:
                raise TypeError("goencode: top-level values must be tables")
            self.out.append(f"{self.indent * (len(key) - 1)}{_toml_key_part(key[-1])} = ")
            self.out.append(self.element(value))
            self.newline()

    def table(self, key: list[str], value: dict[str, Any]) -> None:
        if len(key) == 1:
            self.newline()  # a blank line between top-level tables
        if key:
            head = ".".join(_toml_key_part(k) for k in key)
            self.out.append(f"{self.indent * (len(key) - 1)}[{head}]")
            self.newline()
        self.struct(key, value)

    def struct(self, key: list[str], value: dict[str, Any]) -> None:
        # plain fields first: a key written after a sub-table would land inside it
        direct = [k for k, v in value.items() if not _is_hash(v)]
        sub = [k for k, v in value.items() if _is_hash(v)]
        for name in direct + sub:
            self.encode(key + [name], value[name])


def to_toml(data: dict[str, Any], indent: str = "  ", *, v1: bool = False) -> str:
    """Encode like BurntSushi toml v0.3.1 `NewEncoder(w).Encode(v)` with v a struct; `v1`:
    like v1.x (Kata 4.x), which escapes every control character, not only tab, CR, LF."""
    writer = _TomlWriter(indent, _TOML_V1_ESCAPES if v1 else _TOML_ESCAPES)
    writer.table([], data)
    return "".join(writer.out)


def _json_escape_char(c: str) -> str:
    if c == '"':
        return '\\"'
    if c == "\\":
        return "\\\\"
    if c == "\n":
        return "\\n"
    if c == "\r":
        return "\\r"
    if c == "\t":
        return "\\t"
    code = ord(c)
    if code < 0x20 or c in "<>&":
        return f"\\u00{code:02x}"
    if code in (0x2028, 0x2029):
        return f"\\u{code:04x}"
    if 0xD800 <= code <= 0xDFFF:  # a byte that was not UTF-8
        return "\\ufffd"
    return c


_JSON_SPECIAL = frozenset('"\\<>&\u2028\u2029') | frozenset(chr(i) for i in range(0x20))


def json_string(s: str) -> str:
    """Go encoding/json string with HTML escaping (the Encoder default)."""
    if not any(c in _JSON_SPECIAL or "\ud800" <= c <= "\udfff" for c in s):
        return '"' + s + '"'
    return '"' + "".join(_json_escape_char(c) for c in s) + '"'


def _json_value(value: Any, indent: str, depth: int, out: list[str]) -> None:
    if value is NIL or value is None:
        out.append("null")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, str):
        out.append(json_string(value))
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = "\n" + indent * (depth + 1)
        out.append("{")
        for i, (k, v) in enumerate(value.items()):
            out.append(("," if i else "") + inner + json_string(k) + ": ")
            _json_value(v, indent, depth + 1, out)
        out.append("\n" + indent * depth + "}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        inner = "\n" + indent * (depth + 1)
        out.append("[")
        for i, v in enumerate(value):
            out.append(("," if i else "") + inner)
            _json_value(v, indent, depth + 1, out)
        out.append("\n" + indent * depth + "]")
    else:
        raise TypeError(f"goencode: cannot encode {type(value).__name__} in JSON")


def to_json(data: Any, indent: str = "  ") -> str:
    """Encode like Go `json.NewEncoder(w)` with `SetIndent("", indent)`: ends with a newline."""
    out: list[str] = []
    _json_value(data, indent, 0, out)
    out.append("\n")
    return "".join(out)


def output_bytes(text: str) -> bytes:
    """The bytes Go would write for `text` (lone surrogates back to the original bytes)."""
    return text.encode("utf-8", "surrogateescape")
