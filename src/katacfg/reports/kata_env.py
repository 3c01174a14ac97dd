"""kata-env: the environment report of kata-runtime 1.x, value for value.

`build_report(config, host, probes)` fills the report of format 1.0.24 (the final 1.x
runtime) or 1.0.23 (1.7.2, the seed's layout) from a loaded configuration, the host facts
and the `--version` probes, in the reference's struct order (spec/kata-env.md; Go
cli/kata-env.go). Encode with `report.toml()` / `report.json()` (byte-exact Go encoders).

Where kata-runtime would stop (a refused configuration, `Unknow CPU Type`, an unreadable
/proc/version, no shim configuration) the report is still completed with the best values
known and the reason is kept in `problems` with `fatal=True`, first one first; the caller
decides what to print and which exit code that means.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from katacfg.host.probes import (
    EMPTY_VERSION,
    UNKNOWN,
    UNKNOWN_VERSION,
    ProbeResult,
    Probes,
    Record,
    construct_version_info,
)
from katacfg.reports.goencode import NIL, to_json, to_toml

FORMAT_VERSION = "1.0.24"
FORMAT_172 = "1.0.23"
FORMATS = (FORMAT_VERSION, FORMAT_172)
RUNTIME_VERSION = {FORMAT_VERSION: "1.13.0-alpha0", FORMAT_172: "1.7.2"}
OCI_VERSION = "1.0.1-dev"
NO_PROXY = "noProxy"


# 1.7.2's default guest kernel parameters for an image boot (pkg/katautils/create.go)
SYSTEMD_PARAMS_172: tuple[tuple[str, str], ...] = (
    ("init", "/usr/lib/systemd/systemd"),
    ("systemd.unit", "kata-containers.target"),
    ("systemd.mask", "systemd-networkd.service"),
    ("systemd.mask", "systemd-networkd.socket"),
)
NO_TRACE_PARAMS_172: tuple[tuple[str, str], ...] = tuple(("systemd.mask", unit) for unit in (
    "systemd-journald.service", "systemd-journald.socket", "systemd-journal-flush.service",
    "systemd-journald-dev-log.socket", "systemd-udevd.service", "systemd-udevd.socket",
    "systemd-udev-trigger.service", "systemd-udevd-kernel.socket",
    "systemd-udevd-control.socket", "systemd-timesyncd.service",
    "systemd-update-utmp.service", "systemd-tmpfiles-setup.service",
    "systemd-tmpfiles-cleanup.service", "systemd-tmpfiles-cleanup.timer", "tmp.mount",
    "systemd-random-seed.service", "systemd-coredump@.service",
))
class EnvProblem(Record):
    """Something the report could not show as kata-runtime would, or a refusal."""

    text: str
    source: str  # config | host | component
    fatal: bool  # kata-runtime kata-env would stop with exactly `text`
    hint: str | None = None

    def line(self) -> str:
        return self.text + (f" (hint: {self.hint})" if self.hint else "")


class EnvReport(Record):
    """The report as ordered plain data (Go struct order), and what went wrong building it."""

    format_version: str
    data: dict[str, Any]
    problems: tuple[EnvProblem, ...]
    capable_error: str | None = None  # why VMContainerCapable is false (reference error)

    def toml(self) -> str:
        return to_toml(self.data)

    def json(self) -> str:
        return to_json(self.data)

    @property
    def reference_error(self) -> str | None:
        """The error kata-runtime kata-env would print instead of the report (None: none)."""
        for p in self.problems:
            if p.fatal:
                return p.text
        return None

    @property
    def config_valid(self) -> bool:
        """No refusal of the configuration itself (missing files on this host do not count)."""
        return not any(p.fatal and p.source == "config" for p in self.problems)


def component_paths(config: Any) -> dict[str, str]:
    """role -> binary whose `--version` kata-env runs, in the reference's order."""
    paths: dict[str, str] = {}
    if config.proxy.type != NO_PROXY:
        paths["proxy"] = config.proxy.path
    paths["netmon"] = config.netmon.path
    if getattr(config.shim, "configured", True):
        paths["shim"] = config.shim.path
    paths["hypervisor"] = config.hypervisor.path
    return paths


def is_host_problem(err: Any) -> bool:
    """A refusal caused by this host (a missing asset or device), not by the file's content."""
    return bool(getattr(err, "host", False))


