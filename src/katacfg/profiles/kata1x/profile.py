"""PROFILE: Kata 1.x (the final 1.x runtime, 1.13) as one KataProfile value.

Its registry is the sections of katacfg.config.registry; its hypervisors are those of
.hypervisors; discovery, annotation families and kata-env layouts are listed here.
"""
from __future__ import annotations

from katacfg.config import decode
from katacfg.config import load as loader
from katacfg.config.discovery import DEFAULT_CONFIG_PATHS
from katacfg.config.registry import EXPERIMENTAL_FEATURES, HYPERVISOR_PREFIX, PREFIXES
from katacfg.profiles import make_profile
from katacfg.profiles.kata1x.hypervisors import HYPERVISORS
from katacfg.profiles.kata1x.options import (
    GLOBAL_ANNOTATIONS,
    AgentConfig,
    FactoryConfig,
    HypervisorConfig,
    NetmonConfig,
    ProxyConfig,
    RuntimeConfig,
    ShimConfig,
)

# The registry: section -> record class, in the order of Go's tomlConfig.
SECTIONS: dict[str, type] = {
    "hypervisor": HypervisorConfig,
    "proxy": ProxyConfig,
    "shim": ShimConfig,
    "agent": AgentConfig,
    "runtime": RuntimeConfig,
    "factory": FactoryConfig,
    "netmon": NetmonConfig,
}
# [section.<name>] tables (Go maps); the others are plain [section] tables (Go structs).
MAP_SECTIONS = ("hypervisor", "proxy", "shim", "agent")

# kata-env layouts: report section -> field names in Go struct order. A name is an option's
# `env` name in the section the report reads, or a value the report computes (Version...).
_HYPERVISOR_24 = ("MachineType", "Version", "Path", "BlockDeviceDriver", "EntropySource",
                  "SharedFS", "VirtioFSDaemon", "Msize9p", "MemorySlots", "PCIeRootPort",
                  "HotplugVFIOOnRootBus", "Debug", "UseVSock")
_HYPERVISOR_23 = ("MachineType", "Version", "Path", "BlockDeviceDriver", "EntropySource",
                  "Msize9p", "MemorySlots", "Debug", "UseVSock", "SharedFS")
_COMMON = {
    "Proxy": ("Type", "Version", "Path", "Debug"),
    "Netmon": ("Version", "Path", "Debug", "Enable"),
    "Shim": ("Type", "Version", "Path", "Debug"),
    "Agent": ("Type", "Debug", "Trace", "TraceMode", "TraceType"),
}
REPORT_LAYOUTS: dict[str, dict[str, tuple[str, ...]]] = {
    "1.0.24": {
        "Runtime": ("Version", "Config", "Debug", "Trace", "DisableGuestSeccomp",
                    "DisableNewNetNs", "SandboxCgroupOnly", "Experimental", "Path"),
        "Hypervisor": _HYPERVISOR_24, **_COMMON,
    },
    "1.0.23": {
        "Runtime": ("Version", "Config", "Debug", "Trace", "DisableGuestSeccomp",
                    "DisableNewNetNs", "Experimental", "Path"),
        "Hypervisor": _HYPERVISOR_23, **_COMMON,
    },
}

PROFILE = make_profile(
    name="1.x",
    sections=SECTIONS,
    map_sections=MAP_SECTIONS,
    hypervisors=HYPERVISORS,
    default_hypervisor="qemu",
    config_paths=DEFAULT_CONFIG_PATHS,
    annotation_prefixes=PREFIXES,
    gated_prefix=HYPERVISOR_PREFIX,
    global_annotations=GLOBAL_ANNOTATIONS,
    report_layouts=REPORT_LAYOUTS,
    decode=decode.decode,
    build=loader.build,
    # names 1.x does not know are checked against 4.x's registry (profiles/kata4x/
    # vocabulary.py, imported only then): "a Kata 2.x+ key", not a guessed typo
    extra={"experimental_features": EXPERIMENTAL_FEATURES, "later_generation": "4.x"},
)
