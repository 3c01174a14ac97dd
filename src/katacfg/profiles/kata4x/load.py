"""LoadConfiguration of the Kata 4.x Go runtime (pkg/katautils/config.go), with origins.

decode (sources.py) -> hypervisor constructor (defaults, clamps, path resolution, refusals,
in the constructor's order) -> agent -> runtime -> factory -> kernel parameters ->
runtime flags -> bind mounts -> checkConfig. Refusals keep Go's text; values keep where
they came from: the file and line (main file or drop-in), the default, or a clamp.
"""
from __future__ import annotations

import os

from katacfg.config.errors import Diagnostic, KataError
from katacfg.config.records import Record
from katacfg.gocompat.strings import fields as go_fields
from katacfg.profiles.kata4x import options as o
from katacfg.profiles.kata4x.gofloat import to_float32
from katacfg.profiles.kata4x.sources import Sources, decode_main

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    class HostFacts(Protocol):
        @property
        def cpus(self) -> int: ...

        @property
        def vhost_vsock(self) -> bool: ...

        @property
        def memory_mib(self) -> int: ...

VHOST_VSOCK_DEVICE = "/dev/vhost-vsock"


class Provenance(Record):
    """Where an effective value came from."""

    kind: str  # default | file | dropin | clamp | annotation | sizing | forced
    file: str | None = None
    line: int | None = None
    detail: str = ""  # the clamp's reason, the annotation's name, ...

    def describe(self) -> str:
        where = f"{self.file}:{self.line}" if self.file and self.line else (self.file or "")
        if self.kind == "file":
            return where
        if self.kind == "dropin":
            return f"{where} (drop-in)"
        if self.kind in ("clamp", "sizing"):
            return f"{where} ({self.detail})" if where else self.detail
        return f"{self.kind}" + (f": {self.detail}" if self.detail else "")


class Config4x(Record):
    """A loaded (and, after resolve, per-sandbox) Kata 4.x configuration."""

    path: str
    files: tuple[str, ...]
    hypervisor_type: str
    hypervisor: dict
    agent: dict
    runtime: dict
    factory: dict
    origins: dict  # ("hypervisor", key) -> Provenance
    has_agent_table: bool = False
    container_type: str = "pod_sandbox"
    diagnostics: tuple[Diagnostic, ...] = ()
    annotations: tuple = ()  # AnnotationOutcome of each pod annotation
    custom_assets: dict = {}  # hypervisor key -> path from an asset annotation
    profile: str = o.PROFILE_ID
    # the node's files are elsewhere: paths are assumed to exist, allow-lists are checked by
    # pattern (explain/resolve --assume-node-files)
    assume_files: bool = False


# --- discovery -----------------------------------------------------------------------------

def find_config(path: str | None) -> str:
    """decodeConfig's path step: ResolvePath of the given file, else the default paths."""
    from katacfg.gocompat.fspath import GoPathError, resolve_path
    from katacfg.gocompat.strconv import quote

    if path:
        try:
            return resolve_path(path)
        except GoPathError as exc:
            raise KataError(f"Cannot find usable config file ({exc})", "load", file=path,
                            code="KC002", hint="check the --kata-config path") from None
    errors = []
    for candidate in o.DEFAULT_CONFIG_PATHS:
        try:
            return resolve_path(candidate)
        except GoPathError as exc:
            errors.append(f"config file {quote(candidate)} unresolvable: {exc}")
    raise KataError(f"Cannot find usable config file ({', '.join(errors)})", "load",
                    code="KC003", hint="install a configuration.toml in one of the default "
                    "paths, or pass --kata-config (the shim also reads $KATA_CONF_FILE)")


def load(path: str | None, host: HostFacts, *, dropins: bool = True,
         assume_files: bool = False) -> Config4x:
    """Load a 4.x configuration; raises KataError (stage load) where Kata refuses.

    `assume_files`: the configuration belongs to another machine; every path it names is
    taken as present (absolute, not resolved) and image sizes are not checked."""
    resolved = find_config(path)
    src = decode_main(resolved) if dropins else _decode_without_dropins(resolved)
    return Loader(src, host, assume_files=assume_files).run()


def _decode_without_dropins(resolved: str) -> Sources:
    from katacfg.profiles.kata4x import sources

    src = sources.Sources(resolved)
    text = sources.read_file(resolved)
    sources._decode_into(src, resolved, text, dropin=False)
    return src


# --- the loader ------------------------------------------------------------------------------

