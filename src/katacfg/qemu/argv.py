"""The argv Kata 1.x gives QEMU (and virtiofsd) for a pod sandbox, with each option's origin.

Stages after the configuration pipeline (QEMU-CONTRACT.md section 4):

- create: `qemu.createSandbox` (setup, machine, CPU model, QMP, memory, devices, knobs,
  kernel and its parameters, firmware, pflash, pid file);
- agent: the agent's `configure` (its channel and the shared folder);
- network: the cold-plugged veth endpoints, attached in name order;
- launch: debug log, virtiofsd's arguments, govmm `LaunchQemu`'s parameter assembly.

Refusals raise KataError with the Go text and the stage. The random values Go draws (device
id hex, vsock context id) are drawn here too; the UUID and the sandbox id are given.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

from katacfg.config.errors import KataError
from katacfg.config.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from katacfg.config.model import Config
    from katacfg.host.facts import Host

# argv, virtiofsd argv, -append text, origins, virtiofsd origins, warnings
_Built = tuple  # type alias kept untyped at run time (typing costs start-up)

__all__ = ["ArgOrigin", "ArgSource", "QemuCommand", "build_qemu_command", "parse_mac"]

# virtcontainers/persist/fs: the runtime runs as root (QEMU-CONTRACT.md section 3)
VM_STORAGE = "/run/vc/vm"
SHARED_SANDBOXES = "/run/kata-containers/shared/sandboxes"
MAX_SOCKET_PATH = 107  # utils.MaxSocketPathLen
MAX_DEV_ID = 31  # qemu_arch_base.go maxDevIDSize
MOUNT_TAG = "kataShared"
FALLBACK_MEM_DIR = "/dev/shm"
STAGES = ("create", "agent", "network", "launch")

# qemu_amd64.go
MACHINE_OPTIONS = "accel=kvm,kernel_irqchip"
IOMMU_Q35_OPTIONS = "accel=kvm,kernel_irqchip=split"
MACHINES = ("pc-lite", "pc", "q35", "virt", "microvm")
ARCH_PARAMS = (
    ("tsc", "reliable"), ("no_timer_check", ""), ("rcupdate.rcu_expedited", "1"),
    ("i8042.direct", "1"), ("i8042.dumbkbd", "1"), ("i8042.nopnp", "1"), ("i8042.noaux", "1"),
    ("noreplace-smp", ""), ("reboot", "k"), ("console", "hvc0"), ("console", "hvc1"),
    ("cryptomgr.notests", ""), ("net.ifnames", "0"), ("pci", "lastbus=0"),
)
ARCH_TEXT = " ".join(f"{k}={v}" if v else k for k, v in ARCH_PARAMS)
# hypervisor.go: root parameters of an image
NVDIMM_DAX_ROOT = (("root", "/dev/pmem0p1"), ("rootflags", "dax,data=ordered,errors=remount-ro ro"),
                   ("rootfstype", "ext4"))
VIRTIO_BLK_ROOT = (("root", "/dev/vda1"), ("rootflags", "data=ordered,errors=remount-ro ro"),
                   ("rootfstype", "ext4"))

GO_QEMU = "virtcontainers/qemu.go"
GO_AMD64 = "virtcontainers/qemu_amd64.go"
GO_ARCH = "virtcontainers/qemu_arch_base.go"
GO_AGENT = "virtcontainers/kata_agent.go"
GO_NET = "virtcontainers/network.go"
GO_GOVMM = "govmm/qemu/qemu.go"


class ArgSource(Record):
    """Where (part of) an option comes from."""

    kind: str  # key | default | annotation | host | input | builtin
    name: str  # "hypervisor.qemu.machine_type", an annotation, a host fact, a Go file
    value: object = ""  # the effective value (as loaded: bool, int, str, tuple)
    file: str | None = None
    line: int | None = None
    note: str = ""  # what this source contributes, when the option has several

    def render(self) -> str:
        note = f" -> {self.note}" if self.note else ""
        if self.kind in ("key", "default"):
            value = f": {_text(self.value)}" if self.value != "" else ""
        if self.kind == "key":
            return f"{self.name}{value} ({self.file}:{self.line}){note}"
        if self.kind == "default":
            return f"{self.name}{value} (not in the file: the default){note}"
        if self.kind == "annotation":
            return f"annotation {self.name}={self.value}{note}"
        if self.kind == "host":
            return f"host {self.name}: {self.value}{note}"
        if self.kind == "input":
            return f"{self.name} {self.value}{note}"
        return f"Kata 1.x: {self.value} ({self.name}){note}"


class ArgOrigin(Record):
    """One option of the command line: argv[start:stop], its stage and its sources."""

    start: int
    stop: int
    stage: str
    what: str
    sources: tuple[ArgSource, ...] = ()


class QemuCommand(Record):
    """QEMU's argv (argv[0] is the binary), virtiofsd's argv for virtio-fs, the -append text.

    `origins` (and `virtiofsd_origins`) hold one ArgOrigin per option, in argv order; they
    read like tuples and are worked out on first use (the command line alone is cheaper).
    """

    argv: tuple[str, ...]
    virtiofsd_argv: tuple[str, ...] | None
    kernel_cmdline: str
    origins: Sequence[ArgOrigin] = ()
    virtiofsd_origins: Sequence[ArgOrigin] = ()
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"argv": list(self.argv)}
        if self.virtiofsd_argv is not None:
            out["virtiofsd_argv"] = list(self.virtiofsd_argv)
        return out


def _src(kind: str, name: str, value: object = "", file: str | None = None,
         line: int | None = None, note: str = "") -> ArgSource:
    """ArgSource without Record.__init__'s checks (dozens are made per command line)."""
    obj = object.__new__(ArgSource)
    object.__setattr__(obj, "__dict__", {"kind": kind, "name": name, "value": value,
                                         "file": file, "line": line, "note": note})
    return obj


