"""Profiles: the two seams of what varies, each a value passed down (never module state).

A `KataProfile` is one Kata generation ("1.x"; kata4x adds "4.x"): its option registry
(sections of Options), its hypervisor profiles, its discovery paths, its annotation set, its
report layouts and its decoder and loader. A `HypervisorProfile` is one hypervisor inside it
(kata-types' ConfigPlugin): its ordered load steps, forced values, per-hypervisor defaults,
zero-value check and vCPU / memory limits.

Profiles are registered in one place, `_MODULES` below, and built on first use:

    from katacfg.profiles import get_profile
    p = get_profile("1.x")
    p.hypervisors["qemu"].max_vcpus      # 240

Two profiles loaded in one process never share state: each holds its own registry.
"""
from __future__ import annotations

import os

from katacfg.config.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from katacfg.config.registry import Annotation, Option

DEFAULT_PROFILE = "1.x"

# The one registration point: profile name -> module whose PROFILE is the KataProfile.
_MODULES: dict[str, str] = {
    "1.x": "katacfg.profiles.kata1x.profile",
    "4.x": "katacfg.profiles.kata4x.profile",
}


class HypervisorProfile(Record):
    """One hypervisor of a Kata generation: how its [hypervisor.<name>] table is loaded."""

    name: str
    # load steps that can refuse, in the reference's order: step(loader, name, raw, values)
    steps: tuple[Callable[..., None], ...] = ()
    forced: dict[str, Any] = {}  # values set whatever the file says
    defaults: dict[str, Any] = {}  # option key -> this hypervisor's default, where it differs
    # after the annotations: the hypervisor's valid() (zero values get built-in ones), or None
    # (hypervisor section record, this profile) -> record, or raises KataError
    zero_value_check: Callable[[Any, HypervisorProfile], Any] | None = None
    max_vcpus: int = 0  # load-time clamp of default_maxvcpus (0: none)
    annotation_max_vcpus: int = 0  # default_maxvcpus annotations above it are refused (0: none)
    max_memory_mib: int = 0  # 0: no limit
    vm_cache: bool = False  # the VM factory's cache (vm_cache_number) works with it
    doc: str = ""

    def default(self, option: Option) -> Any:
        """The option's default for this hypervisor."""
        return self.defaults.get(option.key, option.default)


class KataProfile(Record):
    """One Kata generation, everything that differs between generations, as one value."""

    name: str  # "1.x"
    sections: dict[str, type]  # section name -> its record class (fields carry Options)
    map_sections: tuple[str, ...]  # [section.<name>] tables (Go maps)
    hypervisors: dict[str, HypervisorProfile]  # by table name, in the reference's order
    default_hypervisor: str  # hypervisor_type when the file has no hypervisor table
    config_paths: tuple[str, ...]  # discovery: default configuration files, first wins
    annotation_prefixes: dict[str, str]  # family -> io.katacontainers.* prefix
    gated_prefix: str  # annotations under it must pass enable_annotations
    global_annotations: dict[str, str]  # annotations that set no option: name -> meaning
    report_layouts: dict[str, Any]  # kata-env format version -> section -> field names
    decode: Callable[..., Any]  # decode(text, path, profile) -> RawConfig
    build: Callable[..., Any]  # build(raw, host, mode, profile, assume_files) -> Config
    options: dict[str, dict[str, Option]] = {}  # section -> key -> Option (TOML keys only)
    annotations: dict[str, Annotation] = {}  # full name -> Annotation
    # (path annotation, its hash annotation's name), in the order Kata checks assets
    assets: tuple[tuple[Annotation, str], ...] = ()
    extra: dict[str, Any] = {}  # profile-specific facts (e.g. experimental features)

    def hypervisor(self, name: str) -> HypervisorProfile | None:
        return self.hypervisors.get(name)

    def option(self, section: str, key: str) -> Option:
        return self.options[section][key]

    def __repr__(self) -> str:
        return f"KataProfile({self.name!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (get_profile, (self.name,))  # functions inside: pickle the name


def make_profile(**fields: Any) -> KataProfile:
    """A KataProfile whose option and annotation indexes are derived from its sections."""
    sections: dict[str, type] = fields["sections"]
    options = {name: {o.key: o for o in cls.OPTIONS if o.toml}  # type: ignore[attr-defined]
               for name, cls in sections.items()}
    annotations = {o.annotation.name: o.annotation
                   for cls in sections.values() for o in cls.OPTIONS  # type: ignore[attr-defined]
                   if o.annotation is not None}
    prefix = fields["annotation_prefixes"]["hypervisor"]
    assets = tuple((a, prefix + a.asset + "_hash")
                   for a in sorted((a for a in annotations.values() if a.asset),
                                   key=lambda a: a.asset))
    return KataProfile(options=options, annotations=annotations, assets=assets, **fields)


_DERIVED = ("options", "annotations", "assets")


def vary(profile: KataProfile, **changes: Any) -> KataProfile:
    """Another profile like `profile` with some fields changed (e.g. a section), its indexes
    derived again: how a test or a new generation starts from an existing one."""
    fields = {k: v for k, v in profile.as_dict().items() if k not in _DERIVED}
    fields.update(changes)
    return make_profile(**fields)


_CACHE: dict[str, KataProfile] = {}