class Loader:
    def __init__(self, src: Sources, host: HostFacts, *, assume_files: bool = False) -> None:
        self.src = src
        self.host = host
        self.assume_files = assume_files
        self.path = src.path
        self.origins: dict[tuple[str, str], Provenance] = {}
        self.diagnostics: list[Diagnostic] = list(src.diagnostics)

    def fail(self, text: str, where: tuple[str, ...] = (), *, prefix: bool = True,
             hint: str | None = None, code: str = "KC020", host: bool = False) -> KataError:
        origin = self.src.origins.get(where) if where else None
        if origin is None and len(where) > 2:
            origin = self.src.origins.get(where[:2])
        if prefix:
            text = f"{self.path}: {text}"
        return KataError(text, "load", file=origin.file if origin else self.path,
                         line=origin.line if origin else None,
                         key=".".join(where) if where else None, hint=hint, code=code,
                         host=host)

    def provenance(self, where: tuple[str, ...]) -> Provenance:
        origin = self.src.origins.get(where)
        if origin is None:
            return Provenance("default")
        kind = "file" if origin.file == self.path else "dropin"
        return Provenance(kind, origin.file, origin.line)

    def run(self) -> Config4x:
        src = self.src
        rt = src.structs["runtime"]
        model = rt.get("internetworking_model", "")
        network = "default"  # Go's zero value: initConfig's default is overwritten
        if model:
            if model not in o.NETWORK_MODELS:
                raise self.fail(f"Unknown type {model}", ("runtime", "internetworking_model"),
                                prefix=False, code="KC040", hint="internetworking_model must "
                                "be one of " + ", ".join(o.NETWORK_MODELS))
            network = o.NETWORK_MODELS[model]
        vfio_mode = "vfio"  # zero value of config.VFIOModeType
        if rt.get("vfio_mode"):
            if rt["vfio_mode"] not in o.VFIO_MODES:
                raise self.fail(f"Unknown VFIO mode {rt['vfio_mode']}", ("runtime", "vfio_mode"),
                                prefix=False, code="KC040",
                                hint="vfio_mode must be vfio or guest-kernel")
            vfio_mode = rt["vfio_mode"]
        hv_type, hyp = self.hypervisor()
        agent, has_agent = self.agent()
        emptydir = rt.get("emptydir_mode", "")
        if emptydir and emptydir not in o.EMPTYDIR_MODES:
            from katacfg.gocompat.strconv import quote

            raise self.fail(f"invalid emptydir_mode={quote(emptydir)}, allowed values: "
                            + ", ".join(quote(m) for m in o.EMPTYDIR_MODES),
                            ("runtime", "emptydir_mode"), code="KC040",
                            hint="emptydir_mode must be one of " + ", ".join(o.EMPTYDIR_MODES))
        factory = self.factory()
        self.kernel_params(hyp, agent, rt.get("enable_tracing", False))
        runtime = {key: rt.get(key, _zero(t)) for key, t in o.RUNTIME_KEYS.items()}
        runtime["internetworking_model"] = network
        runtime["vfio_mode"] = vfio_mode
        runtime["emptydir_mode"] = emptydir or o.DEFAULT_EMPTYDIR_MODE
        runtime["workload_cpus"] = 0.0
        runtime["workload_memory_mb"] = 0
        for key in o.RUNTIME_KEYS:
            self.origins[("runtime", key)] = self.provenance(("runtime", key))
        for name in rt.get("experimental", ()):
            if name not in o.EXPERIMENTAL_FEATURES:
                from katacfg.gocompat.strconv import quote

                raise self.fail(f"Unsupported experimental feature {quote(name)}",
                                ("runtime", "experimental"), prefix=False, code="KC042",
                                hint="Kata 4.1.0 knows no experimental feature")
        self.bind_mounts(rt.get("sandbox_bind_mounts", ()))
        cfg = Config4x(path=self.path, files=tuple(src.files), hypervisor_type=hv_type,
                       hypervisor=hyp, agent=agent, runtime=runtime, factory=factory,
                       origins=self.origins, has_agent_table=has_agent,
                       assume_files=self.assume_files)
        check_config(cfg, self)
        return cfg.replace(diagnostics=tuple(self.diagnostics))

    # -- hypervisor ----------------------------------------------------------------------
    def hypervisor(self) -> tuple[str, dict[str, Any]]:
        tables = self.src.tables["hypervisor"]
        if not tables:
            self.diagnostics.append(Diagnostic(
                "warning", "KC104", "no [hypervisor.*] table: Kata uses its built-in qemu "
                "defaults without checking them", self.path,
                hint="add a [hypervisor.qemu] table"))
            hyp = builtin_hypervisor()
            for key in hyp:
                self.origins[("hypervisor", key)] = Provenance("default")
            return "qemu", hyp
        if len(tables) > 1:
            names = ", ".join(f"[hypervisor.{n}]" for n in tables)
            self.diagnostics.append(Diagnostic(
                "error", "KC105", f"several hypervisor tables ({names}): Kata 4.x uses one of "
                "them at random (Go map order); katacfg uses the last", self.path,
                hint="keep exactly one [hypervisor.<name>] table (drop-ins included)"))
        name, values = list(tables.items())[-1]
        if name not in o.HYPERVISORS:
            raise self.fail(f"configuration file contains invalid hypervisor section: "
                            f"{quote_to_ascii(name)}", ("hypervisor", name), code="KC106",
                            hint="the hypervisors of Kata 4.x are " + ", ".join(o.HYPERVISORS)
                            + (" (acrn was removed)" if name == "acrn" else ""))
        return name, self.build_hypervisor(name, values)

    def build_hypervisor(self, kind: str, raw: dict[str, Any]) -> dict[str, Any]:
        letter = next(k for k, v in o.LETTER.items() if v == kind)
        hyp = zero_hypervisor()
        for step in HYPERVISOR_STEPS[kind]:
            step(self, kind, raw, hyp)
        for key, (readers, how) in o.READERS.items():
            if letter not in readers:
                continue
            at = ("hypervisor", kind, key)
            if key in _STEP_KEYS:
                pass
            elif how == "raw":
                hyp[key] = raw.get(key, _zero(o.HYPERVISOR_KEYS[key]))
            elif how.startswith("burst:"):
                rate = raw.get(how[6:], 0)
                value = raw.get(key, 0)
                if value and not rate:
                    self.clamp(key, at, f"ignored: {how[6:]} is not set")
                    value = 0
                hyp[key] = value
            else:
                value, reason = NORMALISE[how](raw.get(key, _zero(o.HYPERVISOR_KEYS.get(
                    key, "string"))), self.host, kind)
                hyp[key] = value
                if key not in raw:
                    host_derived = how in ("maxvcpus", "maxmemory")
                    self.origins[("hypervisor", key)] = Provenance(
                        "default", detail=reason if host_derived else "")
                    continue
                if reason:
                    self.clamp(key, at, reason)
                    continue
            self.origins.setdefault(("hypervisor", key), self.provenance(at))
        for key, value in o.FORCED.get(kind, {}).items():
            hyp[key] = value
            self.origins[("hypervisor", key)] = Provenance("forced", detail=f"{kind} always "
                                                           f"uses {value!r}")
        if kind == "qemu" and hyp["machine_type"] == "microvm" and not hyp["disable_image_nvdimm"]:
            hyp["disable_image_nvdimm"] = True
            self.clamp("disable_image_nvdimm", ("hypervisor", kind, "machine_type"),
                       "microvm does not support NVDIMM")
        for key in raw:
            spec = o.READERS.get(key)
            if spec is not None and letter not in spec[0]:
                origin = self.src.origins.get(("hypervisor", kind, key))
                self.diagnostics.append(Diagnostic(
                    "warning", "KC107", f"`{key}` means nothing for {kind}: Kata ignores it",
                    origin.file if origin else self.path, origin.line if origin else None,
                    key=f"hypervisor.{kind}.{key}"))
        return hyp

    def clamp(self, key: str, at: tuple[str, ...], reason: str) -> None:
        origin = self.src.origins.get(at)
        self.origins[("hypervisor", key)] = Provenance(
            "clamp", origin.file if origin else None, origin.line if origin else None, reason)

    def resolve(self, value: str, where: tuple[str, ...], hint: str = "") -> str:
        from katacfg.gocompat.fspath import GoPathError, abs_path, resolve_path

        if self.assume_files:
            return abs_path(value) if value else value
        try:
            return resolve_path(value)
        except GoPathError as exc:
            raise self.fail(str(exc), where, code="KC030", host=True,
                            hint=hint or f"{where[-1]} must name an existing file") from None

    # -- agent, factory ---------------------------------------------------------------------
    def agent(self) -> tuple[dict[str, Any], bool]:
        agent = {key: _zero(t) for key, t in o.AGENT_KEYS.items()}
        agent.update(container_pipe_size=0, long_live_conn=False, policy="")
        tables = self.src.tables["agent"]
        for name, values in tables.items():
            agent = {key: values.get(key, _zero(t)) for key, t in o.AGENT_KEYS.items()}
            agent.update(container_pipe_size=0, long_live_conn=True, policy="")
            for key in o.AGENT_KEYS:
                self.origins[("agent", key)] = self.provenance(("agent", name, key))
        return agent, bool(tables)

    def factory(self) -> dict[str, Any]:
        f = self.src.structs["factory"]
        for key in o.FACTORY_KEYS:
            self.origins[("factory", key)] = self.provenance(("factory", key))
        return {
            "enable_template": f.get("enable_template", False),
            "template_path": f.get("template_path") or o.DEFAULT_TEMPLATE_PATH,
            "vm_cache_number": f.get("vm_cache_number", 0),
            "vm_cache_endpoint": f.get("vm_cache_endpoint") or o.DEFAULT_VM_CACHE_ENDPOINT,
        }

    # -- kernel parameters (SetKernelParams) ------------------------------------------------
    def kernel_params(self, hyp: dict[str, Any], agent: dict[str, Any], trace: bool) -> None:
        user = hyp["kernel_params"]
        params: list[tuple[str, str]] = []
        if hyp["image"]:
            params += SYSTEMD_PARAMS
        if hyp["block_device_driver"] == "virtio-scsi":
            params.append(("scsi_mod.scan", "none"))
        params += agent_kernel_params(agent)
        for key, value in user:
            if not key:
                raise self.fail("Empty kernel parameter", ("hypervisor", self._hv_name(),
                                "kernel_params"), prefix=False, code="KC031",
                                hint=f"`={value}` has no name before '='")
            params.append((key, value))
        hyp["kernel_params"] = tuple(params)
        origin = self.src.origins.get(("hypervisor", self._hv_name(), "kernel_params"))
        self.origins[("hypervisor", "kernel_params")] = Provenance(
            "computed", origin.file if origin else None, origin.line if origin else None,
            "Kata's own (systemd, scsi, agent) then the file's kernel_params"
            + (f" ({origin})" if origin else ""))

    def _hv_name(self) -> str:
        tables = self.src.tables["hypervisor"]
        return list(tables)[-1] if tables else "qemu"

    def bind_mounts(self, mounts: tuple[str, ...]) -> None:
        from katacfg.gocompat.fspath import GoPathError, abs_path, resolve_path

        bases: set[str] = set()
        for m in mounts:
            try:
                path = abs_path(m) if self.assume_files else resolve_path(m)
            except GoPathError as exc:
                raise self.fail(f"sandbox-bindmounts: Failed to resolve path: {m}: {exc}",
                                ("runtime", "sandbox_bind_mounts"), prefix=False,
                                code="KC030", host=True,
                                hint="every sandbox_bind_mounts entry must exist") from None
            base = os.path.basename(path.rstrip("/")) or "/"
            if base in bases:
                raise self.fail(f"sandbox-bindmounts: File {path} has base that matches "
                                "already specified bindmount", ("runtime", "sandbox_bind_mounts"),
                                prefix=False, code="KC043",
                                hint="two bind mounts would land on the same guest path")
            bases.add(base)


