"""Load a configuration.toml exactly as Kata 1.x's LoadConfiguration does.

Order of work and every refusal follow spec/config-keys.md section 2. Each refusal is
recorded with its file, line and key; with strict=True the first one (the one kata-runtime
prints) is raised, with strict=False loading goes on with best-effort values so that reports
and lint can show every problem at once.
"""
from __future__ import annotations

from katacfg.decode import RawConfig, decode
from katacfg.errors import Diagnostic, KataError
from katacfg.model import Config, deserialize_kernel_params
from katacfg.options import EXPERIMENTAL_FEATURES, HYPERVISOR_TYPES
from katacfg.options import agent as agent_opts
from katacfg.options import components as comp
from katacfg.options import hypervisor as hv
from katacfg.options.agent import AgentConfig
from katacfg.options.components import FactoryConfig, NetmonConfig, ProxyConfig, ShimConfig
from katacfg.options.hypervisor import HypervisorConfig
from katacfg.options.runtime import NETWORK_MODELS, RuntimeConfig

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from os import PathLike
    from typing import Any, Protocol

    class HostFacts(Protocol):
        """What loading needs to know about the host (see katacfg.host.Host)."""

        @property
        def cpus(self) -> int: ...

        @property
        def vhost_vsock(self) -> bool: ...

    Step = Callable[["Loader", str, dict[str, Any], dict[str, Any]], None]

MODES = ("cli", "shimv2")
_HV_OPTIONS = [o for o in HypervisorConfig.OPTIONS if o.toml]  # type: ignore[attr-defined]
_HV_ZERO = dict(HypervisorConfig.DEFAULTS)
_GO_ZERO = {"string": "", "bool": False, "int32": 0, "uint32": 0, "uint": 0, "[]string": ()}
_TOML_ZERO = {o.key: _GO_ZERO[o.gotype] for o in _HV_OPTIONS}  # what Go holds for absent keys


def load(path: str | PathLike[str] | None = None, *, host: HostFacts | None = None,
         mode: str = "cli",
         strict: bool = True, fallback: bool = False, assume_files: bool = False) -> Config:
    """Load and normalise a configuration file as kata-runtime (cli) or the shim v2 does.

    `path` None means the default paths; with `fallback` the embedded default configuration
    is used when none exists (noted in `diagnostics`). Raises KataError on a refusal when
    `strict`; otherwise returns the configuration with `problems` filled. `assume_files`
    treats every path the file names as present (a node's configuration read elsewhere).
    """
    from os import fspath

    from katacfg import discovery

    path = None if path is None else fspath(path)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    notes: list[Diagnostic] = []
    try:
        resolved = discovery.find_config(path)
    except KataError as exc:
        if path or not fallback:
            raise
        resolved = discovery.embedded_default_path()
        notes.append(Diagnostic(
            "note", "KC004", "no configuration file in the default paths "
            f"({', '.join(discovery.DEFAULT_CONFIG_PATHS)}); using katacfg's embedded default "
            "configuration", resolved, hint=f"kata-runtime would refuse: {exc.text}"))
    text = read_config(resolved)
    raw = decode(text, resolved)
    if host is None:
        from katacfg.host import Host

        host = Host.real()
    cfg = Loader(raw, host, mode, assume_files=assume_files).run()
    if notes:
        cfg = _with(cfg, diagnostics=tuple(notes) + cfg.diagnostics)
    if strict and cfg.problems:
        raise cfg.problems[0]
    return cfg


def read_config(path: str) -> str:
    """Read the file as Go's ioutil.ReadFile would (its error texts), bounded (safeio)."""
    from katacfg.safeio import FileRefused, read_bytes

    try:
        data = read_bytes(path, what="configuration file")
    except FileRefused as exc:
        raise KataError(exc.text, "load", file=path, code="KC005",
                        hint=exc.hint) from None
    # Go keeps invalid UTF-8 bytes as they are; the TOML lexer then sees U+FFFD.
    return data.decode("utf-8", errors="replace")