def _origin(start: int, stop: int, stage: str, what: str,
            sources: tuple[ArgSource, ...]) -> ArgOrigin:
    obj = object.__new__(ArgOrigin)
    object.__setattr__(obj, "__dict__", {"start": start, "stop": stop, "stage": stage,
                                         "what": what, "sources": sources})
    return obj


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_HEX = frozenset("0123456789abcdef")


def parse_mac(text: str) -> str:
    """A MAC address as Go's net.HardwareAddr.String() prints it; ValueError if malformed."""
    mac = text.lower()
    if len(mac) != 17 or mac[2::3] not in (":::::", "-----") or \
            not _HEX.issuperset(mac[0::3] + mac[1::3]):
        raise ValueError(f"not a MAC address (6 bytes as xx:xx:xx:xx:xx:xx): {text!r}")
    return mac.replace("-", ":")


def _params_text(params: Sequence[tuple[str, str]]) -> list[str]:
    """Go SerializeParams(params, "=")."""
    out = []
    for key, value in params:
        if not key and not value:
            continue
        out.append(value if not key else key if not value else f"{key}={value}")
    return out


class _Builder:
    """One build. With explain=False no sources are made (the fast path); explaining replays
    the same build with the same random draws and records where every option comes from."""

    def __init__(self, cfg: Config, host: Host, sandbox_id: str, uuid: str,
                 explain: bool = False, draws: list[bytes] | None = None) -> None:
        self.explain = explain
        self.draws: list[bytes] = [] if draws is None else list(draws)
        self.replay = draws is not None
        self.cfg = cfg
        self.h = cfg.hypervisor
        self.host = host
        self.id = sandbox_id
        self.uuid = uuid
        self.table = cfg.hypervisor_type
        self.applied = {o.key: o for o in cfg.annotations if o.status == "applied" and o.key}
        self.positions = cfg.positions
        self.stage = "create"
        self.next_fd = 3  # cmd.ExtraFiles: entry i is fd 3+i
        self.devices: list[tuple[list[str], str, str, tuple[ArgSource, ...]]] = []
        self.iothread: str | None = None
        self.warnings: list[str] = []

    # -- sources and refusals ------------------------------------------------------------
    def src(self, key: str, note: str = "", section: str = "hypervisor") -> ArgSource:
        """The source of an effective value: the annotation that set it, the file, a default."""
        if not self.explain:
            return None  # type: ignore[return-value]
        applied = self.applied.get(f"{section}.{key}") if self.applied else None
        if applied is not None:
            return _src("annotation", applied.name, applied.value, note=note)
        value = getattr(getattr(self.cfg, section), key)
        path = (section, self.table, key) if section == "hypervisor" else \
            (section, "kata", key) if section == "agent" else (section, key)
        pos = self.positions.get(path)
        if pos is not None:
            return _src("key", ".".join(path), value, self.cfg.path, pos[0], note)
        return _src("default", ".".join(path), value, note=note)

    def builtin(self, what: str, gofile: str = GO_QEMU, note: str = "") -> ArgSource:
        return _src("builtin", gofile, what, note=note) if self.explain else None  # type: ignore[return-value]

    def direct(self, kind: str, name: str, value: object = "", file: str | None = None,
               line: int | None = None, note: str = "") -> ArgSource:
        return _src(kind, name, value, file, line, note) if self.explain else None  # type: ignore[return-value]

    def random(self, n: int) -> bytes:
        """os.urandom(n), replayed in order when explaining an earlier build."""
        if self.replay:
            return self.draws.pop(0)
        value = os.urandom(n)
        self.draws.append(value)
        return value

    def refuse(self, text: str, key: str | None = None, hint: str | None = None,
               code: str = "KC300", section: str = "hypervisor") -> KataError:
        line = None
        full = None
        if key is not None:
            path = (section, self.table, key) if section == "hypervisor" else (section, key)
            full = ".".join(path)
            if f"{section}.{key}" in self.applied:
                full = self.applied[f"{section}.{key}"].name
            else:
                line = self.cfg.line_of(*path)
        return KataError(text, self.stage, file=self.cfg.path if key else None, line=line,
                         key=full, hint=hint, code=code)

    def socket_path(self, name: str) -> str:
        """utils.BuildSocketPath(/run/vc/vm, id, name): refused above 107 bytes."""
        path = f"{VM_STORAGE}/{self.id}/{name}"
        size = len(path.encode("utf-8", "surrogateescape"))
        if size > MAX_SOCKET_PATH:
            raise KataError(f"path too long (got {size}, max {MAX_SOCKET_PATH}): {path}",
                            self.stage, code="KC302",
                            hint=f"the sandbox id makes the {name} path longer than a unix "
                                 f"socket path may be; ids of at most "
                                 f"{MAX_SOCKET_PATH - len(VM_STORAGE) - len(name) - 2} bytes fit")
        return path

    def fds(self, count: int) -> list[int]:
        out = list(range(self.next_fd, self.next_fd + count))
        self.next_fd += count
        return out

    def add(self, params: list[str], what: str, *sources: ArgSource) -> None:
        self.devices.append((params, what, self.stage, sources))

    # -- the command line -------------------------------------------------------------------
    def build(self, interfaces: Sequence[tuple[str, str]]) -> _Built:
        cfg = self.cfg
        if cfg.hypervisor_type != "qemu":
            raise KataError(f"katacfg qemu-argv builds QEMU's command line; this configuration "
                            f"uses {cfg.hypervisor_type}", "create", file=cfg.path, code="KC301",
                            hint="only [hypervisor.qemu] configurations start QEMU")
        if cfg.container_type != "pod_sandbox":
            raise KataError("katacfg qemu-argv: a pod container joins its sandbox's VM and "
                            "starts no QEMU of its own", "create", code="KC301",
                            hint="drop io.kubernetes.cri.container-type (or the CRI-O one) "
                                 "to see the sandbox's command line")
        if self.host.arch != "amd64":
            raise KataError(f"katacfg qemu-argv builds the amd64 command line (qemu_amd64.go); "
                            f"this host is {self.host.arch}", "create", code="KC301", host=True,
                            hint="other architectures use other machine types, devices and "
                                 "kernel parameters")
        if cfg.factory.enable_template or cfg.factory.vm_cache_number:
            raise KataError("katacfg qemu-argv does not cover VM templating or the VM cache "
                            "(the pod VM is cloned, not started from this command line)",
                            "create", file=cfg.path, line=cfg.line_of("factory"),
                            code="KC301", key="factory")
        cmdline = self.create()
        self.stage = "agent"
        self.agent()
        self.stage = "network"
        self.network(interfaces)
        self.stage = "launch"
        return self.launch(cmdline)

    def create(self) -> str:
        h, host = self.h, self.host
        # setup: RunningOnVMM runs whatever disable_nesting_checks says
        nested_error = host.fact_error("nested")
        if nested_error:
            raise KataError(nested_error, "create", code="KC300", host=True,
                            hint="the runtime reads /proc/cpuinfo to know whether it runs nested")
        self.nested = host.nested and not h.disable_nesting_checks
        nested_src = self.direct("host", "nested", "a VM (hypervisor cpuinfo flag)" if host.nested
                               else "bare metal")
        if host.nested and h.disable_nesting_checks:
            self.modern_sources: tuple[ArgSource, ...] = (
                nested_src, self.src("disable_nesting_checks"))
        else:
            self.modern_sources = (nested_src,)
        self.microvm = h.machine_type == "microvm"
        self.pci = not self.microvm  # govmm: virtio-mmio on microvm, PCI otherwise

        # the configured image (HypervisorConfig.ImagePath), not the image annotation
        image_outcome = self.applied.get("hypervisor.image")
        self.config_image = str(image_outcome.old or "") if image_outcome else h.image
        self.image_src = self.direct("annotation", image_outcome.name, image_outcome.value) \
            if image_outcome else self.src("image")

        # machine
        if h.machine_type not in MACHINES:
            raise self.refuse(f"unrecognised machine type: {h.machine_type}", "machine_type",
                              hint="qemu on amd64 knows " + ", ".join(MACHINES))
        options = IOMMU_Q35_OPTIONS if h.enable_iommu and h.machine_type == "q35" \
            else MACHINE_OPTIONS
        machine_sources = [self.src("machine_type")]
        if h.enable_iommu and h.machine_type == "q35":
            machine_sources.append(self.src("enable_iommu", "kernel_irqchip=split"))
        if self.config_image and not h.disable_image_nvdimm:
            options += ",nvdimm"
            machine_sources.append(self.config_image_src("nvdimm (an image)"))
        accel = h.machine_accelerators
        if accel:
            options += accel if accel.startswith(",") else "," + accel
            machine_sources.append(self.src("machine_accelerators"))
        self.machine = f"{h.machine_type},{options}"
        self.machine_sources = tuple(machine_sources)

        # memory
        mem_error = host.fact_error("memory_mib")
        if mem_error:
            raise KataError(f"Unable to read memory info: {mem_error}", "create", host=True,
                            code="KC300")
        host_mib = host.memory_mib
        if host_mib == 0:
            raise KataError("Error host memory size 0", "create", host=True, code="KC300")
        offset = (h.memory_offset + 1024) & 0xFFFFFFFF  # uint32 arithmetic in Go
        slots = h.memory_slots & 0xFF  # uint8(MemSlots)
        memory = f"{h.default_memory}M"
        if slots > 0:
            memory += f",slots={slots}"
        memory += f",maxmem={host_mib + offset}M"
        self.memory = memory
        self.memory_sources = (
            self.src("default_memory"), self.src("memory_slots"),
            self.direct("host", "memory", f"{host_mib} MiB", note="maxmem = host + 1024 + offset"),
            self.src("memory_offset"))

        # knobs
        self.hugepages = h.enable_hugepages
        self.mem_prealloc = h.enable_mem_prealloc
        self.file_backed = False
        self.mem_shared = False
        self.mem_path = ""
        if h.shared_fs == "virtio-fs" or h.file_mem_backend:
            target = h.file_mem_backend or FALLBACK_MEM_DIR
            try:
                os.stat(target)
            except (OSError, ValueError):
                self.warnings.append(f"file-backed memory folder {target} does not exist: "
                                     "Kata logs an error and backs the memory with RAM")
            else:
                self.file_backed = self.mem_shared = True
                self.mem_path = target
            if h.enable_hugepages:
                self.mem_prealloc = True
        if h.enable_vhost_user_store:
            if not h.enable_hugepages:
                raise self.refuse("Vhost-user-blk/scsi is enabled without HugePages. This "
                                  "configuration will not work", "enable_vhost_user_store",
                                  hint="set enable_hugepages = true")
            self.mem_shared = True

        self.qmp = self.socket_path("qmp.sock")
        self.build_devices()

        # CPU model: "host" + "," + cpu_features, the comma always
        self.cpu = "host," + h.cpu_features
        cmdline = self.kernel_cmdline()

        # firmware, pflash, binary
        path_src = self.src("path")
        try:
            os.stat(h.path)
        except FileNotFoundError:
            raise self.refuse(f"QEMU path ({h.path}) does not exist", "path", code="KC300",
                              hint="install QEMU or point path at its binary") from None
        except (OSError, ValueError):
            pass
        self.path_src = path_src

        # RNG and PCIe root ports come after the devices above
        entropy = h.entropy_source
        obj = "rng-random,id=rng0" + (f",filename={entropy}" if entropy else "")
        dev = ("virtio-rng-pci,rng=rng0,romfile=" if self.pci else "virtio-rng-device,rng=rng0")
        self.add(["-object", obj, "-device", dev], "random number generator",
                 self.src("entropy_source"))
        if h.pcie_root_port > 0 and h.machine_type == "q35":
            for i in range(h.pcie_root_port):
                self.add(["-device", f"pcie-root-port,id=rp{i},bus=pcie.0,chassis=0,slot={i},"
                          "multifunction=off"], f"PCIe root port {i}", self.src("pcie_root_port"))
        return cmdline

    def modern(self) -> str:
        """govmm disableModern: only PCI devices carry disable-modern."""
        return ("disable-modern=true" if self.nested else "disable-modern=false") if self.pci \
            else ""

    def build_devices(self) -> None:
        h = self.h
        console = self.socket_path("console.sock")
        # bridges first, so that they get the first PCI addresses
        if h.machine_type in ("pc", "q35", "virt"):
            bus = "pcie.0" if h.machine_type in ("q35", "virt") else "pci.0"
            for i in range(h.default_bridges):
                text = (f"pci-bridge,bus={bus},id=pci-bridge-{i},chassis_nr={i + 1},shpc=on,"
                        f"addr={2 + i:x}" + (",romfile=" if self.pci else ""))
                self.add(["-device", text], f"PCI bridge {i}", self.src("default_bridges"),
                         self.src("machine_type", f"bus {bus}"))
        # console
        serial = "virtio-serial-pci" if self.pci else "virtio-serial-device"
        modern = self.modern()
        text = serial + (f",{modern}" if modern else "") + ",id=serial0" + \
            (",romfile=,max_ports=2" if self.pci else "")
        self.add(["-device", text], "serial bus for the console",
                 self.builtin("appendConsole", GO_ARCH), *self.modern_sources)
        self.add(["-device", "virtconsole,chardev=charconsole0,id=console0", "-chardev",
                  f"socket,id=charconsole0,path={console},server,nowait"], "guest console",
                 self.direct("input", "--sandbox-id", self.id, note="console.sock path"))
        # image (only without an initrd)
        if not h.initrd and h.image:
            self.append_image()
        if h.enable_iommu:
            if h.machine_type != "q35":
                raise self.refuse(f"Machine Type {h.machine_type} does not support vIOMMU",
                                  "enable_iommu", hint="a vIOMMU needs machine_type = \"q35\"")
            self.add(["-device", "intel-iommu,intremap=on,device-iotlb=on,caching-mode=on"],
                     "vIOMMU", self.src("enable_iommu"))
        if h.block_device_driver == "virtio-scsi":
            parts = ["virtio-scsi-pci" if self.pci else "virtio-scsi-device", "id=scsi0"]
            if self.pci:
                parts.append(modern)
            sources = [self.src("block_device_driver")]
            if h.enable_iothreads:
                self.iothread = "iothread-" + self.random(8).hex()
                parts.append(f"iothread={self.iothread}")
                sources.append(self.src("enable_iothreads"))
            if self.pci:
                parts.append("romfile=")
            self.add(["-device", ",".join(parts)], "SCSI controller", *sources)

    def append_image(self) -> None:
        h = self.h
        path = h.image
        if not h.disable_image_nvdimm:
            try:
                size = os.stat(path).st_size  # Go opens the file, then Stat()s it
            except (OSError, ValueError) as exc:
                from katacfg.gocompat.fspath import go_os_error

                raise self.refuse(go_os_error("open", path, exc), "image", code="KC300",
                                  hint="the guest image must exist") from None
            if size == 0:
                self.warnings.append(f"the guest image {path} is empty: govmm drops the "
                                     "NVDIMM device (an object of size 0 is not valid)")
                return
            self.add(["-device", "nvdimm,id=nv0,memdev=mem0", "-object",
                      f"memory-backend-file,id=mem0,mem-path={path},size={size}"],
                     "guest image as an NVDIMM", self.image_src,
                     self.src("disable_image_nvdimm"))
            return
        try:
            os.stat(path)
        except FileNotFoundError as exc:
            from katacfg.gocompat.fspath import go_os_error

            raise self.refuse(go_os_error("stat", path, exc), "image", code="KC300",
                              hint="the guest image must exist") from None
        except (OSError, ValueError):
            pass
        drive = ("image-" + self.random(8).hex())[:MAX_DEV_ID]
        device = ("virtio-blk-pci" if self.pci else "virtio-blk-device")
        if self.pci:
            device += f",{self.modern()}"
        device += f",drive={drive},scsi=off,config-wce=off"
        if self.pci:
            device += ",romfile="
        device += f",share-rw=on,serial={drive}"
        self.add(["-device", device, "-drive",
                  f"id={drive},file={path},aio=threads,format=raw,if=none,readonly"],
                 "guest image as a read-only block device", self.image_src,
                 self.src("disable_image_nvdimm") if not self.microvm
                 else self.src("machine_type", "microvm: no NVDIMM"))

    def kernel_cmdline(self) -> str:
        h = self.h
        self.append_sources: list[ArgSource] = []
        params: list[tuple[str, str]] = list(ARCH_PARAMS)
        self.append_sources.append(self.builtin(ARCH_TEXT, GO_AMD64, "amd64 parameters"))
        if h.enable_iommu:
            params += [("intel_iommu", "on"), ("iommu", "pt")]
            self.append_sources.append(self.src("enable_iommu", "intel_iommu=on iommu=pt"))
        else:
            params.append(("iommu", "off"))
            self.append_sources.append(self.src("enable_iommu", "iommu=off"))
        if self.config_image:
            root = NVDIMM_DAX_ROOT if not h.disable_image_nvdimm else VIRTIO_BLK_ROOT
            params += root
            if self.explain:
                self.append_sources.append(self.config_image_src(" ".join(_params_text(root))))
        if h.enable_debug:
            extra: list[tuple[str, str]] = [("debug", "")]
            if self.config_image:
                extra += [("systemd.show_status", "true"), ("systemd.log_level", "debug")]
        else:
            extra = [("quiet", "")]
            if self.config_image:
                extra.append(("systemd.show_status", "false"))
        params += extra
        if self.explain:
            self.append_sources.append(self.src("enable_debug", " ".join(_params_text(extra))))
        tail = [("panic", "1"), ("nr_cpus", str(h.default_maxvcpus)),
                ("agent.use_vsock", "true" if h.use_vsock else "false")]
        params += tail
        self.append_sources.append(self.builtin("panic=1", GO_QEMU, "panic=1"))
        self.append_sources.append(self.src("default_maxvcpus", f"nr_cpus={h.default_maxvcpus}"))
        self.append_sources.append(self.src("use_vsock", f"agent.use_vsock={tail[2][1]}"))
        params += h.kernel_params
        if self.explain:
            self.append_sources += self.kernel_params_sources()
        if self.host.fips:  # katautils checkForFIPS, after every other parameter
            params.append(("fips", "1"))
            self.append_sources.append(self.direct("host", "FIPS mode",
                                                 "/proc/sys/crypto/fips_enabled is 1", note="fips=1"))
        return " ".join(_params_text(params))

    def kernel_params_sources(self) -> list[ArgSource]:
        """Who put each part of the loaded kernel_params there (CONTRACT.md: the runtime's
        systemd, SCSI and agent parameters, the file's, then the annotation's)."""
        h, cfg = self.h, self.cfg
        full = list(h.kernel_params)
        if not full:
            return []
        ann = self.applied.get("hypervisor.kernel_params")
        loaded = list(ann.old) if ann is not None and isinstance(ann.old, tuple) else full
        driver = self.applied.get("hypervisor.block_device_driver")
        loaded_driver = driver.old if driver is not None else h.block_device_driver
        from katacfg.profiles.kata1x.hypervisors import SCSI_SCAN_PARAM, SYSTEMD_PARAMS

        parts: list[tuple[list[tuple[str, str]], ArgSource]] = []
        if self.config_image:
            parts.append((list(SYSTEMD_PARAMS),
                          self.src("image", "systemd parameters (an image)")))
        if loaded_driver == "virtio-scsi":
            parts.append(([SCSI_SCAN_PARAM], self.src("block_device_driver")))
        agent = cfg.agent
        if agent.enable_debug:
            parts.append(([("agent.log", "debug")], self.src("enable_debug", section="agent")))
        if agent.enable_tracing and (agent.trace_mode or "dynamic") == "static":
            parts.append(([("agent.trace", agent.trace_type or "isolated")],
                          self.src("trace_mode", section="agent")))
        out = []
        rest = loaded
        for params, source in parts:
            if rest[:len(params)] != params:
                return [self.src("kernel_params", " ".join(_params_text(full)))]
            rest = rest[len(params):]
            out.append(source.replace(note=" ".join(_params_text(params))))
        if rest:
            out.append(self.src("kernel_params", " ".join(_params_text(rest))) if ann is None
                       else self._file_source("kernel_params", " ".join(_params_text(rest))))
        if ann is not None and full[len(loaded):]:
            out.append(self.direct("annotation", ann.name, ann.value,
                                 note=" ".join(_params_text(full[len(loaded):]))))
        return out

    def config_image_src(self, note: str) -> ArgSource:
        """hypervisor.<type>.image as the file has it (an image annotation changes only the
        device, not what Kata decides from the configured image)."""
        if not self.explain:
            return None  # type: ignore[return-value]
        line = self.cfg.line_of("hypervisor", self.table, "image")
        return _src("key" if line else "default", f"hypervisor.{self.table}.image",
                    self.config_image, self.cfg.path, line, note)

    def _file_source(self, key: str, note: str) -> ArgSource:
        line = self.cfg.line_of("hypervisor", self.table, key)
        return self.direct("key" if line else "default", f"hypervisor.{self.table}.{key}", "",
                         self.cfg.path, line, note)

    # -- agent ----------------------------------------------------------------------------
    def agent(self) -> None:
        h, cfg = self.h, self.cfg
        if cfg.agent.use_vsock:
            cid = 3 + int.from_bytes(self.random(4), "big") % (0xFFFFFFFF - 2)
            fd = self.fds(1)[0]
            name = "vhost-vsock-pci" if self.pci else "vhost-vsock-device"
            modern = self.modern()
            text = name + (f",{modern}" if modern else "") + \
                f",vhostfd={fd},id=vsock-{cid},guest-cid={cid}" + (",romfile=" if self.pci else "")
            self.add(["-device", text], "agent channel (vsock)",
                     self.src("use_vsock", "agent use_vsock (copied at load)"),
                     self.direct("host", "vhost-vsock", "/dev/vhost-vsock present"))
        else:
            path = self.socket_path("kata.sock")
            self.add(["-device", "virtserialport,chardev=charch0,id=channel0,"
                      "name=agent.channel.0", "-chardev",
                      f"socket,id=charch0,path={path},server,nowait"],
                     "agent channel (serial port)",
                     self.src("use_vsock", self.serial_reason() if self.explain else ""))
        share = f"{SHARED_SANDBOXES}/{self.id}/shared"
        self.share = share
        if h.shared_fs == "virtio-fs":
            dev_id = self.random(8).hex()
            sock = self.socket_path("vhost-fs.sock")
            self.vhost_fs_sock = sock
            char = f"char-{dev_id}"[:MAX_DEV_ID]
            fs_dev = ["vhost-user-fs-pci" if self.pci else "vhost-user-fs-device",
                   f"chardev={char}", f"tag={MOUNT_TAG}"]
            sources = [self.src("shared_fs")]
            if h.virtio_fs_cache_size:
                fs_dev.append(f"cache-size={h.virtio_fs_cache_size}M")
                sources.append(self.src("virtio_fs_cache_size"))
            if self.pci:
                fs_dev.append("romfile=")
            self.add(["-chardev", f"socket,id={char},path={sock}", "-device", ",".join(fs_dev)],
                     "shared folder (virtio-fs)", *sources)
        else:
            fs_id = f"extra-9p-{MOUNT_TAG}"[:MAX_DEV_ID]
            modern = self.modern()
            dev = ("virtio-9p-pci" if self.pci else "virtio-9p-device") + \
                (f",{modern}" if modern else "") + f",fsdev={fs_id},mount_tag={MOUNT_TAG}" + \
                (",romfile=" if self.pci else "")
            self.add(["-device", dev, "-fsdev", f"local,id={fs_id},path={share},"
                      "security_model=none,multidevs=remap"], "shared folder (9p)",
                     self.src("shared_fs"))

    def serial_reason(self) -> str:
        """Why the agent talks over a serial port although use_vsock may be true."""
        h, cfg = self.h, self.cfg
        if not h.use_vsock:
            return "no vsock: the agent talks over a virtio serial port"
        if "hypervisor.use_vsock" in self.applied:
            return ("the annotation changes the hypervisor's use_vsock (agent.use_vsock=true on "
                    "the kernel command line) but not the agent's, copied when loading: the "
                    "channel stays a serial port")
        if cfg.mode == "cli" and self.cfg.line_of("agent", "kata") is None:
            return ("kata-runtime copies use_vsock to the agent only from an [agent.kata] table; "
                    "there is none, so the channel stays a serial port")
        return "the agent's use_vsock is false"

    # -- network --------------------------------------------------------------------------
    def network(self, interfaces: Sequence[tuple[str, str]]) -> None:
        cfg, h = self.cfg, self.h
        if cfg.runtime.disable_new_netns or not interfaces:
            return
        model = cfg.runtime.internetworking_model
        if model not in ("tcfilter", "macvtap"):
            raise self.refuse("Invalid internetworking model", "internetworking_model",
                              section="runtime",
                              hint="with interfaces in the pod's namespace the model must be "
                                   "tcfilter or macvtap (none needs disable_new_netns)")
        queues = h.default_vcpus  # multi-queue: one queue per vCPU
        for index, (name, mac) in enumerate(sorted(interfaces)):
            netdev = f"tap,id=network-{index}"
            if not h.disable_vhost_net:
                netdev += ",vhost=on,vhostfds=" + ":".join(map(str, self.fds(queues)))
            netdev += ",fds=" + ":".join(map(str, self.fds(queues)))
            driver = "virtio-net-pci" if self.pci else "virtio-net-device"
            dev = f"driver={driver},netdev=network-{index},mac={mac}"
            modern = self.modern()
            if modern:
                dev += f",{modern}"
            dev += ",mq=on"
            if self.pci:
                dev += f",vectors={2 * queues + 2},romfile="
            self.add(["-netdev", netdev, "-device", dev], f"network: {name} (veth)",
                     self.direct("input", "--host-interface", f"{name}={mac}"),
                     self.src("internetworking_model", section="runtime"),
                     self.src("default_vcpus", f"{queues} queue(s)"),
                     self.src("disable_vhost_net"))

    # -- launch ---------------------------------------------------------------------------
    def launch(self, cmdline: str) -> _Built:
        h = self.h
        argv: list[str] = [h.path]
        origins: list[ArgOrigin] = []

        current = "create"

        explain = self.explain

        def emit(params: list[str], what: str, *sources: ArgSource, stage: str = "") -> None:
            start = len(argv)
            argv.extend(params)
            if explain:
                origins.append(_origin(start, len(argv), stage or current, what, sources))

        if explain:
            origins.append(_origin(0, 1, current, "QEMU binary", (self.path_src,)))
        emit(["-name", f"sandbox-{self.id}"], "VM name", self.direct("input", "--sandbox-id",
                                                                    self.id))
        emit(["-uuid", self.uuid], "VM UUID (Go draws it at random)",
             self.direct("input", "--uuid", self.uuid))
        emit(["-machine", self.machine], "machine type and options", *self.machine_sources)
        emit(["-cpu", self.cpu], "CPU model: host + cpu_features", self.src("cpu_features"))
        emit(["-qmp", f"unix:{self.qmp},server,nowait"], "QMP control socket",
             self.direct("input", "--sandbox-id", self.id, note="qmp.sock path"))
        emit(["-m", self.memory], "memory: size, hotplug slots, maximum", *self.memory_sources)
        for params, what, stage, sources in self.devices:
            emit(params, what, *sources, stage=stage)
        emit(["-rtc", "base=utc,driftfix=slew,clock=host"], "clock",
             self.builtin("RTC base=utc, clock=host, driftfix=slew"))
        emit(["-global", "kvm-pit.lost_tick_policy=discard"], "KVM PIT tick policy",
             self.builtin("GlobalParam"))
        for flash in h.pflashes:
            emit(["-pflash", flash], "flash image", self.src("pflashes"))
        emit(["-vga", "none"], "no VGA", self.builtin("VGA none"))
        emit(["-no-user-config", "-nodefaults", "-nographic", "--no-reboot", "-daemonize"],
             "knobs", self.builtin("Knobs: no user config, no defaults, no graphic, no "
                                   "reboot, daemonize"))
        if not self.microvm:  # govmm isDimmSupported
            dimm = f"id=dimm1,size={h.default_memory}M"
            mem_sources = [self.src("default_memory")]
            if self.hugepages:
                obj = f"memory-backend-file,{dimm},mem-path=/dev/hugepages"
                mem_sources.append(self.src("enable_hugepages"))
            elif self.file_backed and self.mem_path:
                obj = f"memory-backend-file,{dimm},mem-path={self.mem_path}"
                mem_sources.append(self.src("file_mem_backend") if h.file_mem_backend
                               else self.src("shared_fs", "virtio-fs: memory shared via "
                                                          "/dev/shm"))
            else:
                obj = f"memory-backend-ram,{dimm}"
            if self.mem_shared:
                obj += ",share=on"
                if h.enable_vhost_user_store:
                    mem_sources.append(self.src("enable_vhost_user_store"))
            if self.mem_prealloc:
                obj += ",prealloc=on"
                mem_sources.append(self.src("enable_mem_prealloc") if h.enable_mem_prealloc
                               else self.src("enable_hugepages", "prealloc=on"))
            emit(["-object", obj, "-numa", "node,memdev=dimm1"], "guest memory backend",
                 *mem_sources)
        if h.enable_swap:  # Mlock = !enable_swap; -realtime is how mlock is turned off
            emit(["-realtime", "mlock=off"], "memory may be swapped", self.src("enable_swap"))
        emit(["-kernel", h.kernel], "guest kernel", self.src("kernel"))
        if h.initrd:
            emit(["-initrd", h.initrd], "guest initrd", self.src("initrd"))
        if cmdline:
            emit(["-append", cmdline], "guest kernel command line", *self.append_sources)
        if h.firmware:
            emit(["-bios", h.firmware], "firmware", self.src("firmware"))
        if self.iothread:
            emit(["-object", f"iothread,id={self.iothread}"], "I/O thread of the SCSI "
                 "controller", self.src("enable_iothreads"))
        emit(["-pidfile", f"{VM_STORAGE}/{self.id}/pid"], "pid file",
             self.direct("input", "--sandbox-id", self.id))
        current = "launch"
        if h.enable_debug:
            emit(["-D", f"{VM_STORAGE}/{self.id}/qemu.log"], "QEMU debug log",
                 self.src("enable_debug"))
        vcpus, maxvcpus = h.default_vcpus, h.default_maxvcpus
        if maxvcpus < vcpus:
            raise self.refuse(f"MaxCPUs {maxvcpus} must be equal to or greater than CPUs "
                              f"{vcpus}", "default_maxvcpus",
                              hint=f"raise default_maxvcpus to at least {vcpus} or lower "
                                   "default_vcpus")
        if vcpus > 0:
            smp_sources = [self.src("default_vcpus"), self.src("default_maxvcpus",
                                                               "sockets and maxcpus")]
            if self.host.cpus in (vcpus, maxvcpus):
                smp_sources.append(self.direct("host", "CPUs", str(self.host.cpus),
                                             note="the loader's clamps"))
            emit(["-smp", f"{vcpus},cores=1,threads=1,sockets={maxvcpus},maxcpus={maxvcpus}"],
                 "vCPUs: at boot, and the most that can be hot-plugged", *smp_sources)
        virtiofsd = None
        vfs_origins: list[ArgOrigin] = []
        if h.shared_fs == "virtio-fs":
            virtiofsd, vfs_origins = self.virtiofsd()
        return (tuple(argv), virtiofsd, cmdline, tuple(origins), tuple(vfs_origins),
                tuple(self.warnings))

    def virtiofsd(self) -> tuple[tuple[str, ...], list[ArgOrigin]]:
        h = self.h
        argv = [h.virtio_fs_daemon]
        explain = self.explain
        origins = [_origin(0, 1, "launch", "virtiofsd binary", (self.src("virtio_fs_daemon"),))] \
            if explain else []

        def emit(params: list[str], what: str, *sources: ArgSource) -> None:
            start = len(argv)
            argv.extend(params)
            if explain:
                origins.append(_origin(start, len(argv), "launch", what, sources))

        emit(["--fd=3"], "the vhost-user socket, passed as fd 3",
             self.builtin(f"listening socket {self.vhost_fs_sock}"))
        emit(["-o", f"source={self.share}"], "shared folder",
             self.direct("input", "--sandbox-id", self.id))
        emit(["-o", f"cache={h.virtio_fs_cache}"], "cache mode", self.src("virtio_fs_cache"))
        emit(["--syslog", "-o", "no_posix_lock"], "log to syslog, no POSIX locks",
             self.builtin("virtiofsdArgs"))
        emit(["-d" if h.enable_debug else "-f"], "debug" if h.enable_debug else "foreground",
             self.src("enable_debug"))
        if h.virtio_fs_extra_args:
            emit(list(h.virtio_fs_extra_args), "extra arguments",
                 self.src("virtio_fs_extra_args"))
        if not os.path.exists(h.virtio_fs_daemon):
            self.warnings.append(f"virtiofsd {h.virtio_fs_daemon} does not exist: Kata would "
                                 "fail to start it (virtiofs daemon ... returned with error)")
        return tuple(argv), origins


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        if value and isinstance(value[0], tuple):
            return " ".join(_params_text(value))  # kernel_params
        return "[" + ", ".join(_quote(str(v)) for v in value) + "]"
    return str(value)


