"""[hypervisor.<type>] keys (spec/config-keys.md section 4) and their annotations (5.1-5.6)."""
from __future__ import annotations

from katacfg.options import Annotation as A
from katacfg.options import opt, section
from katacfg.records import Record

# Built-in defaults of pkg/katautils/config-settings.go.in (stock amd64 build).
DEFAULT_HYPERVISOR_PATH = "/usr/bin/qemu-lite-system-x86_64"
DEFAULT_HYPERVISOR_CTL_PATH = "/usr/bin/acrnctl"
DEFAULT_JAILER_PATH = "/usr/bin/jailer"
DEFAULT_IMAGE_PATH = "/usr/share/kata-containers/kata-containers.img"
DEFAULT_KERNEL_PATH = "/usr/share/kata-containers/vmlinuz.container"
DEFAULT_INITRD_PATH = "/usr/share/kata-containers/kata-containers-initrd.img"
DEFAULT_MACHINE_TYPE = "pc"
DEFAULT_ENTROPY_SOURCE = "/dev/urandom"
DEFAULT_VHOST_USER_STORE_PATH = "/var/run/kata-containers/vhost-user/"
DEFAULT_VIRTIO_FS_CACHE = "none"
DEFAULT_MEMORY_MIB = 2048
DEFAULT_MEM_SLOTS = 10
DEFAULT_BRIDGES = 1
MAX_PCI_BRIDGES = 5
DEFAULT_MSIZE_9P = 8192
DEFAULT_BLOCK_DRIVER = "virtio-scsi"
MAX_VCPUS = 240  # virtcontainers/qemu_amd64.go, used for every hypervisor type
BLOCK_DRIVERS = ("virtio-scsi", "virtio-blk", "virtio-mmio", "nvdimm", "virtio-blk-ccw")
SHARED_FILESYSTEMS = ("virtio-9p", "virtio-fs")

_BOOL = "Error parsing annotation for {name}: Please specify boolean value 'true|false'"


def _bool(suffix: str, order: int, name: str | None = None) -> A:
    return A(suffix, "bool", _BOOL.replace("{name}", name or suffix), order)


