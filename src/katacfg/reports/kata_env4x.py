"""kata-env of Kata 4.x: the `kata-runtime env` report of format 1.0.27, value for value.

`build_report_4x(config, host, probes)` fills the layout the 4.x profile declares
(profiles/kata4x/report.py: ENV_LAYOUT) from a loaded Config4x, the host facts and the
hypervisor's `--version`, in getEnvInfo's order (setCPUtype, runtime, host, agent,
hypervisor). Encode with `report.toml()` (BurntSushi v1) or `report.json()`.

Where kata-runtime 4.x would stop (`Unknown CPU Type`, an unreadable /proc/version, a
socket template it cannot make as root) the report is still completed with the best values
known and the reason is kept in `problems` with `fatal=True`, first one first.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from katacfg.host.probes import UNKNOWN, Probes
from katacfg.reports.goencode import NIL, to_json, to_toml
from katacfg.reports.kata_env import EnvProblem, EnvReport

PROC_MEMINFO = "/proc/meminfo"


class EnvReport4x(EnvReport):
    """The 1.0.27 report: Kata 4.x's TOML encoder is BurntSushi v1."""

    def toml(self) -> str:
        return to_toml(self.data, v1=True)

    def json(self) -> str:
        return to_json(self.data)


def build_report_4x(config: Any, host: Any, probes: Probes | None = None, *,
                    runtime_path: str = "", check: Any = None) -> EnvReport4x:
    """The kata-env report of a loaded 4.x configuration on a host.

    `probes` may already run the hypervisor's `--version` (started here otherwise);
    `check` is a CheckReport of the 4.x rules for this host (computed when None).
    """
    from katacfg.profiles.kata4x import report as r

    problems: list[EnvProblem] = []
    hyp = config.hypervisor
    if probes is None:
        probes = Probes()
    probes.start(hyp["path"])
    if check is None:
        from katacfg.reports.kata_check import check_host

        check = check_host(host, config.hypervisor_type, extras=False, rules=r.CHECK_RULES)
    # setCPUtype comes first: kata-runtime stops there
    if host.arch == "amd64" and check.error is not None and (
            check.error == r.CHECK_RULES.unknown_cpu or check.error.startswith("setCPUtype:")):
        problems.append(EnvProblem(
            check.error, "host", True,
            "kata-runtime 4.x knows only GenuineIntel and AuthenticAMD CPUs on amd64"
            if check.error == r.CHECK_RULES.unknown_cpu else
            "on Intel CPUs kata-runtime 4.x has capability rules for "
            + ", ".join(r.INTEL_KVM_HYPERVISORS) + " only"))
    computed: dict[str, Any] = {
        "Meta": {"Version": r.ENV_FORMAT},
        "Runtime": {
            "Config": {"Path": config.path},
            "Path": runtime_path,
            "Experimental": NIL,  # 4.1.0 knows no feature: any name was refused at load
            "Version": _runtime_version(r.RUNTIME_VERSION, r.RUNTIME_COMMIT, r.OCI_VERSION),
        },
        "Host": _host_section(host, check, problems),
        "Kernel": {"Parameters": _serialize(hyp["kernel_params"])},
    }
    result = probes.result(hyp["path"])
    if not result.ok:
        problems.append(EnvProblem(f"hypervisor version unknown: `{hyp['path']} --version`: "
                                   f"{result.problem}", "component", False))
    socket = _socket_path(config, host, problems)
    computed["Hypervisor"] = {"Version": result.hypervisor_version(), "SocketPath": socket}
    data = _fill(r.ENV_LAYOUT, config, computed, r.NIL_WHEN_UNSET)
    return EnvReport4x(r.ENV_FORMAT, data, tuple(problems), check.error)


