"""PROFILE: Kata 4.x (the Go runtime of tag 4.1.0) as one KataProfile value.

The 4.x registry is the data of .options (TOML structs, READERS, FORCED, dropped 1.x keys);
its hypervisor profiles hold the constructors' ordered refusing steps of .load; values are
plain dicts (Config4x), not the 1.x records, so `decode` returns the decoded Sources (main
file and config.d) and `build` runs the 4.x loader on them.
"""
from __future__ import annotations

from katacfg.config.registry import Option
from katacfg.profiles import HypervisorProfile, KataProfile
from katacfg.profiles.kata4x import annotations as ann
from katacfg.profiles.kata4x import options as o

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _decode(text: str, path: str, profile: KataProfile | None = None) -> Any:
    from katacfg.profiles.kata4x import sources

    src = sources.Sources(path)
    sources._decode_into(src, path, text, dropin=False)
    sources.decode_dropins(src)
    return src


def _build(raw: Any, host: Any, mode: str = "shimv2", profile: KataProfile | None = None,
           assume_files: bool = False) -> Any:
    from katacfg.profiles.kata4x.load import Loader

    return Loader(raw, host, assume_files=assume_files).run()


def _load(path: Any, *, host: Any = None, mode: str = "shimv2", strict: bool = True,
          assume_files: bool = False) -> Any:
    """katacfg.load(..., profile=4.x): LoadConfiguration with config.d (always strict)."""
    from os import fspath

    from katacfg.profiles.kata4x.load import load

    if host is None:
        from katacfg.host.facts import Host

        host = Host.real()
    return load(None if path is None else fspath(path), host, assume_files=assume_files)


def _resolve(path: Any, annotations: Any = None, *, host: Any = None,
             mode: str = "shimv2") -> Any:
    """katacfg.resolve(..., profile=4.x): the shim's stages for one sandbox."""
    from os import fspath

    from katacfg.profiles.kata4x.pipeline import resolve

    if host is None:
        from katacfg.host.facts import Host

        host = Host.real()
    return resolve(None if path is None else fspath(path), annotations, host)


def _options() -> dict[str, dict[str, Option]]:
    out: dict[str, dict[str, Option]] = {}
    for section, (_go, keys, _is_map) in o.SECTIONS.items():
        out[section] = {}
        for key, gotype in keys.items():
            spec = o.READERS.get(key) if section == "hypervisor" else None
            hypervisors = tuple(o.LETTER[c] for c in spec[0]) if spec else None
            doc = f"copied by {', '.join(hypervisors)} ({spec[1]})" if spec and hypervisors \
                else ""
            out[section][key] = Option(gotype, None, doc, hypervisors=hypervisors, key=key,
                                       section=section)
    return out


HYPERVISORS = {
    name: HypervisorProfile(
        name=name,
        steps=tuple(__import__("katacfg.profiles.kata4x.load", fromlist=["_"])
                    .HYPERVISOR_STEPS[name]),
        forced=dict(o.FORCED.get(name, {})),
        max_vcpus=o.MAX_VCPUS,
        annotation_max_vcpus=o.MAX_VCPUS if name == "qemu" else 0,
        doc=f"new{name.capitalize()}HypervisorConfig of Kata 4.1.0",
    )
    for name in o.HYPERVISORS
}

PROFILE = KataProfile(
    name="4.x",
    sections={},
    map_sections=("hypervisor", "agent"),
    hypervisors=HYPERVISORS,
    default_hypervisor="qemu",
    config_paths=o.DEFAULT_CONFIG_PATHS,
    annotation_prefixes={"hypervisor": ann.HV, "runtime": ann.RT, "agent": ann.AG},
    gated_prefix=ann.HV,
    global_annotations={name: what for name, (key, what) in ann.ANNOTATIONS.items()
                        if not key},
    report_layouts={},
    decode=_decode,
    build=_build,
    options=_options(),
    annotations={},
    extra={"load": _load, "resolve": _resolve,
           "experimental_features": o.EXPERIMENTAL_FEATURES, "kata_version": o.KATA_VERSION,
           "annotation_table": ann.ANNOTATIONS, "readers": o.READERS,
           "dropped_keys": o.DROPPED_KEYS, "dropped_tables": o.DROPPED_TABLES,
           "conf_file_env": o.CONF_FILE_ENV, "dropin_dir": o.DROPIN_DIR},
)
