"""The Kata 4.x pod annotations (virtcontainers/pkg/annotations, pkg/oci/utils.go).

All 89 names of annotations.go are in ANNOTATIONS with what 4.1.0 does with them; the
overlay applies them in Go's order (CPU, memory, block, virtio-fs, network, paths, VFIO,
PCIe ports, initdata, machine, vhost-user, hook, nvdimm, serial, entropy, SGX EPC, GPUs;
then runtime; then agent), each refusal with Go's text. The gate: every annotation whose
name starts with `io.katacontainers.config.hypervisor.` must have its suffix matched
(unanchored RE2) by one entry of enable_annotations, else the sandbox is refused. Kata's
Rust runtime (runtime-rs, the default shim of 4.x) skips such an annotation instead.
"""
from __future__ import annotations

from katacfg.config.errors import KataError
from katacfg.gocompat import strconv
from katacfg.profiles.kata4x import options as o
from katacfg.profiles.kata4x.gofloat import format_f, parse_float32, to_float32

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

KATA = "io.katacontainers."
HV = KATA + "config.hypervisor."
RT = KATA + "config.runtime."
AG = KATA + "config.agent."

# name -> (section.key it sets or "", what 4.1.0 does with it)
ANNOTATIONS: dict[str, tuple[str, str]] = {
    HV + "kernel": ("hypervisor.kernel", "asset path (custom asset beside the configured one)"),
    HV + "image": ("hypervisor.image", "asset path"),
    HV + "initrd": ("hypervisor.initrd", "asset path"),
    HV + "path": ("hypervisor.path", "allow-listed by valid_hypervisor_paths; asset path"),
    HV + "jailer_path": ("hypervisor.jailer_path", "allow-listed by valid_jailer_paths; asset"),
    HV + "firmware": ("hypervisor.firmware", "asset path"),
    HV + "firmware_volume": ("hypervisor.firmware_volume", "asset path"),
    HV + "kernel_hash": ("", "SHA-512 of the kernel asset"),
    HV + "image_hash": ("", "SHA-512 of the image asset"),
    HV + "initrd_hash": ("", "SHA-512 of the initrd asset"),
    HV + "hypervisor_hash": ("", "SHA-512 of the hypervisor asset"),
    HV + "jailer_hash": ("", "SHA-512 of the jailer asset"),
    HV + "firmware_hash": ("", "SHA-512 of the firmware asset"),
    HV + "firmware_volume_hash": ("", "SHA-512 of the firmware volume asset"),
    KATA + "asset_hash_type": ("", "not copied to the sandbox: SHA-512 is always used"),
    HV + "kernel_params": ("hypervisor.kernel_params", "replaces same-key parameters"),
    HV + "kernel_verity_params": ("hypervisor.kernel_verity_params", "checked, then set"),
    HV + "machine_type": ("hypervisor.machine_type", "set when not empty"),
    HV + "machine_accelerators": ("hypervisor.machine_accelerators", "set when not empty"),
    HV + "cpu_features": ("hypervisor.cpu_features", "set when not empty"),
    HV + "disable_vhost_net": ("hypervisor.disable_vhost_net", "bool"),
    HV + "enable_vhost_user_store": ("hypervisor.enable_vhost_user_store", "bool"),
    HV + "vhost_user_store_path": ("hypervisor.vhost_user_store_path",
                                   "allow-listed by valid_vhost_user_store_paths"),
    HV + "vhost_user_reconnect_timeout_sec": ("hypervisor.vhost_user_reconnect_timeout_sec",
                                              "uint32"),
    HV + "guest_hook_path": ("hypervisor.guest_hook_path", "set when not empty"),
    HV + "disable_image_nvdimm": ("hypervisor.disable_image_nvdimm", "bool"),
    HV + "cold_plug_vfio": ("hypervisor.cold_plug_vfio", "PCIe port; clears hot_plug_vfio"),
    HV + "hot_plug_vfio": ("hypervisor.hot_plug_vfio", "PCIe port; clears cold_plug_vfio"),
    HV + "pcie_root_port": ("hypervisor.pcie_root_port", "uint32, 0 keeps the file's"),
    HV + "pcie_switch_port": ("hypervisor.pcie_switch_port", "uint32, 0 keeps the file's"),
    HV + "entropy_source": ("hypervisor.entropy_source",
                            "allow-listed by valid_entropy_sources"),
    HV + "use_legacy_serial": ("hypervisor.use_legacy_serial", "bool"),
    HV + "default_gpus": ("hypervisor.default_gpus", "remote hypervisor only"),
    HV + "default_gpu_model": ("hypervisor.default_gpu_model", "remote hypervisor only"),
    HV + "default_vcpus": ("hypervisor.default_vcpus", "float, at most the host CPUs"),
    HV + "default_max_vcpus": ("hypervisor.default_maxvcpus", "at most the host CPUs"),
    HV + "default_memory": ("hypervisor.default_memory", "MiB, at least 256"),
    HV + "memory_slots": ("hypervisor.memory_slots", "uint32, 0 keeps the file's"),
    HV + "memory_offset": ("hypervisor.memory_offset", "uint64, 0 keeps the file's"),
    HV + "enable_virtio_mem": ("hypervisor.enable_virtio_mem", "bool"),
    HV + "enable_mem_prealloc": ("hypervisor.enable_mem_prealloc", "bool"),
    HV + "reclaim_guest_freed_memory": ("hypervisor.reclaim_guest_freed_memory", "bool"),
    HV + "enable_hugepages": ("hypervisor.enable_hugepages", "bool"),
    HV + "enable_iommu": ("hypervisor.enable_iommu", "bool"),
    HV + "enable_iommu_platform": ("hypervisor.enable_iommu_platform", "bool"),
    HV + "numa_mapping": ("hypervisor.numa_mapping", "host NUMA node sets"),
    HV + "shared_fs": ("hypervisor.shared_fs", "virtio-9p or virtio-fs"),
    HV + "virtio_fs_daemon": ("hypervisor.virtio_fs_daemon",
                              "allow-listed by valid_virtio_fs_daemon_paths"),
    HV + "virtio_fs_cache": ("hypervisor.virtio_fs_cache", "set as given"),
    HV + "virtio_fs_cache_size": ("hypervisor.virtio_fs_cache_size", "uint32"),
    HV + "virtio_fs_extra_args": ("hypervisor.virtio_fs_extra_args",
                                  "JSON array, appended"),
    HV + "block_device_driver": ("hypervisor.block_device_driver", "one of the drivers"),
    HV + "block_device_aio": ("hypervisor.block_device_aio", "io_uring, native, threads"),
    HV + "disable_block_device_use": ("hypervisor.disable_block_device_use", "bool"),
    HV + "enable_iothreads": ("hypervisor.enable_iothreads", "bool"),
    HV + "indep_iothreads": ("hypervisor.indep_iothreads", "1 to 50"),
    HV + "block_device_cache_set": ("hypervisor.block_device_cache_set", "bool"),
    HV + "block_device_cache_direct": ("hypervisor.block_device_cache_direct", "bool"),
    HV + "block_device_cache_noflush": ("hypervisor.block_device_cache_noflush", "bool"),
    HV + "blk_logical_sector_size": ("hypervisor.block_device_logical_sector_size",
                                     "0 or a power of 2 from 512 to 65536"),
    HV + "blk_physical_sector_size": ("hypervisor.block_device_physical_sector_size",
                                      "0 or a power of 2 from 512 to 65536"),
    HV + "rx_rate_limiter_max_rate": ("hypervisor.rx_rate_limiter_max_rate", "uint64"),
    HV + "tx_rate_limiter_max_rate": ("hypervisor.tx_rate_limiter_max_rate", "uint64"),
    HV + "enable_guest_swap": ("hypervisor.enable_guest_swap", "bool"),
    HV + "rootless": ("hypervisor.rootless", "bool"),
    HV + "cc_init_data": ("hypervisor.cc_init_data", "base64 gzip initdata TOML"),
    RT + "disable_guest_seccomp": ("runtime.disable_guest_seccomp", "bool"),
    RT + "guest_selinux_label": ("runtime.guest_selinux_label", "defined, never applied"),
    RT + "sandbox_cgroup_only": ("runtime.sandbox_cgroup_only", "bool"),
    KATA + "enable_vcpus_pinning": ("runtime.enable_vcpus_pinning", "bool"),
    RT + "enable_pprof": ("runtime.enable_pprof", "defined, never applied"),
    RT + "experimental": ("runtime.experimental", "space-separated features"),
    RT + "internetworking_model": ("runtime.internetworking_model", "network model"),
    RT + "disable_new_netns": ("runtime.disable_new_netns", "bool"),
    RT + "vfio_mode": ("runtime.vfio_mode", "vfio or guest-kernel"),
    RT + "create_container_timeout": ("runtime.create_container_timeout", "uint64 seconds"),
    RT + "experimental_force_guest_pull": ("runtime.experimental_force_guest_pull", "bool"),
    AG + "kernel_modules": ("agent.kernel_modules", "split on ';'"),
    AG + "enable_tracing": ("agent.enable_tracing", "bool"),
    AG + "container_pipe_size": ("agent.container_pipe_size", "uint32 (wraps)"),
    AG + "policy": ("agent.policy", "base64 of the agent policy"),
    KATA + "container.resource.swappiness": ("", "container level: guest swap"),
    KATA + "container.resource.swap_in_bytes": ("", "container level: guest swap"),
    KATA + "fs-opt.layer=": ("", "container level: file system layers"),
    KATA + "fs-opt.is-layer": ("", "container level: file system layers"),
    KATA + "fs-opt.block_device=file": ("", "container level: block device volumes"),
    "sgx.intel.com/epc": ("hypervisor.sgx_epc_size", "binary-SI quantity of SGX EPC"),
    KATA + "pkg.oci.bundle_path": ("", "set by Kata itself"),
    KATA + "pkg.oci.container_type": ("", "set by Kata itself"),
}
ASSETS = (  # types.AssetTypes() order: (output key, path annotation, hash annotation)
    ("firmware", HV + "firmware", HV + "firmware_hash"),
    ("firmware_volume", HV + "firmware_volume", HV + "firmware_volume_hash"),
    ("path", HV + "path", HV + "hypervisor_hash"),
    ("image", HV + "image", HV + "image_hash"),
    ("initrd", HV + "initrd", HV + "initrd_hash"),
    ("jailer_path", HV + "jailer_path", HV + "jailer_hash"),
    ("kernel", HV + "kernel", HV + "kernel_hash"),
)
SIZING = {  # containerd's CRI sandbox sizing annotations
    "period": "io.kubernetes.cri.sandbox-cpu-period",
    "quota": "io.kubernetes.cri.sandbox-cpu-quota",
    "shares": "io.kubernetes.cri.sandbox-cpu-shares",
    "memory": "io.kubernetes.cri.sandbox-memory",
}


