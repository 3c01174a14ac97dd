"""The Kata 4.x (Go runtime, tag 4.1.0) configuration schema, written once as data.

Sources: src/runtime/pkg/katautils/config.go (the TOML structs, their loaders and the
hypervisor constructors), config-settings.go.in (built-in defaults), virtcontainers
hypervisor.go (limits). Every key of every table the Go runtime decodes is here with its Go
type; `READERS` says which hypervisor constructor copies which output field and how
(`raw`, or the name of a normaliser in katacfg.profiles.kata4x.load). The 1.x keys and
tables 4.x no longer reads are listed in DROPPED_* so lint and resolve can say so.
"""
from __future__ import annotations

KATA_VERSION = "4.1.0"
PROFILE_ID = "4.x-go"

# Discovery (Makefile: SYSCONFDIR/DEFAULTSDIR), checked in this order; then KATA_CONF_FILE
# for the shim when containerd passes no ConfigPath.
DEFAULT_CONFIG_PATHS = (
    "/etc/kata-containers/configuration.toml",
    "/usr/share/defaults/kata-containers/configuration.toml",
)
CONF_FILE_ENV = "KATA_CONF_FILE"
DROPIN_DIR = "config.d"

# --- built-in defaults (config-settings.go.in, amd64 build) ------------------------------
DEFAULT_HYPERVISOR_PATH = "/usr/bin/qemu-system-x86_64"
DEFAULT_JAILER_PATH = "/usr/bin/jailer"
DEFAULT_IMAGE_PATH = "/usr/share/kata-containers/kata-containers.img"
DEFAULT_KERNEL_PATH = "/usr/share/kata-containers/vmlinuz.container"
DEFAULT_INITRD_PATH = "/usr/share/kata-containers/kata-containers-initrd.img"
DEFAULT_ROOTFS_TYPE = "ext4"
DEFAULT_MACHINE_TYPE = "q35"
DEFAULT_VCPUS = 1
DEFAULT_MEMORY_MIB = 2048
MIN_MEMORY_MIB = 256  # vc.MinHypervisorMemory
DEFAULT_MEM_SLOTS = 10
DEFAULT_HYPERVISOR_LOGLEVEL = 1
MAX_HYPERVISOR_LOGLEVEL = 3
DEFAULT_BRIDGES = 1
MAX_PCI_BRIDGES = 5
MAX_PCIE_ROOT_PORTS = 16
MAX_PCIE_SWITCH_PORTS = 16
DEFAULT_BLOCK_DRIVER = "virtio-scsi"
DEFAULT_BLOCK_AIO = "io_uring"
DEFAULT_MSIZE_9P = 8192
DEFAULT_ENTROPY_SOURCE = "/dev/urandom"
DEFAULT_VIRTIO_FS_CACHE = "never"
DEFAULT_VHOST_USER_STORE_PATH = "/var/run/kata-containers/vhost-user/"
DEFAULT_MEASUREMENT_ALGO = "sha512"
DEFAULT_PCIE_PORT = "no-port"
DEFAULT_REMOTE_SOCKET = "/run/peerpod/hypervisor.sock"
DEFAULT_REMOTE_TIMEOUT = 600
DEFAULT_TEMPLATE_PATH = "/run/vc/vm/template"
DEFAULT_VM_CACHE_ENDPOINT = "/var/run/kata-containers/cache.sock"
DEFAULT_EMPTYDIR_MODE = "shared-fs"
MAX_VCPUS = 240  # govmm.MaxVCPUs() on amd64
MAX_FLOAT32 = 3.4028234663852886e38
MAX_SAFE_FLOAT32_INT = 16777215  # BurntSushi: 2^24-1

BLOCK_DRIVERS = ("virtio-scsi", "virtio-blk", "virtio-mmio", "nvdimm", "virtio-blk-ccw")
BLOCK_AIO = ("io_uring", "native", "threads")  # config file order
BLOCK_AIO_ANNOTATION = ("native", "threads", "io_uring")  # annotation's order
SHARED_FS = ("virtio-9p", "virtio-fs", "virtio-fs-nydus", "none")
EXTRA_MONITOR = ("hmp", "qmp", "qmp-pretty")
PCIE_PORTS = ("root-port", "switch-port", "bridge-port", "no-port")
EMPTYDIR_MODES = ("shared-fs", "block-encrypted", "block-plain")
NETWORK_MODELS = {"default": "tcfilter", "macvtap": "macvtap", "tcfilter": "tcfilter",
                  "none": "none"}