def get_profile(name: str | None = None) -> KataProfile:
    """The registered profile of that name (default "1.x"); ValueError names the known ones."""
    name = name or DEFAULT_PROFILE
    profile = _CACHE.get(name)
    if profile is None:
        module = _MODULES.get(name)
        if module is None:
            raise ValueError(f"unknown Kata profile {name!r} (known: {', '.join(_MODULES)})")
        import sys

        __import__(module)  # not importlib.import_module: importing importlib costs start-up
        profile = sys.modules[module].PROFILE
        _CACHE[name] = profile
    return profile


def profile_names() -> tuple[str, ...]:
    return tuple(_MODULES)


# --- choosing a profile for a file: --profile 1.x|4.x|auto (or $KATACFG_PROFILE) ----------
# `auto`, the default, picks 4.x only on unambiguous evidence, because most files and every
# 1.x conformance case must stay 1.x: the file has no 1.x-only table or key ([proxy.*],
# [shim.*], [netmon], use_vsock, ...) and has a hypervisor table only 4.x knows (dragonball,
# stratovirt, remote) or at least AUTO_MIN_KEYS keys only 4.x reads.

PROFILES = ("1.x", "4.x")
CHOICES = ("1.x", "4.x", "auto")
ENV = "KATACFG_PROFILE"
AUTO_MIN_KEYS = 3  # one or two later keys are typos or experiments in a 1.x file

# Keys and tables that exist only in 1.x (their presence keeps a file 1.x).
_ONLY_1X_TABLES = {"proxy", "shim", "netmon"}
_ONLY_1X_KEYS = {"use_vsock", "enable_agent_pidns", "trace_mode", "trace_type", "ctlpath",
                 "valid_ctlpaths", "file_mem_backend", "valid_file_mem_backends",
                 "hotplug_vfio_on_root_bus", "enable_swap"}
_ONLY_4X_TABLES = {"dragonball", "stratovirt", "remote"}


def requested(value: str | None) -> str:
    """The profile asked for: the flag, else $KATACFG_PROFILE, else auto."""
    chosen = value or os.environ.get(ENV) or "auto"
    if chosen not in CHOICES:
        raise ValueError(f"unknown profile {chosen!r} (use {', '.join(CHOICES)})")
    return chosen


def choose(value: str | None, path: str | None) -> tuple[str, str]:
    """(profile, reason). Reads the file and looks at its tables and keys, never decodes it."""
    chosen = requested(value)
    if chosen != "auto":
        return chosen, "asked for"
    if not path:
        return "1.x", "no file given"
    from katacfg.host.safeio import FileRefused, read_text

    try:
        text = read_text(path, what="configuration file")
    except FileRefused:
        return "1.x", "the file cannot be read"  # the loader refuses it with its own text
    # TOML 1.1 syntax that Kata 1.x's decoder refuses is no evidence here: a 1.x file
    # with such an error must get Kata 1.x's refusal (the conformance cases of the 1.x
    # runtime are read under auto); the refusal's hint names --profile 4.x instead
    return classify(text)


def classify(text: str) -> tuple[str, str]:
    section = ""
    table = ""
    found: list[str] = []
    for line in text.split("\n"):
        s = line.strip()
        if not s or s[0] == "#":
            continue
        if s[0] == "[":
            parts = s.strip("[]").split("#")[0].strip().strip("]").split(".")
            section = parts[0].strip().strip("\"'")
            table = parts[1].strip().strip("\"'") if len(parts) > 1 else ""
            if section in _ONLY_1X_TABLES:
                return "1.x", f"[{section}] is a Kata 1.x table"
            if section == "hypervisor" and table == "acrn":
                return "1.x", "[hypervisor.acrn] exists only in Kata 1.x"
            if section == "hypervisor" and table in _ONLY_4X_TABLES:
                found.append(f"[hypervisor.{table}]")
            continue
        key = s.split("=", 1)[0].strip() if "=" in s else ""
        if not key:
            continue
        if key in _ONLY_1X_KEYS:
            return "1.x", f"`{key}` is a Kata 1.x key"
        if section in _SECTIONS_4X and key not in _KEYS_1X[section]:
            found.append(f"{section}.{key}")  # 4.x-only if 4.x knows it (checked below)
    tables = [f for f in found if f.startswith("[")]
    if tables:
        return "4.x", f"{tables[0]} exists only in Kata 3.x/4.x"
    keys: list[str] = []
    if found:  # the 4.x vocabulary is imported only for keys 1.x does not know
        from katacfg.profiles.kata4x import options as o

        known4 = {"hypervisor": o.HYPERVISOR_KEYS, "agent": o.AGENT_KEYS,
                  "runtime": o.RUNTIME_KEYS}
        keys = sorted({f for f in found if f.split(".", 1)[1] in known4[f.split(".", 1)[0]]})
    if len(keys) >= AUTO_MIN_KEYS:
        return "4.x", f"{len(keys)} keys only Kata 3.x/4.x reads ({', '.join(keys[:3])}, ...)"
    return "1.x", f"no Kata 4.x-only table and fewer than {AUTO_MIN_KEYS} 4.x-only keys"


_SECTIONS_4X = ("hypervisor", "agent", "runtime")


def _keys_1x() -> dict[str, set[str]]:
    options = get_profile("1.x").options
    return {s: set(options.get(s, {})) for s in ("hypervisor", "agent", "runtime", "factory")}


class _Lazy(dict):  # the 1.x registry is imported only when auto has to classify
    def __missing__(self, key: str) -> set[str]:
        self.update(_keys_1x())
        return dict.__getitem__(self, key)


_KEYS_1X: dict[str, set[str]] = _Lazy()