class Refusal(KataError):
    pass


def _refuse(text: str, name: str, hint: str = "", stage: str = "annotations") -> Refusal:
    return Refusal(text, stage, key=name, hint=hint or None, code="KC210")


def _num(name: str) -> str:
    return f"Error parsing annotation for {name}: Please specify positive numeric value"


class Overlay:
    """SandboxConfig's addAnnotations on a copy of the loaded sections."""

    def __init__(self, hyp: dict[str, Any], runtime: dict[str, Any], agent: dict[str, Any],
                 hv_type: str, annotations: Mapping[str, str], host_cpus: int, *,
                 assume_files: bool = False) -> None:
        self.h, self.rt, self.ag = hyp, runtime, agent
        self.assume_files = assume_files  # allow-lists by pattern: the files are elsewhere
        self.kind = hv_type
        self.ann = annotations
        self.cpus = host_cpus
        self.applied: dict[str, tuple[str, Any, Any]] = {}  # name -> (key, old, new)

    def set(self, name: str, section: dict[str, Any], key: str, value: Any) -> None:
        label = ("hypervisor" if section is self.h else "runtime" if section is self.rt
                 else "agent") + "." + key
        old = self.applied.get(name, (label, section.get(key), None))[1]
        section[key] = value
        self.applied[name] = (label, old, value)

    # parsers (newAnnotationConfiguration) ------------------------------------------------
    def boolean(self, name: str, section: dict[str, Any], key: str) -> None:
        if name in self.ann:
            try:
                value = strconv.parse_bool(self.ann[name])
            except ValueError:
                raise _refuse(f"Error parsing annotation for {name}: Please specify boolean "
                              "value 'true|false'", name, "true or false (or 1, 0, t, f)") \
                    from None
            self.set(name, section, key, value)

    def uint(self, name: str) -> int | None:
        if name not in self.ann:
            return None
        try:
            return strconv.parse_uint(self.ann[name], 64)
        except ValueError:
            raise _refuse(_num(name), name, "a decimal number from 0 to 18446744073709551615") \
                from None

    def globbed(self, name: str, allow: tuple[str, ...], what: str, key: str,
                only_nonempty: bool = False) -> None:
        from katacfg.gocompat.glob import path_in_globs, pattern_in_globs

        if name not in self.ann:
            return
        value = self.ann[name]
        inside = pattern_in_globs if self.assume_files else path_in_globs
        if not inside(list(allow), value):
            raise _refuse(f"{what} {value} required from annotation is not valid", name,
                          f"the value must be an existing path matched by {key.split('.')[-1]}"
                          f" patterns (now {list(allow)})")
        if value or not only_nonempty:
            self.set(name, self.h, key.split(".")[-1], value)

    def nonempty(self, name: str, section: dict[str, Any], key: str) -> None:
        if self.ann.get(name):
            self.set(name, section, key, self.ann[name])

    # groups, in Go's order --------------------------------------------------------------
    def run(self) -> None:
        self.cpu()
        self.memory()
        self.block()
        self.virtio_fs()
        self.network()
        self.paths()
        self.vfio()
        for suffix, key in (("pcie_root_port", "pcie_root_port"),
                            ("pcie_switch_port", "pcie_switch_port")):
            v = self.uint(HV + suffix)
            if v:
                self.set(HV + suffix, self.h, key, v & 0xFFFFFFFF)
        self.initdata()
        self.nonempty(HV + "machine_type", self.h, "machine_type")
        self.nonempty(HV + "machine_accelerators", self.h, "machine_accelerators")
        if HV + "vhost_user_store_path" in self.ann:
            self.globbed(HV + "vhost_user_store_path", self.h["valid_vhost_user_store_paths"],
                         "vhost store path", "vhost_user_store_path")
        self.boolean(HV + "enable_vhost_user_store", self.h, "enable_vhost_user_store")
        v = self.uint(HV + "vhost_user_reconnect_timeout_sec")
        if v is not None:
            self.set(HV + "vhost_user_reconnect_timeout_sec", self.h,
                     "vhost_user_reconnect_timeout_sec", v & 0xFFFFFFFF)
        self.nonempty(HV + "guest_hook_path", self.h, "guest_hook_path")
        self.boolean(HV + "disable_image_nvdimm", self.h, "disable_image_nvdimm")
        self.boolean(HV + "use_legacy_serial", self.h, "use_legacy_serial")
        self.globbed(HV + "entropy_source", self.h["valid_entropy_sources"], "entropy source",
                     "entropy_source", only_nonempty=True)
        self.sgx()
        if self.kind == "remote":
            v = self.uint(HV + "default_gpus")
            if v is not None:
                self.set(HV + "default_gpus", self.h, "default_gpus", v & 0xFFFFFFFF)
            self.nonempty(HV + "default_gpu_model", self.h, "default_gpu_model")
        self.runtime()
        self.agent()

    def cpu(self) -> None:
        name = HV + "default_vcpus"
        if name in self.ann:
            value, ok = parse_float32(self.ann[name])
            if not ok or value is None or value < 0:
                raise _refuse(_num(name), name, "a non-negative number of vCPUs (fractions "
                              "allowed)")
            if value > float(self.cpus) and self.kind != "remote":
                raise _refuse(f"Number of cpus {format_f(value)} specified in annotation "
                              f"default_vcpus is greater than the number of CPUs {self.cpus} on "
                              "the system", name, f"at most {self.cpus} on this host")
            self.set(name, self.h, "default_vcpus", value)
        name = HV + "default_max_vcpus"
        v = self.uint(name)
        if v is not None:
            m = v & 0xFFFFFFFF
            if m > self.cpus and self.kind != "remote":
                raise _refuse(f"Number of cpus {m} in annotation default_maxvcpus is greater "
                              f"than the number of CPUs {self.cpus} on the system", name,
                              f"at most {self.cpus} on this host")
            if self.kind == "qemu" and m > o.MAX_VCPUS:
                raise _refuse(f"Number of cpus {m} in annotation default_maxvcpus is greater "
                              f"than max no of CPUs {o.MAX_VCPUS} supported for qemu", name,
                              f"at most {o.MAX_VCPUS}")
            self.set(name, self.h, "default_maxvcpus", m)

    def memory(self) -> None:
        name = HV + "default_memory"
        v = self.uint(name)
        if v is not None:
            if v < o.MIN_MEMORY_MIB and self.kind != "remote":
                raise _refuse(f"Memory specified in annotation {name} is less than minimum "
                              f"required {o.MIN_MEMORY_MIB}, please specify a larger value",
                              name, f"at least {o.MIN_MEMORY_MIB} (MiB)")
            self.set(name, self.h, "default_memory", v & 0xFFFFFFFF)
        v = self.uint(HV + "memory_slots")
        if v:
            self.set(HV + "memory_slots", self.h, "memory_slots", v & 0xFFFFFFFF)
        v = self.uint(HV + "memory_offset")
        if v:
            self.set(HV + "memory_offset", self.h, "memory_offset", v)
        for suffix in ("enable_virtio_mem", "enable_mem_prealloc", "reclaim_guest_freed_memory",
                       "enable_hugepages", "enable_iommu", "enable_iommu_platform",
                       "enable_guest_swap", "rootless"):
            self.boolean(HV + suffix, self.h, suffix)
        name = HV + "numa_mapping"
        if name in self.ann:
            from katacfg.gocompat.strings import fields

            mapping = fields(self.ann[name])
            nodes = guest_numa_nodes(mapping, name)
            self.set(name, self.h, "guest_numa_nodes", nodes)
            self.h["numa_mapping"] = tuple(mapping)

    def block(self) -> None:
        name = HV + "block_device_driver"
        if name in self.ann:
            value = self.ann[name]
            if value not in o.BLOCK_DRIVERS:
                raise _refuse(f"Invalid hypervisor block storage driver {value} specified in "
                              f"annotation (supported drivers: [{' '.join(o.BLOCK_DRIVERS)}])",
                              name, "one of " + ", ".join(o.BLOCK_DRIVERS))
            self.set(name, self.h, "block_device_driver", value)
        name = HV + "block_device_aio"
        if name in self.ann:
            value = self.ann[name]
            if value not in o.BLOCK_AIO_ANNOTATION:
                raise _refuse(f"Invalid AIO mechanism  {value} specified in annotation "
                              f"(supported IO mechanism : [{' '.join(o.BLOCK_AIO_ANNOTATION)}])",
                              name, "one of " + ", ".join(o.BLOCK_AIO_ANNOTATION))
            self.set(name, self.h, "block_device_aio", value)
        self.boolean(HV + "disable_block_device_use", self.h, "disable_block_device_use")
        self.boolean(HV + "enable_iothreads", self.h, "enable_iothreads")
        name = HV + "indep_iothreads"
        v = self.uint(name)
        if v is not None:
            if v == 0 or v > 50:
                raise _refuse("Error parsing annotation for indepiothreads, please specify "
                              "numeric value less than 50", name, "from 1 to 50")
            self.set(name, self.h, "indep_iothreads", v)
        for suffix in ("block_device_cache_set", "block_device_cache_direct",
                       "block_device_cache_noflush"):
            self.boolean(HV + suffix, self.h, suffix)
        for suffix, key in (("blk_logical_sector_size", "block_device_logical_sector_size"),
                            ("blk_physical_sector_size", "block_device_physical_sector_size")):
            name = HV + suffix
            v = self.uint(name)
            if v is not None:
                if v and (v < 512 or v > 65536 or v & (v - 1)):
                    raise _refuse(f"invalid {name} {v}: must be 0 or a power of 2 between 512 "
                                  "and 65536", name, "512, 1024, ..., 65536, or 0")
                self.set(name, self.h, key, v)
        lo = self.h["block_device_logical_sector_size"]
        ph = self.h["block_device_physical_sector_size"]
        if lo and ph and lo > ph:
            raise _refuse(f"invalid sector sizes: logical ({lo}) must not be larger than "
                          f"physical ({ph})", HV + "blk_logical_sector_size",
                          "the logical sector size is at most the physical one")

    def virtio_fs(self) -> None:
        name = HV + "shared_fs"
        if name in self.ann:
            value = self.ann[name]
            if value not in ("virtio-9p", "virtio-fs"):
                raise _refuse(f"Invalid hypervisor shared file system {value} specified for "
                              "annotation shared_fs, (supported file systems: [virtio-9p "
                              "virtio-fs])", name, "virtio-9p or virtio-fs")
            self.set(name, self.h, "shared_fs", value)
        if HV + "virtio_fs_daemon" in self.ann:
            self.globbed(HV + "virtio_fs_daemon", self.h["valid_virtio_fs_daemon_paths"],
                         "virtiofs daemon", "virtio_fs_daemon")
        name = HV + "virtio_fs_extra_args"
        if name in self.ann:
            args = json_string_list(self.ann[name], name)
            self.set(name, self.h, "virtio_fs_extra_args",
                     tuple(self.h["virtio_fs_extra_args"]) + tuple(args))
        if self.h["shared_fs"] == "virtio-fs" and not self.h["virtio_fs_daemon"]:
            raise _refuse("cannot enable virtio-fs without daemon path", HV + "shared_fs",
                          "set virtio_fs_daemon too")
        if HV + "virtio_fs_cache" in self.ann:
            self.set(HV + "virtio_fs_cache", self.h, "virtio_fs_cache",
                     self.ann[HV + "virtio_fs_cache"])
        v = self.uint(HV + "virtio_fs_cache_size")
        if v is not None:
            self.set(HV + "virtio_fs_cache_size", self.h, "virtio_fs_cache_size", v & 0xFFFFFFFF)
        name = HV + "msize_9p"
        v = self.uint(name)
        if v is not None:
            if v == 0:
                raise _refuse("Error parsing annotation for msize_9p, please specify positive "
                              "numeric value", name, "a positive number")
            self.set(name, self.h, "msize_9p", v & 0xFFFFFFFF)

    def network(self) -> None:
        self.nonempty(HV + "cpu_features", self.h, "cpu_features")
        self.boolean(HV + "disable_vhost_net", self.h, "disable_vhost_net")
        for suffix in ("rx_rate_limiter_max_rate", "tx_rate_limiter_max_rate"):
            v = self.uint(HV + suffix)
            if v is not None:
                self.set(HV + suffix, self.h, suffix, v)

    def paths(self) -> None:
        if HV + "path" in self.ann:
            self.globbed(HV + "path", self.h["valid_hypervisor_paths"], "hypervisor", "path")
        if HV + "jailer_path" in self.ann:
            self.globbed(HV + "jailer_path", self.h["valid_jailer_paths"], "jailer",
                         "jailer_path")
        name = HV + "kernel_params"
        if self.ann.get(name):
            from katacfg.gocompat.strings import fields
            from katacfg.profiles.kata4x.load import deserialize_params

            params = list(self.h["kernel_params"])
            for key, value in deserialize_params(fields(self.ann[name])):
                params = [p for p in params if p[0] != key]
                if not key:
                    raise _refuse("Error adding kernel parameters in annotation kernel_params "
                                  ": Empty kernel parameter", name,
                                  f"`={value}` has no parameter name")
                params.append((key, value))
            self.set(name, self.h, "kernel_params", tuple(params))
        name = HV + "kernel_verity_params"
        if self.ann.get(name):
            from katacfg.profiles.kata4x.load import verity_problem

            problem = verity_problem(self.ann[name])
            if problem:
                raise _refuse(f"invalid kernel_verity_params in annotation: {problem}", name,
                              "root_hash, salt, data_blocks, data_block_size, hash_block_size")
            self.set(name, self.h, "kernel_verity_params", self.ann[name])

    def vfio(self) -> None:
        for mine, other in (("hot_plug_vfio", "cold_plug_vfio"),
                            ("cold_plug_vfio", "hot_plug_vfio")):
            name = HV + mine
            if name in self.ann:
                value = self.ann[name] or "no-port"
                if value not in o.PCIE_PORTS:
                    raise _refuse(f'Invalid PCIe port "{self.ann[name]}" specified in '
                                  "annotation", name, "one of " + ", ".join(o.PCIE_PORTS))
                self.set(name, self.h, mine, value)
                self.h[other] = "no-port"

    def initdata(self) -> None:
        name = HV + "cc_init_data"
        value = self.ann.get(name)
        if not value:
            return
        text, digest = decode_initdata(value, name)
        self.set(name, self.h, "cc_init_data", text)
        self.h["cc_init_data_digest"] = digest

    def sgx(self) -> None:
        name = "sgx.intel.com/epc"
        if name in self.ann:
            value = self.ann[name]
            size, fmt, err = parse_quantity(value)
            if err:
                raise _refuse(f"Couldn't parse EPC '{err}': {value}", name,
                              "a Kubernetes quantity such as 64Mi")
            if fmt != "BinarySI":
                raise _refuse(f"Unsupported EPC format '{value}': use Ki | Mi | Gi | Ti | Pi | "
                              "Ei as suffix", name, "a binary quantity such as 64Mi")
            self.set(name, self.h, "sgx_epc_size", size)

    def runtime(self) -> None:
        rt = self.rt
        self.boolean(RT + "disable_guest_seccomp", rt, "disable_guest_seccomp")
        self.boolean(RT + "sandbox_cgroup_only", rt, "sandbox_cgroup_only")
        v = self.uint(RT + "create_container_timeout")
        if v is not None:
            self.set(RT + "create_container_timeout", rt, "create_container_timeout", v)
        self.boolean(RT + "experimental_force_guest_pull", rt, "experimental_force_guest_pull")
        self.boolean(KATA + "enable_vcpus_pinning", rt, "enable_vcpus_pinning")
        name = RT + "experimental"
        if name in self.ann:
            for feature in self.ann[name].split(" "):
                if feature not in o.EXPERIMENTAL_FEATURES:
                    raise _refuse(f"Unsupported experimental feature {feature} specified in "
                                  f"annotation {name}", name,
                                  "Kata 4.1.0 knows no experimental feature")
            self.set(name, rt, "experimental", tuple(self.ann[name].split(" ")))
        self.boolean(RT + "disable_new_netns", rt, "disable_new_netns")
        name = RT + "internetworking_model"
        if name in self.ann:
            model = o.NETWORK_MODELS.get(self.ann[name])
            if model is None:
                raise _refuse(f"Unknown network model specified in annotation {name}", name,
                              "one of " + ", ".join(o.NETWORK_MODELS))
            self.set(name, rt, "internetworking_model", model)
        name = RT + "vfio_mode"
        if name in self.ann:
            if self.ann[name] not in o.VFIO_MODES:
                raise _refuse(f'Unknown VFIO mode "{self.ann[name]}" in annotation {name}', name,
                              "vfio or guest-kernel")
            self.set(name, rt, "vfio_mode", self.ann[name])

    def agent(self) -> None:
        ag = self.ag
        name = AG + "kernel_modules"
        if name in self.ann:
            self.set(name, ag, "kernel_modules", tuple(self.ann[name].split(";")))
        name = AG + "policy"
        if name in self.ann:
            ok, data, err = go_base64(self.ann[name])
            if not ok:
                raise _refuse(err, name, "standard base64 (with padding)")
            self.set(name, ag, "policy", data.decode("utf-8", "replace"))
        self.boolean(AG + "enable_tracing", ag, "enable_tracing")
        v = self.uint(AG + "container_pipe_size")
        if v is not None:
            self.set(AG + "container_pipe_size", ag, "container_pipe_size", v & 0xFFFFFFFF)