SYSTEMD_PARAMS = [
    ("systemd.unit", "kata-containers.target"),
    ("systemd.mask", "systemd-networkd.service"),
    ("systemd.mask", "systemd-networkd.socket"),
]


def agent_kernel_params(agent: dict[str, Any]) -> list[tuple[str, str]]:
    """vc.KataAgentKernelParams of the loaded agent table."""
    out = []
    if agent["enable_debug"]:
        out.append(("agent.log", "debug"))
    if agent["enable_tracing"]:
        out.append(("agent.trace", "true"))
    if agent["container_pipe_size"]:
        out.append(("agent.container_pipe_size", str(agent["container_pipe_size"])))
    if agent["debug_console_enabled"]:
        out += [("agent.debug_console", ""), ("agent.debug_console_vport", "1026")]
    if agent["cdh_api_timeout"]:
        out.append(("agent.cdh_api_timeout", str(agent["cdh_api_timeout"])))
    if agent["launch_process_timeout"]:
        out.append(("agent.launch_process_timeout", str(agent["launch_process_timeout"])))
    if agent["visible_cdi_devices"]:
        out.append(("agent.visible_cdi_devices", "true"))
    return out


def quote_to_ascii(s: str) -> str:
    """Go strconv.QuoteToASCII (%+q): non-ASCII runes as \\u escapes."""
    from katacfg.gocompat.strconv import quote

    out = []
    for c in quote(s):
        n = ord(c)
        out.append(c if n < 0x80 else ("\\u%04x" % n if n < 0x10000 else "\\U%08x" % n))
    return "".join(out)


