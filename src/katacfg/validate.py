"""Cross-key rules of the load (spec/config-keys.md 12): each a small named function.

They run after every table is read, in the reference's order: network namespace, then
hypervisor sanity, then factory. Their refusals carry no "<cfg>: " prefix.
"""
from __future__ import annotations

import os

from katacfg.model import Config

TYPE_CHECKING = False
if TYPE_CHECKING:
    from katacfg.loader import Loader

_MIB = 1024 * 1024


def check_netns(cfg: Config, ld: Loader) -> None:
    """disable_new_netns conflicts with netmon and needs model none; shim tracing needs it."""
    rt = cfg.runtime
    if rt.disable_new_netns:
        if cfg.netmon.enable_netmon:
            ld.fail("config disable_new_netns conflicts with enable_netmon",
                    ("runtime", "disable_new_netns"), code="KC050",
                    hint="disable netmon or keep the network namespace")
        elif rt.internetworking_model != "none":
            ld.fail("config disable_new_netns only works with 'none' internetworking_model",
                    ("runtime", "disable_new_netns"), code="KC050",
                    hint='set internetworking_model = "none"')
    elif cfg.shim.configured and cfg.shim.enable_tracing:
        ld.fail("Shim tracing requires disable_new_netns for Jaeger agent communication",
                ("shim", "kata", "enable_tracing"), code="KC050",
                hint="set disable_new_netns = true (and internetworking_model none)")


def check_hypervisor_sanity(cfg: Config, ld: Loader) -> None:
    """Memory must be set; image and initrd must be non-empty files that fit in memory."""
    from katacfg.gocompat.fspath import errno_text
    from katacfg.gocompat.strconv import quote

    h = cfg.hypervisor
    table = ("hypervisor", cfg.hypervisor_type)
    if h.default_memory == 0:
        ld.fail("VM memory cannot be zero", table + ("default_memory",), code="KC051",
                hint="check the [hypervisor.<name>] table name: qemu, firecracker, acrn, clh")
        return
    refused = {p.key for p in ld.problems}
    for key, path, is_initrd in (("image", h.image, False), ("initrd", h.initrd, True)):
        if not path or cfg.assume_files or ".".join(table + (key,)) in refused:
            continue  # (a path refused while loading is not reported twice)
        try:
            size = os.stat(path).st_size
        except OSError as exc:
            hint = f"{key} {path} cannot be read"
            if not ld.raw.tables.get("hypervisor"):
                hint = ("the file has no [hypervisor.*] table, so Kata used its built-in "
                        f"defaults, whose {hint}")
            ld.fail(errno_text(exc.errno or 0), table + (key,), code="KC052", hint=hint,
                    host=True)
            return
        if size == 0:
            ld.fail(f"image {quote(path)} is empty", table + (key,), code="KC052",
                    hint=f"{key} must be a real guest {key}")
            return
        if size > _MIB:
            size_mb = size // _MIB
            if size_mb >= h.default_memory:
                msg = (f"VM memory ({h.default_memory}MB) smaller than image {quote(path)} "
                       f"size ({size_mb}MB)")
                if is_initrd:
                    ld.fail(msg, table + (key,), code="KC053",
                            hint="raise default_memory above the initrd size")
                    return
                ld.note("warning", "KC111", msg, table + (key,),
                        hint="Kata only warns for an image; raise default_memory")


def check_factory(cfg: Config, ld: Loader) -> None:
    """VM templates need an initrd; the VM cache works with qemu only."""
    f = cfg.factory
    if f.enable_template and not cfg.hypervisor.initrd:
        ld.fail("Factory option enable_template requires an initrd image",
                ("factory", "enable_template"), code="KC054",
                hint="boot from an initrd or disable enable_template")
    elif f.vm_cache_number > 0 and cfg.hypervisor_type != "qemu":
        ld.fail("VM cache just support qemu", ("factory", "vm_cache_number"), code="KC054",
                hint="vm_cache_number needs [hypervisor.qemu]")


def _checks_in_order(cfg: Config, ld: Loader) -> None:
    # The reference stops at the first failing group; later groups only add diagnostics.
    before = len(ld.problems)
    for check in (check_netns, check_hypervisor_sanity, check_factory):
        if len(ld.problems) > before:
            return
        check(cfg, ld)


LOAD_CHECKS = (_checks_in_order,)