VFIO_MODES = ("vfio", "guest-kernel")
EXPERIMENTAL_FEATURES: tuple[str, ...] = ()  # 4.1.0 registers none

HYPERVISORS = ("qemu", "clh", "firecracker", "dragonball", "stratovirt", "remote")

# --- the TOML structs: key -> Go type, in the struct's field order -----------------------
# Go types: string, bool, uint32, uint64 (also Go `uint`), int64, float32, []string,
# *uint64, []ext (guest_extension_images: array of {name, path, verity_params} tables).
HYPERVISOR_KEYS: dict[str, str] = {
    "path": "string", "jailer_path": "string", "kernel": "string", "initrd": "string",
    "image": "string", "rootfs_type": "string", "firmware": "string",
    "firmware_volume": "string", "machine_accelerators": "string", "cpu_features": "string",
    "kernel_params": "string", "kernel_verity_params": "string", "machine_type": "string",
    "tdx_quote_generation_service_socket_port": "uint32", "block_device_driver": "string",
    "entropy_source": "string", "shared_fs": "string", "virtio_fs_daemon": "string",
    "virtio_fs_cache": "string", "vhost_user_store_path": "string",
    "guest_hook_path": "string", "guest_memory_dump_path": "string",
    "seccompsandbox": "string", "block_device_aio": "string",
    "remote_hypervisor_socket": "string", "snp_id_block": "string", "snp_id_auth": "string",
    "snp_guest_policy": "*uint64", "measurement_algo": "string",
    "valid_hypervisor_paths": "[]string", "valid_jailer_paths": "[]string",
    "valid_virtio_fs_daemon_paths": "[]string", "virtio_fs_extra_args": "[]string",
    "pflashes": "[]string", "valid_vhost_user_store_paths": "[]string",
    "valid_entropy_sources": "[]string", "enable_annotations": "[]string",
    "rx_rate_limiter_max_rate": "uint64", "tx_rate_limiter_max_rate": "uint64",
    "memory_offset": "uint64", "default_maxmemory": "uint64",
    "disk_rate_limiter_bw_max_rate": "int64", "disk_rate_limiter_bw_one_time_burst": "int64",
    "disk_rate_limiter_ops_max_rate": "int64", "disk_rate_limiter_ops_one_time_burst": "int64",
    "net_rate_limiter_bw_max_rate": "int64", "net_rate_limiter_bw_one_time_burst": "int64",
    "net_rate_limiter_ops_max_rate": "int64", "net_rate_limiter_ops_one_time_burst": "int64",
    "hypervisor_loglevel": "uint32", "virtio_fs_cache_size": "uint32",
    "virtio_fs_queue_size": "uint32", "default_maxvcpus": "uint32",
    "default_memory": "uint32", "memory_slots": "uint32", "default_bridges": "uint32",
    "msize_9p": "uint32", "remote_hypervisor_timeout": "uint32", "default_vcpus": "float32",
    "block_device_cache_set": "bool", "block_device_cache_direct": "bool",
    "block_device_cache_noflush": "bool", "block_device_logical_sector_size": "uint32",
    "block_device_physical_sector_size": "uint32", "enable_vhost_user_store": "bool",
    "vhost_user_reconnect_timeout_sec": "uint32", "disable_block_device_use": "bool",
    "enable_mem_prealloc": "bool", "reclaim_guest_freed_memory": "bool",
    "enable_hugepages": "bool", "enable_virtio_mem": "bool", "enable_iommu": "bool",
    "enable_iommu_platform": "bool", "enable_numa": "bool", "numa_mapping": "[]string",
    "enable_debug": "bool", "disable_nesting_checks": "bool", "enable_iothreads": "bool",
    "indep_iothreads": "uint32", "disable_image_nvdimm": "bool", "hot_plug_vfio": "string",
    "cold_plug_vfio": "string", "pcie_root_port": "uint32", "pcie_switch_port": "uint32",
    "disable_vhost_net": "bool", "guest_memory_dump_paging": "bool",
    "confidential_guest": "bool", "sev_snp_guest": "bool", "enable_guest_swap": "bool",
    "rootless": "bool", "disable_seccomp": "bool", "disable_selinux": "bool",
    "disable_guest_selinux": "bool", "use_legacy_serial": "bool",
    "extra_monitor_socket": "string", "guest_extension_images": "[]ext",
}
GUEST_EXTENSION_KEYS = {"name": "string", "path": "string", "verity_params": "string"}

