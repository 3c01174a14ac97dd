"""Cross-key rules of the load (spec/config-keys.md 12): each a small named, pure function.

A rule takes the loaded configuration and the facts it needs (`LoadFacts`: the host, which
keys were already refused, whether the file had a hypervisor table) and returns findings;
it reads no loader state and touches no file itself (file sizes come through the host).
They run after every table is read, in the reference's order: network namespace, then
hypervisor sanity, then factory. Their refusals carry no "<cfg>: " prefix.
"""
from __future__ import annotations

from katacfg.config.model import Config
from katacfg.config.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_MIB = 1024 * 1024


class LoadFacts(Record):
    """What the rules may know besides the configuration."""

    host: Any  # stat(path) of the files the configuration names
    refused: frozenset[str] = frozenset()  # keys ("hypervisor.qemu.image") already refused
    has_hypervisor_table: bool = True
    hypervisor_tables: tuple[str, ...] = ()  # the [hypervisor.<name>] tables of the file


class Finding(Record):
    """A rule's verdict: a refusal (severity "error") or a diagnostic, at a key."""

    text: str
    where: tuple[str, ...]
    code: str
    hint: str | None = None
    severity: str = "error"
    host: bool = False  # caused by this host (a missing file), not by the file's content


def check_netns(cfg: Config, facts: LoadFacts) -> list[Finding]:
    """disable_new_netns conflicts with netmon and needs model none; shim tracing needs it."""
    rt = cfg.runtime
    if rt.disable_new_netns:
        if cfg.netmon.enable_netmon:
            return [Finding("config disable_new_netns conflicts with enable_netmon",
                            ("runtime", "disable_new_netns"), "KC050",
                            "disable netmon or keep the network namespace")]
        if rt.internetworking_model != "none":
            return [Finding("config disable_new_netns only works with 'none' "
                            "internetworking_model", ("runtime", "disable_new_netns"), "KC050",
                            'set internetworking_model = "none"')]
    elif cfg.shim.configured and cfg.shim.enable_tracing:
        return [Finding("Shim tracing requires disable_new_netns for Jaeger agent communication",
                        ("shim", "kata", "enable_tracing"), "KC050",
                        "set disable_new_netns = true (and internetworking_model none)")]
    return []


def check_hypervisor_sanity(cfg: Config, facts: LoadFacts) -> list[Finding]:
    """Memory must be set; image and initrd must be non-empty files that fit in memory."""
    from katacfg.gocompat.fspath import errno_text
    from katacfg.gocompat.strconv import quote

    h = cfg.hypervisor
    table = ("hypervisor", cfg.hypervisor_type)
    if h.default_memory == 0:
        hint = "check the [hypervisor.<name>] table name: " + ", ".join(cfg.kata.hypervisors)
        if cfg.kata.extra.get("later_generation"):
            from katacfg.profiles.kata4x.vocabulary import later_hypervisor

            later = [n for n in facts.hypervisor_tables if n not in cfg.kata.hypervisors
                     and later_hypervisor(n)]
            if later:
                hint = (f"[hypervisor.{later[0]}] is a Kata 2.x+ hypervisor Kata 1.x does not "
                        "know: `--profile 4.x` reads the file as Kata 4.1.0 does")
        return [Finding("VM memory cannot be zero", table + ("default_memory",), "KC051", hint)]
    out: list[Finding] = []
    for key, path, is_initrd in (("image", h.image, False), ("initrd", h.initrd, True)):
        if not path or cfg.assume_files or ".".join(table + (key,)) in facts.refused:
            continue  # (a path refused while loading is not reported twice)
        try:
            size = facts.host.stat(path).st_size
        except OSError as exc:
            hint = f"{key} {path} cannot be read"
            if not facts.has_hypervisor_table:
                hint = ("the file has no [hypervisor.*] table, so Kata used its built-in "
                        f"defaults, whose {hint}")
            return out + [Finding(errno_text(exc.errno or 0), table + (key,), "KC052", hint,
                                  host=True)]
        if size == 0:
            return out + [Finding(f"image {quote(path)} is empty", table + (key,), "KC052",
                                  f"{key} must be a real guest {key}")]
        if size > _MIB:
            size_mb = size // _MIB
            if size_mb >= h.default_memory:
                msg = (f"VM memory ({h.default_memory}MB) smaller than image {quote(path)} "
                       f"size ({size_mb}MB)")
                if is_initrd:
                    return out + [Finding(msg, table + (key,), "KC053",
                                          "raise default_memory above the initrd size")]
                out.append(Finding(msg, table + (key,), "KC111",
                                   "Kata only warns for an image; raise default_memory",
                                   severity="warning"))
    return out


def check_factory(cfg: Config, facts: LoadFacts) -> list[Finding]:
    """VM templates need an initrd; the VM cache works with qemu only."""
    f = cfg.factory
    if f.enable_template and not cfg.hypervisor.initrd:
        return [Finding("Factory option enable_template requires an initrd image",
                        ("factory", "enable_template"), "KC054",
                        "boot from an initrd or disable enable_template")]
    hv = cfg.kata.hypervisor(cfg.hypervisor_type)
    if f.vm_cache_number > 0 and not (hv is not None and hv.vm_cache):
        able = [f"[hypervisor.{p.name}]" for p in cfg.kata.hypervisors.values() if p.vm_cache]
        return [Finding("VM cache just support qemu", ("factory", "vm_cache_number"), "KC054",
                        "vm_cache_number needs " + " or ".join(able))]
    return []


LOAD_CHECKS = (check_netns, check_hypervisor_sanity, check_factory)


def check(cfg: Config, facts: LoadFacts) -> list[Finding]:
    """Every rule in order; the reference stops at the first group that refuses."""
    out: list[Finding] = []
    for rule in LOAD_CHECKS:
        found = rule(cfg, facts)
        out += found
        if any(f.severity == "error" for f in found):
            break
    return out