def _zero(gotype: str) -> Any:
    return {"string": "", "bool": False, "float32": 0.0, "[]string": (), "[]ext": (),
            "*uint64": None}.get(gotype, 0)


_OUTPUT_TYPES = {**o.HYPERVISOR_KEYS}
_OUTPUT_TYPES.pop("enable_numa")


def zero_hypervisor() -> dict[str, Any]:
    """vc.HypervisorConfig{}: every output field at Go's zero value."""
    hyp = {key: _zero(t) for key, t in _OUTPUT_TYPES.items()}
    hyp["kernel_params"] = ()
    hyp.update(o.EXTRA_HYPERVISOR_FIELDS)
    return hyp


def builtin_hypervisor() -> dict[str, Any]:
    """GetDefaultHypervisorConfig(): used unresolved when the file has no hypervisor table."""
    hyp = zero_hypervisor()
    hyp.update(
        path=o.DEFAULT_HYPERVISOR_PATH, jailer_path=o.DEFAULT_JAILER_PATH,
        kernel=o.DEFAULT_KERNEL_PATH, image=o.DEFAULT_IMAGE_PATH, initrd=o.DEFAULT_INITRD_PATH,
        rootfs_type=o.DEFAULT_ROOTFS_TYPE, machine_type=o.DEFAULT_MACHINE_TYPE,
        default_vcpus=1.0, default_maxvcpus=0, default_memory=o.DEFAULT_MEMORY_MIB,
        default_bridges=o.DEFAULT_BRIDGES, block_device_driver=o.DEFAULT_BLOCK_DRIVER,
        block_device_aio=o.DEFAULT_BLOCK_AIO, msize_9p=o.DEFAULT_MSIZE_9P,
        cold_plug_vfio=o.DEFAULT_PCIE_PORT, hot_plug_vfio=o.DEFAULT_PCIE_PORT,
        vhost_user_store_path=o.DEFAULT_VHOST_USER_STORE_PATH,
        hypervisor_loglevel=o.DEFAULT_HYPERVISOR_LOGLEVEL,
        virtio_fs_cache=o.DEFAULT_VIRTIO_FS_CACHE, disable_guest_selinux=True,
    )
    return hyp


# --- normalisers: (value, host, hypervisor) -> (value, clamp reason or "") -----------------

def _host_cpus(host: HostFacts) -> int:
    return host.cpus


def _max_vcpus(value: int, host: HostFacts) -> int:
    n = _host_cpus(host)
    if value >= n or value == 0:
        value = n
    return min(value, o.MAX_VCPUS)


def _vcpus(value: float, host: HostFacts, kind: str) -> tuple[float, str]:
    n = float(min(_host_cpus(host), _max_vcpus(0, host)))
    if value < 0 or value > n:
        return n, f"{value:g} is outside 0..{n:g} host CPUs: all host CPUs"
    if value == 0:
        return float(o.DEFAULT_VCPUS), "0 means the default, 1"
    return to_float32(value), ""


