r"""TOML for the 4.x profile: BurntSushi/toml v1.6.0 (TOML 1.1) as Kata 4.1.0 uses it.

Two steps, as in Go: parse the text into generic values (with Go's position of every key),
then unify them with the Go structs of options.py, with v1.6's texts for type and range
errors: `toml: line N (last key "a.b.c"): <message>`.

Parsing: the common shapes of Kata files go through gotoml's line scanner (its subset gives
the same values in TOML 0.4 and 1.1; a text that may hold a number with a leading zero or a
control character, both refused by v1.6, is sent on); anything else through
katacfg.gocompat._gotoml16, a port of v1.6.0's lexer and parser: TOML 1.1 (newlines, comments
and a trailing comma in inline tables, the `\e` and `\xHH` escapes, times without seconds),
and every syntax error in v1.6's words, with its line and last key. Positions are Go's keyInfo
(the line of the value for `key = value`, of the key inside an inline table, of the header
for a table; none for an implicit table), and `parse_keys` also gives MetaData.Keys(), the
order in which Kata applies a drop-in's keys.
"""
from __future__ import annotations

from katacfg.config.errors import KataError
from katacfg.profiles.kata4x import options as o

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

Path = tuple  # tuple[Any, ...]: key path
_UINT32_MAX = 2**32 - 1
_U64 = 2**64


class TomlError(KataError):
    """A decoding refusal; `syntax` marks parser errors (CONTRACT-4x.md section 5)."""

    syntax = False


def _leading_zero(text: str) -> bool:
    """Whether the text may hold a number with a leading zero (refused by TOML 1.0 and 1.1)."""
    i = text.find("0")
    while i >= 0:
        if i + 1 < len(text) and text[i + 1].isdigit():
            before = text[i - 1] if i else " "
            if not (before.isalnum() or before in "._-:/"):
                return True
        i = text.find("0", i + 1)
    return False


# Control characters other than tab and newline: v1.6's lexer refuses them anywhere (even in a
# comment or a string); gotoml's line scanner would let most of them by.
_CONTROL_BYTES = bytes(c for c in (*range(0x20), 0x7F) if c not in (0x09, 0x0A))


def _fast_ok(text: str) -> bool:
    """Whether gotoml's line scanner may decide this text: where it accepts, it gives v1.6's
    values (its subset reads alike in TOML 0.4 and 1.1) unless a number may have a leading
    zero or a control character hides in a string or a comment."""
    if _leading_zero(text):
        return False
    try:
        raw = text.encode()
    except UnicodeEncodeError:  # undecodable bytes: the port names the first one
        return False
    return len(raw.translate(None, _CONTROL_BYTES)) == len(raw)  # 16 us for Kata's 32 KB


def parse(text: str, path: str) -> tuple[dict[str, Any], dict[Path, tuple[int, int]]]:
    """Generic values and key positions; raises TomlError (syntax) on invalid TOML."""
    data, positions, _ = parse_keys(text, path)
    return data, positions


def parse_keys(text: str, path: str) -> tuple[dict[str, Any], dict[Path, tuple[int, int]],
                                              list[Path]]:
    """`toml.Decode`'s parse step: values, Go's keyInfo positions (line, column) by key path,
    and MetaData.Keys() (every key and table header, in file order). Raises TomlError with
    v1.6's text (`toml: line N (last key "a.b"): <message>`) on invalid TOML."""
    from katacfg.gocompat import gotoml

    if gotoml.FAST_PATH_ENABLED and _fast_ok(text):
        doc = gotoml._parse_fast(text, implicit_positions=False)
        if doc is not None:
            return doc.data, doc.positions, list(doc.positions)
    from katacfg.gocompat._gotoml16 import Toml16Error, parse16

    try:
        doc16 = parse16(text)
    except Toml16Error as exc:
        if exc.go_panic:
            hint = "Kata 4.1.0's TOML decoder crashes (Go panic) on this text"
        elif "nested too deeply for katacfg" in exc.message:
            hint = "no Kata configuration nests keys, arrays or tables this deep"
        else:
            hint = "TOML syntax error (TOML 1.1, as BurntSushi/toml v1.6.0 reads it)"
        err = TomlError(exc.text, "load", file=path, line=exc.line or None, code="KC010",
                        hint=hint)
        err.syntax = True
        raise err from None
    return doc16.data, doc16.positions, doc16.keys


# --- Go type names and key strings --------------------------------------------------------

