"""Kata 1.x's hypervisors: each a HypervisorProfile (kata-types' ConfigPlugin seam).

A profile holds what its hypervisor's loader in pkg/katautils/config.go does beyond the
registry (spec/config-keys.md 4.2-4.5): its ordered load steps (path resolution and
refusals), the values it forces, the defaults where it differs, its valid() after the
annotations, and its vCPU limits. `HYPERVISORS` lists them in the reference's order.
"""
from __future__ import annotations

from katacfg.config.errors import KataError
from katacfg.profiles import HypervisorProfile
from katacfg.profiles.kata1x import options as hv

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from katacfg.config.load import Loader
    from katacfg.profiles.kata1x.options import HypervisorConfig

# govmm MaxVCPUs() on amd64 (virtcontainers/qemu_amd64.go): the 1.x loader clamps
# default_maxvcpus to it for every hypervisor type; only qemu refuses an annotation above it.
MAX_VCPUS = 240

# The runtime's own guest kernel parameters, before the agent's and the file's (spec 5).
SYSTEMD_PARAMS: tuple[tuple[str, str], ...] = (
    ("systemd.unit", "kata-containers.target"),
    ("systemd.mask", "systemd-networkd.service"),
    ("systemd.mask", "systemd-networkd.socket"),
)
SCSI_SCAN_PARAM = ("scsi_mod.scan", "none")


def runtime_kernel_params(hyp: HypervisorConfig) -> list[tuple[str, str]]:
    """The parameters the 1.x runtime puts first: systemd's for an image, then SCSI scan."""
    params: list[tuple[str, str]] = []
    if hyp.image:
        params += SYSTEMD_PARAMS
    if hyp.block_device_driver == "virtio-scsi":
        params.append(SCSI_SCAN_PARAM)
    return params


# -- load steps that can refuse, in the reference's order (spec 4.5) ------------------------
# step(loader, hypervisor name, raw table values, loaded values): updates `loaded`.

def _path(ld: Loader, kind: str, raw: dict[str, Any], v: dict[str, Any]) -> None:
    v["path"] = ld.resolve(v["path"], ("hypervisor", kind, "path"),
                           hint="path must name the hypervisor binary")


def _jailer(ld: Loader, kind: str, raw: dict[str, Any], v: dict[str, Any]) -> None:
    if raw.get("jailer_path"):
        v["jailer_path"] = ld.resolve(raw["jailer_path"], ("hypervisor", kind, "jailer_path"))


def _ctlpath(ld: Loader, kind: str, raw: dict[str, Any], v: dict[str, Any]) -> None:
    v["ctlpath"] = ld.resolve(v["ctlpath"], ("hypervisor", kind, "ctlpath"))


def _kernel(ld: Loader, kind: str, raw: dict[str, Any], v: dict[str, Any]) -> None:
    v["kernel"] = ld.resolve(v["kernel"], ("hypervisor", kind, "kernel"))


def _try_resolve(ld: Loader, value: str, what: str) -> tuple[str, str | None]:
    from katacfg.gocompat.fspath import GoPathError, abs_path, resolve_path

    if not value:
        return "", f"{what} is not set"
    if ld.assume_files:
        return abs_path(value), None
    try:
        return resolve_path(value), None
    except GoPathError as exc:
        return abs_path(value), str(exc)


def _image_initrd(ld: Loader, kind: str, raw: dict[str, Any], v: dict[str, Any]) -> None:
    at = ("hypervisor", kind)
    initrd, initrd_err = _try_resolve(ld, raw.get("initrd", ""), "initrd")
    image, image_err = _try_resolve(ld, raw.get("image", ""), "image")
    v["initrd"] = "" if initrd_err else initrd
    v["image"] = "" if image_err else image
    if not initrd_err and not image_err:
        ld.fail("having both an image and an initrd defined in the configuration file is not "
                "supported", at + ("initrd",), prefix=True, code="KC033",
                hint="keep only one of image and initrd")
    elif initrd_err and image_err:
        missing = [e for e in (initrd_err, image_err) if not e.endswith("is not set")]
        ld.fail(f"Either initrd or image must be set to a valid path (initrd: {initrd_err}) "
                f"(image: {image_err})", at + ("image",), prefix=True, code="KC033",
                hint="set image (or initrd) to an existing file", host=bool(missing))
        v["image"], v["initrd"] = raw.get("image", ""), raw.get("initrd", "")
    else:
        dropped = "image" if image_err else "initrd"
        if raw.get(dropped):
            ld.note("warning", "KC109", f"{dropped} `{raw[dropped]}` does not exist; Kata drops "
                    f"it silently because the other one exists", at + (dropped,),
                    hint=f"remove the {dropped} line")


