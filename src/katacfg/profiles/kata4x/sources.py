"""decodeConfig of Kata 4.x: the main file, then every `config.d` entry, with origins.

Go semantics (pkg/katautils/config.go decodeConfig, decodeDropIns, updateFromDropIn):
- `config.d` is next to the *resolved* main file; a missing folder is ignored, any other
  error to read it fails the load;
- every entry, sorted by name (no `.toml` filter, dot-files too), is read with os.ReadFile:
  a folder or a dangling link fails the load;
- the drop-in is decoded into the same structure: [runtime] and [factory] change key by key;
  tables held in maps ([hypervisor.*], [agent.*]) are replaced by the decoder, so Kata
  copies back, key by key, each `section.name.key` the drop-in names; a key the Go struct
  has no field for (exact name) is then an error, where the main file just ignores it;
- arrays and strings (kernel_params too) are replaced, never appended.
Beyond Kata, every value keeps the file and line that last set it.
"""
from __future__ import annotations

import os

from katacfg.config.errors import Diagnostic, KataError
from katacfg.profiles.kata4x import options as o
from katacfg.profiles.kata4x.toml import TomlError, Unifier, key_string, match_field, parse_keys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Bounds for hostile input: a configuration file and a drop-in are a few KiB.
MAX_FILE_BYTES = 1 << 20  # safeio.MAX_CONFIG_BYTES: no Kata file comes near it
MAX_DROPINS = 1024  # entries of config.d read at most


class Origin(tuple):
    """Where a value came from: (file, line); line may be None."""

    __slots__ = ()

    def __new__(cls, file: str, line: int | None) -> Origin:
        return tuple.__new__(cls, (file, line))

    @property
    def file(self) -> str:
        return self[0]

    @property
    def line(self) -> int | None:
        return self[1]

    def __str__(self) -> str:
        return f"{self[0]}:{self[1]}" if self[1] else self[0]


class Sources:
    """The decoded tomlConfig after the main file and its drop-ins."""

    def __init__(self, path: str) -> None:
        self.path = path  # resolved main file
        self.files: list[str] = []
        # "hypervisor" | "agent" -> table name -> key -> value (map sections, file order)
        self.tables: dict[str, dict[str, dict[str, Any]]] = {"hypervisor": {}, "agent": {}}
        # "runtime" | "factory" -> key -> value
        self.structs: dict[str, dict[str, Any]] = {"runtime": {}, "factory": {}}
        # (section, name, key) or (section, key) -> Origin; (section, name) for tables
        self.origins: dict[tuple[str, ...], Origin] = {}
        self.diagnostics: list[Diagnostic] = []

    def origin(self, *path: str) -> Origin | None:
        return self.origins.get(tuple(path))

    def note(self, severity: str, code: str, message: str, origin: Origin | None,
             key: str | None = None, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(
            severity, code, message, origin.file if origin else self.path,
            origin.line if origin else None, None, key, hint))


def read_file(path: str) -> str:
    """os.ReadFile with Go's texts, bounded (katacfg.host.safeio): regular files (or links to
    them) only; raises OSError whose text is the one line to show."""
    from katacfg.host.safeio import FileRefused, read_bytes

    try:
        data = read_bytes(path, limit=MAX_FILE_BYTES, what="configuration file")
    except FileRefused as exc:
        raise OSError(exc.text) from None
    # Undecodable bytes stay themselves (surrogateescape): v1.6's lexer refuses the first one
    # it meets ("invalid UTF-8 byte: 0xff"), so no value ever holds one.
    return data.decode("utf-8", errors="surrogateescape")


def decode_main(resolved: str, text: str | None = None) -> Sources:
    """Decode the main file (already resolved), then its drop-ins."""
    src = Sources(resolved)
    if text is None:
        try:
            text = read_file(resolved)
        except OSError as exc:
            raise KataError(str(exc), "load", file=resolved, code="KC005",
                            hint="the configuration file must be a readable file") from None
    _decode_into(src, resolved, text, dropin=False)
    decode_dropins(src)
    return src