@section("hypervisor")
class HypervisorConfig(Record):
    """The loaded hypervisor configuration; field names are the TOML keys."""

    path: str = opt(
        "string", DEFAULT_HYPERVISOR_PATH, "hypervisor binary; resolved, must exist",
        annotation=A("path", "restricted", "hypervisor {v} required from annotation is not valid",
                     50, allowlist="valid_hypervisor_paths", asset="hypervisor"))
    valid_hypervisor_paths: tuple[str, ...] = opt(
        "[]string", (), "glob patterns a pod's `path` annotation must match")
    jailer_path: str = opt(
        "string", "", "firecracker jailer binary; resolved when set", readers="F",
        annotation=A("jailer_path", "restricted", "jailer {v} required from annotation is not valid",
                     51, allowlist="valid_jailer_paths", asset="jailer"))
    valid_jailer_paths: tuple[str, ...] = opt(
        "[]string", (), "glob patterns a pod's `jailer_path` annotation must match", readers="F")
    ctlpath: str = opt(
        "string", DEFAULT_HYPERVISOR_CTL_PATH, "acrnctl binary; resolved, must exist", readers="A",
        annotation=A("ctlpath", "restricted",
                     "hypervisor control {v} required from annotation is not valid",
                     52, allowlist="valid_ctlpaths", asset="hypervisorctl"))
    valid_ctlpaths: tuple[str, ...] = opt(
        "[]string", (), "glob patterns a pod's `ctlpath` annotation must match", readers="A")
    kernel: str = opt(
        "string", DEFAULT_KERNEL_PATH, "guest kernel; resolved, must exist",
        annotation=A("kernel", "asset", asset="kernel"))
    initrd: str = opt(
        "string", "", "guest initrd; exactly one of image and initrd", readers="QFC",
        annotation=A("initrd", "asset", asset="initrd"))
    image: str = opt(
        "string", "", "guest root file system image; exactly one of image and initrd",
        annotation=A("image", "asset", asset="image"))
    firmware: str = opt(
        "string", "", "guest firmware; empty means the hypervisor's own",
        annotation=A("firmware", "asset", asset="firmware"))
    machine_accelerators: str = opt(
        "string", "", "comma-separated machine accelerators", readers="QC",
        annotation=A("machine_accelerators", "nonempty", order=61))
    cpu_features: str = opt(
        "string", "", "comma-separated CPU features", readers="Q",
        annotation=A("cpu_features", "nonempty", order=62))
    kernel_params: tuple[tuple[str, str], ...] = opt(
        "string", "", "space-separated guest kernel parameters, appended after the runtime's own",
        zero=(),
        annotation=A("kernel_params", "params",
                     "Error adding kernel parameters in annotation kernel_params : {err}", 53))
    machine_type: str = opt(
        "string", DEFAULT_MACHINE_TYPE, "machine type; microvm forces disable_image_nvdimm",
        readers="QC", annotation=A("machine_type", "nonempty", order=60))
    block_device_driver: str = opt(
        "string", DEFAULT_BLOCK_DRIVER, "driver for block devices: " + ", ".join(BLOCK_DRIVERS),
        annotation=A("block_device_driver", "enum",
                     "Invalid hypervisor block storage driver {v} specified in annotation "
                     "(supported drivers: [" + " ".join(BLOCK_DRIVERS) + "])", 30,
                     choices=BLOCK_DRIVERS))
    entropy_source: str = opt(
        "string", DEFAULT_ENTROPY_SOURCE, "host source of entropy for the guest; not checked",
        annotation=A("entropy_source", "nonempty", order=70))
    shared_fs: str = opt(
        "string", "virtio-9p", "shared file system: virtio-9p or virtio-fs (clh: always virtio-fs)",
        readers="QC",
        annotation=A("shared_fs", "enum",
                     "Invalid hypervisor shared file system {v} specified for annotation "
                     "shared_fs, (supported file systems: [virtio-9p virtio-fs])", 40,
                     choices=SHARED_FILESYSTEMS))
    virtio_fs_daemon: str = opt(
        "string", "", "virtiofsd binary; not checked on disk", readers="QC",
        annotation=A("virtio_fs_daemon", "restricted",
                     "virtiofs daemon {v} required from annotation is not valid", 41,
                     allowlist="valid_virtio_fs_daemon_paths", check="virtio_fs"))
    valid_virtio_fs_daemon_paths: tuple[str, ...] = opt(
        "[]string", (), "glob patterns a pod's `virtio_fs_daemon` annotation must match",
        readers="QC")
    virtio_fs_cache: str = opt(
        "string", DEFAULT_VIRTIO_FS_CACHE, "virtio-fs cache mode (none, auto, always); not validated",
        readers="QC", annotation=A("virtio_fs_cache", "string", order=43))
    virtio_fs_extra_args: tuple[str, ...] = opt(
        "[]string", (), "extra arguments for virtiofsd", readers="QC",
        annotation=A("virtio_fs_extra_args", "ignored"))
    pflashes: tuple[str, ...] = opt(
        "[]string", (), "flash images; each must exist, stored as written", readers="Q")
    virtio_fs_cache_size: int = opt(
        "uint32", 0, "virtio-fs DAX cache size in MiB", readers="QC",
        annotation=A("virtio_fs_cache_size", "uint32",
                     "Error parsing annotation for virtio_fs_cache_size: {err}, please specify "
                     "positive numeric value", 44))
    block_device_cache_set: bool = opt(
        "bool", False, "set cache options on block devices", readers="QC",
        annotation=_bool("block_device_cache_set", 33))
    block_device_cache_direct: bool = opt(
        "bool", False, "use O_DIRECT for block devices", readers="QC",
        annotation=_bool("block_device_cache_direct", 34))
    block_device_cache_noflush: bool = opt(
        "bool", False, "ignore flush requests of block devices", readers="QC",
        annotation=_bool("block_device_cache_noflush", 35))
    enable_vhost_user_store: bool = opt(
        "bool", False, "enable vhost-user storage devices", readers="Q",
        annotation=A("enable_vhost_user_store", "ignored"))
    vhost_user_store_path: str = opt(
        "string", DEFAULT_VHOST_USER_STORE_PATH, "folder of vhost-user devices; not checked",
        readers="Q",
        annotation=A("vhost_user_store_path", "restricted",
                     "vhost store path {v} required from annotation is not valid", 64,
                     allowlist="valid_vhost_user_store_paths"))
    valid_vhost_user_store_paths: tuple[str, ...] = opt(
        "[]string", (), "glob patterns a pod's `vhost_user_store_path` annotation must match",
        readers="Q")
    default_vcpus: int = opt(
        "int32", 1, "vCPUs at boot: <0 or > host CPUs means all host CPUs, 0 means 1",
        annotation=A("default_vcpus", "uint32",
                     "Error encountered parsing annotation default_vcpus: {err}, please specify "
                     "numeric value", 10, check="vcpus"))
    default_maxvcpus: int = opt(
        "uint32", 0, "maximum vCPUs: 0 or >= host CPUs means host CPUs, at most 240",
        annotation=A("default_max_vcpus", "uint32",
                     "Error encountered parsing annotation for default_maxvcpus: {err}, please "
                     "specify positive numeric value", 11, check="maxvcpus"))
    default_memory: int = opt(
        "uint32", DEFAULT_MEMORY_MIB, "guest memory in MiB; 0 means 2048",
        annotation=A("default_memory", "uint32",
                     "Error encountered parsing annotation for default_memory: {err}", 20))
    memory_slots: int = opt(
        "uint32", DEFAULT_MEM_SLOTS, "memory hotplug slots; 0 means 10",
        annotation=A("memory_slots", "uint32",
                     "Error parsing annotation for memory_slots: {err}, please specify positive "
                     "numeric value", 21, zero_keeps=True))
    memory_offset: int = opt(
        "uint32", 0, "MiB added to the maximum memory for NVDIMM devices", readers="QC",
        annotation=A("memory_offset", "uint32",
                     "Error parsing annotation for memory_offset: {err}, please specify positive "
                     "numeric value", 22, zero_keeps=True))
    default_bridges: int = opt(
        "uint32", DEFAULT_BRIDGES, "PCI bridges: 0 means 1, at most 5")
    msize_9p: int = opt(
        "uint32", DEFAULT_MSIZE_9P, "9p msize in bytes; 0 means 8192", readers="QC",
        annotation=A("msize_9p", "uint32",
                     "Error parsing annotation for msize_9p, please specify positive numeric value",
                     45, nonzero=True))
    pcie_root_port: int = opt(
        "uint32", 0, "PCIe root ports for hotplugging PCIe devices", readers="QC",
        annotation=A("pcie_root_port", "uint32",
                     "Error parsing annotation for pcie_root_port: {err}, Please specify an "
                     "integer greater than or equal to 0", 69))
    disable_block_device_use: bool = opt(
        "bool", False, "never pass a block device as a container's root file system",
        readers="QFC", annotation=_bool("disable_block_device_use", 31))
    enable_mem_prealloc: bool = opt(
        "bool", False, "pre-allocate guest memory", readers="QC",
        annotation=_bool("enable_mem_prealloc", 24))
    enable_hugepages: bool = opt(
        "bool", False, "back guest memory with huge pages",
        annotation=_bool("enable_hugepages", 27))
    enable_virtio_mem: bool = opt(
        "bool", False, "enable virtio-mem", readers="QC",
        annotation=_bool("enable_virtio_mem", 23))
    enable_iommu: bool = opt(
        "bool", False, "enable a vIOMMU (q35)", readers="Q",
        annotation=_bool("enable_iommu", 28, "iommu"))
    enable_iommu_platform: bool = opt(
        "bool", False, "enable IOMMU on CCW devices (s390x)", readers="Q",
        annotation=_bool("enable_iommu_platform", 29))
    file_mem_backend: str = opt(
        "string", "", "file-based guest memory backend folder; not checked", readers="QC",
        annotation=A("file_mem_backend", "restricted",
                     "file_mem_backend value {v} required from annotation is not valid", 26,
                     allowlist="valid_file_mem_backends"))
    valid_file_mem_backends: tuple[str, ...] = opt(
        "[]string", (), "glob patterns a pod's `file_mem_backend` annotation must match",
        readers="QC")
    enable_swap: bool = opt(
        "bool", False, "allow guest memory to be swapped (false locks it)",
        annotation=_bool("enable_swap", 25))
    enable_debug: bool = opt("bool", False, "hypervisor debug output")
    disable_nesting_checks: bool = opt(
        "bool", False, "behave as on bare metal even when running nested")
    enable_iothreads: bool = opt(
        "bool", False, "handle block I/O in a separate thread", readers="QFC",
        annotation=_bool("enable_iothreads", 32))
    use_vsock: bool = opt(
        "bool", False, "talk to the agent over vsock (qemu: only if the host has /dev/vhost-vsock)",
        readers="Q", annotation=_bool("use_vsock", 66))
    disable_image_nvdimm: bool = opt(
        "bool", False, "do not use an NVDIMM device for the guest image", readers="Q",
        annotation=_bool("disable_image_nvdimm", 67, "use_nvdimm"))
    hotplug_vfio_on_root_bus: bool = opt(
        "bool", False, "hotplug VFIO devices on the root bus", readers="QC",
        annotation=_bool("hotplug_vfio_on_root_bus", 68))
    disable_vhost_net: bool = opt(
        "bool", False, "do not use vhost-net (firecracker, clh: always disabled)", readers="QA",
        annotation=_bool("disable_vhost_net", 63))
    guest_hook_path: str = opt(
        "string", "", "guest folder of OCI hooks", readers="QFA",
        annotation=A("guest_hook_path", "nonempty", order=65))
    enable_annotations: tuple[str, ...] = opt(
        "[]string", (), "regular expressions of the hypervisor annotations a pod may use")