def _with(cfg: Config, **changes: Any) -> Config:
    return cfg.replace(**changes)


class Loader:
    """One load: raw decoded values + host facts -> Config, collecting refusals in order."""

    def __init__(self, raw: RawConfig, host: HostFacts, mode: str, *,
                 assume_files: bool = False) -> None:
        self.raw = raw
        self.host = host
        self.mode = mode
        self.assume_files = assume_files
        self.builtin = mode == "shimv2"
        self.problems: list[KataError] = list(raw.errors)
        self.diagnostics: list[Diagnostic] = list(raw.diagnostics)

    # -- recording --------------------------------------------------------------------
    def fail(self, text: str, where: tuple[str, ...] = (), *, prefix: bool = False,
             hint: str | None = None, code: str = "KC020", host: bool = False) -> None:
        """Record a refusal; `prefix` adds "<cfg>: " as the reference does for some."""
        pos = self.raw.positions.get(where) if where else None
        if pos is None and len(where) > 1:
            pos = self.raw.positions.get(where[:-1])  # the table, when the key is absent
        if prefix:
            text = f"{self.raw.path}: {text}"
        self.problems.append(KataError(
            text, "load", file=self.raw.path, line=pos[0] if pos else None,
            column=pos[1] if pos and where in self.raw.positions else None,
            key=".".join(where) if where else None, hint=hint, code=code, host=host))

    def note(self, severity: str, code: str, message: str, where: tuple[str, ...] = (),
             hint: str | None = None) -> None:
        pos = self.raw.positions.get(where) if where else None
        self.diagnostics.append(Diagnostic(
            severity, code, message, self.raw.path, pos[0] if pos else None,
            pos[1] if pos else None, ".".join(where) if where else None, hint))

    def resolve(self, value: str, where: tuple[str, ...], *, prefix: bool = True,
                hint: str = "") -> str:
        """Kata's ResolvePath; on failure record the refusal and keep the absolute path."""
        from katacfg.gocompat.fspath import GoPathError, abs_path, resolve_path

        if self.assume_files:
            return abs_path(value)
        try:
            return resolve_path(value)
        except GoPathError as exc:
            self.fail(str(exc), where, prefix=prefix, code="KC030", host=True,
                      hint=hint or f"{where[-1]} must name an existing file")
            return abs_path(value) if value else value

    # -- the load ---------------------------------------------------------------------
    def run(self) -> Config:
        raw = self.raw
        rt = raw.structs.get("runtime", {})
        model = rt.get("internetworking_model", "")
        network_model = NETWORK_MODELS["default"]
        if model in NETWORK_MODELS:
            network_model = NETWORK_MODELS[model]
        elif model:
            self.fail(f"Unknown type {model}", ("runtime", "internetworking_model"),
                      code="KC040", hint="internetworking_model must be one of "
                      + ", ".join(m for m in NETWORK_MODELS if m != "default")
                      + " (bridged was removed in Kata 1.x)")
        hv_type, hyp = self.hypervisor()
        proxy = self.proxy(rt)
        agent = self.agent(hyp)
        shim = self.shim()
        factory = self.factory()
        netmon = self.netmon()
        hyp = self.kernel_params(hyp, agent)
        if hyp.use_vsock:  # vsock means no proxy process, in both front ends
            proxy = ProxyConfig(type=comp.NO_PROXY, path="",
                                enable_debug=bool(rt.get("enable_debug", False)))
        runtime = RuntimeConfig(
            enable_debug=rt.get("enable_debug", False),
            enable_tracing=rt.get("enable_tracing", False),
            disable_guest_seccomp=rt.get("disable_guest_seccomp", False),
            sandbox_cgroup_only=rt.get("sandbox_cgroup_only", False),
            enable_agent_pidns=rt.get("enable_agent_pidns", False),
            disable_new_netns=rt.get("disable_new_netns", False),
            experimental=self.experimental(rt),
            internetworking_model=network_model,
        )
        cfg = Config(
            path=raw.path, mode=self.mode, hypervisor_type=hv_type, hypervisor=hyp,
            agent=agent, runtime=runtime, factory=factory, proxy=proxy, shim=shim,
            netmon=netmon, positions=raw.positions, assume_files=self.assume_files,
        )
        from katacfg import validate

        for check in validate.LOAD_CHECKS:
            check(cfg, self)
        return _with(cfg, problems=tuple(self.problems), diagnostics=tuple(self.diagnostics))

    # -- hypervisor ---------------------------------------------------------------------
    def hypervisor(self) -> tuple[str, HypervisorConfig]:
        tables = self.raw.tables.get("hypervisor", [])
        if not tables:
            self.note("warning", "KC104", "no [hypervisor.*] table: Kata uses its built-in "
                      "defaults (qemu-lite, both an image and an initrd) without checking them",
                      hint="add a [hypervisor.qemu] table")
            return "qemu", builtin_hypervisor()
        hv_type, hyp = "qemu", builtin_hypervisor()
        if len(tables) > 1:
            # Go ranges over a map here: which table wins changes from run to run. That is
            # no configuration to guess about (the other tables are still checked below).
            names = ", ".join(f"[hypervisor.{name}]" for name, _ in tables)
            self.fail(f"several hypervisor tables ({names}): kata-runtime would use one of "
                      "them at random", ("hypervisor", tables[1][0]), code="KC105",
                      hint="keep exactly one [hypervisor.<name>] table")
        for name, values in tables:
            if name in HYPERVISOR_TYPES:
                hv_type = name
                hyp = self.build_hypervisor(name, values)
            else:
                import difflib

                close = difflib.get_close_matches(name.lower(), HYPERVISOR_TYPES, n=1)
                self.note("error", "KC106",
                          f"unknown hypervisor [hypervisor.{name}]: Kata loads an all-zero "
                          "hypervisor configuration and refuses it later (VM memory cannot be "
                          "zero)", ("hypervisor", name),
                          hint=(f"did you mean [hypervisor.{close[0]}]? " if close else "")
                          + "names are case-sensitive: qemu, firecracker, acrn, clh")
                hyp = HypervisorConfig()
        return hv_type, hyp

    def build_hypervisor(self, kind: str, values: dict[str, Any]) -> HypervisorConfig:
        at = ("hypervisor", kind)
        v: dict[str, Any] = {}
        for o in _HV_OPTIONS:
            if o.read_by(kind):
                raw_value = values.get(o.key, _TOML_ZERO[o.key])
                norm = NORMALISE.get(o.key)
                v[o.key] = norm(raw_value, self.host, kind) if norm else raw_value
        ignored = [k for k in values if k in _HV_ZERO and k not in v]
        for key in ignored:
            self.note("warning", "KC107", f"`{key}` means nothing for {kind}: Kata ignores it",
                      at + (key,))
        for step in HYPERVISOR_STEPS[kind]:
            step(self, kind, values, v)
        v.update(FORCED.get(kind, {}))
        return HypervisorConfig(**v)

    # -- components ---------------------------------------------------------------------
    def proxy(self, rt: dict[str, Any]) -> ProxyConfig:
        tables = self.raw.tables.get("proxy", [])
        if self.builtin:
            self._ignored_in_shimv2("proxy", tables)
            return ProxyConfig(type=comp.BUILTIN_PROXY, path="",
                               enable_debug=bool(rt.get("enable_debug", False)))
        proxy = ProxyConfig(type=comp.KATA_PROXY, path="", enable_debug=False)
        for name, values in self._kata_tables("proxy", "{} proxy type not supported"):
            path = self.resolve(values.get("path") or comp.DEFAULT_PROXY_PATH,
                                ("proxy", name, "path"), prefix=False)
            proxy = ProxyConfig(type=comp.KATA_PROXY, path=path,
                                enable_debug=values.get("enable_debug", False))
        return proxy

    def agent(self, hyp: HypervisorConfig) -> AgentConfig:
        tables = self.raw.tables.get("agent", [])
        if self.builtin:
            self._ignored_in_shimv2("agent", tables)
            return AgentConfig(long_live_conn=True, use_vsock=hyp.use_vsock)
        agent = AgentConfig()
        for _, values in self._kata_tables("agent", "{} agent type is not supported"):
            agent = AgentConfig(
                use_vsock=hyp.use_vsock,
                enable_debug=values.get("enable_debug", False),
                enable_tracing=values.get("enable_tracing", False),
                trace_mode=values.get("trace_mode", ""),
                trace_type=values.get("trace_type", ""),
                kernel_modules=values.get("kernel_modules", ()),
            )
        return agent

    def shim(self) -> ShimConfig:
        tables = self.raw.tables.get("shim", [])
        if self.builtin:
            self._ignored_in_shimv2("shim", tables)
            return ShimConfig(type=comp.BUILTIN_SHIM, path="", configured=True)
        shim = ShimConfig(type=comp.KATA_SHIM, path="", configured=False)
        for name, values in self._kata_tables("shim", "{} shim is not supported"):
            path = self.resolve(values.get("path") or comp.DEFAULT_SHIM_PATH,
                                ("shim", name, "path"))
            shim = ShimConfig(type=comp.KATA_SHIM, path=path,
                              enable_debug=values.get("enable_debug", False),
                              enable_tracing=values.get("enable_tracing", False),
                              configured=True)
        return shim

    def _kata_tables(self, section: str, refusal: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """The [section.kata] tables; any other name is refused with `refusal` (the CLI)."""
        for name, values in self.raw.tables.get(section, []):
            if name != comp.COMPONENT_TABLE:
                self.fail(refusal.format(name), (section, name), code="KC041",
                          hint=f"the only {section} table is [{section}.{comp.COMPONENT_TABLE}]")
                continue
            yield name, values

    def _ignored_in_shimv2(self, section: str, tables: list[tuple[str, dict[str, Any]]]) -> None:
        for name, values in tables:
            if values:
                self.note("note", "KC108", f"[{section}.{name}] is ignored by the shim v2 "
                          "(containerd-shim-kata-v2)", (section, name))

    def factory(self) -> FactoryConfig:
        f = self.raw.structs.get("factory", {})
        return FactoryConfig(
            enable_template=f.get("enable_template", False),
            template_path=f.get("template_path") or comp.DEFAULT_TEMPLATE_PATH,
            vm_cache_number=f.get("vm_cache_number", 0),
            vm_cache_endpoint=f.get("vm_cache_endpoint") or comp.DEFAULT_VM_CACHE_ENDPOINT,
        )

    def netmon(self) -> NetmonConfig:
        n = self.raw.structs.get("netmon", {})
        return NetmonConfig(
            path=n.get("path") or comp.DEFAULT_NETMON_PATH,
            enable_debug=n.get("enable_debug", False),
            enable_netmon=n.get("enable_netmon", False),
        )

    # -- kernel parameters (spec 5) ---------------------------------------------------------
    def kernel_params(self, hyp: HypervisorConfig, agent: AgentConfig) -> HypervisorConfig:
        params: list[tuple[str, str]] = []
        if hyp.image:
            params += SYSTEMD_PARAMS
        if hyp.block_device_driver == "virtio-scsi":
            params.append(("scsi_mod.scan", "none"))
        params += self.agent_params(agent)
        table = self._hv_table()
        for key, value in hyp.kernel_params:
            if not key:
                self.fail("Empty kernel parameter", ("hypervisor", table, "kernel_params"),
                          code="KC031", hint=f"`={value}` has no name before '='")
                continue
            params.append((key, value))
        return hyp.replace(kernel_params=tuple(params))

    def agent_params(self, agent: AgentConfig) -> list[tuple[str, str]]:
        mode, kind = agent.trace_mode, agent.trace_type
        at = ("agent", agent_opts.AGENT_TYPE)
        if agent.enable_tracing:
            if mode == "":
                mode = "dynamic"
            elif mode not in agent_opts.TRACE_MODES:
                self.fail(f'invalid kata agent trace mode: "{mode}" (need "dynamic" or "static")',
                          at + ("trace_mode",), code="KC032",
                          hint="trace_mode must be dynamic or static")
                return []
            if kind == "":
                kind = "isolated"
            elif kind not in agent_opts.TRACE_TYPES:
                self.fail(f'invalid kata agent trace type: "{kind}" (need "isolated" or '
                          '"collated")', at + ("trace_type",), code="KC032",
                          hint="trace_type must be isolated or collated")
                return []
        out = []
        if agent.enable_debug:
            out.append(("agent.log", "debug"))
        if agent.enable_tracing and mode == "static":
            out.append(("agent.trace", kind))
        return out

    def _hv_table(self) -> str:
        tables = self.raw.tables.get("hypervisor", [])
        return tables[-1][0] if tables else "qemu"

    def experimental(self, rt: dict[str, Any]) -> tuple[str, ...]:
        from katacfg.gocompat.strconv import quote

        names = []
        for name in rt.get("experimental", ()):
            if name not in EXPERIMENTAL_FEATURES:
                self.fail(f"Unsupported experimental feature {quote(name)}",
                          ("runtime", "experimental"), code="KC042",
                          hint="known features: " + ", ".join(EXPERIMENTAL_FEATURES))
                continue
            names.append(name)
        return tuple(names)


SYSTEMD_PARAMS = [
    ("systemd.unit", "kata-containers.target"),
    ("systemd.mask", "systemd-networkd.service"),
    ("systemd.mask", "systemd-networkd.socket"),
]


def builtin_hypervisor() -> HypervisorConfig:
    """GetDefaultHypervisorConfig(): used unresolved when the file has no hypervisor table."""
    return HypervisorConfig(
        path=hv.DEFAULT_HYPERVISOR_PATH, jailer_path=hv.DEFAULT_JAILER_PATH,
        kernel=hv.DEFAULT_KERNEL_PATH, image=hv.DEFAULT_IMAGE_PATH,
        initrd=hv.DEFAULT_INITRD_PATH, machine_type=hv.DEFAULT_MACHINE_TYPE,
        default_vcpus=1, default_maxvcpus=0, default_memory=hv.DEFAULT_MEMORY_MIB,
        default_bridges=hv.DEFAULT_BRIDGES, block_device_driver=hv.DEFAULT_BLOCK_DRIVER,
        msize_9p=hv.DEFAULT_MSIZE_9P, vhost_user_store_path=hv.DEFAULT_VHOST_USER_STORE_PATH,
        virtio_fs_cache=hv.DEFAULT_VIRTIO_FS_CACHE,
    )


# -- per-key normalisation: defaults and clamps that cannot fail (spec 4.2, 4.4) -------------

def _vcpus(value: int, host: HostFacts, kind: str) -> int:
    n = host.cpus
    if value < 0 or value > n:
        return n
    return value or 1


def _maxvcpus(value: int, host: HostFacts, kind: str) -> int:
    n = host.cpus
    if value == 0 or value >= n:
        value = n
    return min(value, hv.MAX_VCPUS)


def _default(default: Any) -> Callable[[Any, HostFacts, str], Any]:
    return lambda value, host, kind: value or default


def _comma_list(value: str, host: HostFacts, kind: str) -> str:
    items = [item.strip() for item in value.split(",") if item != ""]
    return ",".join(items).strip(",")


def _virtio_fs_cache(value: str, host: HostFacts, kind: str) -> str:
    return value or (hv.DEFAULT_VIRTIO_FS_CACHE if kind == "qemu" else "")


NORMALISE: dict[str, Callable[[Any, HostFacts, str], Any]] = {
    "default_vcpus": _vcpus,
    "default_maxvcpus": _maxvcpus,
    "default_memory": _default(hv.DEFAULT_MEMORY_MIB),
    "memory_slots": _default(hv.DEFAULT_MEM_SLOTS),
    "default_bridges": lambda v, h, k: min(v or hv.DEFAULT_BRIDGES, hv.MAX_PCI_BRIDGES),
    "msize_9p": _default(hv.DEFAULT_MSIZE_9P),
    "machine_type": _default(hv.DEFAULT_MACHINE_TYPE),
    "entropy_source": _default(hv.DEFAULT_ENTROPY_SOURCE),
    "vhost_user_store_path": _default(hv.DEFAULT_VHOST_USER_STORE_PATH),
    "virtio_fs_cache": _virtio_fs_cache,
    "machine_accelerators": _comma_list,
    "cpu_features": _comma_list,
    "kernel_params": lambda v, h, k: deserialize_kernel_params(v),
}

# Values a hypervisor type sets whatever the file says ("forced" in spec 4.2).
FORCED: dict[str, dict[str, Any]] = {
    "firecracker": {"use_vsock": True, "disable_vhost_net": True},
    "clh": {"use_vsock": True, "disable_vhost_net": True, "shared_fs": "virtio-fs"},
}


# -- per-hypervisor steps that can refuse, in the reference's order (spec 4.5) -------------

def _path(ld: Loader, kind: str, raw: dict[str, Any], v: dict[str, Any]) -> None:
    v["path"] = ld.resolve(raw.get("path") or hv.DEFAULT_HYPERVISOR_PATH,
                           ("hypervisor", kind, "path"),
                           hint="path must name the hypervisor binary")


def _jailer(ld: Loader, kind: str, raw: dict[str, Any], v: dict[str, Any]) -> None:
    if raw.get("jailer_path"):
        v["jailer_path"] = ld.resolve(raw["jailer_path"], ("hypervisor", kind, "jailer_path"))


def _ctlpath(ld: Loader, kind: str, raw: dict[str, Any], v: dict[str, Any]) -> None:
    v["ctlpath"] = ld.resolve(raw.get("ctlpath") or hv.DEFAULT_HYPERVISOR_CTL_PATH,
                              ("hypervisor", kind, "ctlpath"))


def _kernel(ld: Loader, kind: str, raw: dict[str, Any], v: dict[str, Any]) -> None:
    v["kernel"] = ld.resolve(raw.get("kernel") or hv.DEFAULT_KERNEL_PATH,
                             ("hypervisor", kind, "kernel"))


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
    if kind == "clh" and v["initrd"]:
        ld.fail("having an initrd defined in the configuration file is not supported",
                at + ("initrd",), prefix=True, code="KC033", hint="cloud-hypervisor boots an image")


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
    v["block_device_driver"] = value or hv.DEFAULT_BLOCK_DRIVER


def _shared_fs(ld: Loader, kind: str, raw: dict[str, Any], v: dict[str, Any]) -> None:
    value = raw.get("shared_fs", "")
    if value and value not in hv.SHARED_FILESYSTEMS:
        ld.fail(f"Invalid hypervisor shared file system {value} specified (supported file "
                "systems: [virtio-9p virtio-fs])", ("hypervisor", kind, "shared_fs"),
                prefix=True, code="KC034", hint="shared_fs must be virtio-9p or virtio-fs")
    v["shared_fs"] = value or "virtio-9p"


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


HYPERVISOR_STEPS: dict[str, tuple[Step, ...]] = {
    "qemu": (_path, _kernel, _image_initrd, _firmware, _pflashes, _microvm, _block_driver,
             _shared_fs, _qemu_virtio_fs, _qemu_vsock),
    "firecracker": (_path, _jailer, _kernel, _image_initrd, _firmware, _block_driver,
                    _fc_vsock),
    "acrn": (_path, _ctlpath, _kernel, _acrn_image, _firmware, _block_driver),
    "clh": (_path, _kernel, _image_initrd, _firmware, _block_driver, _clh_virtio_fs),
}
