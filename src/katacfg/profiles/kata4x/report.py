"""What Kata 4.x's reports look like, as data: the kata-env 1.0.27 layout and the
kata-check rules (src/runtime/cmd/kata-runtime/kata-env.go, kata-check_*.go of 4.1.0).

The renderers (katacfg.reports.kata_env4x, katacfg.reports.kata_check) read these values;
nothing here prints.
"""
from __future__ import annotations

from katacfg.profiles.kata4x import options as o
from katacfg.reports.kata_check import RULES, CheckRules, Rule

ENV_FORMAT = "1.0.27"  # kata-env.go formatVersion
RUNTIME_VERSION = o.KATA_VERSION  # katautils.VERSION of the 4.1.0 build
RUNTIME_COMMIT = "ddcb1ad8d23cbb4323f86c209f132b89592902df"  # katautils.COMMIT of tag 4.1.0
OCI_VERSION = "1.2.1"  # specs.Version of the runtime-spec module 4.1.0 builds with

# kata-env 1.0.27: report section -> field -> where its value comes from, in Go struct
# order (EnvInfo). "section.key" reads the loaded configuration; a nested dict is a nested
# struct; None is computed by the renderer (versions, host facts, the socket template).
ENV_LAYOUT: dict[str, dict[str, object]] = {
    "Kernel": {"Path": "hypervisor.kernel", "Parameters": None},
    "Meta": {"Version": None},
    "Image": {"Path": "hypervisor.image"},
    "Initrd": {"Path": "hypervisor.initrd"},
    "Hypervisor": {
        "MachineType": "hypervisor.machine_type", "Version": None, "Path": "hypervisor.path",
        "BlockDeviceDriver": "hypervisor.block_device_driver",
        "EntropySource": "hypervisor.entropy_source", "SharedFS": "hypervisor.shared_fs",
        "VirtioFSDaemon": "hypervisor.virtio_fs_daemon", "SocketPath": None,
        "Msize9p": "hypervisor.msize_9p", "MemorySlots": "hypervisor.memory_slots",
        "HotPlugVFIO": "hypervisor.hot_plug_vfio", "ColdPlugVFIO": "hypervisor.cold_plug_vfio",
        "PCIeRootPort": "hypervisor.pcie_root_port",
        "PCIeSwitchPort": "hypervisor.pcie_switch_port", "Debug": "hypervisor.enable_debug",
        "SecurityInfo": {
            "Rootless": "hypervisor.rootless", "DisableSeccomp": "hypervisor.disable_seccomp",
            "GuestHookPath": "hypervisor.guest_hook_path",
            "EnableAnnotations": "hypervisor.enable_annotations",
            "ConfidentialGuest": "hypervisor.confidential_guest",
        },
    },
    "Runtime": {
        "Config": None, "Path": None, "GuestSeLinuxLabel": "runtime.guest_selinux_label",
        "Experimental": None, "Version": None, "Debug": "runtime.enable_debug",
        "Trace": "runtime.enable_tracing", "DisableGuestSeccomp": "runtime.disable_guest_seccomp",
        "DisableNewNetNs": "runtime.disable_new_netns",
        "SandboxCgroupOnly": "runtime.sandbox_cgroup_only",
    },
    "Host": {
        "AvailableGuestProtections": None, "Kernel": None, "Architecture": None,
        "Distro": None, "CPU": None, "Memory": None, "VMContainerCapable": None,
        "SupportVSocks": None,
    },
    "Agent": {"Debug": "agent.enable_debug", "Trace": "agent.enable_tracing"},
}
# Go slices copied from the file as they were decoded: nil (TOML: no key, JSON: null) when
# the key is in no file, even though the loaded value is an empty list.
NIL_WHEN_UNSET = frozenset({"hypervisor.enable_annotations"})

# GetHypervisorSocketTemplate (run only as root): hypervisor -> how the socket is found.
# "vsock": utils.FindContextID on /dev/vhost-vsock, a plain vsock (the report shows "");
# "hybrid:<template>": a hybrid-vsock path ({ID} is the sandbox, {name} the binary's base
# name); "mock": no hybrid vsock (""); "error:<text>": the call fails, so does kata-env.
SOCKETS: dict[str, str] = {
    "qemu": "vsock",
    "stratovirt": "vsock",
    "clh": "hybrid:{ID}/clh.sock",  # BuildSocketPath("", id, "clh.sock"): no VM store yet
    "firecracker": "hybrid:/run/vc/{name}/{ID}/root/kata.hvsock",  # setPaths, jailer root
    "dragonball": "mock",  # NewHypervisor gives the mock hypervisor
    "remote": "error:failed to generate remote sock: TunnelSocketPath is not set",
}

# availableGuestProtection (amd64): the first kvm module parameter reading Y wins.
GUEST_PROTECTIONS: tuple[tuple[str, str, str], ...] = (
    ("kvm_intel", "tdx", "tdx"),
    ("kvm_amd", "sev_snp", "snp"),
)

# --- kata-check: setCPUtype and archHostCanCreateVMContainer of 4.1.0 ----------------------
# The rows are 1.x's with two changes: on Intel the KVM rows cover the 4.x hypervisors that
# share qemu's table (there is no ACRN any more, and remote has no table at all, so
# setCPUtype refuses it there); the CPU vendor error is spelled correctly.
INTEL_KVM_HYPERVISORS = ("qemu", "clh", "firecracker", "dragonball", "stratovirt")


def _rules_4x(rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    out = []
    for r in rules:
        if r.hypervisors == ("acrn",):
            continue
        if r.vendor == "intel" and r.hypervisors:
            r = r.replace(hypervisors=INTEL_KVM_HYPERVISORS)
        out.append(r)
    return tuple(out)


def _create_vm_4x(arch: str, hypervisor_type: str) -> str:
    if hypervisor_type in ("remote", "mock"):
        return "none"
    if arch != "amd64":
        return "kvm"  # arm64, ppc64le, s390x: kvmIsUsable for every other type
    return "kvm" if hypervisor_type in ("qemu", "clh", "stratovirt", "firecracker") \
        else "unknown"


CHECK_RULES = CheckRules("kata-runtime 4.x", _rules_4x(RULES), "Unknown CPU Type",
                         _create_vm_4x)