def kernel_params_172(config: Any) -> tuple[tuple[str, str], ...]:
    """The guest kernel parameters kata-runtime 1.7.2 computed for the same configuration.

    The loader built HEAD's list: [systemd x3 if image] [scsi_mod.scan=none if virtio-scsi]
    agent params, user params. 1.7.2 had a longer systemd list (and the journald/udev/...
    masks unless runtime tracing) and no scsi_mod.scan.
    """
    from katacfg.profiles.kata1x.hypervisors import runtime_kernel_params

    hyp = config.hypervisor
    params = tuple(hyp.kernel_params)
    head = runtime_kernel_params(hyp)
    rest = params[len(head):] if params[:len(head)] == tuple(head) else params
    old: list[tuple[str, str]] = []
    if hyp.image:
        old.extend(SYSTEMD_PARAMS_172)
        if not config.runtime.enable_tracing:
            old.extend(NO_TRACE_PARAMS_172)
    return tuple(old) + tuple(rest)


def _serialize(params: Any) -> str:
    from katacfg.config.model import serialize_kernel_params

    return serialize_kernel_params(params)


def _experimental(config: Any) -> Any:
    from katacfg.config.registry import EXPERIMENTAL_FEATURES

    names = tuple(config.runtime.experimental)
    if not names:
        return NIL
    out = []
    for name in names:
        desc, release = EXPERIMENTAL_FEATURES.get(name, ("", ""))
        out.append({"Name": name, "Description": desc, "ExpRelease": release})
    return out


class _Builder:
    def __init__(self, config: Any, host: Any, probes: Probes, fmt: str) -> None:
        self.config = config
        self.host = host
        self.probes = probes
        self.fmt = fmt
        self.problems: list[EnvProblem] = []

    def problem(self, text: str, source: str, fatal: bool, hint: str | None = None) -> None:
        self.problems.append(EnvProblem(text, source, fatal, hint))

    def probe(self, role: str, path: str) -> ProbeResult:
        result = self.probes.result(path)
        if role == "hypervisor" or self.fmt == FORMAT_172:
            if not result.ok:
                self.problem(f"{role} version unknown: `{path} --version`: {result.problem}",
                             "component", False)
        else:
            why = result.component_problem()
            if why:
                self.problem(f"{role} version unknown: `{path} --version`: {why}",
                             "component", False)
        return result

    def version(self, role: str, path: str) -> Any:
        result = self.probe(role, path)
        if self.fmt == FORMAT_172:
            return result.hypervisor_version()
        return result.version_info().as_go()


def build_report(config: Any, host: Any, probes: Probes | None = None, *,
                 format_version: str = FORMAT_VERSION, runtime_path: str = "",
                 runtime_version: str | None = None, runtime_commit: str = UNKNOWN,
                 check: Any = None) -> EnvReport:
    """The kata-env report for a loaded configuration on a host.

    `probes` should already be running for `component_paths(config)` so that the binaries'
    start-up overlaps with reading the host (missing ones are started here). `check` is a
    CheckReport already computed for this host and hypervisor type (computed when None).
    """
    if format_version not in FORMATS:
        raise ValueError(f"format version must be one of {', '.join(FORMATS)}")
    fmt = format_version
    if probes is None:
        probes = Probes()
    for path in component_paths(config).values():
        probes.start(path)
    b = _Builder(config, host, probes, fmt)

    # the load's refusals come first: kata-runtime stops there
    for err in getattr(config, "problems", ()):
        b.problem(err.text, "host" if is_host_problem(err) else "config", True,
                  getattr(err, "hint", None))
    if check is None:
        from katacfg.reports.kata_check import check_host

        check = check_host(host, config.hypervisor_type, extras=False)
    host_info = _host_section(b, check)
    layout = _layout(config, fmt)
    version_text = runtime_version if runtime_version is not None else RUNTIME_VERSION[fmt]
    runtime = _fill(layout["Runtime"], config.runtime, {
        "Version": _runtime_version(fmt, version_text, runtime_commit),
        "Config": {"Path": config.path}, "Experimental": _experimental(config),
        "Path": runtime_path})
    # proxy, netmon, shim, agent, hypervisor: the reference's order
    proxy = _proxy_section(b, layout["Proxy"])
    netmon = _fill(layout["Netmon"], config.netmon,
                   {"Version": b.version("netmon", config.netmon.path)})
    shim = _shim_section(b, layout["Shim"])
    agent = _fill(layout["Agent"], config.agent,
                  {"Type": getattr(config.agent, "type", "kata") or "kata"})
    hyp = config.hypervisor
    hypervisor = _fill(layout["Hypervisor"], hyp, {
        "Version": b.probe("hypervisor", hyp.path).hypervisor_version()})
    params = hyp.kernel_params if fmt == FORMAT_VERSION else kernel_params_172(config)
    data = {
        "Meta": {"Version": fmt},
        "Runtime": runtime,
        "Hypervisor": hypervisor,
        "Image": {"Path": hyp.image},
        "Kernel": {"Path": hyp.kernel, "Parameters": _serialize(params)},
        "Initrd": {"Path": hyp.initrd},
        "Proxy": proxy,
        "Shim": shim,
        "Agent": agent,
        "Host": host_info,
        "Netmon": netmon,
    }
    return EnvReport(fmt, data, tuple(b.problems), check.error)


