"""Host facts: one immutable, injectable value read lazily from a root directory.

`Host.real()` reads this machine ("/"); `Host.from_root(dir)` reads a recorded host (a tree
holding proc/cpuinfo, proc/version, etc/os-release, sys/module/..., optionally dev/ entries
and a `katacfg-host.json` of facts that are not files: arch, cpus, uid, kvm...);
`host.with_facts(cpus=64, vhost_vsock=True, ...)` overrides any fact. Each fact is read on
first use and cached; reading a file never raises: an error becomes part of the fact, with
Go's wording (`open /proc/version: no such file or directory`). The cheap facts the loader
needs (`cpus`, `vhost_vsock`) run no subprocess and no ioctl.

Rules: spec/kata-env.md 4.3-4.5, spec/kata-check.md 4, the Go sources cli/utils.go,
cli/kata-check*.go, virtcontainers/hypervisor.go (RunningOnVMM).
"""
from __future__ import annotations

import os

from katacfg.config.records import Record
from katacfg.gocompat.fspath import errno_text, exec_not_found, look_path
from katacfg.gocompat.strings import fields, trim_space

TYPE_CHECKING = False  # typing costs milliseconds of start-up
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, Generic, TypeVar

    T = TypeVar("T")

    class _Generic(Generic[T]):
        pass
else:
    T = None

    class _Generic:
        def __class_getitem__(cls, item):  # Fact[str] at run time is Fact
            return cls

UNKNOWN = "<<unknown>>"
PROC_CPUINFO = "/proc/cpuinfo"
PROC_VERSION = "/proc/version"
PROC_MEMINFO = "/proc/meminfo"
PROC_FIPS = "/proc/sys/crypto/fips_enabled"
OS_RELEASE = "/etc/os-release"
OS_RELEASE_CLR = "/usr/lib/os-release"
SYS_MODULE = "/sys/module"
KVM_DEVICE = "/dev/kvm"
VHOST_VSOCK_DEVICE = "/dev/vhost-vsock"
FACTS_FILE = "katacfg-host.json"

KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01
KVM_API_VERSION = 12

# uname -m -> Go GOARCH
GOARCH = {
    "x86_64": "amd64", "amd64": "amd64", "i386": "386", "i486": "386", "i586": "386",
    "i686": "386", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm", "armv6l": "arm",
    "ppc64le": "ppc64le", "ppc64": "ppc64", "s390x": "s390x", "riscv64": "riscv64",
    "mips64": "mips64", "loongarch64": "loong64",
}

# /proc/cpuinfo field names per architecture (cli/kata-check_<arch>.go)
CPU_FLAGS_TAG = {"arm64": "Features"}  # everything else: "flags"
CPU_VENDOR_FIELD = {"arm64": "CPU implementer", "ppc64le": ""}  # else "vendor_id"
CPU_MODEL_FIELD = {"arm64": "CPU architecture", "ppc64le": "model", "s390x": "machine"}

_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


_trim = trim_space
_fields = fields


def find_word(haystack: str, needle: str) -> bool:
    """Go regexp `\\b<needle>\\b` (ASCII word boundaries) for a literal needle."""
    if not haystack or not needle:
        return False
    n = len(needle)
    first, last = needle[0] in _WORD, needle[-1] in _WORD
    i = haystack.find(needle)
    while i >= 0:
        before = haystack[i - 1] if i > 0 else ""
        after = haystack[i + n] if i + n < len(haystack) else ""
        if (before in _WORD) != first and (after in _WORD) != last:
            return True
        i = haystack.find(needle, i + 1)
    return False