def _clh_no_initrd(ld: Loader, kind: str, raw: dict[str, Any], v: dict[str, Any]) -> None:
    if v["initrd"]:
        ld.fail("having an initrd defined in the configuration file is not supported",
                ("hypervisor", kind, "initrd"), prefix=True, code="KC033",
                hint="cloud-hypervisor boots an image")


def _acrn_image(ld: Loader, kind: str, raw: dict[str, Any], v: dict[str, Any]) -> None:
    value = raw.get("image", "")
    if not value:
        ld.fail("image is not set", ("hypervisor", kind, "image"), prefix=True, code="KC033",
                hint="acrn needs an image")
        v["image"] = ""
        return
    v["image"] = ld.resolve(value, ("hypervisor", kind, "image"))


def _firmware(ld: Loader, kind: str, raw: dict[str, Any], v: dict[str, Any]) -> None:
    if raw.get("firmware"):
        v["firmware"] = ld.resolve(raw["firmware"], ("hypervisor", kind, "firmware"))


def _pflashes(ld: Loader, kind: str, raw: dict[str, Any], v: dict[str, Any]) -> None:
    from katacfg.gocompat.fspath import GoPathError, resolve_path

    if ld.assume_files:
        return
    for entry in raw.get("pflashes", ()):
        try:
            resolve_path(entry)
        except GoPathError:
            ld.fail(f"pflash path doesn't exist: {entry}", ("hypervisor", kind, "pflashes"),
                    prefix=True, code="KC030", hint="every pflashes entry must exist", host=True)
            return


def _microvm(ld: Loader, kind: str, raw: dict[str, Any], v: dict[str, Any]) -> None:
    if v["machine_type"] == "microvm":
        v["disable_image_nvdimm"] = True


def _block_driver(ld: Loader, kind: str, raw: dict[str, Any], v: dict[str, Any]) -> None:
    value = raw.get("block_device_driver", "")
    if value and value not in hv.BLOCK_DRIVERS:
        ld.fail(f"Invalid hypervisor block storage driver {value} specified (supported drivers: "
                f"[{' '.join(hv.BLOCK_DRIVERS)}])", ("hypervisor", kind, "block_device_driver"),
                prefix=True, code="KC034",
                hint="block_device_driver must be one of " + ", ".join(hv.BLOCK_DRIVERS))


def _shared_fs(ld: Loader, kind: str, raw: dict[str, Any], v: dict[str, Any]) -> None:
    value = raw.get("shared_fs", "")
    if value and value not in hv.SHARED_FILESYSTEMS:
        ld.fail(f"Invalid hypervisor shared file system {value} specified (supported file "
                "systems: [virtio-9p virtio-fs])", ("hypervisor", kind, "shared_fs"),
                prefix=True, code="KC034", hint="shared_fs must be virtio-9p or virtio-fs")


def _qemu_virtio_fs(ld: Loader, kind: str, raw: dict[str, Any], v: dict[str, Any]) -> None:
    if v["shared_fs"] == "virtio-fs" and not v["virtio_fs_daemon"]:
        ld.fail("cannot enable virtio-fs without daemon path in configuration file",
                ("hypervisor", kind, "virtio_fs_daemon"), prefix=True, code="KC035",
                hint="set virtio_fs_daemon to the virtiofsd binary")


def _clh_virtio_fs(ld: Loader, kind: str, raw: dict[str, Any], v: dict[str, Any]) -> None:
    if not v["virtio_fs_daemon"]:
        ld.fail("virtio-fs daemon path is missing in configuration file",
                ("hypervisor", kind, "virtio_fs_daemon"), prefix=True, code="KC035",
                hint="set virtio_fs_daemon to the virtiofsd binary")


