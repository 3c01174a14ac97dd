"""Facts injected into a Host (a recorded host's katacfg-host.json, Host.with_facts()): each
has one shape, checked before use so that a wrong one is one clear error, never a crash deep
in a report. Imported only when facts are injected (kata-check on this machine never is).
"""
from __future__ import annotations

import os

from katacfg.host.facts import Fact, KvmProbe

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# facts with_facts() accepts: cached names plus the override-only tables
FACT_NAMES = frozenset({
    "cpus", "vhost_vsock", "arch", "uid", "euid", "kernel_release", "distro", "cpu_block",
    "cpu_flags", "cpu_type", "cpu_details", "running_on_vmm", "kvm_modules", "kvm",
    "kvm_usable", "kvm_error", "smt_off", "files", "modules", "module_params",
    "loadable_modules", "memory_mib", "nested", "fips",
})


def json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _is_int(v: Any, low: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


def _is_str_or_none(v: Any) -> bool:
    return v is None or isinstance(v, str)


def _is_pair(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, str) for x in v)


def _is_strs(v: Any) -> bool:
    return isinstance(v, (list, tuple, set, frozenset)) and all(isinstance(x, str) for x in v)


def _fact_of(check: Any) -> Any:
    """A value `check` accepts, or a Fact, or {"value": ..., "error": "..."}."""
    def ok(v: Any) -> bool:
        if isinstance(v, Fact):
            return True
        if isinstance(v, dict) and v and set(v) <= {"value", "error"}:
            return (v.get("value") is None or check(v["value"])) and _is_str_or_none(
                v.get("error"))
        return check(v)
    return ok


def _is_kvm(v: Any) -> bool:
    if isinstance(v, KvmProbe):
        return True
    if not isinstance(v, dict) or not set(v) <= {"open_error", "api_version", "api_error",
                                                 "create_error"}:
        return False
    api = v.get("api_version")
    return (api is None or _is_int(api, 0)) and all(
        _is_str_or_none(v.get(k)) for k in ("open_error", "api_error", "create_error"))


def _is_str_map(values: Any) -> Any:
    return lambda v: isinstance(v, dict) and all(
        isinstance(k, str) and values(x) for k, x in v.items())


# name -> (test, what is allowed)
_FACT_SHAPES: dict[str, tuple[Any, str]] = {
    "cpus": (lambda v: _is_int(v, 1), "a whole number >= 1"),
    "uid": (lambda v: _is_int(v, 0), "a whole number >= 0"),
    "euid": (lambda v: _is_int(v, 0), "a whole number >= 0"),
    "vhost_vsock": (lambda v: isinstance(v, bool), "true or false"),
    "memory_mib": (lambda v: _is_int(v, 0), "a whole number of MiB >= 0 (MemTotal / 1024)"),
    "nested": (lambda v: isinstance(v, bool), "true or false"),
    "fips": (lambda v: isinstance(v, bool), "true or false"),
    "kvm_usable": (lambda v: isinstance(v, bool), "true or false"),
    "smt_off": (lambda v: isinstance(v, bool), "true or false"),
    "arch": (lambda v: isinstance(v, str) and v != "", "a Go GOARCH name such as \"amd64\""),
    "cpu_flags": (lambda v: isinstance(v, str), "a string of space-separated flags"),
    "cpu_type": (_is_str_or_none, "a string (\"intel\", \"amd\") or null"),
    "kvm_error": (lambda v: isinstance(v, str), "a string"),
    "kernel_release": (_fact_of(lambda v: isinstance(v, str)),
                       'a string, or {"value": string, "error": string}'),
    "cpu_block": (_fact_of(lambda v: isinstance(v, str)),
                  'a string, or {"value": string, "error": string}'),
    "distro": (_fact_of(_is_pair), '[name, version], or {"value": [...], "error": string}'),
    "cpu_details": (_fact_of(_is_pair),
                    '[vendor, model], or {"value": [...], "error": string}'),
    "running_on_vmm": (_fact_of(lambda v: isinstance(v, bool)),
                       'true or false, or {"value": bool, "error": string}'),
    "kvm_modules": (_is_strs, "an array of module names"),
    "modules": (lambda v: _is_strs(v) or _is_str_map(lambda x: True)(v),
                "an array of module names"),
    "loadable_modules": (_is_strs, "an array of module names"),
    "module_params": (_is_str_map(lambda x: isinstance(x, str)),
                      'an object {"module/param": "value"}'),
    "files": (_is_str_map(_is_str_or_none),
              'an object {"/logical/path": "contents" or null for a missing file}'),
    "kvm": (_is_kvm, 'an object with "open_error", "api_version", "api_error", '
                     '"create_error"'),
}


def check_facts(facts: dict[str, Any], where: str) -> None:
    """Raise ValueError naming `where` and the fact when a fact has the wrong shape."""
    for name, value in facts.items():
        shape = _FACT_SHAPES.get(name)
        if shape is None:
            raise ValueError(f"{where}: unknown host fact {name!r} (known: "
                             f"{', '.join(sorted(FACT_NAMES))})")
        test, allowed = shape
        if not test(value):
            raise ValueError(f"{where}: host fact {name!r} is {json_kind(value)}; "
                             f"expected {allowed}")


def read_facts_file(facts_path: str) -> dict[str, Any]:
    """The facts of a recorded host's katacfg-host.json ({} when there is none); ValueError
    names the file and what is wrong with it."""
    if not os.path.lexists(facts_path):
        return {}
    import json

    from katacfg.host.safeio import FileRefused, read_bytes

    try:
        data = read_bytes(facts_path, what="host facts file")
    except FileRefused as exc:
        raise ValueError(exc.text) from None
    try:
        loaded = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{facts_path}: not JSON: {exc}") from None
    if not isinstance(loaded, dict):
        raise ValueError(f"{facts_path}: the host facts must be a JSON object "
                         f"(name: value), not {json_kind(loaded)}")
    overrides = {k: v for k, v in loaded.items() if not k.startswith("_")}
    check_facts(overrides, facts_path)
    return overrides
