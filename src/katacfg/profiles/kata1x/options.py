"""The Kata 1.x option registry, section by section: [hypervisor.<type>], [agent.kata],
[runtime], [factory], [proxy.kata], [shim.kata], [netmon], and the global annotations.

One file: the registry is what every command reads first, and one module imports once
(each module is about 0.3 M instructions of Python's import machinery at start-up).
Spec references: spec/config-keys.md (keys), spec/annotations.md (annotations).
"""
from __future__ import annotations

from katacfg.config.records import Record
from katacfg.config.registry import EXPERIMENTAL_FEATURES, KATA_PREFIX, SAME, opt, section
from katacfg.config.registry import ann as A
from katacfg.profiles.kata1x.normalise import (
    at_most,
    clamp_max_vcpus,
    clamp_vcpus,
    comma_list,
    kernel_params,
    mapped,
    or_default,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# --- [hypervisor.<type>] keys (spec/config-keys.md section 4) and their annotations (5.1-5.6).

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
BLOCK_DRIVERS = ("virtio-scsi", "virtio-blk", "virtio-mmio", "nvdimm", "virtio-blk-ccw")
SHARED_FILESYSTEMS = ("virtio-9p", "virtio-fs")

# Which hypervisors read a key (Option.hypervisors; None: all of them).
QEMU, FIRECRACKER, ACRN = ("qemu",), ("firecracker",), ("acrn",)
QEMU_CLH, QEMU_ACRN = ("qemu", "clh"), ("qemu", "acrn")
NOT_ACRN, NOT_CLH = ("qemu", "firecracker", "clh"), ("qemu", "firecracker", "acrn")

_BOOL = "Error parsing annotation for {name}: Please specify boolean value 'true|false'"


def _bool(order: int, name: str = "{suffix}") -> Any:
    return A("bool", _BOOL.replace("{name}", name), order)


@section("hypervisor")
class HypervisorConfig(Record):
    """The loaded hypervisor configuration; field names are the TOML keys."""

    path: str = opt(
        "string", DEFAULT_HYPERVISOR_PATH, "hypervisor binary; resolved, must exist",
        annotation=A("restricted", "hypervisor {v} required from annotation is not valid",
                     50, allowlist="valid_hypervisor_paths", asset="hypervisor"),
        normalise=or_default, builtin=SAME, env="Path")
    valid_hypervisor_paths: tuple[str, ...] = opt(
        "[]string", (), "glob patterns a pod's `path` annotation must match")
    jailer_path: str = opt(
        "string", "", "firecracker jailer binary; resolved when set", hypervisors=FIRECRACKER,
        annotation=A("restricted", "jailer {v} required from annotation is not valid",
                     51, allowlist="valid_jailer_paths", asset="jailer"),
        builtin=DEFAULT_JAILER_PATH)
    valid_jailer_paths: tuple[str, ...] = opt(
        "[]string", (), "glob patterns a pod's `jailer_path` annotation must match", hypervisors=FIRECRACKER)
    ctlpath: str = opt(
        "string", DEFAULT_HYPERVISOR_CTL_PATH, "acrnctl binary; resolved, must exist", hypervisors=ACRN,
        annotation=A("restricted",
                     "hypervisor control {v} required from annotation is not valid",
                     52, allowlist="valid_ctlpaths", asset="hypervisorctl"),
        normalise=or_default)
    valid_ctlpaths: tuple[str, ...] = opt(
        "[]string", (), "glob patterns a pod's `ctlpath` annotation must match", hypervisors=ACRN)
    kernel: str = opt(
        "string", DEFAULT_KERNEL_PATH, "guest kernel; resolved, must exist",
        annotation=A("asset", asset="kernel"),
        normalise=or_default, builtin=SAME)
    initrd: str = opt(
        "string", "", "guest initrd; exactly one of image and initrd", hypervisors=NOT_ACRN,
        annotation=A("asset", asset="initrd"),
        builtin=DEFAULT_INITRD_PATH)
    image: str = opt(
        "string", "", "guest root file system image; exactly one of image and initrd",
        annotation=A("asset", asset="image"),
        builtin=DEFAULT_IMAGE_PATH)
    firmware: str = opt(
        "string", "", "guest firmware; empty means the hypervisor's own",
        annotation=A("asset", asset="firmware"))
    machine_accelerators: str = opt(
        "string", "", "comma-separated machine accelerators", hypervisors=QEMU_CLH,
        annotation=A("nonempty", order=61),
        normalise=comma_list)
    cpu_features: str = opt(
        "string", "", "comma-separated CPU features", hypervisors=QEMU,
        annotation=A("nonempty", order=62),
        normalise=comma_list)
    kernel_params: tuple[tuple[str, str], ...] = opt(
        "string", "", "space-separated guest kernel parameters, appended after the runtime's own",
        zero=(),
        annotation=A("params",
                     "Error adding kernel parameters in annotation kernel_params : {err}", 53),
        normalise=kernel_params)
    machine_type: str = opt(
        "string", DEFAULT_MACHINE_TYPE, "machine type; microvm forces disable_image_nvdimm",
        hypervisors=QEMU_CLH, annotation=A("nonempty", order=60),
        normalise=or_default, builtin=SAME, env="MachineType")
    block_device_driver: str = opt(
        "string", DEFAULT_BLOCK_DRIVER, "driver for block devices: " + ", ".join(BLOCK_DRIVERS),
        annotation=A("enum",
                     "Invalid hypervisor block storage driver {v} specified in annotation "
                     "(supported drivers: [" + " ".join(BLOCK_DRIVERS) + "])", 30,
                     choices=BLOCK_DRIVERS),
        normalise=or_default, builtin=SAME, env="BlockDeviceDriver")
    entropy_source: str = opt(
        "string", DEFAULT_ENTROPY_SOURCE, "host source of entropy for the guest; not checked",
        annotation=A("nonempty", order=70),
        normalise=or_default, env="EntropySource")
    shared_fs: str = opt(
        "string", "virtio-9p", "shared file system: virtio-9p or virtio-fs (clh: always virtio-fs)",
        hypervisors=QEMU_CLH,
        annotation=A("enum",
                     "Invalid hypervisor shared file system {v} specified for annotation "
                     "shared_fs, (supported file systems: [virtio-9p virtio-fs])", 40,
                     choices=SHARED_FILESYSTEMS),
        normalise=or_default, env="SharedFS")
    virtio_fs_daemon: str = opt(
        "string", "", "virtiofsd binary; not checked on disk", hypervisors=QEMU_CLH,
        annotation=A("restricted",
                     "virtiofs daemon {v} required from annotation is not valid", 41,
                     allowlist="valid_virtio_fs_daemon_paths", check="virtio_fs"),
        env="VirtioFSDaemon")
    valid_virtio_fs_daemon_paths: tuple[str, ...] = opt(
        "[]string", (), "glob patterns a pod's `virtio_fs_daemon` annotation must match",
        hypervisors=QEMU_CLH)
    virtio_fs_cache: str = opt(
        "string", DEFAULT_VIRTIO_FS_CACHE, "virtio-fs cache mode (none, auto, always); not validated",
        hypervisors=QEMU_CLH, annotation=A("string", order=43),
        normalise=or_default, builtin=SAME)
    virtio_fs_extra_args: tuple[str, ...] = opt(
        "[]string", (), "extra arguments for virtiofsd", hypervisors=QEMU_CLH,
        annotation=A("ignored"))
    pflashes: tuple[str, ...] = opt(
        "[]string", (), "flash images; each must exist, stored as written", hypervisors=QEMU)
    virtio_fs_cache_size: int = opt(
        "uint32", 0, "virtio-fs DAX cache size in MiB", hypervisors=QEMU_CLH,
        annotation=A("uint32",
                     "Error parsing annotation for virtio_fs_cache_size: {err}, please specify "
                     "positive numeric value", 44))
    block_device_cache_set: bool = opt(
        "bool", False, "set cache options on block devices", hypervisors=QEMU_CLH,
        annotation=_bool(33))
    block_device_cache_direct: bool = opt(
        "bool", False, "use O_DIRECT for block devices", hypervisors=QEMU_CLH,
        annotation=_bool(34))
    block_device_cache_noflush: bool = opt(
        "bool", False, "ignore flush requests of block devices", hypervisors=QEMU_CLH,
        annotation=_bool(35))
    enable_vhost_user_store: bool = opt(
        "bool", False, "enable vhost-user storage devices", hypervisors=QEMU,
        annotation=A("ignored"))
    vhost_user_store_path: str = opt(
        "string", DEFAULT_VHOST_USER_STORE_PATH, "folder of vhost-user devices; not checked",
        hypervisors=QEMU,
        annotation=A("restricted",
                     "vhost store path {v} required from annotation is not valid", 64,
                     allowlist="valid_vhost_user_store_paths"),
        normalise=or_default, builtin=SAME)
    valid_vhost_user_store_paths: tuple[str, ...] = opt(
        "[]string", (), "glob patterns a pod's `vhost_user_store_path` annotation must match",
        hypervisors=QEMU)
    default_vcpus: int = opt(
        "int32", 1, "vCPUs at boot: <0 or > host CPUs means all host CPUs, 0 means 1",
        annotation=A("uint32",
                     "Error encountered parsing annotation default_vcpus: {err}, please specify "
                     "numeric value", 10, check="vcpus"),
        normalise=clamp_vcpus, builtin=SAME)
    default_maxvcpus: int = opt(
        "uint32", 0, "maximum vCPUs: 0 or >= host CPUs means host CPUs, at most 240",
        annotation=A("uint32",
                     "Error encountered parsing annotation for default_maxvcpus: {err}, please "
                     "specify positive numeric value", 11, suffix="default_max_vcpus",
                     check="maxvcpus"),
        normalise=clamp_max_vcpus)
    default_memory: int = opt(
        "uint32", DEFAULT_MEMORY_MIB, f"guest memory in MiB; 0 means {DEFAULT_MEMORY_MIB}",
        annotation=A("uint32",
                     "Error encountered parsing annotation for default_memory: {err}", 20),
        normalise=or_default, builtin=SAME)
    memory_slots: int = opt(
        "uint32", DEFAULT_MEM_SLOTS, f"memory hotplug slots; 0 means {DEFAULT_MEM_SLOTS}",
        annotation=A("uint32",
                     "Error parsing annotation for memory_slots: {err}, please specify positive "
                     "numeric value", 21, zero_keeps=True),
        normalise=or_default, env="MemorySlots")
    memory_offset: int = opt(
        "uint32", 0, "MiB added to the maximum memory for NVDIMM devices", hypervisors=QEMU_CLH,
        annotation=A("uint32",
                     "Error parsing annotation for memory_offset: {err}, please specify positive "
                     "numeric value", 22, zero_keeps=True))
    default_bridges: int = opt(
        "uint32", DEFAULT_BRIDGES, f"PCI bridges: 0 means {DEFAULT_BRIDGES}, at most {MAX_PCI_BRIDGES}",
        normalise=at_most(MAX_PCI_BRIDGES, "PCI bridges"), builtin=SAME)
    msize_9p: int = opt(
        "uint32", DEFAULT_MSIZE_9P, f"9p msize in bytes; 0 means {DEFAULT_MSIZE_9P}", hypervisors=QEMU_CLH,
        annotation=A("uint32",
                     "Error parsing annotation for msize_9p, please specify positive numeric value",
                     45, nonzero=True),
        normalise=or_default, builtin=SAME, env="Msize9p")
    pcie_root_port: int = opt(
        "uint32", 0, "PCIe root ports for hotplugging PCIe devices", hypervisors=QEMU_CLH,
        annotation=A("uint32",
                     "Error parsing annotation for pcie_root_port: {err}, Please specify an "
                     "integer greater than or equal to 0", 69),
        env="PCIeRootPort")
    disable_block_device_use: bool = opt(
        "bool", False, "never pass a block device as a container's root file system",
        hypervisors=NOT_ACRN, annotation=_bool(31))
    enable_mem_prealloc: bool = opt(
        "bool", False, "pre-allocate guest memory", hypervisors=QEMU_CLH,
        annotation=_bool(24))
    enable_hugepages: bool = opt(
        "bool", False, "back guest memory with huge pages",
        annotation=_bool(27))
    enable_virtio_mem: bool = opt(
        "bool", False, "enable virtio-mem", hypervisors=QEMU_CLH,
        annotation=_bool(23))
    enable_iommu: bool = opt(
        "bool", False, "enable a vIOMMU (q35)", hypervisors=QEMU,
        annotation=_bool(28, "iommu"))
    enable_iommu_platform: bool = opt(
        "bool", False, "enable IOMMU on CCW devices (s390x)", hypervisors=QEMU,
        annotation=_bool(29))
    file_mem_backend: str = opt(
        "string", "", "file-based guest memory backend folder; not checked", hypervisors=QEMU_CLH,
        annotation=A("restricted",
                     "file_mem_backend value {v} required from annotation is not valid", 26,
                     allowlist="valid_file_mem_backends"))
    valid_file_mem_backends: tuple[str, ...] = opt(
        "[]string", (), "glob patterns a pod's `file_mem_backend` annotation must match",
        hypervisors=QEMU_CLH)
    enable_swap: bool = opt(
        "bool", False, "allow guest memory to be swapped (false locks it)",
        annotation=_bool(25))
    enable_debug: bool = opt("bool", False, "hypervisor debug output",
        env="Debug")
    disable_nesting_checks: bool = opt(
        "bool", False, "behave as on bare metal even when running nested")
    enable_iothreads: bool = opt(
        "bool", False, "handle block I/O in a separate thread", hypervisors=NOT_ACRN,
        annotation=_bool(32))
    use_vsock: bool = opt(
        "bool", False, "talk to the agent over vsock (qemu: only if the host has /dev/vhost-vsock)",
        hypervisors=QEMU, annotation=_bool(66),
        env="UseVSock")
    disable_image_nvdimm: bool = opt(
        "bool", False, "do not use an NVDIMM device for the guest image", hypervisors=QEMU,
        annotation=_bool(67, "use_nvdimm"))
    hotplug_vfio_on_root_bus: bool = opt(
        "bool", False, "hotplug VFIO devices on the root bus", hypervisors=QEMU_CLH,
        annotation=_bool(68),
        env="HotplugVFIOOnRootBus")
    disable_vhost_net: bool = opt(
        "bool", False, "do not use vhost-net (firecracker, clh: always disabled)", hypervisors=QEMU_ACRN,
        annotation=_bool(63))
    guest_hook_path: str = opt(
        "string", "", "guest folder of OCI hooks", hypervisors=NOT_CLH,
        annotation=A("nonempty", order=65))
    enable_annotations: tuple[str, ...] = opt(
        "[]string", (), "regular expressions of the hypervisor annotations a pod may use")


# --- [agent.kata] keys (spec/config-keys.md section 8) and agent annotations (5.8).

AGENT_TYPE = "kata"
KERNEL_MODULES_SEPARATOR = ";"
TRACE_MODES = ("dynamic", "static")
TRACE_TYPES = ("isolated", "collated")


@section("agent")
class AgentConfig(Record):
    """The loaded agent configuration (Go KataAgentConfig)."""

    type: str = opt("string", AGENT_TYPE, "agent type; always kata", toml=False,
                    zero=AGENT_TYPE, env="Type")
    enable_debug: bool = opt("bool", False, "agent debug messages (adds agent.log=debug)",
                            env="Debug")
    enable_tracing: bool = opt(
        "bool", False, "agent tracing (static mode adds agent.trace=<type>)",
        annotation=A("bool",
                     "Error parsing annotation for agent.trace: Please specify boolean value "
                     "'true|false'", 201),
        env="Trace")
    trace_mode: str = opt(
        "string", "", "trace mode: dynamic (default when tracing) or static",
        annotation=A("string", order=202), env="TraceMode")
    trace_type: str = opt(
        "string", "", "trace type: isolated (default when tracing) or collated",
        annotation=A("string", order=203), env="TraceType")
    kernel_modules: tuple[str, ...] = opt(
        "[]string", (), "guest kernel modules to load, each with its parameters",
        annotation=A("split", order=200, sep=KERNEL_MODULES_SEPARATOR))
    container_pipe_size: int = opt(
        "uint32", 0, "size of containers' stdio pipes (annotation only)", toml=False,
        annotation=A("uint32",
                     "Error parsing annotation for "
                     "io.katacontainers.config.agent.container_pipe_size: Please specify uint32 "
                     "value", 204))
    use_vsock: bool = opt("bool", False, "copied from the hypervisor at load time", toml=False)
    long_live_conn: bool = opt("bool", False, "keep the agent connection (shim v2)", toml=False)


# --- [runtime] keys (spec/config-keys.md section 12) and runtime annotations (5.7).

# internetworking_model values: "default" resolves to tcfilter; "bridged" was removed in 1.x.
NETWORK_MODELS = {"default": "tcfilter", "macvtap": "macvtap", "tcfilter": "tcfilter",
                  "none": "none"}
DEFAULT_NETWORK_MODEL = "tcfilter"
EXPERIMENTAL_SEPARATOR = " "



@section("runtime")
class RuntimeConfig(Record):
    """The loaded runtime options."""

    enable_debug: bool = opt("bool", False, "runtime debug messages", env="Debug")
    enable_tracing: bool = opt("bool", False, "runtime opentracing spans", env="Trace")
    disable_guest_seccomp: bool = opt(
        "bool", False, "do not apply container seccomp profiles inside the guest",
        annotation=A("bool", _BOOL.replace("{name}", "disable_guest_seccomp"), 100),
        env="DisableGuestSeccomp")
    sandbox_cgroup_only: bool = opt(
        "bool", False, "put all Kata processes in the sandbox cgroup",
        annotation=A("bool", _BOOL.replace("{name}", "sandbox_cgroup_only"), 101),
        env="SandboxCgroupOnly")
    enable_agent_pidns: bool = opt(
        "bool", False, "let containers share the agent's PID namespace (debug only)")
    disable_new_netns: bool = opt(
        "bool", False, "do not create a network namespace (needs internetworking_model none)",
        annotation=A("bool", _BOOL.replace("{name}", "experimental"), 103),
        env="DisableNewNetNs")
    experimental: tuple[str, ...] = opt(
        "[]string", (), "experimental features to enable (known: newstore)",
        annotation=A("split",
                     "Unsupported experimental feature {v} specified in annotation "
                     "io.katacontainers.config.runtime.experimental", 102,
                     sep=EXPERIMENTAL_SEPARATOR, choices=tuple(EXPERIMENTAL_FEATURES)))
    internetworking_model: str = opt(
        "string", DEFAULT_NETWORK_MODEL, "how the VM joins the pod network: macvtap, tcfilter, none",
        zero=DEFAULT_NETWORK_MODEL, normalise=mapped(NETWORK_MODELS, DEFAULT_NETWORK_MODEL),
        annotation=A("enum",
                     "Unknown network model specified in annotation "
                     "io.katacontainers.config.runtime.internetworking_model", 104,
                     choices=NETWORK_MODELS))


# --- [factory], [proxy.kata], [shim.kata] and [netmon] (spec/config-keys.md 7, 9, 10, 11).

DEFAULT_PROXY_PATH = "/usr/libexec/kata-containers/kata-proxy"
DEFAULT_SHIM_PATH = "/usr/libexec/kata-containers/kata-shim"
DEFAULT_NETMON_PATH = "/usr/libexec/kata-containers/kata-netmon"
DEFAULT_TEMPLATE_PATH = "/run/vc/vm/template"
DEFAULT_VM_CACHE_ENDPOINT = "/var/run/kata-containers/cache.sock"

KATA_PROXY, NO_PROXY, BUILTIN_PROXY = "kataProxy", "noProxy", "kataBuiltInProxy"
KATA_SHIM, BUILTIN_SHIM = "kataShim", "kataBuiltInShim"
COMPONENT_TABLE = "kata"  # the only [proxy.*], [shim.*], [agent.*] name the CLI accepts


@section("factory")
class FactoryConfig(Record):
    """VM factory: templating and VM cache."""

    enable_template: bool = opt("bool", False, "create VMs from a template (needs an initrd)")
    template_path: str = opt("string", DEFAULT_TEMPLATE_PATH, "template folder; not checked",
                             normalise=or_default)
    vm_cache_number: int = opt("uint", 0, "number of cached VMs (qemu only); 0 disables")
    vm_cache_endpoint: str = opt("string", DEFAULT_VM_CACHE_ENDPOINT, "VM cache socket",
                                 normalise=or_default)


@section("proxy")
class ProxyConfig(Record):
    """The proxy between shim and agent (none when vsock is used)."""

    type: str = opt("string", KATA_PROXY, "kataProxy, noProxy or kataBuiltInProxy", toml=False,
                    zero=KATA_PROXY, env="Type")
    path: str = opt("string", DEFAULT_PROXY_PATH, "kata-proxy binary; resolved, must exist",
                    normalise=or_default, env="Path")
    enable_debug: bool = opt("bool", False, "proxy messages to the system log", env="Debug")


@section("shim")
class ShimConfig(Record):
    """The shim; `configured` is False when Go holds no shim configuration at all."""

    type: str = opt("string", KATA_SHIM, "kataShim or kataBuiltInShim", toml=False,
                    zero=KATA_SHIM, env="Type")
    path: str = opt("string", DEFAULT_SHIM_PATH, "kata-shim binary; resolved, must exist",
                    normalise=or_default, env="Path")
    enable_debug: bool = opt("bool", False, "shim messages to the system log", env="Debug")
    enable_tracing: bool = opt("bool", False, "shim opentracing spans (needs disable_new_netns)")
    configured: bool = opt("bool", False, "a shim configuration exists", toml=False)


@section("netmon")
class NetmonConfig(Record):
    """The network monitor."""

    path: str = opt("string", DEFAULT_NETMON_PATH, "kata-netmon binary; not checked",
                    normalise=or_default, env="Path")
    enable_debug: bool = opt("bool", False, "netmon messages to the system log", env="Debug")
    enable_netmon: bool = opt("bool", False, "watch the pod network for changes", env="Enable")


# --- Annotations that set no configuration key: global names (spec 5.9, 7).
#
# Asset hash annotations come from the registry (`Annotation.asset`: `<asset>_hash`).

CONFIG_PATH_ANNOTATION = KATA_PREFIX + "config_path"
BUNDLE_PATH_ANNOTATION = KATA_PREFIX + "pkg.oci.bundle_path"
CONTAINER_TYPE_ANNOTATION = KATA_PREFIX + "pkg.oci.container_type"
ASSET_HASH_TYPE_ANNOTATION = KATA_PREFIX + "asset_hash_type"

# Global annotations the overlay reads or deliberately ignores: name -> what it means.
GLOBAL_ANNOTATIONS: dict[str, str] = {
    CONFIG_PATH_ANNOTATION: "shim v2 only: another configuration file for this pod",
    BUNDLE_PATH_ANNOTATION: "set by the runtime; a value in the spec is ignored",
    CONTAINER_TYPE_ANNOTATION: "set by the runtime; a value in the spec is ignored",
    ASSET_HASH_TYPE_ANNOTATION: "never used: asset hashes are always SHA-512",
}
