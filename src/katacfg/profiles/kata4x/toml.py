"""TOML for the 4.x profile: BurntSushi/toml v1.6.0 (TOML 1.0) as Kata 4.1.0 uses it.

Two steps, as in Go: parse the text into generic values (with the line of every key), then
unify them with the Go structs of options.py, with v1.6's texts for type and range errors:
`toml: line N (last key "a.b.c"): <message>`.

Parsing: the common shapes of Kata files go through gotoml's line scanner (the same subset
means the same values in TOML 0.4 and 1.0; a text holding a number with a leading zero,
which 1.0 refuses, is sent on); anything else through `tomllib` (TOML 1.0, like v1.6), with
a small scanner for key lines. Syntax errors name the line; the runner of CONTRACT-4x.md
section 5 and users both need only that, and the words are tomllib's.
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
    """Whether the text may hold a number with a leading zero (refused by TOML 1.0)."""
    i = text.find("0")
    while i >= 0:
        if i + 1 < len(text) and text[i + 1].isdigit():
            before = text[i - 1] if i else " "
            if not (before.isalnum() or before in "._-:/"):
                return True
        i = text.find("0", i + 1)
    return False


def parse(text: str, path: str) -> tuple[dict[str, Any], dict[Path, tuple[int, int]]]:
    """Generic values and key positions; raises TomlError (syntax) on invalid TOML."""
    from katacfg.gocompat import gotoml

    if gotoml.FAST_PATH_ENABLED and not _leading_zero(text):
        doc = gotoml._parse_fast(text)
        if doc is not None:
            return doc.data, doc.positions
    import tomllib

    try:
        data = tomllib.loads(text)
    except RecursionError:
        err = TomlError("toml: values nested too deeply for katacfg (Python's recursion limit; "
                        "Go accepts them)", "load", file=path, code="KC010",
                        hint="no Kata configuration nests arrays or tables this deep")
        err.syntax = True
        raise err from None
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        line = col = None
        at = msg.rfind("(at line ")
        if at >= 0:
            try:
                line_text, col_text = msg[at + 9:].rstrip(")").split(", column ")
                line, col = int(line_text), int(col_text)
            except ValueError:
                line = None
            msg = msg[:at].rstrip()
        elif "(at end of document)" in msg:
            line = text.count("\n") + 1
            msg = msg.replace("(at end of document)", "").rstrip()
        err = TomlError(go_syntax_error(text, msg, line, col), "load", file=path, line=line,
                        code="KC010", hint="TOML syntax error")
        err.syntax = True
        raise err from None
    return data, scan_positions(text)


def go_syntax_error(text: str, msg: str, line: int | None, col: int | None) -> str:
    """BurntSushi v1.6's text for the syntax errors Kata files meet most (a bad or missing
    value, a key defined twice, an escape it does not know, a one-line string left open at the
    end of the text); tomllib's words, with the line, otherwise."""
    from katacfg.gocompat.strconv import quote, quote_rune

    if line is None:
        return f"toml: {msg}"
    key = _key_on_line(text, line)
    head = f"toml: line {line}" + (f" (last key {quote(key_string(key))})" if key else "")
    lines = text.split("\n")
    if msg == "Invalid value":
        rest = lines[line - 1][col - 1:] if col and line <= len(lines) else ""
        if col is None or (line == len(lines) and not rest.strip()):
            return f"{head}: unexpected EOF; expected value"
        c = rest[:1] or "\n"
        if c.isalpha():
            word = ""
            for ch in rest:
                if not ch.isalpha():
                    break
                word += ch
            if word not in ("true", "false"):
                return f"{head}: expected value but found {quote(word)} instead"
        elif c == ".":
            return f"{head}: floats must start with a digit, not '.'"
        elif c not in "+-0123456789\"'[{":
            return f"{head}: expected value but found {quote_rune(c)} instead"
    if msg == "Illegal character '\\n'":
        return f"{head}: strings cannot contain newlines"
    if msg == "Unescaped '\\' in a string" and key and col and col >= 3:
        # tomllib points two past the backslash; v1.6 names the escape (errLexEscape).
        here = lines[line - 1] if line <= len(lines) else ""
        # (TOML 1.1's '\x' and '\e', which v1.6 accepts and tomllib refuses, are not named)
        if col - 2 < len(here) and here[col - 3] == "\\" and here[col - 2] not in " \txe":
            return f"{head}: invalid escape in string '\\{here[col - 2]}'"
        value = here.split("=", 1)[1].lstrip(" \t") if "=" in here else ""
        after = here[col - 1:]
        if (col - 2 < len(here) and here[col - 3] == "\\" and here[col - 2] in " \t"
                and value.startswith('"') and not value.startswith('"""')
                and '"' in after and "\\" not in after.split('"', 1)[0]):
            # v1.6's lexer lets '\ ' by in a one-line string; its parser then refuses it.
            return f"{head}: invalid escape: '\\{here[col - 2]}'"
    if msg in ("Unterminated string", "Expected \"'\"", "Expected \"'''\"") and key \
            and line == len(lines):
        # A one-line string left open at the end of the text: v1.6 names the closing quote.
        value = lines[-1].split("=", 1)[1].lstrip(" \t") if "=" in lines[-1] else ""
        closers = {'"""': "'\"\"\"'", "'''": "\"'''\"", '"': "'\"'", "'": "\"'\""}
        for opener, closer in closers.items():
            if value.startswith(opener):
                if value.count(opener[0]) == len(opener):
                    return f"{head}: unexpected EOF; expected {closer}"
                break
    if msg == "Cannot overwrite a value" and key:
        return f"{head}: Key '{key_string(key)}' has already been defined."
    return f"{head}: {msg[:1].lower() + msg[1:]}"