def dropin_dir(resolved: str) -> str:
    return os.path.join(os.path.dirname(resolved), o.DROPIN_DIR)


def decode_dropins(src: Sources, folder: str | None = None) -> None:
    from katacfg.gocompat.fspath import go_os_error
    from katacfg.gocompat.strconv import quote

    folder = folder or dropin_dir(src.path)
    try:
        names = sorted(os.listdir(folder), key=lambda n: n.encode("utf-8", "surrogateescape"))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise KataError(f"error reading {quote(folder)} directory: "
                        f"{go_os_error('open', folder, exc)}", "load", file=folder,
                        code="KC006", hint="config.d must be a folder of TOML files") from None
    if len(names) > MAX_DROPINS:
        raise KataError(f"{folder}: more than {MAX_DROPINS} drop-in files", "load",
                        file=folder, code="KC006", hint="katacfg reads at most "
                        f"{MAX_DROPINS} entries of config.d")
    for name in names:
        path = os.path.join(folder, name)
        try:
            text = read_file(path)
        except OSError as exc:
            raise KataError(f"error reading file {quote(path)}: {exc}", "load", file=path,
                            code="KC006", hint="every entry of config.d must be a regular "
                            "file (Kata reads them all, whatever their name)") from None
        if not name.endswith(".toml"):
            src.note("warning", "KC120", f"{name} in config.d is read as a drop-in although "
                     "it does not end in .toml (Kata reads every entry)", Origin(path, None),
                     hint="move editor backups and other files out of config.d")
        if name.startswith("."):
            src.note("note", "KC121", f"hidden file {name} in config.d is read as a drop-in",
                     Origin(path, None))
        try:
            _decode_into(src, path, text, dropin=True)
        except TomlError as exc:
            err = TomlError(f"error decoding file {quote(path)}: {exc.text}", "load",
                            file=path, line=exc.line, key=exc.key, code=exc.code,
                            hint=exc.hint)
            err.syntax = exc.syntax
            raise err from None


def _decode_into(src: Sources, path: str, text: str, *, dropin: bool) -> None:
    data, positions, keys = parse_keys(text, path)
    u = Unifier(path, positions)
    src.files.append(path)

    def at(ctx: tuple[Any, ...]) -> Origin:
        return Origin(path, u.line(ctx))

    # Decode every section first (as toml.Decode does), then apply.
    decoded_tables: dict[str, dict[str, dict[str, Any]]] = {}
    decoded_structs: dict[str, dict[str, Any]] = {}
    for top_key, value in data.items():
        section = _top_section(top_key)
        if section is None:
            _unknown_top(src, top_key, at((top_key,)), dropin)
            continue
        go_name, fields, is_map = o.SECTIONS[section]
        if is_map:
            if not isinstance(value, dict):
                # BurntSushi's unifyMap returns nil for a non-table: Kata ignores it
                src.note("warning", "KC102", f"`{top_key}` is not a table; Kata ignores it",
                         at((top_key,)), key=top_key, hint=f"write [{section}.<name>] tables")
                continue
            for name, table in value.items():
                unknown: list[tuple[Any, ...]] = []
                got = u.struct(go_name, fields, table, (top_key, name), unknown)
                decoded_tables.setdefault(section, {})[name] = got or {}
                for k in unknown:
                    _unknown_key(src, section, k, at(k), dropin)
                if not dropin:
                    _apply_table(src, section, name, got or {}, (top_key, name), at, table)
        else:
            unknown = []
            got = u.struct(go_name, fields, value, (top_key,), unknown)
            for k in unknown:
                _unknown_key(src, section, k, at(k), dropin)
            decoded_structs.setdefault(section, {}).update(got or {})
            target = src.structs[section]
            for key, item in (got or {}).items():
                target[key] = item
                src_key = _source_key(value, fields, key)
                src.origins[(section, key)] = at((top_key, src_key))
    if dropin:
        _apply_dropin_keys(src, keys, decoded_tables, at)