MAX_ID = 4096  # bytes: far beyond any socket path, and a bound on what is printed


def check_sandbox_id(sandbox_id: str) -> None:
    """Ids that would change the shape of the per-VM paths are refused (katacfg's rule)."""
    if len(sandbox_id.encode("utf-8", "surrogateescape")) > MAX_ID:
        raise KataError(f"sandbox id of {len(sandbox_id)} characters: katacfg reads at most "
                        f"{MAX_ID} bytes", "create", code="KC301",
                        hint="Kata would refuse it anyway: its socket paths hold 107 bytes")
    if not sandbox_id or sandbox_id in (".", "..") or "/" in sandbox_id or "\0" in sandbox_id:
        raise KataError(f"invalid sandbox id {sandbox_id!r}: it names a folder under "
                        f"{VM_STORAGE}", "create", code="KC301",
                        hint="a sandbox id is one path component: no '/', not '.' or '..'")


def build_qemu_command(cfg: Config, host: Host, *, sandbox_id: str, uuid: str,
                       interfaces: Sequence[tuple[str, str]] = ()) -> QemuCommand:
    """QEMU's command line for this resolved configuration on this host.

    `interfaces` are the veth interfaces in the pod's network namespace, (name, MAC).
    Raises KataError (with the Go text and the stage) where Kata refuses.
    """
    check_sandbox_id(sandbox_id)
    names = [name for name, _ in interfaces]
    if len(set(names)) != len(names):
        raise KataError("two interfaces with the same name in one network namespace",
                        "network", code="KC301", hint="interface names are unique per namespace")
    normalised = []
    for name, mac in interfaces:
        try:
            normalised.append((name, parse_mac(mac)))
        except ValueError as exc:
            raise KataError(str(exc), "network", code="KC301", key=name) from None
    builder = _Builder(cfg, host, sandbox_id, uuid)
    argv, virtiofsd, cmdline, _, _, warnings = builder.build(normalised)
    explained = _Explanation(cfg, host, sandbox_id, uuid, normalised, builder.draws)
    return QemuCommand(argv, virtiofsd, cmdline, _LazyOrigins(explained, 3),
                       _LazyOrigins(explained, 4), warnings)