def _key_on_line(text: str, line: int) -> Path:
    """The full key path a line sets (its table's path plus the key), or ()."""
    table: Path = ()
    for number, raw in enumerate(text.split("\n")[:line], 1):
        s = raw.lstrip(" \t")
        if s.startswith("["):
            inner = s[2:] if s.startswith("[[") else s[1:]
            end = inner.find("]")
            if end >= 0:
                table = _split_key(inner[:end])
            if number == line:
                return table
        elif number == line and "=" in s and not s.startswith("#"):
            return table + _split_key(s.split("=", 1)[0])
    return ()


def scan_positions(text: str) -> dict[Path, tuple[int, int]]:
    """Lines of table headers and `key =` lines (best effort, for texts tomllib parsed)."""
    positions: dict[Path, tuple[int, int]] = {}
    table: Path = ()
    in_multi = ""
    for number, line in enumerate(text.split("\n"), 1):
        if in_multi:
            if line.count(in_multi) % 2 == 1:
                in_multi = ""
            continue
        s = line.lstrip(" \t")
        if not s or s[0] == "#":
            continue
        col = len(line) - len(s) + 1
        if s[0] == "[":
            inner = s[2:] if s.startswith("[[") else s[1:]
            end = inner.find("]")
            if end < 0:
                continue
            table = _split_key(inner[:end])
            positions.setdefault(table, (number, col))
            continue
        key, eq, rest = s.partition("=")
        if not eq:
            continue
        full = table + _split_key(key)
        positions.setdefault(full, (number, col))
        for q in ('"""', "'''"):
            if rest.count(q) % 2 == 1:
                in_multi = q
    return positions


def _split_key(text: str) -> Path:
    parts: list[str] = []
    cur = ""
    quote = ""
    for c in text:
        if quote:
            if c == quote:
                quote = ""
            else:
                cur += c
        elif c in "\"'":
            quote = c
        elif c == ".":
            parts.append(cur.strip(" \t"))
            cur = ""
        else:
            cur += c
    parts.append(cur.strip(" \t"))
    return tuple(parts)


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
        if value and all(isinstance(v, dict) for v in value):
            return "[]map[string]any"
        return "[]any"
    return "time.Time"


_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def key_string(path: Path) -> str:
    """toml.Key.String(): dotted, a part quoted when it is not a bare key."""
    from katacfg.gocompat.strconv import quote

    return ".".join(p if p and all(c in _BARE for c in p) else quote(p)
                    for p in (str(x) for x in path))


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