class Fact(Record, _Generic[T]):
    """A value read from the host, or why it could not be read (Go's error text)."""

    value: T | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class KvmProbe(Record):
    """What a runtime meets when it opens /dev/kvm and creates a VM (kata-check create test)."""

    open_error: str | None  # Go text of the open(2) failure
    api_version: int | None  # KVM_GET_API_VERSION result
    api_error: str | None
    create_error: str | None  # KVM_CREATE_VM failure (the reference's create-VM test)

    @property
    def usable(self) -> bool:
        return (self.open_error is None and self.api_error is None
                and self.api_version == KVM_API_VERSION and self.create_error is None)

    @property
    def can_create_vm(self) -> bool:
        """The reference's test: open read-write, KVM_CREATE_VM."""
        return self.open_error is None and self.create_error is None

    @property
    def reason(self) -> str:
        if self.open_error is not None:
            return f"open {KVM_DEVICE}: {self.open_error}"
        if self.api_error is not None:
            return f"KVM_GET_API_VERSION: {self.api_error}"
        if self.api_version != KVM_API_VERSION:
            return f"KVM_GET_API_VERSION returned {self.api_version}, expected {KVM_API_VERSION}"
        if self.create_error is not None:
            return f"KVM_CREATE_VM: {self.create_error}"
        return (f"{KVM_DEVICE} opened read-write, API version {self.api_version}, "
                "KVM_CREATE_VM returned a VM")


_MISSING = object()


class _Pending:
    """A fact whose subprocess is running (collected on first use)."""

    __slots__ = ("probes",)

    def __init__(self, probes: Any) -> None:
        self.probes = probes


