"""TOML text to raw section values, as Kata's Go decoder (BurntSushi v0.3.1) fills its structs.

Reproduces the decoder's type rules and messages (spec/config-keys.md 1.2): struct fields
match their TOML key exactly, else case-insensitively; integers are range-checked for int32
and uint32 while a 64-bit `uint` wraps; unknown keys and tables are ignored by Go, and
reported here as diagnostics with their line and the nearest valid name.
"""
from __future__ import annotations

from katacfg.config.errors import Diagnostic, KataError
from katacfg.config.registry import Option
from katacfg.gocompat import gotoml

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from katacfg.profiles import KataProfile

_INT32 = (-(2**31), 2**31 - 1)
_UINT32 = (0, 2**32 - 1)
_GO_KIND = {"string": "string", "bool": "boolean", "int32": "integer", "uint32": "integer",
            "uint": "integer", "[]string": "slice"}
_ALLOWED = {"string": "a string", "bool": "true or false", "int32": "an integer",
            "uint32": "an integer from 0 to 4294967295", "uint": "a non-negative integer",
            "[]string": "an array of strings"}

Pos = tuple[int, int]


class RawConfig:
    """Decoded values keyed by canonical option key, with the source position of each."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.tables: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self.structs: dict[str, dict[str, Any]] = {}
        # ("hypervisor", "qemu", "kernel") / ("runtime", "enable_debug") / ("hypervisor", "qemu")
        self.positions: dict[tuple[str, ...], Pos] = {}
        self.errors: list[KataError] = []
        self.diagnostics: list[Diagnostic] = []
        self.unknown_count = 0  # unknown keys and tables met (only the first ones are listed)
        # keys a later Kata generation reads (the profile's `later_generation`): one verdict
        self.later_keys: list[tuple[str, Pos | None]] = []
        self.later = False  # the profile knows a later generation's vocabulary


def go_equal_fold(a: str, b: str) -> bool:
    """Go strings.EqualFold (simple Unicode case folding, rune by rune)."""
    if a.isascii() and b.isascii():
        return a.lower() == b.lower()
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x == y or x.lower() == y.lower() or x.upper() == y.upper():
            continue
        return False
    return True


# id(candidates) -> (candidates, lower-case name -> first name; None if a name is not ASCII)
_ASCII_FOLDS: dict[int, tuple[dict[str, Any], dict[str, str] | None]] = {}


def _match(candidates: dict[str, Any], key: str) -> str | None:
    """The field a TOML key fills: exact name first, else the first case-insensitive match."""
    if key in candidates:
        return key
    if key.isascii():  # EqualFold with ASCII names is lower() equality: one lookup
        entry = _ASCII_FOLDS.get(id(candidates))
        if entry is None or entry[0] is not candidates:
            if len(_ASCII_FOLDS) > 64:  # callers may pass short-lived dicts: stay small
                _ASCII_FOLDS.clear()
            folds: dict[str, str] = {}
            for name in candidates:
                folds.setdefault(name.lower(), name)
            entry = _ASCII_FOLDS[id(candidates)] = (
                candidates, folds if all(n.isascii() for n in candidates) else None)
        if entry[1] is not None:
            return entry[1].get(key.lower())
    for name in candidates:
        if go_equal_fold(name, key):
            return name
    return None


def decode(text: str, path: str, profile: KataProfile | None = None) -> RawConfig:
    """Parse and type-check a configuration.toml against the profile's registry (default
    1.x). Syntax errors raise KataError (stage load)."""
    try:
        doc = gotoml.parse(text)
    except gotoml.TomlSyntaxError as exc:
        # Go's "Near line N" stays in the text; the location is the offending character's
        # line (Go's N can be an earlier one: "Near line 0" before anything was parsed, the
        # table header's line for a dotted key below it), which its column counts on
        line = exc.char_line or exc.line or 1
        hint = ("a katacfg limit (Go has none): Kata's files are never nested this deep"
                if "katacfg reads at most" in exc.detail else
                "the file starts with a UTF-8 byte order mark, which Kata's decoder refuses: "
                "save it without one" if text.startswith("\ufeff") else
                _later_syntax_hint(text, line, profile) or "TOML syntax error")
        raise KataError(exc.message, "load", file=path, line=line, column=exc.column,
                        code="KC010", hint=hint) from None
    return decode_document(doc, path, profile)


def _later_syntax_hint(text: str, line: int, profile: KataProfile | None) -> str | None:
    """A TOML 1.0 value form on the offending line (0x10, 0o17, 0b1): later Kata reads it."""
    if profile is None:
        from katacfg.profiles import get_profile

        profile = get_profile()
    if not _later(profile):
        return None
    lines = text.split("\n", line)
    value = lines[line - 1].partition("=")[2].strip() if len(lines) >= line else ""
    if value[:1] in "+-":
        value = value[1:]
    if len(value) > 2 and value[0] == "0" and value[1] in "xob":
        return ("hexadecimal, octal and binary integers are TOML 1.0: Kata 2.x+ reads them, "
                "Kata 1.x's decoder (TOML 0.4) does not: write the number in decimal")
    from katacfg.gocompat._gotoml16 import Toml16Error, parse16

    try:
        parse16(text)
    except (Toml16Error, RecursionError, MemoryError):
        return None
    return ("Kata 3.x/4.x's decoder (BurntSushi/toml v1.6, TOML 1.1) reads this file, Kata "
            "1.x's (TOML 0.4) does not: `--profile 4.x` loads it as Kata 4.x does")


def decode_document(doc: Any, path: str, profile: KataProfile | None = None) -> RawConfig:
    if profile is None:
        from katacfg.profiles import get_profile

        profile = get_profile()
    raw = RawConfig(path)
    raw.later = _later(profile)
    pos = doc.positions
    options = profile.options
    # Go field names of tomlConfig: the section names, capitalised
    top_fields = {name.capitalize(): name for name in profile.sections}
    for top_key, value in doc.data.items():
        name = _match(top_fields, top_key)
        where = pos.get((top_key,))
        if name is None:
            _unknown(raw, (top_key,), where, list(profile.sections), "table")
            continue
        section = top_fields[name]
        if section in profile.map_sections:
            _decode_map(raw, section, top_key, value, pos, options[section])
        else:
            fields = _decode_struct(raw, section, (top_key,), value, pos, (section,),
                                    options[section])
            if fields is not None:
                raw.structs.setdefault(section, {}).update(fields)
                raw.positions.setdefault((section,), where or (0, 0))
    if raw.later_keys:
        from katacfg.profiles.kata4x.vocabulary import HINT, summary

        first = raw.later_keys[0][1]
        raw.diagnostics.insert(0, Diagnostic(
            "warning", "KC140", summary([k for k, _ in raw.later_keys]), raw.path,
            *_line_col(first), key=raw.later_keys[0][0], hint=HINT))
    return raw


def _later(profile: KataProfile | None) -> bool:
    """The profile knows a later generation's vocabulary (1.x: Kata 2.x+, from 4.x's)."""
    return bool(profile is not None and profile.extra.get("later_generation"))


def _decode_map(raw: RawConfig, section: str, top_key: str, value: Any, pos: dict,
                options: dict[str, Option]) -> None:
    if not isinstance(value, dict):
        # unifyMap returns nil for a non-map value: Go ignores `hypervisor = 5` silently.
        raw.diagnostics.append(Diagnostic(
            "warning", "KC102", f"`{top_key}` is not a table; Kata ignores it",
            raw.path, *_line_col(pos.get((top_key,))), key=top_key,
            hint=f"write [{section}.<name>] tables"))
        return
    for name, table in value.items():
        where = pos.get((top_key, name))
        fields = _decode_struct(raw, section, (top_key, name), table, pos, (section, name),
                                options)
        if fields is None:
            continue
        raw.tables.setdefault(section, []).append((name, fields))
        if where is not None:
            raw.positions[(section, name)] = where


def _decode_struct(raw: RawConfig, section: str, src: tuple[str, ...], value: Any,
                   pos: dict, canon: tuple[str, ...],
                   options: dict[str, Option]) -> dict[str, Any] | None:
    where = pos.get(src)
    if not isinstance(value, dict):
        raw.errors.append(KataError(
            f"toml: type mismatch for katautils.{section}: expected table but found "
            f"{gotoml.go_type_name(value)}", "load", file=raw.path,
            line=where[0] if where else None, key=".".join(src), code="KC011",
            hint=f"[{'.'.join(src)}] must be a table"))
        return None
    out: dict[str, Any] = {}
    for key, item in value.items():
        kpos = pos.get(src + (key,))
        name = _match(options, key)
        if name is None:
            if raw.later:
                from katacfg.profiles.kata4x.vocabulary import later_key

                if later_key(section, key):
                    raw.later_keys.append((".".join(src + (key,)), kpos))
                    continue
            _unknown(raw, src + (key,), kpos, list(options), "key")
            continue
        option = options[name]
        try:
            out[name] = _unify(option, item)
        except _TypeProblem as exc:
            hint = f"{name} must be {_ALLOWED[option.gotype]}"
            if isinstance(item, float) and raw.later:
                from katacfg.profiles.kata4x.vocabulary import float_form_hint

                later = float_form_hint(section, name)
                hint += f" ({later})" if later else ""
            raw.errors.append(KataError(
                exc.text, "load", file=raw.path, line=kpos[0] if kpos else None,
                column=kpos[1] if kpos else None, key=".".join(src + (key,)),
                code="KC011", hint=hint))
            continue
        if name != key:
            raw.diagnostics.append(Diagnostic(
                "note", "KC103", f"`{key}` is accepted as `{name}` (Kata matches keys "
                "case-insensitively)", raw.path, *_line_col(kpos),
                key=".".join(src + (key,)), hint=f"spell it `{name}`"))
        if kpos is not None:
            raw.positions[canon + (name,)] = kpos
    return out


def _line_col(pos: Pos | None) -> tuple[int | None, int | None]:
    return pos if pos is not None else (None, None)


class _TypeProblem(Exception):
    def __init__(self, text: str) -> None:
        self.text = text


def _badtype(value: Any, kind: str) -> _TypeProblem:
    return _TypeProblem(
        f"toml: cannot load TOML value of type {gotoml.go_type_name(value)} into a Go {kind}")


def _unify(option: Option, value: Any) -> Any:
    t = option.gotype
    if t == "string":
        if isinstance(value, str):
            return value
        raise _badtype(value, "string")
    if t == "bool":
        if isinstance(value, bool):
            return value
        raise _badtype(value, "boolean")
    if t == "[]string":
        if not isinstance(value, list):
            raise _badtype(value, "slice")
        for item in value:
            if not isinstance(item, str):
                raise _badtype(item, "string")
        return tuple(value)
    # integers
    if not isinstance(value, int) or isinstance(value, bool):
        raise _badtype(value, _GO_KIND[t])
    if t == "int32":
        lo, hi = _INT32
        if not lo <= value <= hi:
            raise _TypeProblem(f"toml: value {value} is out of range for int32")
        return value
    if t == "uint32":
        lo, hi = _UINT32
        if not lo <= value <= hi:
            raise _TypeProblem(f"toml: value {value} is out of range for uint32")
        return value
    # Go `uint` (64-bit): no bounds check, a negative value wraps around.
    return value % (2**64)


# Unknown keys listed one by one; past this many a file is not a Kata configuration with
# typos but something else (or hostile input): one summary line instead of one per key.
MAX_UNKNOWN_LISTED = 100


def _unknown(raw: RawConfig, src: tuple[str, ...], where: Pos | None, valid: list[str],
             what: str) -> None:
    import difflib

    raw.unknown_count += 1
    if raw.unknown_count > MAX_UNKNOWN_LISTED:
        if raw.unknown_count == MAX_UNKNOWN_LISTED + 1:
            raw.diagnostics.append(Diagnostic(
                "warning", "KC101" if what == "key" else "KC100",
                f"more than {MAX_UNKNOWN_LISTED} unknown keys and tables; "
                "the rest are not listed", raw.path, *_line_col(where), key=".".join(src),
                hint="is this a Kata configuration file?"))
        return
    name = src[-1]
    close = difflib.get_close_matches(name.lower(), valid, n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`?" if close else "Kata ignores it"
    raw.diagnostics.append(Diagnostic(
        "warning", "KC101" if what == "key" else "KC100",
        f"unknown {what} `{'.'.join(src)}` (Kata 1.x ignores it silently)",
        raw.path, *_line_col(where), key=".".join(src), hint=hint))