def _source_key(table: dict[str, Any], fields: dict[str, str], key: str) -> str:
    """The key as written in the file that filled field `key`."""
    if key in table:
        return key
    for k in table:
        if match_field(fields, k) == key:
            return k
    return key


def _apply_table(src: Sources, section: str, name: str, got: dict[str, Any],
                 ctx: tuple[Any, ...], at: Any, table: Any) -> None:
    """The main file: the decoded table is the table."""
    src.tables[section][name] = dict(got)
    src.origins[(section, name)] = at(ctx)
    fields = o.SECTIONS[section][1]
    for key in got:
        src.origins[(section, name, key)] = at(ctx + (_source_key(table, fields, key),))


def _apply_dropin_keys(src: Sources, keys: list[tuple[Any, ...]],
                       decoded: dict[str, dict[str, dict[str, Any]]], at: Any) -> None:
    """updateFromDropIn's applyKey for every key of md.Keys(), in file order."""
    for key in keys:
        if len(key) < 3 or key[0] not in ("hypervisor", "agent"):
            continue
        section, name, tag = key[0], key[1], key[2]
        fields = o.SECTIONS[section][1]
        if tag not in fields:
            raise KataError(
                f"error applying key '{key_string(key)}' from drop-in file "
                f"\"{at(key).file}\": error getting key \"{tag}\" from a decoded drop-in conf "
                f"file: key \"{tag}\" not found", "load", file=at(key).file, line=at(key).line,
                key=".".join(str(k) for k in key), code="KC122",
                hint=f"`{tag}` is not a key of [{section}.*] in Kata 4.x: a drop-in may only "
                     "set existing keys (the main file would ignore it)")
        value = decoded.get(section, {}).get(name, {}).get(tag, _zero(fields[tag]))
        table = src.tables[section].setdefault(name, {})
        if (section, name) not in src.origins:
            src.origins[(section, name)] = at(key[:2])
        table[tag] = value
        src.origins[(section, name, tag)] = at(key[:3])


def _zero(gotype: str) -> Any:
    return {"string": "", "bool": False, "float32": 0.0, "[]string": (), "[]ext": (),
            "*uint64": None}.get(gotype, 0)


def _top_section(key: str) -> str | None:
    for section, go in o.GO_TOP_FIELDS.items():
        if key == go or key.lower() == go.lower():
            return section
    return None


def _unknown_top(src: Sources, key: str, origin: Origin, dropin: bool) -> None:
    why = o.DROPPED_TABLES.get(key)
    if why:
        src.note("warning", "KC130", f"[{key}] is a Kata 1.x table that 4.x ignores: {why}",
                 origin, key=key, hint=f"remove the [{key}.*] tables")
        return
    src.note("warning", "KC100", f"unknown table `{key}` (Kata 4.x ignores it"
             + (", with a warning in the log)" if dropin else ")"), origin, key=key,
             hint="the tables are hypervisor, agent, runtime and factory")


def _unknown_key(src: Sources, section: str, path: tuple[Any, ...], origin: Origin,
                 dropin: bool) -> None:
    import difflib

    name = str(path[-1])
    if dropin and section in ("hypervisor", "agent"):
        return  # _apply_dropin_keys refuses it, with Kata's text
    why = o.DROPPED_KEYS.get((section, name))
    dotted = ".".join(str(p) for p in path)
    if why:
        src.note("warning", "KC131", f"`{dotted}` is a Kata 1.x key that 4.x ignores: {why}",
                 origin, key=dotted, hint="remove it")
        return
    fields = o.SECTIONS[section][1]
    close = difflib.get_close_matches(name.lower(), list(fields), n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`?" if close else "Kata ignores it"
    src.note("warning", "KC101", f"unknown key `{dotted}` (Kata 4.x ignores it silently)",
             origin, key=dotted, hint=hint)