class Host:
    """Facts about one host. Immutable: facts never change once read; overrides make a copy."""

    __slots__ = ("root", "_real", "_overrides", "_cache")
    root: str
    _real: bool
    _overrides: dict[str, Any]
    _cache: dict[str, Any]

    def __init__(self, root: str = "/", overrides: dict[str, Any] | None = None,
                 *, real: bool | None = None) -> None:
        object.__setattr__(self, "root", os.path.abspath(root))
        object.__setattr__(self, "_real", self.root == "/" if real is None else real)
        object.__setattr__(self, "_overrides", dict(overrides or {}))
        object.__setattr__(self, "_cache", {})

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Host is immutable; use with_facts()")

    def __repr__(self) -> str:
        extra = f", overrides={sorted(self._overrides)}" if self._overrides else ""
        return f"Host(root={self.root!r}{extra})"

    # ------------------------------------------------------------ construction

    @classmethod
    def real(cls) -> Host:
        """This machine."""
        return cls("/", real=True)

    @classmethod
    def from_root(cls, root: str) -> Host:
        """A recorded host tree; `katacfg-host.json` in it supplies non-file facts.

        A facts file that cannot be read, is not JSON, or holds a fact of the wrong shape
        raises ValueError naming the file and the fact.
        """
        from katacfg.host.injected import read_facts_file

        overrides = read_facts_file(os.path.join(root, FACTS_FILE))
        return cls(root, overrides, real=os.path.abspath(root) == "/")

    def with_facts(self, **facts: Any) -> Host:
        """A copy with some facts fixed (e.g. cpus=64, vhost_vsock=True, kvm_usable=False).

        An unknown fact raises TypeError; a value of the wrong type or range ValueError.
        """
        from katacfg.host.injected import FACT_NAMES, check_facts

        unknown = set(facts) - FACT_NAMES
        if unknown:
            raise TypeError(f"unknown host fact(s): {', '.join(sorted(unknown))}")
        check_facts(facts, "with_facts()")
        merged = dict(self._overrides)
        merged.update(facts)
        return Host(self.root, merged, real=self._real)

    # ------------------------------------------------------------ plumbing

    def path(self, logical: str) -> str:
        """The file for a logical absolute path ("/proc/cpuinfo") on this host."""
        if self.root == "/":
            return logical
        return os.path.join(self.root, logical.lstrip("/"))

    def _get(self, name: str, compute: Any) -> Any:
        if name in self._overrides:
            return _as_fact(name, self._overrides[name])
        cache = self._cache
        value = cache.get(name, _MISSING)
        if value is _MISSING:
            value = compute()
            cache[name] = value
        return value

    def read_text(self, logical: str) -> Fact[str]:
        """A whole file, as Go ioutil.ReadFile (errors as `open <path>: <reason>`)."""
        key = "file:" + logical
        cache = self._cache
        value = cache.get(key, _MISSING)
        if value is _MISSING:
            value = self._read(logical)
            cache[key] = value
        return value

    def _read(self, logical: str) -> Fact[str]:
        files = self._overrides.get("files")
        if files and logical in files:
            content = files[logical]
            if content is None:
                self._cache["errno:" + logical] = 2
                return Fact(None, f"open {logical}: no such file or directory")
            return Fact(content)
        from katacfg.host.safeio import MAX_HOST_FILE_BYTES, FileRefused, read_bytes

        try:
            data = read_bytes(self.path(logical), limit=MAX_HOST_FILE_BYTES, what="host file")
        except FileRefused as err:
            # Go's texts name the logical path (/proc/cpuinfo), not the recorded root's copy
            self._cache["errno:" + logical] = err.errno if err.errno is not None else 22
            return Fact(None, err.text.replace(self.path(logical), logical, 1))
        return Fact(data.decode("utf-8", "surrogateescape"))

    def read_errno(self, logical: str) -> int | None:
        """errno of the failed read of `logical` (None when it was read)."""
        self.read_text(logical)
        return self._cache.get("errno:" + logical)

    # ------------------------------------------------------------ cheap facts (loader)

    @property
    def cpus(self) -> int:
        """Go runtime.NumCPU(): the CPUs this process may run on."""
        return self._get("cpus", self._cpus)

    def _cpus(self) -> int:
        if self._real:
            try:
                return len(os.sched_getaffinity(0))
            except (AttributeError, OSError):
                return os.cpu_count() or 1
        text = self.read_text(PROC_CPUINFO).value or ""
        count = sum(1 for line in text.split("\n") if _fields(line)[:1] == ["processor"]
                    or line.startswith("processor\t") or line.startswith("processor "))
        return max(count, 1)

    @property
    def vhost_vsock(self) -> bool:
        """/dev/vhost-vsock exists (Go SupportsVsocks: stat succeeds)."""
        return self._get("vhost_vsock", lambda: self._stat_ok(VHOST_VSOCK_DEVICE))

    def _stat_ok(self, logical: str) -> bool:
        try:
            os.stat(self.path(logical))
        except (OSError, ValueError):
            return False
        return True

    # ------------------------------------------------------------ QEMU command line facts

    @property
    def memory_mib(self) -> int:
        """MemTotal of /proc/meminfo in MiB (kB / 1024, as Go's hostMemMB); 0 when unknown."""
        return self._get("memory_mib", lambda: (self._memory_kb().value or 0) // 1024)

    def _memory_kb(self) -> Fact[int]:
        """Go getHostMemorySizeKb: the first well-formed `MemTotal: <n> kB` line."""
        def compute() -> Fact[int]:
            got = self.read_text(PROC_MEMINFO)
            if not got.ok:
                return Fact(None, got.error)
            for line in (got.value or "").split("\n"):
                parts = _fields(line)
                if len(parts) < 3 or parts[0] != "MemTotal:" or parts[2] != "kB":
                    continue
                try:  # strconv.ParseUint(s, 0, 64); a malformed number skips the line
                    value = int(parts[1], 0) if parts[1].isascii() else -1
                except ValueError:
                    continue
                if 0 <= value < 1 << 64:
                    return Fact(value)
            return Fact(None, f"unable get MemTotal from {PROC_MEMINFO}")
        return self._get("memory_kb", compute)

    @property
    def nested(self) -> bool:
        """This host is itself a VM (Go RunningOnVMM: `hypervisor` among the cpuinfo flags)."""
        if "nested" in self._overrides:
            return bool(self._overrides["nested"])
        return bool(self.running_on_vmm.value)

    @property
    def fips(self) -> bool:
        """FIPS mode: /proc/sys/crypto/fips_enabled holds 1 (katautils checkForFIPS; a file
        that is missing or not a number means no)."""
        def compute() -> bool:
            got = self.read_text(PROC_FIPS)
            try:
                return got.ok and int((got.value or "").strip("\n\t "), 10) == 1
            except ValueError:
                return False
        return self._get("fips", compute)

    def fact_error(self, name: str) -> str | None:
        """Why a fact could not be read (Go's text), or None: memory_mib, nested."""
        if name in self._overrides:
            return None
        if name == "memory_mib":
            kb = self._memory_kb()
            return None if kb.ok else kb.error
        if name == "nested":
            return self.running_on_vmm.error
        raise ValueError(f"no such fact: {name}")

    # ------------------------------------------------------------ identity

    @property
    def arch(self) -> str:
        """Go GOARCH name of this host (amd64, arm64, ppc64le, s390x, ...)."""
        return self._get("arch", self._arch)

    def _arch(self) -> str:
        if self._real:
            machine = os.uname().machine
            return GOARCH.get(machine, machine)
        text = self.read_text(PROC_CPUINFO).value or ""
        if "CPU implementer" in text:
            return "arm64"
        if "IBM/S390" in text:
            return "s390x"
        if "POWER" in text and "vendor_id" not in text:
            return "ppc64le"
        return "amd64"

    @property
    def uid(self) -> int:
        return self._get("uid", lambda: os.getuid() if self._real else 1000)

    @property
    def euid(self) -> int:
        return self._get("euid", lambda: os.geteuid() if self._real else self.uid)

    @property
    def is_root(self) -> bool:
        """Effective UID 0 (kata-check runs the create-VM test only then)."""
        return self.euid == 0

    # ------------------------------------------------------------ kata-env facts

    @property
    def kernel_release(self) -> Fact[str]:
        """Third field of /proc/version (Go getKernelVersion)."""
        return self._get("kernel_release", self._kernel_release)

    def _kernel_release(self) -> Fact[str]:
        got = self.read_text(PROC_VERSION)
        if not got.ok:
            return Fact(None, got.error)
        fields = _fields(got.value or "")
        if len(fields) < 3:
            return Fact(None, f"unexpected contents in {PROC_VERSION}")
        return Fact(fields[2])

    @property
    def distro(self) -> Fact[tuple[str, str]]:
        """(Name, Version) from os-release (Go getDistroDetails); `<<unknown>>` when absent."""
        return self._get("distro", self._distro)

    def _distro(self) -> Fact[tuple[str, str]]:
        name = version = ""
        for logical in (OS_RELEASE, OS_RELEASE_CLR):
            got = self.read_text(logical)
            if not got.ok:
                if self.read_errno(logical) == 2:
                    continue  # a missing file is skipped (os.IsNotExist)
                return Fact(None, got.error)
            for line in (got.value or "").split("\n"):
                if line.startswith("NAME=") and name == "":
                    name = line.split("=")[1].strip('"')
                elif line.startswith("VERSION_ID=") and version == "":
                    version = line.split("=")[1].strip('"')
            if name and version:
                return Fact((name, version))
        return Fact((name or UNKNOWN, version or UNKNOWN))

    @property
    def cpuinfo(self) -> Fact[str]:
        """The whole /proc/cpuinfo text."""
        return self.read_text(PROC_CPUINFO)

    @property
    def cpu_block(self) -> Fact[str]:
        """The first processor block of /proc/cpuinfo, trimmed (Go getCPUInfo)."""
        return self._get("cpu_block", self._cpu_block)

    def _cpu_block(self) -> Fact[str]:
        got = self.cpuinfo
        if not got.ok:
            return Fact(None, got.error)
        text = got.value or ""
        cut = text.find("\n\n")
        block = _trim(text if cut < 0 else text[:cut + 2])
        if not block:
            return Fact(None, "Cannot determine CPU details")
        return Fact(block)

    @property
    def cpu_flags(self) -> str:
        """Flags of the first CPU: the first `flags` line splitting into exactly two on ':'."""
        return self._get("cpu_flags", self._cpu_flags)

    def _cpu_flags(self) -> str:
        block = self.cpu_block.value or ""
        tag = CPU_FLAGS_TAG.get(self.arch, "flags")
        for line in block.split("\n"):
            if line.startswith(tag):
                parts = line.split(":")
                if len(parts) == 2:
                    return _trim(parts[1])
        return ""

    @property
    def cpu_type(self) -> str | None:
        """amd64 CPU type: "intel" if GenuineIntel occurs in /proc/cpuinfo, else "amd" if
        AuthenticAMD does, else None (Go getCPUtype; an unreadable file is None too)."""
        def compute() -> str | None:
            text = self.cpuinfo.value
            if text is None:
                return None
            if "GenuineIntel" in text:
                return "intel"
            if "AuthenticAMD" in text:
                return "amd"
            return None
        return self._get("cpu_type", compute)

    @property
    def cpu_details(self) -> Fact[tuple[str, str]]:
        """(Vendor, Model) as kata-env prints them for this architecture."""
        return self._get("cpu_details", self._cpu_details)

    def _generic_cpu_details(self) -> Fact[tuple[str, str]]:
        block = self.cpu_block
        if not block.ok:
            return Fact(None, block.error)
        arch = self.arch
        vendor_field = CPU_VENDOR_FIELD.get(arch, "vendor_id")
        model_field = CPU_MODEL_FIELD.get(arch, "model name")
        vendor = model = ""
        for line in (block.value or "").split("\n"):
            if vendor_field and line.startswith(vendor_field):
                parts = line.split(":")
                if len(parts) > 1:
                    vendor = _trim(parts[1])
            if model_field and line.startswith(model_field):
                parts = line.split(":")
                if len(parts) > 1:
                    model = _trim(parts[1])
        if vendor_field and not vendor:
            return Fact(None, f"cannot find vendor field in file {PROC_CPUINFO}")
        if model_field and not model:
            return Fact(None, f"cannot find model field in file {PROC_CPUINFO}")
        return Fact((vendor, model))

    def _cpu_details(self) -> Fact[tuple[str, str]]:
        arch = self.arch
        generic = self._generic_cpu_details()
        if arch == "arm64":
            if not generic.ok:
                return generic
            vendor, model = generic.value  # type: ignore[misc]
            return Fact((_ARM_VENDORS.get(vendor, "3rd Party Limited"),
                         _ARM_MODELS.get(model, "unknown")))
        if arch == "ppc64le" and not generic.ok:
            return self._ppc64le_cpu_details()
        if arch == "s390x" and not generic.ok:
            return self._s390x_cpu_details()
        return generic

    def _ppc64le_cpu_details(self) -> Fact[tuple[str, str]]:
        got = self.cpuinfo
        if not got.ok:
            return Fact(None, got.error)
        text = got.value or ""
        if not _trim(text):
            return Fact(None, "Cannot determine CPU details")
        model = ""
        for line in text.split("\n"):
            if line.startswith("model"):
                parts = line.split(":")
                if len(parts) > 1:
                    model = _trim(parts[1])
        if not model:
            return Fact(None, f"cannot find model field in file {PROC_CPUINFO}")
        return Fact(("", model))

    def _s390x_cpu_details(self) -> Fact[tuple[str, str]]:
        block = self.cpu_block
        if not block.ok:
            return Fact(None, block.error)
        vendor = model = ""
        for line in (block.value or "").split("\n"):
            if line.startswith("vendor_id"):
                parts = line.split(":")
                if len(parts) > 1:
                    vendor = _trim(parts[1])
            if line.startswith("processor"):
                parts = _trim(line).split(",")
                if len(parts) < 3 or len(parts[2].split("=")) < 2:
                    # Go indexes without checking here and panics
                    return Fact(None, f"Error in parsing cpu model from {PROC_CPUINFO}")
                model = _trim(parts[2].split("=")[1])
        if not vendor:
            return Fact(None, f"cannot find vendor field in file {PROC_CPUINFO}")
        if not model:
            return Fact(None, f"Error in parsing cpu model from {PROC_CPUINFO}")
        return Fact((vendor, model))

    @property
    def running_on_vmm(self) -> Fact[bool]:
        """Go RunningOnVMM: a `flags` line of /proc/cpuinfo lists `hypervisor` (amd64 only)."""
        return self._get("running_on_vmm", self._running_on_vmm)

    def _running_on_vmm(self) -> Fact[bool]:
        if self.arch in ("arm64", "ppc64le", "s390x"):
            return Fact(False)
        got = self.cpuinfo
        if not got.ok:
            return Fact(False, got.error)
        for line in (got.value or "").split("\n"):
            fields = _fields(line)
            if len(fields) < 2 or not fields[0].startswith("flags"):
                continue
            return Fact("hypervisor" in fields[1:])
        return Fact(False, f'Couldn\'t find "flags" from "{PROC_CPUINFO}" output')

    # ------------------------------------------------------------ kernel modules

    def module_loaded(self, name: str) -> bool:
        """Go FileExists(/sys/module/<name>): only "no such file" counts as absent."""
        modules = self._overrides.get("modules")
        if modules is not None:
            return name in modules
        key = "module:" + name
        cache = self._cache
        value = cache.get(key, _MISSING)
        if value is _MISSING:
            try:
                os.stat(self.path(f"{SYS_MODULE}/{name}"))
                value = True
            except FileNotFoundError:
                value = False
            except OSError:
                value = True
            cache[key] = value
        return value

    def module_param(self, module: str, param: str) -> Fact[str]:
        """/sys/module/<module>/parameters/<param> with trailing newlines removed."""
        params = self._overrides.get("module_params")
        if params is not None and f"{module}/{param}" in params:
            return Fact(params[f"{module}/{param}"])
        got = self.read_text(f"{SYS_MODULE}/{module}/parameters/{param}")
        if not got.ok:
            return got
        return Fact((got.value or "").rstrip("\n\r"))

    @property
    def kvm_modules(self) -> tuple[str, ...]:
        """Loaded modules named kvm or kvm_* (shows which KVM back end provides /dev/kvm)."""
        def compute() -> tuple[str, ...]:
            modules = self._overrides.get("modules")
            if modules is not None:
                names = list(modules)
            else:
                try:
                    names = os.listdir(self.path(SYS_MODULE))
                except OSError:
                    return ()
            return tuple(sorted(n for n in names if n == "kvm" or n.startswith("kvm_")))
        return self._get("kvm_modules", compute)

    def modprobe_would_load(self, name: str) -> Fact[bool]:
        """Whether `modprobe <name>` (run by the reference as root) would succeed.

        Checked with `modprobe --dry-run`, so nothing is loaded. Recorded hosts answer from
        the `loadable_modules` fact (default: nothing loadable).
        """
        loadable = self._overrides.get("loadable_modules")
        if loadable is not None or not self._real:
            return Fact(name in (loadable or ()))
        key = "modprobe:" + name
        cache = self._cache
        value = cache.get(key, _MISSING)
        if value is _MISSING:
            self.start_modprobe((name,))
            value = cache[key]
        if isinstance(value, _Pending):
            result = value.probes.result("modprobe")
            value.probes.cancel()
            value = Fact(True) if result.ok else Fact(False, result.problem)
            cache[key] = value
        return value

    def start_modprobe(self, names: Iterable[str]) -> None:
        """Start `modprobe --dry-run` for each module not answered yet, all at once.

        kata-check may ask about several missing modules: their dry runs then overlap
        instead of running one after another (modprobe_would_load collects each answer).
        """
        loadable = self._overrides.get("loadable_modules")
        if loadable is not None or not self._real:
            return
        names = [n for n in names if "modprobe:" + n not in self._cache]
        if not names:
            return
        if look_path("modprobe") is None:  # answered without the process machinery
            for name in names:
                self._cache["modprobe:" + name] = Fact(False, exec_not_found("modprobe"))
            return
        from katacfg.host.probes import Probes

        for name in names:
            key = "modprobe:" + name
            if key not in self._cache:
                probes = Probes(2.0, ("--dry-run", "--quiet", name))
                probes.start("modprobe")
                self._cache[key] = _Pending(probes)

    # ------------------------------------------------------------ devices

    @property
    def kvm(self) -> KvmProbe:
        """Open /dev/kvm, KVM_GET_API_VERSION, KVM_CREATE_VM, close (as a runtime would).

        Probed where the checks ask, on this thread: a probe started early on a thread of
        its own made kata-check 0.2 to 0.4 ms slower, not faster (interleaved runs). Such a
        thread needs the GIL between its system calls, a thread that imports keeps it for
        milliseconds, and the early start only added that contention."""
        return self._get("kvm", self._kvm)  # type: ignore[no-any-return]

    def _kvm(self) -> KvmProbe:
        if "kvm_usable" in self._overrides:
            usable = bool(self._overrides["kvm_usable"])
            error = self._overrides.get("kvm_error")
            if usable:
                return KvmProbe(None, KVM_API_VERSION, None, None)
            return KvmProbe(error or "kvm_usable overridden to false", None, None, None)
        return _kvm_probe(_kvm_syscalls(self.path(KVM_DEVICE)))

    @property
    def kvm_usable(self) -> bool:
        return self.kvm.usable

    @property
    def smt_off(self) -> bool:
        """ppc64le: `ppc64_cpu --smt` says "SMT is off" (or the tool is missing)."""
        def compute() -> bool:
            if not self._real:
                return True
            from katacfg.host.probes import run_status

            result = run_status(["ppc64_cpu", "--smt"], timeout=2.0)
            if result.problem and result.problem.startswith(("exec:", "fork/exec")):
                return True
            return result.ok and result.stdout == "SMT is off"
        return self._get("smt_off", compute)

    # ------------------------------------------------------------ files the configuration names

    def stat(self, path: str) -> os.stat_result:
        """os.stat of a file the configuration names (an image, a binary): raises OSError.

        Those files live on the machine that loads the configuration, so a recorded host
        stats them here too; rules get them through this one door, never from os directly.
        """
        return os.stat(path)

    def executable(self, path: str) -> bool:
        """Whether this process may execute `path` (os.access X_OK)."""
        return os.access(path, os.X_OK)

    # ------------------------------------------------------------ summary

    def facts(self) -> dict[str, Any]:
        """Every fact, read now (for `--verbose` displays and recorded-host dumps)."""
        return {
            "root": self.root, "arch": self.arch, "cpus": self.cpus,
            "kernel_release": self.kernel_release, "distro": self.distro,
            "cpu_details": self.cpu_details, "cpu_type": self.cpu_type,
            "cpu_flags": self.cpu_flags, "running_on_vmm": self.running_on_vmm,
            "vhost_vsock": self.vhost_vsock, "kvm_modules": self.kvm_modules,
            "uid": self.uid, "euid": self.euid,
        }


_ARM_VENDORS = {"0x41": "ARM Limited"}
_ARM_MODELS = {
    "8": "v8", "7": "v7", "7M": "v7", "?(12)": "v7", "?(13)": "v7", "?(14)": "v7",
    "?(15)": "v7", "?(16)": "v7", "?(17)": "v7", "6": "v6", "6TEJ": "v6", "5": "v5",
    "5T": "v5", "5TE": "v5", "5TEJ": "v5", "4": "v4", "4T": "v4", "3": "v3",
}

def _kvm_syscalls(device: str) -> tuple[Any, ...]:
    """The probe's system calls: (open errno, API version, its errno, create errno)."""
    import fcntl

    try:
        fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except OSError as err:
        return (err.errno, None, None, None)
    try:
        api = api_errno = None
        try:
            api = fcntl.ioctl(fd, KVM_GET_API_VERSION, 0)
        except OSError as err:
            api_errno = err.errno
        try:
            vm = fcntl.ioctl(fd, KVM_CREATE_VM, 0)
        except OSError as err:
            return (None, api, api_errno, err.errno)
        os.close(vm)  # destroys the test VM (measured: no slower than closing it later)
        return (None, api, api_errno, None)
    finally:
        os.close(fd)


def _kvm_probe(raw: tuple[Any, ...]) -> KvmProbe:
    """The KvmProbe record of _kvm_syscalls' result (Go's errno texts)."""
    open_errno, api, api_errno, create_errno = raw
    if open_errno is not None:
        return KvmProbe(errno_text(open_errno), None, None, None)
    return KvmProbe(None, api, None if api_errno is None else errno_text(api_errno),
                    None if create_errno is None else errno_text(create_errno))


def _as_fact(name: str, value: Any) -> Any:
    """Overrides may be plain values (JSON); wrap them like the computed facts."""
    if name in ("kernel_release", "distro", "cpu_block", "cpu_details", "running_on_vmm"):
        if isinstance(value, Fact):
            return value
        if isinstance(value, dict) and set(value) <= {"value", "error"}:
            v = value.get("value")
            return Fact(tuple(v) if isinstance(v, list) else v, value.get("error"))
        return Fact(tuple(value) if isinstance(value, list) else value)
    if name == "kvm" and isinstance(value, dict):
        return KvmProbe(value.get("open_error"), value.get("api_version"),
                        value.get("api_error"), value.get("create_error"))
    if name == "kvm_modules" and isinstance(value, list):
        return tuple(value)
    return value