def gate(enable: tuple[str, ...], annotations: Mapping[str, str]) -> None:
    from katacfg.gocompat.re2 import regexp_contains

    for name in annotations:
        if name.startswith(HV) and not regexp_contains(enable, name[len(HV):]):
            raise Refusal(f"annotation {name} is not enabled", "annotations", key=name,
                          code="KC200", hint="add a regular expression matching "
                          f"{name[len(HV):]!r} to enable_annotations (runtime-rs, the Rust "
                          "shim, would skip this annotation instead of refusing the pod)")


def sandbox_sizing(annotations: Mapping[str, str]) -> tuple[float, int]:
    """oci.CalculateSandboxSizing: unparsable values count as 0."""
    def number(key: str, signed: bool) -> int:
        text = annotations.get(SIZING[key])
        if text is None:
            return 0
        return parse_int64(text) if signed else _uint64_or_zero(text)

    period = number("period", False)
    quota = number("quota", True)
    shares = number("shares", False)
    memory = number("memory", True)
    cpus = to_float32(to_float32(float(quota)) / to_float32(float(period))) \
        if quota >= 0 and period else 0.0
    mem = 0 if memory < 0 else (memory // 1024 // 1024) & 0xFFFFFFFF
    if quota < 0 and cpus == 0 and shares > 0:
        cpus = float(-(-shares // 1024))
    return cpus, mem


def _uint64_or_zero(text: str) -> int:
    try:
        return strconv.parse_uint(text, 64)
    except ValueError:
        return 0


def parse_int64(text: str) -> int:
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        return 0
    n = int(text)
    return n if -(2**63) <= n < 2**63 else 0


def apply_assets(h: dict[str, Any], kind: str, annotations: Mapping[str, str]) -> dict[str, str]:
    """virtcontainers createAssets: custom assets beside the configured paths."""
    custom: dict[str, str] = {}
    for key, path_name, hash_name in ASSETS:
        path = annotations.get(path_name, "")
        if kind == "remote" and key == "image":
            if path:
                h["image"] = path
            continue
        if not path:
            continue
        if not path.startswith("/"):
            raise _refuse(f"{path} is not an absolute path", path_name,
                          "asset annotations need absolute paths", stage="assets")
        digest = annotations.get(hash_name, "")
        if digest:
            from katacfg.host.safeio import FileRefused, sha512_hex

            try:
                computed, size = sha512_hex(path)
            except FileRefused as exc:
                raise _refuse(exc.text, hash_name, exc.hint, stage="assets") from None
            if not size:
                raise _refuse(f"Empty asset file at {path}", hash_name, "the file is empty",
                              stage="assets")
            if computed != digest:
                raise _refuse(f"Invalid hash for {path}: computed {computed}, expecting "
                              f"{digest}]", hash_name, "the hash is the lower-case hex SHA-512 "
                              "of the file (asset_hash_type is ignored)", stage="assets")
        custom[key] = path
    return custom


def validate_hypervisor(h: dict[str, Any]) -> None:
    """validateHypervisorConfig (hypervisor_config_linux.go) on the configured paths."""
    if h["remote_hypervisor_socket"]:
        return

    def refuse(text: str, key: str) -> KataError:
        return KataError(text, "hypervisor", key=f"hypervisor.{key}", code="KC230")

    if not h["kernel"]:
        raise refuse("Missing kernel path", "kernel")
    if h["confidential_guest"] and h["machine_type"] == "s390-ccw-virtio":
        if h["image"] or h["initrd"]:
            raise refuse("Neither the image or initrd path may be set for Secure Execution",
                         "image")
    elif not h["image"] and not h["initrd"]:
        raise refuse("Missing image and initrd path", "image")
    elif h["image"] and h["initrd"]:
        raise refuse("Image and initrd path cannot be both set", "initrd")
    if h["default_vcpus"] == 0:
        h["default_vcpus"] = 1.0
    if h["default_memory"] == 0:
        h["default_memory"] = o.DEFAULT_MEMORY_MIB
    if h["default_bridges"] == 0:
        h["default_bridges"] = o.DEFAULT_BRIDGES
    if not h["block_device_driver"]:
        h["block_device_driver"] = o.DEFAULT_BLOCK_DRIVER
    elif h["block_device_driver"] == "virtio-blk" and h["machine_type"] == "s390-ccw-virtio":
        h["block_device_driver"] = "virtio-blk-ccw"
    if h["confidential_guest"] and h["block_device_driver"] == "virtio-mmio":
        raise refuse("confidential guests must not use virtio-mmio (use virtio-blk-pci); "
                     "virtio-mmio is not hardened for CoCo", "block_device_driver")
    if h["default_maxvcpus"] == 0 or h["default_maxvcpus"] > o.MAX_VCPUS:
        h["default_maxvcpus"] = o.MAX_VCPUS
    if h["msize_9p"] == 0 and h["shared_fs"] != "virtio-fs":
        h["msize_9p"] = o.DEFAULT_MSIZE_9P


# --- value parsers with Go's texts ----------------------------------------------------------

def json_string_list(text: str, name: str) -> list[str]:
    import json

    try:
        value = json.loads(text)
    except ValueError as exc:
        raise _refuse(f"Error parsing virtiofsd extra arguments: {_json_error(text, exc)}",
                      name, 'a JSON array of strings, e.g. ["--thread-pool-size=1"]') from None
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        got = {dict: "object", str: "string", bool: "bool", int: "number", float: "number",
               list: "array"}
        bad = value if not isinstance(value, list) else next(v for v in value
                                                                 if not isinstance(v, str))
        kind = got.get(type(bad), "value")
        target = "[]string" if not isinstance(value, list) else "string"
        raise _refuse(f"Error parsing virtiofsd extra arguments: json: cannot unmarshal {kind} "
                      f"into Go value of type {target}", name, "a JSON array of strings")
    return value


def _json_error(text: str, exc: ValueError) -> str:
    if not text.strip():
        return "unexpected end of JSON input"
    pos = getattr(exc, "pos", 0)
    if pos >= len(text):
        return "unexpected end of JSON input"
    return f"invalid character {strconv.quote_rune(text[pos])} looking for beginning of value"


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_INDEX = {c: i for i, c in enumerate(_B64)}


def go_base64(text: str) -> tuple[bool, bytes, str]:
    """base64.StdEncoding.DecodeString: (ok, data, Go's error text)."""
    data = text.encode("utf-8", "surrogateescape")
    out = bytearray()
    si = 0
    n = len(data)
    while True:
        quantum = []
        dlen = 4
        j = 0
        while j < 4:
            while si < n and data[si] in (10, 13):
                si += 1
            if si == n:
                if j == 0:
                    return True, bytes(out), ""
                if j == 1:
                    return False, b"", f"illegal base64 data at input byte {si - j}"
                return False, b"", f"illegal base64 data at input byte {si - j}"
            c = chr(data[si])
            si += 1
            if c in _B64_INDEX:
                quantum.append(_B64_INDEX[c])
                j += 1
                continue
            if c != "=":
                return False, b"", f"illegal base64 data at input byte {si - 1}"
            # padding
            if j in (0, 1):
                return False, b"", f"illegal base64 data at input byte {si - 1}"
            if j == 2:
                while si < n and data[si] in (10, 13):
                    si += 1
                if si == n:
                    return False, b"", f"illegal base64 data at input byte {n}"
                if data[si] != ord("="):
                    return False, b"", f"illegal base64 data at input byte {si - 1}"
                si += 1
            while si < n and data[si] in (10, 13):
                si += 1
            if si < n:
                return False, b"", f"illegal base64 data at input byte {si}"
            dlen = j
            break
        val = 0
        for k, q in enumerate(quantum):
            val |= q << (18 - 6 * k)
        chunk = bytes([(val >> 16) & 255, (val >> 8) & 255, val & 255])
        if dlen == 4:
            out += chunk
        else:
            out += chunk[:dlen - 1]
            return True, bytes(out), ""


def decode_initdata(value: str, name: str) -> tuple[str, str]:
    import gzip
    import hashlib
    import zlib

    ok, raw, err = go_base64(value)
    if not ok and not raw:
        # Go's gzip reader sees the base64 error on its first read (the header)
        raise _refuse(f"initdata create gzip reader error: {err}", name,
                      "base64 of a gzip-compressed TOML document")
    if len(raw) < 10 or raw[:2] != b"\x1f\x8b":
        text = "unexpected EOF" if len(raw) < 10 else "gzip: invalid header"
        raise _refuse(f"initdata create gzip reader error: {text}", name,
                      "base64 of a gzip-compressed TOML document")
    try:
        data = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error):
        raise _refuse("uncompressing initdata with gzip error: unexpected EOF", name,
                      "base64 of a gzip-compressed TOML document") from None
    if len(data) > 1 << 20:
        raise _refuse("uncompressing initdata with gzip error: larger than 1 MiB", name,
                      "initdata is a small TOML document")
    # undecodable bytes stay themselves: toml.Decode refuses the first ("invalid UTF-8 byte")
    text = data.decode("utf-8", "surrogateescape")
    from katacfg.profiles.kata4x.toml import TomlError, Unifier, parse

    try:
        doc, positions = parse(text, "<initdata>")
        u = Unifier("<initdata>", positions)
        fields = {"version": "string", "algorithm": "string"}
        got = u.struct("types.Initdata", fields, doc, ()) or {}
        if "data" in doc:
            table = doc["data"]
            if not isinstance(table, dict):
                raise u.badtype(("data",), "map", table)
            for k, v in table.items():
                u.value("string", v, ("data", k))
    except TomlError as exc:
        raise _refuse(f"parsing initdata annotation failed: {exc.text}", name,
                      "initdata TOML: version, algorithm, [data]") from None
    algo = got.get("algorithm", "")
    hashers = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}
    if algo not in hashers:
        raise _refuse(f"initdata algorithm {algo!r} is not sha256, sha384 or sha512 (Kata 4.1.0 "
                      "crashes on it)", name, "algorithm = \"sha384\"")
    return text, hashers[algo](data).hexdigest()


def parse_quantity(text: str) -> tuple[int, str, str]:
    """k8s resource.ParseQuantity, as far as the EPC annotation needs: (bytes, format, error).

    Only a binary-SI quantity is used (any other format is refused before its value
    matters), so the value is computed for those alone: a decimal or exponent form of any
    size costs nothing. A binary value beyond int64 is 0, as Go's AsInt64 leaves it.
    """
    wrong = ("quantities must match the regular expression "
             "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    i = 1 if text[:1] in ("+", "-") else 0
    j = i
    while j < len(text) and (text[j] in "0123456789."):
        j += 1
    number, suffix = text[:j], text[j:]
    if j == i or number[i:].count(".") > 1:
        return 0, "", wrong
    if not all(c in "eEinumkKMGTP+-0123456789" for c in suffix):
        return 0, "", wrong
    binary = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
    if suffix in binary:
        whole, _, frac = number[i:].partition(".")
        if len(whole) > 40:  # far beyond int64 whatever the suffix: AsInt64 gives 0
            return 0, "BinarySI", ""
        from fractions import Fraction

        value = Fraction(int(whole or "0")) + (Fraction(int(frac), 10 ** len(frac))
                                               if frac else 0)
        size = -((-value * (1 << binary[suffix])) // 1)  # rounded up, as the Quantity holds
        if text[:1] == "-":
            size = -size
        return (size if -(2**63) <= size < 2**63 else 0), "BinarySI", ""
    if suffix in ("", "n", "u", "m", "k", "M", "G", "T", "P", "E"):
        return 0, "DecimalSI", ""
    if suffix[:1] in "eE":
        exp = suffix[1:]
        body = exp[1:] if exp[:1] in "+-" else exp
        if body.isdigit() and len(body) <= 10 and -(2**31) <= int(exp) < 2**31:
            return 0, "DecimalExponent", ""
    return 0, "", "unable to parse quantity's suffix"


def guest_numa_nodes(mapping: list[str], name: str) -> tuple[dict[str, str], ...]:
    """utils.GetGuestNUMANodes for an explicit mapping (host NUMA nodes read from sysfs).

    cpuset.Parse checks every range first; the node ids are then visited in ascending order
    without building the set (Go builds it: `0-99999999999` would not end), and the first
    node the host does not have refuses, as Go's sysfs read does.
    """
    nodes = []
    for host_nodes in mapping:
        ranges: list[tuple[int, int]] = []
        for part in host_nodes.split(","):
            bounds = part.split("-")
            try:
                if len(bounds) == 1:
                    n = _atoi(bounds[0])
                    ranges.append((n, n))
                elif len(bounds) == 2:
                    ranges.append((_atoi(bounds[0]), _atoi(bounds[1])))
            except ValueError as exc:
                raise _refuse(str(exc), name, "NUMA node lists such as 0-1 or 0,2") from None
        cpus = ""
        for node in _ascending(ranges):
            path = f"/sys/devices/system/node/node{node}/cpulist"
            try:
                with open(path) as f:
                    text = f.read(1 << 16).strip()
            except (OSError, ValueError) as exc:
                from katacfg.gocompat.fspath import go_os_error

                raise _refuse(go_os_error("open", path, exc), name,
                              "the host has no such NUMA node") from None
            cpus = f"{cpus},{text}" if cpus else text
        nodes.append({"host_nodes": host_nodes, "host_cpus": cpus})
    return tuple(nodes)


def _ascending(ranges: list[tuple[int, int]]) -> Any:
    """The union of inclusive ranges, ascending, one id at a time (never materialised)."""
    last = None
    for lo, hi in sorted(r for r in ranges if r[0] <= r[1]):
        start = lo if last is None else max(lo, last + 1)
        yield from range(start, hi + 1)
        last = hi if last is None else max(last, hi)


def _atoi(s: str) -> int:
    body = s[1:] if s[:1] in "+-" else s
    if not body or not body.isascii() or not body.isdigit():
        raise ValueError(f"strconv.Atoi: parsing {strconv.quote(s)}: invalid syntax")
    n = int(s)
    if not -(2**63) <= n < 2**63:
        raise ValueError(f"strconv.Atoi: parsing {strconv.quote(s)}: value out of range")
    return n