AGENT_KEYS: dict[str, str] = {
    "kernel_modules": "[]string", "enable_debug": "bool", "enable_tracing": "bool",
    "debug_console_enabled": "bool", "dial_timeout": "uint32", "cdh_api_timeout": "uint32",
    "launch_process_timeout": "uint32", "visible_cdi_devices": "bool",
}

RUNTIME_KEYS: dict[str, str] = {
    "internetworking_model": "string", "jaeger_endpoint": "string", "jaeger_user": "string",
    "jaeger_password": "string", "vfio_mode": "string", "guest_selinux_label": "string",
    "sandbox_bind_mounts": "[]string", "experimental": "[]string", "enable_tracing": "bool",
    "disable_new_netns": "bool", "disable_guest_seccomp": "bool",
    "enable_vcpus_pinning": "bool", "enable_debug": "bool", "sandbox_cgroup_only": "bool",
    "static_sandbox_resource_mgmt": "bool", "enable_pprof": "bool",
    "disable_guest_empty_dir": "bool", "emptydir_mode": "string",
    "create_container_timeout": "uint64", "dan_conf": "string",
    "experimental_force_guest_pull": "bool", "pod_resource_api_sock": "string",
    "kubelet_root_dir": "string",
}

FACTORY_KEYS: dict[str, str] = {
    "template_path": "string", "vm_cache_endpoint": "string", "vm_cache_number": "uint64",
    "enable_template": "bool",
}

# tomlConfig: top-level field -> (Go struct name for messages, keys, held in a map?)
SECTIONS: dict[str, tuple[str, dict[str, str], bool]] = {
    "hypervisor": ("katautils.hypervisor", HYPERVISOR_KEYS, True),
    "agent": ("katautils.agent", AGENT_KEYS, True),
    "factory": ("katautils.factory", FACTORY_KEYS, False),
    "runtime": ("katautils.runtime", RUNTIME_KEYS, False),
}
GO_TOP_FIELDS = {"hypervisor": "Hypervisor", "agent": "Agent", "factory": "Factory",
                 "runtime": "Runtime"}

# --- what each hypervisor constructor copies into vc.HypervisorConfig ---------------------
# Letters: q=qemu c=clh f=firecracker d=dragonball s=stratovirt r=remote. A field absent
# from a constructor holds Go's zero value. `how` names the normaliser (load.NORMALISE);
# "raw" copies the decoded value; a dict gives per-hypervisor overrides of `how`.
_Q, _C, _F, _D, _S, _R = "q", "c", "f", "d", "s", "r"
LETTER = {"q": "qemu", "c": "clh", "f": "firecracker", "d": "dragonball", "s": "stratovirt",
          "r": "remote"}