def _fill(layout: dict[str, Any], config: Any, computed: dict[str, Any],
          nil_when_unset: frozenset[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, source in layout.items():
        if isinstance(source, dict):
            sub = computed.get(name, {})
            out[name] = _fill(source, config, sub if isinstance(sub, dict) else {},
                              nil_when_unset)
        elif source is None:
            out[name] = computed[name]
        else:
            section, _, key = str(source).partition(".")
            value = getattr(config, section)[key]
            if source in nil_when_unset:
                origin = config.origins.get((section, key))
                if origin is None or origin.kind == "default":
                    value = NIL
            out[name] = list(value) if isinstance(value, tuple) else value
    return out


def _serialize(params: Any) -> str:
    from katacfg.config.model import serialize_kernel_params

    return serialize_kernel_params(params)


def _runtime_version(version: str, commit: str, oci: str) -> dict[str, Any]:
    """RuntimeVersionInfo: constructVersionInfo(VERSION), its Commit replaced by COMMIT."""
    from katacfg.host.probes import construct_version_info

    v = construct_version_info(version)
    return {"OCI": oci, "Version": {"Semver": v.semver, "Commit": commit, "Major": v.major,
                                    "Minor": v.minor, "Patch": v.patch}}


def _host_section(host: Any, check: Any, problems: list[EnvProblem]) -> dict[str, Any]:
    kernel = host.kernel_release
    if not kernel.ok:
        problems.append(EnvProblem(kernel.error or "", "host", True))
    distro = host.distro
    if not distro.ok:
        problems.append(EnvProblem(distro.error or "", "host", True))
    cpu = host.cpu_details
    if not cpu.ok:
        problems.append(EnvProblem(cpu.error or "", "host", True))
    name, dversion = distro.value if distro.ok and distro.value else (UNKNOWN, UNKNOWN)
    vendor, model = cpu.value if cpu.ok and cpu.value else (UNKNOWN, UNKNOWN)
    return {
        "AvailableGuestProtections": guest_protections(host),
        "Kernel": kernel.value if kernel.ok else UNKNOWN,
        "Architecture": host.arch,
        "Distro": {"Name": name, "Version": dversion},
        "CPU": {"Vendor": vendor, "Model": model, "CPUs": host.cpus},
        "Memory": memory_info(host, problems),
        "VMContainerCapable": check.capable,
        "SupportVSocks": host.vhost_vsock,
    }


def guest_protections(host: Any) -> Any:
    """vc.AvailableGuestProtections: ["tdx"] or ["snp"] when KVM enables it, else nil."""
    if host.arch != "amd64":
        return NIL  # katacfg reads the amd64 parameters only
    from katacfg.profiles.kata4x.report import GUEST_PROTECTIONS

    for module, param, name in GUEST_PROTECTIONS:
        got = host.module_param(module, param)
        if got.ok and (got.value or "")[:1] == "Y":
            return [name]
    return NIL


def memory_info(host: Any, problems: list[EnvProblem]) -> dict[str, int]:
    """getMemoryInfo: MemTotal, MemFree, MemAvailable of /proc/meminfo in kB (procfs);
    all zero when the file cannot be read or a line is malformed, as Go's."""
    zero = {"Total": 0, "Free": 0, "Available": 0}
    got = host.read_text(PROC_MEMINFO)
    if not got.ok:
        problems.append(EnvProblem(f"Host.Memory is zero: {got.error}", "host", False))
        return zero
    want = {"MemTotal:": "Total", "MemFree:": "Free", "MemAvailable:": "Available"}
    found: dict[str, int] = {}
    for line in (got.value or "").split("\n"):
        fields = line.split()
        if not fields:
            continue
        number = fields[1] if len(fields) > 1 else ""
        value = _parse_uint(number)
        if value is None or len(fields) not in (2, 3):
            problems.append(EnvProblem(f"Host.Memory is zero: {PROC_MEMINFO}: malformed line "
                                       f"{line[:80]!r}", "host", False))
            return zero
        if fields[0] in want:
            found[want[fields[0]]] = value
    missing = [k for k in zero if k not in found]
    if missing:
        # Go dereferences a nil pointer here: kata-runtime env crashes
        problems.append(EnvProblem(f"{PROC_MEMINFO} has no Mem{missing[0]} line: kata-runtime "
                                   "env would crash (nil pointer)", "host", True))
    return {k: found.get(k, 0) for k in zero}


def _parse_uint(text: str) -> int | None:
    """strconv.ParseUint(s, 0, 64) for the decimal numbers /proc/meminfo holds (a base
    prefix counts as malformed here)."""
    if not text.isascii() or not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        return None
    value = int(text)
    return value if value < 1 << 64 else None


def _socket_path(config: Any, host: Any, problems: list[EnvProblem]) -> str:
    """getHypervisorInfo: `<<unknown>>` unless root, then GetHypervisorSocketTemplate."""
    if host.euid != 0:
        return UNKNOWN
    import os

    from katacfg.profiles.kata4x.report import SOCKETS

    how = SOCKETS.get(config.hypervisor_type, "mock")
    if how.startswith("hybrid:"):
        name = os.path.basename(config.hypervisor["path"]) or "."
        return how[len("hybrid:"):].replace("{name}", name)
    if how.startswith("error:"):
        problems.append(EnvProblem(how[len("error:"):], "config", True,
                                   "kata-runtime env fails for this hypervisor as root"))
        return ""
    if how == "vsock":
        error = _vhost_vsock_error(host)
        if error is not None:
            problems.append(EnvProblem(error, "host", True,
                                       "as root, kata-runtime env reserves a vsock context "
                                       "ID on /dev/vhost-vsock"))
    return ""


def _vhost_vsock_error(host: Any) -> str | None:
    """utils.FindContextID's open of /dev/vhost-vsock (the CID search itself is not run)."""
    import os

    from katacfg.gocompat.fspath import errno_text

    path = host.path("/dev/vhost-vsock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as err:
        return f"open /dev/vhost-vsock: {errno_text(err.errno)}"
    os.close(fd)
    return None
