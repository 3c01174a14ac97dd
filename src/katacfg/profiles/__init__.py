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

from katacfg.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from katacfg.options import Annotation, Option

DEFAULT_PROFILE = "1.x"

# The one registration point: profile name -> module whose PROFILE is the KataProfile.
_MODULES: dict[str, str] = {
    "1.x": "katacfg.profiles.kata1x.profile",
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
    return KataProfile(options=options, annotations=annotations, **fields)


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