def _layout(config: Any, fmt: str) -> dict[str, tuple[str, ...]]:
    profile = getattr(config, "kata", None)
    if profile is None:
        from katacfg.profiles import get_profile

        profile = get_profile()
    layouts: dict[str, dict[str, tuple[str, ...]]] = profile.report_layouts
    return layouts[fmt]


def _fill(names: tuple[str, ...], section: Any, computed: dict[str, Any]) -> dict[str, Any]:
    """A report section in layout order: computed values, else the option named so (its
    `env` name in the registry)."""
    by_env = {o.env: o.key for o in type(section).OPTIONS if o.env}
    return {name: computed[name] if name in computed else getattr(section, by_env[name])
            for name in names}


def _runtime_version(fmt: str, version_text: str, commit: str) -> dict[str, Any]:
    if fmt == FORMAT_VERSION:
        rv = construct_version_info(version_text)
        return {"Version": {"Semver": rv.semver, "Major": rv.major, "Minor": rv.minor,
                            "Patch": rv.patch, "Commit": commit},
                "OCI": OCI_VERSION}
    return {"Semver": version_text, "Commit": commit, "OCI": OCI_VERSION}


def _host_section(b: _Builder, check: Any) -> dict[str, Any]:
    """setCPUtype, then the host section (kernel, distro, CPU, capability)."""
    from katacfg.reports.kata_check import UNKNOWN_CPU

    host, fmt = b.host, b.fmt
    if host.arch == "amd64" and check.error is not None and (
            check.error == UNKNOWN_CPU or check.error.startswith("setCPUtype:")):
        b.problem(check.error, "host", True,
                  "kata-runtime 1.x knows only GenuineIntel and AuthenticAMD CPUs on amd64"
                  if check.error == UNKNOWN_CPU else None)
    kernel = host.kernel_release
    if not kernel.ok:
        b.problem(kernel.error or "", "host", True)
    distro = host.distro
    if not distro.ok:
        b.problem(distro.error or "", "host", True)
    cpu = host.cpu_details
    if not cpu.ok:
        b.problem(cpu.error or "", "host", True)
    capable = check.capable
    if fmt == FORMAT_172 and host.arch == "ppc64le":
        capable = False  # 1.7.2 always said false there
    name, dversion = distro.value if distro.ok and distro.value else (UNKNOWN, UNKNOWN)
    vendor, model = cpu.value if cpu.ok and cpu.value else (UNKNOWN, UNKNOWN)
    return {
        "Kernel": kernel.value if kernel.ok else UNKNOWN,
        "Architecture": host.arch,
        "Distro": {"Name": name, "Version": dversion},
        "CPU": {"Vendor": vendor, "Model": model},
        "VMContainerCapable": capable,
        "SupportVSocks": host.vhost_vsock,
    }


def _proxy_section(b: _Builder, names: tuple[str, ...]) -> dict[str, Any]:
    proxy = b.config.proxy
    if proxy.type == NO_PROXY:
        return {"Type": NO_PROXY,
                "Version": "" if b.fmt == FORMAT_172 else EMPTY_VERSION.as_go(),
                "Path": "", "Debug": False}
    return _fill(names, proxy, {"Version": b.version("proxy", proxy.path)})


def _shim_section(b: _Builder, names: tuple[str, ...]) -> dict[str, Any]:
    shim = b.config.shim
    if getattr(shim, "configured", True):
        version = b.version("shim", shim.path)
    else:
        b.problem("cannot determine shim config", "config", True,
                  "kata-runtime needs a [shim.kata] table")
        version = UNKNOWN if b.fmt == FORMAT_172 else UNKNOWN_VERSION.as_go()
    return _fill(names, shim, {"Version": version})