def _maxvcpus(value: int, host: HostFacts, kind: str) -> tuple[int, str]:
    new = _max_vcpus(value, host)
    if new != value:
        why = "0 means the host CPU count" if value == 0 else \
            f"at most the host CPU count ({_host_cpus(host)}) and {o.MAX_VCPUS}"
        return new, why
    return new, ""


def _memory(value: int, host: HostFacts, kind: str) -> tuple[int, str]:
    if value < o.MIN_MEMORY_MIB:
        return o.DEFAULT_MEMORY_MIB, (f"below the {o.MIN_MEMORY_MIB} MiB minimum: the default "
                                      f"{o.DEFAULT_MEMORY_MIB}")
    return value, ""


def _maxmemory(value: int, host: HostFacts, kind: str) -> tuple[int, str]:
    total = host.memory_mib
    if value == 0:
        return total, "0 means the host memory"
    if value > total:
        return total, f"at most the host memory ({total} MiB)"
    return value, ""


def _default(default: Any, why: str = "") -> Callable[..., tuple[Any, str]]:
    def norm(value: Any, host: HostFacts, kind: str) -> tuple[Any, str]:
        if value:
            return value, ""
        return default, why
    return norm


def _capped(default: int, maximum: int) -> Callable[..., tuple[Any, str]]:
    def norm(value: int, host: HostFacts, kind: str) -> tuple[int, str]:
        if value == 0:
            return default, f"0 means {default}" if default else ""
        if value > maximum:
            return maximum, f"at most {maximum}"
        return value, ""
    return norm


def _comma_list(value: str, host: HostFacts, kind: str) -> tuple[str, str]:
    out = "".join(item.strip() + "," for item in value.split(",") if item != "")
    return out.strip(","), ""


def _kernel_params(value: str, host: HostFacts, kind: str) -> tuple[tuple, str]:
    from katacfg.gocompat.strings import trim_space

    if kind == "stratovirt":
        words = go_fields(value)
    else:
        words = kernel_param_fields(value, trim_space)
    return deserialize_params(words), ""


def kernel_param_fields(s: str, trim: Callable[[str], str]) -> list[str]:
    """vc.KernelParamFields: split on spaces outside double quotes (trim: strings.TrimSpace)."""
    out = []
    start = 0
    quoted = False
    for i, c in enumerate(s):
        if c == '"':
            quoted = not quoted
        elif c == " " and not quoted:
            word = trim(s[start:i])
            if word:
                out.append(word)
            start = i + 1
    word = trim(s[start:])
    if word:
        out.append(word)
    return out