READERS: dict[str, tuple[str, str]] = {
    # output key: (hypervisor letters, how)
    "path": ("qcfs", "path"),
    "valid_hypervisor_paths": ("qcfs", "raw"),
    "jailer_path": ("f", "jailer"),
    "valid_jailer_paths": ("f", "raw"),
    "kernel": ("qcfds", "kernel"),
    "initrd": ("qcfs", "initrd"),
    "image": ("qcfds", "image"),
    "rootfs_type": ("qcfds", "rootfs_type"),
    "firmware": ("qcf", "firmware"),
    "firmware_volume": ("q", "firmware_volume"),
    "pflashes": ("q", "pflashes"),
    "machine_accelerators": ("qc", "comma_list"),
    "cpu_features": ("q", "comma_list"),
    "kernel_params": ("qcfds", "kernel_params"),
    "kernel_verity_params": ("qcfds", "raw"),
    "machine_type": ("qcsr", "machine_type"),
    "tdx_quote_generation_service_socket_port": ("q", "raw"),
    "default_vcpus": ("qcfds", "vcpus"),
    "default_maxvcpus": ("qcfds", "maxvcpus"),
    "default_memory": ("qcfds", "memory"),
    "memory_slots": ("qcfds", "mem_slots"),
    "memory_offset": ("qcs", "raw"),
    "default_maxmemory": ("qcfs", "maxmemory"),
    "enable_virtio_mem": ("qc", "raw"),
    "entropy_source": ("qcfds", "entropy_source"),
    "valid_entropy_sources": ("qcf", "raw"),
    "default_bridges": ("qcfs", "bridges"),
    "disable_block_device_use": ("qcs", "raw"),
    "shared_fs": ("qcsr", "shared_fs"),
    "virtio_fs_daemon": ("qcs", "raw"),
    "valid_virtio_fs_daemon_paths": ("qcs", "raw"),
    "hypervisor_loglevel": ("qcs", "loglevel"),
    "virtio_fs_cache_size": ("qcs", "raw"),
    "virtio_fs_cache": ("qcs", "virtio_fs_cache"),
    "virtio_fs_queue_size": ("q", "raw"),
    "virtio_fs_extra_args": ("qcs", "raw"),
    "enable_mem_prealloc": ("qc", "raw"),
    "reclaim_guest_freed_memory": ("qc", "raw"),
    "enable_hugepages": ("qcfs", "raw"),
    "enable_iommu": ("q", "raw"),
    "enable_iommu_platform": ("q", "raw"),
    "numa_mapping": ("q", "raw"),
    "enable_debug": ("qcfds", "raw"),
    "disable_nesting_checks": ("qcfs", "raw"),
    "block_device_driver": ("qcfsr", "block_driver"),
    "block_device_aio": ("q", "block_aio"),
    "block_device_cache_set": ("qc", "raw"),
    "block_device_cache_direct": ("qc", "raw"),
    "block_device_cache_noflush": ("q", "raw"),
    "block_device_logical_sector_size": ("qs", "sector_size"),
    "block_device_physical_sector_size": ("qs", "sector_size"),
    "enable_iothreads": ("qcf", "raw"),
    "indep_iothreads": ("qcf", "raw"),
    "msize_9p": ("qc", "msize_9p"),
    "disable_image_nvdimm": ("qc", "raw"),
    "hot_plug_vfio": ("qc", "pcie_port"),
    "cold_plug_vfio": ("qc", "pcie_port"),
    "pcie_root_port": ("qc", "root_ports"),
    "pcie_switch_port": ("qc", "switch_ports"),
    "disable_vhost_net": ("q", "raw"),
    "enable_vhost_user_store": ("q", "raw"),
    "vhost_user_store_path": ("q", "vhost_user_store_path"),
    "valid_vhost_user_store_paths": ("q", "raw"),
    "vhost_user_reconnect_timeout_sec": ("q", "raw"),
    "seccompsandbox": ("q", "raw"),
    "guest_hook_path": ("qcfsr", "raw"),
    "rx_rate_limiter_max_rate": ("qf", "raw"),
    "tx_rate_limiter_max_rate": ("qf", "raw"),
    "enable_annotations": ("qcfsr", "raw"),
    "guest_memory_dump_path": ("q", "raw"),
    "guest_memory_dump_paging": ("q", "raw"),
    "confidential_guest": ("qc", "raw"),
    "sev_snp_guest": ("q", "raw"),
    "enable_guest_swap": ("q", "raw"),
    "rootless": ("qc", "raw"),
    "use_legacy_serial": ("q", "raw"),
    "disable_seccomp": ("cs", "raw"),
    "disable_selinux": ("qcfs", "raw"),
    "disable_guest_selinux": ("qcs", "raw"),
    "extra_monitor_socket": ("q", "extra_monitor"),
    "snp_id_block": ("q", "raw"),
    "snp_id_auth": ("q", "raw"),
    "snp_guest_policy": ("q", "raw"),
    "measurement_algo": ("qc", "measurement_algo"),
    "guest_extension_images": ("q", "guest_extension_images"),
    "net_rate_limiter_bw_max_rate": ("c", "raw"),
    "net_rate_limiter_bw_one_time_burst": ("c", "burst:net_rate_limiter_bw_max_rate"),
    "net_rate_limiter_ops_max_rate": ("c", "raw"),
    "net_rate_limiter_ops_one_time_burst": ("c", "burst:net_rate_limiter_ops_max_rate"),
    "disk_rate_limiter_bw_max_rate": ("c", "raw"),
    "disk_rate_limiter_bw_one_time_burst": ("c", "burst:disk_rate_limiter_bw_max_rate"),
    "disk_rate_limiter_ops_max_rate": ("c", "raw"),
    "disk_rate_limiter_ops_one_time_burst": ("c", "burst:disk_rate_limiter_ops_max_rate"),
    "remote_hypervisor_socket": ("r", "remote_socket"),
    "remote_hypervisor_timeout": ("r", "remote_timeout"),
}