class _Explanation:
    """The same build again, with its random draws replayed, recording every option's origin."""

    __slots__ = ("args", "result")

    def __init__(self, *args: object) -> None:
        self.args = args
        self.result: _Built | None = None

    def get(self) -> _Built:
        if self.result is None:
            cfg, host, sandbox_id, uuid, interfaces, draws = self.args
            self.result = _Builder(cfg, host, sandbox_id, uuid, explain=True,  # type: ignore[arg-type]
                                   draws=draws).build(interfaces)  # type: ignore[arg-type]
        return self.result


class _LazyOrigins(Sequence):  # type: ignore[type-arg]
    """A tuple of ArgOrigin computed on first use (len, index, iterate, compare)."""

    __slots__ = ("explanation", "which")

    def __init__(self, explanation: _Explanation, which: int) -> None:
        self.explanation = explanation
        self.which = which

    def _value(self) -> tuple[ArgOrigin, ...]:
        return self.explanation.get()[self.which]  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self._value())

    def __getitem__(self, i):  # type: ignore[no-untyped-def]
        return self._value()[i]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._value())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _LazyOrigins):
            other = other._value()
        return self._value() == other

    def __hash__(self) -> int:
        return hash(self._value())

    def __repr__(self) -> str:
        return repr(self._value())