def deserialize_params(words: list[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for w in words:
        if w == "":
            continue
        key, _, value = w.partition("=")
        out.append((key, value))
    return tuple(out)


def _machine_type(value: str, host: HostFacts, kind: str) -> tuple[str, str]:
    if kind == "remote":
        return value, ""
    return (value, "") if value else (o.DEFAULT_MACHINE_TYPE, "")


def _virtio_fs_cache(value: str, host: HostFacts, kind: str) -> tuple[str, str]:
    if kind == "clh":
        return value, ""
    return (value, "") if value else (o.DEFAULT_VIRTIO_FS_CACHE, "")


def _raw(value: Any, host: HostFacts, kind: str) -> tuple[Any, str]:
    return value, ""


NORMALISE: dict[str, Callable[..., tuple[Any, str]]] = {
    "vcpus": _vcpus,
    "maxvcpus": _maxvcpus,
    "memory": _memory,
    "mem_slots": _default(o.DEFAULT_MEM_SLOTS),
    "maxmemory": _maxmemory,
    "bridges": _capped(o.DEFAULT_BRIDGES, o.MAX_PCI_BRIDGES),
    "loglevel": _capped(o.DEFAULT_HYPERVISOR_LOGLEVEL, o.MAX_HYPERVISOR_LOGLEVEL),
    "root_ports": lambda v, h, k: (o.MAX_PCIE_ROOT_PORTS, f"at most {o.MAX_PCIE_ROOT_PORTS}")
    if v > o.MAX_PCIE_ROOT_PORTS else (v, ""),
    "switch_ports": lambda v, h, k: (o.MAX_PCIE_SWITCH_PORTS,
                                     f"at most {o.MAX_PCIE_SWITCH_PORTS}")
    if v > o.MAX_PCIE_SWITCH_PORTS else (v, ""),
    "msize_9p": _default(o.DEFAULT_MSIZE_9P),
    "entropy_source": _default(o.DEFAULT_ENTROPY_SOURCE),
    "measurement_algo": _default(o.DEFAULT_MEASUREMENT_ALGO),
    "vhost_user_store_path": _default(o.DEFAULT_VHOST_USER_STORE_PATH),
    "pcie_port": _default(o.DEFAULT_PCIE_PORT),
    "remote_socket": _default(o.DEFAULT_REMOTE_SOCKET),
    "remote_timeout": _default(o.DEFAULT_REMOTE_TIMEOUT),
    "comma_list": _comma_list,
    "kernel_params": _kernel_params,
    "machine_type": _machine_type,
    "virtio_fs_cache": _virtio_fs_cache,
    "rootfs_type": _default(o.DEFAULT_ROOTFS_TYPE),
}

# Keys the ordered steps below fill (they may refuse, in the constructor's order).
_STEP_KEYS = {"path", "jailer_path", "kernel", "initrd", "image", "firmware",
              "firmware_volume", "pflashes", "block_device_driver", "block_device_aio",
              "shared_fs", "extra_monitor_socket", "block_device_logical_sector_size",
              "block_device_physical_sector_size", "guest_extension_images"}

Step = "Callable[[Loader, str, dict[str, Any], dict[str, Any]], None]"


def _set(ld: Loader, kind: str, hyp: dict[str, Any], key: str, value: Any) -> None:
    hyp[key] = value
    ld.origins[("hypervisor", key)] = ld.provenance(("hypervisor", kind, key))


def _path(ld: Loader, kind: str, raw: dict[str, Any], hyp: dict[str, Any]) -> None:
    _set(ld, kind, hyp, "path", ld.resolve(raw.get("path") or o.DEFAULT_HYPERVISOR_PATH,
                                           ("hypervisor", kind, "path"),
                                           "path must name the hypervisor binary"))


def _jailer(ld: Loader, kind: str, raw: dict[str, Any], hyp: dict[str, Any]) -> None:
    value = raw.get("jailer_path", "")
    _set(ld, kind, hyp, "jailer_path",
         ld.resolve(value, ("hypervisor", kind, "jailer_path")) if value else "")


def _kernel(ld: Loader, kind: str, raw: dict[str, Any], hyp: dict[str, Any]) -> None:
    _set(ld, kind, hyp, "kernel", ld.resolve(raw.get("kernel") or o.DEFAULT_KERNEL_PATH,
                                             ("hypervisor", kind, "kernel")))


def _optional_path(key: str) -> Callable[..., None]:
    def step(ld: Loader, kind: str, raw: dict[str, Any], hyp: dict[str, Any]) -> None:
        value = raw.get(key, "")
        _set(ld, kind, hyp, key, ld.resolve(value, ("hypervisor", kind, key)) if value else "")
    return step


def _pflashes(ld: Loader, kind: str, raw: dict[str, Any], hyp: dict[str, Any]) -> None:
    from katacfg.gocompat.fspath import GoPathError, resolve_path

    for entry in () if ld.assume_files else raw.get("pflashes", ()):
        try:
            resolve_path(entry)
        except GoPathError as exc:
            raise ld.fail(f"failed to resolve path: {entry}: {exc}",
                          ("hypervisor", kind, "pflashes"), code="KC030", host=True,
                          hint="every pflashes entry must exist") from None
    _set(ld, kind, hyp, "pflashes", tuple(raw.get("pflashes", ())))


def _block_driver(ld: Loader, kind: str, raw: dict[str, Any], hyp: dict[str, Any]) -> None:
    value = raw.get("block_device_driver", "")
    if value and value not in o.BLOCK_DRIVERS:
        raise ld.fail(f"Invalid hypervisor block storage driver {value} specified (supported "
                      f"drivers: [{' '.join(o.BLOCK_DRIVERS)}])",
                      ("hypervisor", kind, "block_device_driver"), code="KC034",
                      hint="block_device_driver must be one of " + ", ".join(o.BLOCK_DRIVERS))
    _set(ld, kind, hyp, "block_device_driver", value or o.DEFAULT_BLOCK_DRIVER)


def _block_aio(ld: Loader, kind: str, raw: dict[str, Any], hyp: dict[str, Any]) -> None:
    value = raw.get("block_device_aio", "")
    if value and value not in o.BLOCK_AIO:
        raise ld.fail(f"Invalid hypervisor block storage I/O mechanism  {value} specified "
                      f"(supported AIO: [{' '.join(o.BLOCK_AIO)}])",
                      ("hypervisor", kind, "block_device_aio"), code="KC034",
                      hint="block_device_aio must be one of " + ", ".join(o.BLOCK_AIO))
    _set(ld, kind, hyp, "block_device_aio", value or o.DEFAULT_BLOCK_AIO)


def _shared_fs(ld: Loader, kind: str, raw: dict[str, Any], hyp: dict[str, Any]) -> None:
    value = raw.get("shared_fs", "")
    at = ("hypervisor", kind, "shared_fs")
    if value and value not in o.SHARED_FS:
        raise ld.fail(f"Invalid hypervisor shared file system {value} specified (supported "
                      f"file systems: [{' '.join(o.SHARED_FS)}])", at, code="KC034",
                      hint="shared_fs must be one of " + ", ".join(o.SHARED_FS))
    value = value or "virtio-fs"
    if kind in ("clh", "stratovirt") and value not in ("virtio-fs", "virtio-fs-nydus", "none"):
        name = "Cloud Hypervisor" if kind == "clh" else "Stratovirt Hypervisor"
        raise ld.fail(f"{name} does not support {value} shared filesystem option", at,
                      code="KC034", hint="use virtio-fs, virtio-fs-nydus or none")
    if value in ("virtio-fs", "virtio-fs-nydus") and not raw.get("virtio_fs_daemon"):
        raise ld.fail(f"cannot enable {value} without daemon path in configuration file",
                      ("hypervisor", kind, "virtio_fs_daemon"), code="KC035",
                      hint="set virtio_fs_daemon to the virtiofsd binary")
    _set(ld, kind, hyp, "shared_fs", value)


def _vsock(ld: Loader, kind: str, raw: dict[str, Any], hyp: dict[str, Any]) -> None:
    if not ld.host.vhost_vsock:
        raise ld.fail(f"host system doesn't support vsock: stat {VHOST_VSOCK_DEVICE}: no such "
                      "file or directory", ("hypervisor", kind), code="KC036", host=True,
                      hint="load the vhost_vsock kernel module")


def _extra_monitor(ld: Loader, kind: str, raw: dict[str, Any], hyp: dict[str, Any]) -> None:
    value = raw.get("extra_monitor_socket", "")
    if value and value not in o.EXTRA_MONITOR:
        raise ld.fail(f"Invalid hypervisor extra monitor socket {value} specified (supported "
                      f"values: [{' '.join(o.EXTRA_MONITOR)}])",
                      ("hypervisor", kind, "extra_monitor_socket"), code="KC034",
                      hint="extra_monitor_socket must be one of " + ", ".join(o.EXTRA_MONITOR))
    _set(ld, kind, hyp, "extra_monitor_socket", value)


def _sector_sizes(ld: Loader, kind: str, raw: dict[str, Any], hyp: dict[str, Any]) -> None:
    sizes = []
    for key in ("block_device_logical_sector_size", "block_device_physical_sector_size"):
        size = raw.get(key, 0)
        if size and (size < 512 or size > 65536 or size & (size - 1)):
            raise ld.fail(f"invalid {key} {size}: must be 0 or a power of 2 between 512 and "
                          "65536", ("hypervisor", kind, key), code="KC034",
                          hint="use 512, 1024, 2048, 4096, ... 65536, or 0")
        sizes.append(size)
    logical, physical = sizes
    if logical and physical and logical > physical:
        raise ld.fail(f"invalid sector sizes: logical ({logical}) must not be larger than "
                      f"physical ({physical})",
                      ("hypervisor", kind, "block_device_logical_sector_size"), code="KC034",
                      hint="the logical sector size is at most the physical one")
    _set(ld, kind, hyp, "block_device_logical_sector_size", logical)
    _set(ld, kind, hyp, "block_device_physical_sector_size", physical)


def _guest_extensions(ld: Loader, kind: str, raw: dict[str, Any], hyp: dict[str, Any]) -> None:
    images = raw.get("guest_extension_images", ())
    at = ("hypervisor", kind, "guest_extension_images")
    for i, img in enumerate(images):
        name = img["name"]
        if not name:
            raise ld.fail(f"guest_extension_images entry {i} is missing required 'name' field",
                          at, code="KC034", hint="give every extension image a name")
        if not all(c.isascii() and (c.isalnum() or c in "-_") for c in name):
            raise ld.fail(f"guest_extension_images '{name}' has an invalid name: only ASCII "
                          "alphanumerics, '-' and '_' are allowed (the name is used in the "
                          "virtio-blk serial and in the kata.extension.<name>.verity_params "
                          "kernel parameter)", at, code="KC034",
                          hint="use letters, digits, '-' and '_'")
        if img["verity_params"].strip():
            problem = verity_problem(img["verity_params"])
            if problem:
                raise ld.fail(f"guest_extension_images '{name}' has invalid verity_params: "
                              f"{problem}", at, code="KC034", hint="see kernel_verity_params")
    _set(ld, kind, hyp, "guest_extension_images", tuple(dict(i) for i in images))


def _clh_image_or_initrd(ld: Loader, kind: str, raw: dict[str, Any], hyp: dict[str, Any]) -> None:
    if not hyp["image"] and not hyp["initrd"]:
        raise ld.fail("image or initrd must be defined in the configuration file",
                      ("hypervisor", kind, "image"), code="KC033",
                      hint="set image (or initrd) to an existing file")


def _strato_image_initrd(ld: Loader, kind: str, raw: dict[str, Any], hyp: dict[str, Any]) -> None:
    if hyp["image"] and hyp["initrd"]:
        raise ld.fail("having both an image and an initrd defined in the configuration file "
                      "is not supported", ("hypervisor", kind, "initrd"), code="KC033",
                      hint="keep only one of image and initrd")
    _clh_image_or_initrd(ld, kind, raw, hyp)


def verity_problem(params: str) -> str:
    """vc.ParseKernelVerityParams: "" when valid, else Go's error text."""
    from katacfg.gocompat.strconv import NumError, parse_uint, quote
    from katacfg.gocompat.strings import trim_space

    if not trim_space(params):
        return ""
    values: dict[str, str] = {}
    for field in params.split(","):
        field = trim_space(field)
        if not field:
            continue
        if "=" not in field:
            return f"invalid kernel_verity_params entry: {quote(field)}"
        k, _, v = field.partition("=")
        values[k] = v
    if not values.get("root_hash"):
        return "missing kernel_verity_params root_hash"
    numbers = {}
    for name in ("data_blocks", "data_block_size", "hash_block_size"):
        value = values.get(name, "")
        if not value:
            return f"missing kernel_verity_params {name}"
        try:
            numbers[name] = parse_uint(value, 64)
        except NumError as exc:
            return f"invalid kernel_verity_params {name} {quote(value)}: {exc}"
    if not values.get("salt"):
        return "missing kernel_verity_params salt"
    for name in ("data_blocks", "data_block_size", "hash_block_size"):
        if numbers[name] == 0:
            return f"invalid kernel_verity_params {name}: must be non-zero"
    for name in ("data_block_size", "hash_block_size"):
        if numbers[name] % 512:
            return f"invalid kernel_verity_params {name}: must be multiple of 512"
    return ""


_initrd = _optional_path("initrd")
_image = _optional_path("image")
_firmware = _optional_path("firmware")
_firmware_volume = _optional_path("firmware_volume")

# The constructors' refusing steps, in Go's order (newXxxHypervisorConfig).
HYPERVISOR_STEPS: dict[str, tuple[Any, ...]] = {
    "qemu": (_path, _kernel, _initrd, _image, _pflashes, _firmware, _firmware_volume,
             _block_driver, _block_aio, _shared_fs, _vsock, _extra_monitor, _sector_sizes,
             _guest_extensions),
    "clh": (_path, _kernel, _initrd, _image, _clh_image_or_initrd, _firmware, _block_driver,
            _shared_fs),
    "firecracker": (_path, _jailer, _kernel, _initrd, _image, _firmware, _block_driver),
    "dragonball": (_kernel, _image),
    "stratovirt": (_path, _kernel, _initrd, _image, _strato_image_initrd, _block_driver,
                   _vsock, _shared_fs, _sector_sizes),
    "remote": (),
}


# --- checkConfig ------------------------------------------------------------------------------

def check_config(cfg: Config4x, ld: Loader) -> None:
    rt, hyp = cfg.runtime, cfg.hypervisor
    if rt["disable_new_netns"] and rt["internetworking_model"] != "none":
        raise ld.fail("config disable_new_netns only works with 'none' internetworking_model",
                      ("runtime", "disable_new_netns"), prefix=False, code="KC050",
                      hint="set internetworking_model = \"none\"")
    check_hypervisor_images(hyp, ld)
    if cfg.factory["vm_cache_number"] > 0 and cfg.hypervisor_type != "qemu":
        raise ld.fail("VM cache just support qemu", ("factory", "vm_cache_number"),
                      prefix=False, code="KC054", hint="vm_cache_number needs qemu")
    check_pcie(hyp, cfg.hypervisor_type, ld)


def check_hypervisor_images(hyp: dict[str, Any], ld: Loader) -> None:
    if hyp["remote_hypervisor_socket"]:
        return
    mem = hyp["default_memory"]
    if mem == 0:
        raise ld.fail("VM memory cannot be zero", ("hypervisor",), prefix=False)
    mb = 1024 * 1024
    for key, initrd in (("image", False), ("initrd", True)):
        path = hyp[key]
        if not path or ld.assume_files:
            continue  # (assumed present on the node, its size unknown here)
        try:
            size = os.stat(path).st_size
        except OSError as exc:
            from katacfg.gocompat.fspath import errno_text

            raise ld.fail(errno_text(exc.errno), ("hypervisor", ld._hv_name(), key),
                          prefix=False, code="KC030", host=True) from None
        from katacfg.gocompat.strconv import quote

        if size == 0:
            raise ld.fail(f"image {quote(path)} is empty", ("hypervisor", ld._hv_name(), key),
                          prefix=False, code="KC052", hint="the file is empty")
        if size > mb:
            size_mb = size // mb
            msg = f"VM memory ({mem}MB) smaller than image {quote(path)} size ({size_mb}MB)"
            if size_mb >= mem:
                if initrd:
                    raise ld.fail(msg, ("hypervisor", ld._hv_name(), "default_memory"),
                                  prefix=False, code="KC052",
                                  hint="an initrd is read whole into guest memory")
                ld.diagnostics.append(Diagnostic("warning", "KC111", msg, ld.path,
                                                 key="hypervisor.default_memory"))


def check_pcie(hyp: dict[str, Any], kind: str, ld: Loader) -> None:
    if kind not in ("qemu", "clh"):
        return
    cold, hot = hyp["cold_plug_vfio"], hyp["hot_plug_vfio"]
    name = ld._hv_name()

    def show(p: str) -> str:
        return p if p in o.PCIE_PORTS + ("invalid-port",) else f"<unknown PCIePort: {p}>"

    if cold != "no-port" and hot != "no-port":
        raise ld.fail(f"invalid hot-plug={show(hot)} and cold-plug={show(cold)} settings, "
                      "only one of them can be set", ("hypervisor", name, "cold_plug_vfio"),
                      prefix=False, code="KC046", hint="set only one of hot_plug_vfio and "
                      "cold_plug_vfio")
    if cold == "no-port" and hot == "no-port":
        return
    if hyp["machine_type"] not in ("q35", "virt"):
        return
    if kind == "clh":
        if cold not in ("no-port", "root-port"):
            raise ld.fail("only cold-plug=no-port or root-port supported on CLH",
                          ("hypervisor", name, "cold_plug_vfio"), prefix=False, code="KC046")
        if hot not in ("no-port", "root-port"):
            raise ld.fail("only hot-plug=no-port or root-port supported on CLH",
                          ("hypervisor", name, "hot_plug_vfio"), prefix=False, code="KC046")
    port = hot if hot != "no-port" else cold
    if port in ("bridge-port", "root-port", "switch-port"):
        return
    raise ld.fail(f"invalid vfio_port={show(cold)} setting, allowed values no-port, "
                  "bridge-port, root-port, switch-port", ("hypervisor", name, "cold_plug_vfio"),
                  prefix=False, code="KC046")