def fmt_type(value: Any) -> str:
    """BurntSushi fmtType: Go's %T of the generic value, `interface {}` written `any`."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map[string]any"
    if isinstance(value, list):
        from katacfg.gocompat.gotoml import TableArray

        # [[x]] tables are a []map[string]any; an array, even of inline tables, a []any
        return "[]map[string]any" if isinstance(value, TableArray) else "[]any"
    return "time.Time"


def key_string(path: Path) -> str:
    """toml.Key.String(): dotted, a part quoted (dblQuotedReplacer) when it is not bare."""
    from katacfg.gocompat.tomlkey import key_string as go_key_string

    return go_key_string(path)


def go_equal_fold(a: str, b: str) -> bool:
    if a.isascii() and b.isascii():
        return a.lower() == b.lower()
    return len(a) == len(b) and all(x == y or x.lower() == y.lower() or x.upper() == y.upper()
                                    for x, y in zip(a, b))


def match_field(fields: dict[str, str], key: str) -> str | None:
    """unifyStruct: the exact field name wins, else the first case-insensitive one."""
    if key in fields:
        return key
    for name in fields:
        if go_equal_fold(name, key):
            return name
    return None


# --- unification with the Go structs ------------------------------------------------------

class Unifier:
    """One decode of one file: values unified with Go types, errors worded as v1.6."""

    def __init__(self, path: str, positions: dict[Path, tuple[int, int]]) -> None:
        self.path = path
        self.positions = positions

    def line(self, ctx: Path) -> int | None:
        pos = self.positions.get(ctx)
        return pos[0] if pos else None

    def error(self, ctx: Path, message: str, key: str | None = None) -> TomlError:
        line = self.line(ctx)
        from katacfg.gocompat.strconv import quote

        quoted = quote(key_string(ctx))
        if line:
            text = f"toml: line {line} (last key {quoted}): {message}"
        else:
            text = f"toml: (last key {quoted}): {message}"
        return TomlError(text, "load", file=self.path, line=line,
                         key=key or ".".join(str(p) for p in ctx), code="KC011")

    def badtype(self, ctx: Path, dst: str, value: Any) -> TomlError:
        return self.error(ctx, f"incompatible types: TOML value has type {fmt_type(value)}; "
                               f"destination has type {dst}")

    def struct(self, go_name: str, fields: dict[str, str], value: Any, ctx: Path,
               unknown: list[Path] | None = None) -> dict[str, Any] | None:
        """unifyStruct: a dict of field -> Go value; None when the TOML value is absent."""
        if not isinstance(value, dict):
            raise self.error(ctx, f"type mismatch for {go_name}: expected table but found "
                                  f"{fmt_type(value)}")
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = match_field(fields, key)
            if name is None:
                if unknown is not None:
                    unknown.append(ctx + (key,))
                continue
            out[name] = self.value(fields[name], item, ctx + (key,))
        return out

    def value(self, gotype: str, value: Any, ctx: Path) -> Any:
        if gotype == "string":
            if isinstance(value, str):
                return value
            raise self.badtype(ctx, "string", value)
        if gotype == "bool":
            if isinstance(value, bool):
                return value
            raise self.badtype(ctx, "boolean", value)
        if gotype == "[]string":
            if not isinstance(value, list):
                raise self.badtype(ctx, "slice", value)
            for item in value:
                if not isinstance(item, str):
                    raise self.badtype(ctx, "string", item)
            return tuple(value)
        if gotype == "float32":
            return self.float32(value, ctx)
        if gotype == "[]ext":
            if not isinstance(value, list):
                raise self.badtype(ctx, "slice", value)
            out = []
            for item in value:
                got = self.struct("katautils.guestExtensionImage", o.GUEST_EXTENSION_KEYS,
                                  item, ctx)
                out.append({"name": "", "path": "", "verity_params": "", **(got or {})})
            return tuple(out)
        # integers
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.badtype(ctx, "integer", value)
        if gotype == "uint32":
            if not 0 <= value <= _UINT32_MAX:
                raise self.error(ctx, f"{value} is out of range for uint32")
            return value
        if gotype == "int64":
            return value
        return value % _U64  # uint64, uint, *uint64: Go converts without a check

    def float32(self, value: Any, ctx: Path) -> float:
        if isinstance(value, float):
            if value < -o.MAX_FLOAT32 or value > o.MAX_FLOAT32:
                from katacfg.profiles.kata4x.gofloat import format_g

                raise self.error(ctx, f"{format_g(value)} is out of range for float32")
            from katacfg.profiles.kata4x.gofloat import to_float32

            return to_float32(value)
        if isinstance(value, int) and not isinstance(value, bool):
            if value < -o.MAX_SAFE_FLOAT32_INT or value > o.MAX_SAFE_FLOAT32_INT:
                raise self.error(ctx, f"{value} is out of the safe float32 range")
            return float(value)
        raise self.badtype(ctx, "float", value)