# Values a constructor sets whatever the file says.
FORCED: dict[str, dict[str, object]] = {
    "firecracker": {"disable_block_device_use": False, "disable_vhost_net": True,
                    "disable_guest_selinux": True},
    "clh": {"disable_vhost_net": True},
    "stratovirt": {"disable_vhost_net": True},
    "remote": {"disable_guest_selinux": True, "shared_fs": "none",
               "block_device_driver": "dummy"},
}

# Fields of vc.HypervisorConfig with no TOML key (annotations or sizing set them).
EXTRA_HYPERVISOR_FIELDS: dict[str, object] = {
    "default_gpus": 0, "default_gpu_model": "", "sgx_epc_size": 0, "cc_init_data": "",
    "cc_init_data_digest": "", "guest_numa_nodes": (),
}

# --- 1.x keys and tables 4.x no longer reads ---------------------------------------------
DROPPED_TABLES = {
    "proxy": "Kata 2.0 removed the proxy: the shim v2 talks to the agent over vsock",
    "shim": "Kata 2.0 removed kata-shim: containerd-shim-kata-v2 is the only shim",
    "netmon": "Kata 2.0 removed kata-netmon",
}
DROPPED_KEYS: dict[tuple[str, str], str] = {
    ("hypervisor", "use_vsock"): "vsock is always used since Kata 2.0",
    ("hypervisor", "ctlpath"): "the acrn hypervisor was removed in Kata 3.x",
    ("hypervisor", "valid_ctlpaths"): "the acrn hypervisor was removed in Kata 3.x",
    ("hypervisor", "hotplug_vfio_on_root_bus"): "replaced by hot_plug_vfio = \"root-port\"",
    ("hypervisor", "enable_swap"): "replaced by enable_guest_swap",
    ("hypervisor", "file_mem_backend"): "removed in Kata 3.x",
    ("hypervisor", "valid_file_mem_backends"): "removed in Kata 3.x",
    ("agent", "trace_mode"): "agent tracing modes were removed in Kata 2.0",
    ("agent", "trace_type"): "agent tracing types were removed in Kata 2.0",
    ("agent", "container_pipe_size"): "only the container_pipe_size annotation sets it",
    ("runtime", "enable_agent_pidns"): "removed in Kata 2.0",
    ("runtime", "use_vsock"): "vsock is always used since Kata 2.0",
}
DROPPED_ANNOTATIONS: dict[str, str] = {
    "io.katacontainers.config_path": "4.x takes the path from containerd's runtime options",
    "io.katacontainers.config.hypervisor.use_vsock": "vsock is always used since Kata 2.0",
    "io.katacontainers.config.hypervisor.ctlpath": "the acrn hypervisor was removed",
    "io.katacontainers.config.hypervisor.file_mem_backend": "removed in Kata 3.x",
    "io.katacontainers.config.hypervisor.hotplug_vfio_on_root_bus": "use hot_plug_vfio",
    "io.katacontainers.config.hypervisor.enable_swap": "use enable_guest_swap",
    "io.katacontainers.config.hypervisor.use_nvdimm": "use disable_image_nvdimm",
    "io.katacontainers.config.agent.trace_mode": "agent tracing modes were removed",
    "io.katacontainers.config.agent.trace_type": "agent tracing types were removed",
    "io.katacontainers.config.runtime.enable_agent_pidns": "removed in Kata 2.0",
}