def _qemu_vsock(ld: Loader, kind: str, raw: dict[str, Any], v: dict[str, Any]) -> None:
    if v["use_vsock"] and not ld.host.vhost_vsock:
        v["use_vsock"] = False
        ld.note("warning", "KC110", "use_vsock is true but this host has no /dev/vhost-vsock: "
                "Kata silently falls back to a proxy", ("hypervisor", kind, "use_vsock"),
                hint="load the vhost_vsock kernel module")


def _fc_vsock(ld: Loader, kind: str, raw: dict[str, Any], v: dict[str, Any]) -> None:
    if not ld.host.vhost_vsock:
        ld.fail("No vsock support, firecracker cannot be used", ("hypervisor", kind),
                prefix=True, code="KC036", hint="load the vhost_vsock kernel module", host=True)


# -- after the annotations: HypervisorConfig.valid() --------------------------------------

def zero_value_check(h: HypervisorConfig, profile: HypervisorProfile) -> HypervisorConfig:
    """valid() of qemu, acrn and clh: refuse a missing kernel or image; zero values get the
    registry's defaults (default_maxvcpus: the hypervisor's maximum)."""
    if not h.kernel:
        raise KataError("Missing kernel path", "hypervisor", key="hypervisor.kernel",
                        code="KC230")
    if not h.image and not h.initrd:
        raise KataError("Missing image and initrd path", "hypervisor", key="hypervisor.image",
                        code="KC230")
    options = _options(type(h))
    changes: dict[str, Any] = {}
    for key in ("default_vcpus", "default_memory", "default_bridges", "block_device_driver"):
        if not getattr(h, key):
            changes[key] = options[key].default
    if not h.default_maxvcpus:
        changes["default_maxvcpus"] = profile.max_vcpus
    if not h.msize_9p and h.shared_fs != "virtio-fs":
        changes["msize_9p"] = options["msize_9p"].default
    return h.replace(**changes) if changes else h


_OPTIONS: dict[type, dict[str, Any]] = {}


def _options(cls: type) -> dict[str, Any]:
    """The section's options by key (built once per record class)."""
    found = _OPTIONS.get(cls)
    if found is None:
        found = _OPTIONS[cls] = {o.key: o for o in cls.OPTIONS}  # type: ignore[attr-defined]
    return found


QEMU = HypervisorProfile(
    "qemu",
    steps=(_path, _kernel, _image_initrd, _firmware, _pflashes, _microvm, _block_driver,
           _shared_fs, _qemu_virtio_fs, _qemu_vsock),
    zero_value_check=zero_value_check, max_vcpus=MAX_VCPUS, annotation_max_vcpus=MAX_VCPUS,
    vm_cache=True, doc="QEMU/KVM")
FIRECRACKER = HypervisorProfile(
    "firecracker",
    steps=(_path, _jailer, _kernel, _image_initrd, _firmware, _block_driver, _fc_vsock),
    forced={"use_vsock": True, "disable_vhost_net": True},
    max_vcpus=MAX_VCPUS, doc="Firecracker (valid() keeps zero values)")
ACRN = HypervisorProfile(
    "acrn",
    steps=(_path, _ctlpath, _kernel, _acrn_image, _firmware, _block_driver),
    zero_value_check=zero_value_check, max_vcpus=MAX_VCPUS, doc="ACRN")
CLH = HypervisorProfile(
    "clh",
    steps=(_path, _kernel, _image_initrd, _clh_no_initrd, _firmware, _block_driver,
           _clh_virtio_fs),
    forced={"use_vsock": True, "disable_vhost_net": True, "shared_fs": "virtio-fs"},
    defaults={"virtio_fs_cache": ""},
    zero_value_check=zero_value_check, max_vcpus=MAX_VCPUS, doc="Cloud Hypervisor")

HYPERVISORS: dict[str, HypervisorProfile] = {p.name: p for p in (QEMU, FIRECRACKER, ACRN, CLH)}
