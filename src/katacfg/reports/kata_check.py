"""kata-check: can this host run Kata Containers? The reference verdict, plus the truth.

The requirements are data (RULES: one row per CPU attribute, CPU flag, kernel module or
module parameter, per architecture, CPU vendor and hypervisor type), evaluated against a
`Host` exactly as kata-runtime 1.x does (cli/kata-check*.go; spec/kata-check.md): every
check runs, failures are counted, `unrestricted_guest` is only read under the reference's
inverted condition, and `Unknow CPU Type` (sic) ends an amd64 check early. The same verdict
is kata-env's `VMContainerCapable`.

On top of the reference, informational checks that it does not count: whether /dev/kvm is
really usable (open, KVM_GET_API_VERSION, KVM_CREATE_VM) and, when the two disagree (a
paravirtual KVM module serving /dev/kvm without vmx/svm, say), notes that explain why.
"""
from __future__ import annotations

from katacfg.config.records import Record
from katacfg.host.facts import PROC_CPUINFO, SYS_MODULE, Host, find_word

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

PROJECT = "Kata Containers"
CAPABLE_MESSAGE = f"System is capable of running {PROJECT}"
CREATE_MESSAGE = f"System can currently create {PROJECT}"
VERSION_MESSAGE = f"Version consistency of {PROJECT} is verified"
FAIL_MESSAGE = f"System is not capable of running {PROJECT}"
UNKNOWN_CPU = "Unknow CPU Type"  # sic, as the reference spells it

ANY: tuple[str, ...] = ()
KVM_HYPERVISORS = ("qemu", "clh", "firecracker")
VMM_PROBE_FAILED = "vmm-probe-failed"


class Rule(Record):
    """One requirement of the reference."""

    arch: str  # Go GOARCH
    vendor: str | None  # amd64 CPU type: "intel" | "amd"; None: any
    hypervisors: tuple[str, ...]  # hypervisor types the row applies to; () = any
    kind: str  # attribute | flag | module | module-param | smt
    name: str  # word to find, module name, or parameter name
    description: str
    required: bool  # a failure counts against the verdict
    module: str = ""  # module-param: its module
    expected: str = ""  # module-param: the value it must read
    when: str = ""  # module-param: condition under which the reference reads it

    def applies(self, arch: str, vendor: str | None, hypervisor_type: str) -> bool:
        return (self.arch == arch and (self.vendor is None or self.vendor == vendor)
                and (not self.hypervisors or hypervisor_type in self.hypervisors))


_VM = "Kernel-based Virtual Machine"
_VIRTIO = "Host kernel accelerator for virtio"
_VIRTIO_NET = "Host kernel accelerator for virtio network"
_VSOCK = "Host Support for Linux VM Sockets"
_I, _A = "intel", "amd"

RULES: tuple[Rule, ...] = (
    # amd64, Intel, KVM hypervisors (cli/kata-check_amd64.go setCPUtype)
    Rule("amd64", _I, KVM_HYPERVISORS, "attribute", "GenuineIntel", "Intel Architecture CPU", True),
    Rule("amd64", _I, KVM_HYPERVISORS, "flag", "vmx", "Virtualization support", True),
    Rule("amd64", _I, KVM_HYPERVISORS, "flag", "lm", "64Bit CPU", True),
    Rule("amd64", _I, KVM_HYPERVISORS, "flag", "sse4_1", "SSE4.1", True),
    Rule("amd64", _I, KVM_HYPERVISORS, "module", "kvm", _VM, True),
    Rule("amd64", _I, KVM_HYPERVISORS, "module", "kvm_intel", "Intel KVM", True),
    Rule("amd64", _I, KVM_HYPERVISORS, "module-param", "unrestricted_guest",
         "VMX Unrestricted mode support", True, module="kvm_intel", expected="Y",
         when=VMM_PROBE_FAILED),
    Rule("amd64", _I, KVM_HYPERVISORS, "module", "vhost", _VIRTIO, True),
    Rule("amd64", _I, KVM_HYPERVISORS, "module", "vhost_net", _VIRTIO_NET, True),
    Rule("amd64", _I, KVM_HYPERVISORS, "module", "vhost_vsock", _VSOCK, False),
    # amd64, Intel, ACRN
    Rule("amd64", _I, ("acrn",), "attribute", "GenuineIntel", "Intel Architecture CPU", True),
    Rule("amd64", _I, ("acrn",), "flag", "lm", "64Bit CPU", True),
    Rule("amd64", _I, ("acrn",), "flag", "sse4_1", "SSE4.1", True),
    Rule("amd64", _I, ("acrn",), "module", "vhm_dev", "Intel ACRN", False),
    Rule("amd64", _I, ("acrn",), "module", "vhost", _VIRTIO, False),
    Rule("amd64", _I, ("acrn",), "module", "vhost_net", _VIRTIO_NET, False),
    # amd64, AMD, any hypervisor
    Rule("amd64", _A, ANY, "attribute", "AuthenticAMD", "AMD Architecture CPU", True),
    Rule("amd64", _A, ANY, "flag", "svm", "Virtualization support", True),
    Rule("amd64", _A, ANY, "flag", "lm", "64Bit CPU", True),
    Rule("amd64", _A, ANY, "flag", "sse4_1", "SSE4.1", True),
    Rule("amd64", _A, ANY, "module", "kvm", _VM, True),
    Rule("amd64", _A, ANY, "module", "kvm_amd", "AMD KVM", True),
    Rule("amd64", _A, ANY, "module", "vhost", _VIRTIO, True),
    Rule("amd64", _A, ANY, "module", "vhost_net", _VIRTIO_NET, True),
    Rule("amd64", _A, ANY, "module", "vhost_vsock", _VSOCK, False),
    # arm64 (cli/kata-check_arm64.go): modules only
    Rule("arm64", None, ANY, "module", "kvm", _VM, True),
    Rule("arm64", None, ANY, "module", "vhost", _VIRTIO, True),
    Rule("arm64", None, ANY, "module", "vhost_net", _VIRTIO_NET, True),
    Rule("arm64", None, ANY, "module", "vhost_vsock", _VSOCK, False),
    # ppc64le (cli/kata-check_ppc64le.go): SMT must be off up to POWER8
    Rule("ppc64le", None, ANY, "smt", "off", "SMT off on POWER8 and older", True),
    Rule("ppc64le", None, ANY, "module", "kvm", _VM, True),
    Rule("ppc64le", None, ANY, "module", "kvm_hv",
         "Kernel-based Virtual Machine hardware virtualization", True),
    Rule("ppc64le", None, ANY, "module", "vhost_vsock", _VSOCK, False),
    # s390x (cli/kata-check_s390x.go)
    Rule("s390x", None, ANY, "module", "kvm", _VM, True),
    Rule("s390x", None, ANY, "module", "vhost_vsock", _VSOCK, False),
)

ARCHES = tuple(dict.fromkeys(r.arch for r in RULES))


def _create_vm_1x(arch: str, hypervisor_type: str) -> str:
    """archHostCanCreateVMContainer of 1.x: ACRN's device, else KVM."""
    return "acrn" if hypervisor_type == "acrn" else "kvm"


class CheckRules(Record):
    """One Kata generation's capability rules: the value kata-check and kata-env read."""

    runtime: str  # how messages name the reference ("kata-runtime 1.x")
    rules: tuple[Rule, ...]
    unknown_cpu: str  # setCPUtype's error for a CPU neither Intel nor AMD
    # (arch, hypervisor type) -> the root-only create-VM test: "kvm", "acrn", "none" (the
    # reference returns nil) or "unknown" (archHostCanCreateVMContainer refuses the type)
    create_vm: Callable[[str, str], str] = _create_vm_1x

    @property
    def arches(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.arch for r in self.rules))

    def rules_for(self, arch: str, vendor: str | None, hypervisor_type: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.applies(arch, vendor, hypervisor_type))


CHECK_1X = CheckRules("kata-runtime 1.x", RULES, UNKNOWN_CPU)


def rules_for(arch: str, vendor: str | None, hypervisor_type: str,
              rules: CheckRules = CHECK_1X) -> tuple[Rule, ...]:
    return rules.rules_for(arch, vendor, hypervisor_type)


class Check(Record):
    """One line of the report. `ok` None: not checked (the detail says why)."""

    kind: str  # cpu-type | cpuinfo | attribute | flag | module | module-param | smt | kvm | ...
    name: str
    description: str
    ok: bool | None
    detail: str
    required: bool  # counted by the reference verdict
    reference: bool = True  # False: katacfg's own informational check

    @property
    def label(self) -> str:
        kind = {"attribute": "CPU attribute", "flag": "CPU flag", "module": "kernel module",
                "module-param": "module parameter", "kvm": "device", "create-vm": "create VM",
                "cpu-type": "CPU type", "cpuinfo": "CPU details", "smt": "SMT",
                "kvm-module": "KVM back end"}.get(self.kind, self.kind)
        return f"{kind} {self.name}"

    def as_dict(self) -> dict[str, object]:
        return {"name": self.label, "ok": self.ok, "detail": self.detail, "kind": self.kind,
                "required": self.required, "reference": self.reference,
                "description": self.description}


class CheckReport(Record):
    """The verdict (`capable`, kata-env's VMContainerCapable) and every check behind it."""

    arch: str
    hypervisor_type: str
    cpu_type: str | None
    capable: bool
    error: str | None  # the reference's error when not capable
    checks: tuple[Check, ...]
    notes: tuple[str, ...] = ()
    create_vm_error: str | None = None  # root only: the reference's create-VM test failed
    create_vm_run: bool = False
    kvm_usable: bool | None = None  # None: not probed
    failed: tuple[str, ...] = ()  # labels of counted failures

    @property
    def passed(self) -> bool:
        """kata-check's exit status 0: capable, and (as root) a VM could be created."""
        return self.capable and self.create_vm_error is None

    def as_dict(self) -> dict[str, object]:
        return {
            "capable": self.capable,
            "checks": [c.as_dict() for c in self.checks],
            "error": self.error,
            "arch": self.arch,
            "hypervisor_type": self.hypervisor_type,
            "cpu_type": self.cpu_type,
            "can_create_vm": (None if not self.create_vm_run else self.create_vm_error is None),
            "kvm_usable": self.kvm_usable,
            "notes": list(self.notes),
        }


class _Eval:
    def __init__(self, host: Host, hypervisor_type: str) -> None:
        self.host = host
        self.hypervisor_type = hypervisor_type
        self.checks: list[Check] = []
        self.errors = 0
        self.failed: list[str] = []

    def add(self, rule: Rule, ok: bool | None, detail: str, counted: bool | None = None) -> None:
        required = rule.required if counted is None else counted
        check = Check(rule.kind, rule.name if rule.kind != "module-param"
                      else f"{rule.module}.{rule.name}", rule.description, ok, detail, required)
        self.checks.append(check)
        if ok is False and required:
            self.errors += 1
            self.failed.append(check.label)

    def module(self, rule: Rule) -> bool:
        host = self.host
        if host.module_loaded(rule.name):
            self.add(rule, True, f"loaded ({SYS_MODULE}/{rule.name})")
            return True
        if host.uid != 0:
            self.add(rule, False, f"not loaded ({SYS_MODULE}/{rule.name} missing); only root "
                                  "may load it (the reference does not try)")
            return False
        probe = host.modprobe_would_load(rule.name)
        if probe.value:
            self.add(rule, True, f"not loaded; `modprobe {rule.name}` would load it "
                                 "(the reference runs modprobe as root)")
            return True
        why = f": {probe.error}" if probe.error else ""
        self.add(rule, False, f"not loaded ({SYS_MODULE}/{rule.name} missing) and "
                              f"`modprobe {rule.name}` cannot load it{why}")
        return False


def _reference(ev: _Eval, host: Host, arch: str, vendor: str | None,
               hypervisor_type: str, profile: CheckRules) -> str | None:
    """Run the reference's capability test; return its error (None: capable)."""
    rules = profile.rules_for(arch, vendor, hypervisor_type)
    if arch == "amd64":
        if vendor is None:
            got = host.cpuinfo
            detail = (got.error or "" if not got.ok
                      else f"neither GenuineIntel nor AuthenticAMD occurs in {PROC_CPUINFO}")
            ev.checks.append(Check("cpu-type", "vendor", "Intel or AMD CPU", False, detail, True))
            ev.failed.append("CPU type vendor")
            return profile.unknown_cpu
        if not rules:
            return f"setCPUtype: Unknown hypervisor type {hypervisor_type}"
    elif arch not in profile.arches:
        ev.checks.append(Check("arch", arch, "supported architecture", False,
                               f"{profile.runtime} has no checks for {arch}", True))
        return f"architecture {arch} is not supported by {profile.runtime}"

    block = host.cpu_block
    if not block.ok:
        ev.checks.append(Check("cpuinfo", PROC_CPUINFO, "first CPU of /proc/cpuinfo", False,
                               block.error or "", True))
        ev.failed.append(f"CPU details {PROC_CPUINFO}")
        return block.error

    if arch == "amd64":
        error = _cpu_flags(ev, host, rules, block.value or "")
        if error is not None:
            return error
    if arch == "ppc64le":
        error = _smt(ev, host, rules)
        if error is not None:
            return error
    return _kernel_modules(ev, host, rules)


def _cpu_flags(ev: _Eval, host: Host, rules: tuple[Rule, ...], block: str) -> str | None:
    """amd64: the CPU attributes and flags of the first CPU."""
    flags = host.cpu_flags
    if not flags:
        ev.checks.append(Check("cpuinfo", "flags", "CPU flags line", False,
                               f"no `flags` line in the first CPU of {PROC_CPUINFO}", True))
        ev.failed.append("CPU details flags")
        return "Cannot find CPU flags"
    for rule in rules:
        if rule.kind == "attribute":
            found = find_word(block, rule.name)
            ev.add(rule, found, "in the first CPU of /proc/cpuinfo" if found
                   else f"not in the first CPU of {PROC_CPUINFO}")
    for rule in rules:
        if rule.kind == "flag":
            found = find_word(flags, rule.name)
            ev.add(rule, found, "in the CPU flags" if found
                   else f"not in the CPU flags ({PROC_CPUINFO})")
    return None


def _smt(ev: _Eval, host: Host, rules: tuple[Rule, ...]) -> str | None:
    """ppc64le: POWER8 and older need SMT off."""
    smt_rule = next(r for r in rules if r.kind == "smt")
    power = _power_generation(host.cpuinfo.value or "")
    if power <= 8 and not host.smt_off:
        ev.add(smt_rule, False, f"POWER{power or '?'}: SMT is on (`ppc64_cpu --smt`)")
        return f"SMT is not Off. {FAIL_MESSAGE}"
    ev.add(smt_rule, True, f"POWER{power}: SMT need not be off" if power > 8
           else "SMT is off (or ppc64_cpu is not installed)")
    return None


def _kernel_modules(ev: _Eval, host: Host, rules: tuple[Rule, ...]) -> str | None:
    """checkKernelModules: the VMM probe error ends the test; then modules and parameters."""
    vmm = host.running_on_vmm
    if vmm.error is not None:
        ev.checks.append(Check("cpuinfo", "hypervisor flag", "running on a VMM?", False,
                               vmm.error, True))
        ev.failed.append("CPU details hypervisor flag")
        return vmm.error
    # setCPUtype read the probe earlier: parameters are listed only when it failed (inverted)
    params_listed = vmm.error is not None and not vmm.value
    if host.uid == 0:  # dry runs of the modules to be loaded overlap (see Eval.module)
        host.start_modprobe([r.name for r in rules
                             if r.kind == "module" and not host.module_loaded(r.name)])
    for rule in rules:
        if rule.kind != "module":
            continue
        found = ev.module(rule)
        if not found:
            continue
        for prule in rules:
            if prule.kind != "module-param" or prule.module != rule.name:
                continue
            if prule.when == VMM_PROBE_FAILED and not params_listed:
                ev.add(prule, None, f"not checked: the reference reads it only when the VMM "
                                    f"probe of {PROC_CPUINFO} fails (inverted condition)")
                continue
            got = host.module_param(prule.module, prule.name)
            if not got.ok:
                ev.add(prule, False, got.error or "")
                return got.error
            if got.value == prule.expected:
                ev.add(prule, True, f"{got.value!r} as expected")
                continue
            ignored = (prule.name == "unrestricted_guest" and vmm.value) or prule.name == "nested"
            ev.add(prule, False, f"{got.value!r}, expected {prule.expected!r}"
                   + (" (ignored by the reference)" if ignored else ""),
                   counted=False if ignored else None)
    if ev.errors:
        return f"ERROR: {FAIL_MESSAGE}"
    return None


def _power_generation(text: str) -> int:
    """Go: Atoi of the digits of the first `POWER[0-9]` match (one digit), 0 if none."""
    i = text.find("POWER")
    while i >= 0:
        nxt = text[i + 5:i + 6]
        if nxt.isdigit() and nxt.isascii():
            return int(nxt)
        i = text.find("POWER", i + 1)
    return 0


def check_host(host: Host, hypervisor_type: str = "qemu", *, extras: bool = True,
               rules: CheckRules = CHECK_1X) -> CheckReport:
    """The reference verdict for `hypervisor_type` on `host` under one generation's `rules`
    (default Kata 1.x), and (extras) what /dev/kvm says."""
    arch = host.arch
    vendor = host.cpu_type if arch == "amd64" else None
    ev = _Eval(host, hypervisor_type)
    error = _reference(ev, host, arch, vendor, hypervisor_type, rules)
    capable = error is None
    checks = list(ev.checks)
    notes: list[str] = []
    create_error: str | None = None
    create_run = False
    kvm_usable: bool | None = None

    if extras or host.is_root:
        create = rules.create_vm(arch, hypervisor_type)
        uses_kvm = create == "kvm"
        if uses_kvm:
            kvm = host.kvm
            kvm_usable = kvm.usable
            checks.append(Check("kvm", "/dev/kvm", "usable by a VMM (katacfg, not counted)",
                                kvm.usable, kvm.reason, False, reference=False))
        if host.is_root and capable:
            # the reference's create-VM test runs only as root, after the capability test
            create_run = True
            if uses_kvm:
                kvm = host.kvm
                create_error = None if kvm.can_create_vm else (kvm.open_error or kvm.create_error)
                checks.append(Check("create-vm", hypervisor_type, "open /dev/kvm, KVM_CREATE_VM",
                                    create_error is None,
                                    "a VM was created" if create_error is None else create_error,
                                    True))
            elif create == "none":
                checks.append(Check("create-vm", hypervisor_type, "no local VM to create", True,
                                    f"{rules.runtime} creates no test VM for {hypervisor_type}",
                                    False))
            elif create == "unknown":
                create_error = ("archHostCanCreateVMContainer: Unknown hypervisor type "
                                f"{hypervisor_type}")
                checks.append(Check("create-vm", hypervisor_type, "create-VM test", False,
                                    create_error, True))
            else:
                create_error = _acrn_open_error(host)
                checks.append(Check("create-vm", "acrn", "open /dev/acrn_vhm",
                                    create_error is None,
                                    "device opened (VM creation not attempted by katacfg)"
                                    if create_error is None else create_error, True))
    if extras:
        notes = _explain(host, hypervisor_type, capable, error, ev.failed, kvm_usable, checks,
                         rules)
        kvm_mods = host.kvm_modules
        if kvm_mods:
            checks.append(Check("kvm-module", ",".join(kvm_mods), "loaded KVM modules",
                                True, "loaded: " + ", ".join(kvm_mods), False, reference=False))
    return CheckReport(arch, hypervisor_type, vendor, capable, error, tuple(checks),
                       tuple(notes), create_error, create_run, kvm_usable, tuple(ev.failed))


def _acrn_open_error(host: Host) -> str | None:
    import os

    from katacfg.gocompat.fspath import errno_text

    try:
        fd = os.open(host.path("/dev/acrn_vhm"), os.O_RDWR | os.O_CLOEXEC)
    except OSError as err:
        return errno_text(err.errno)
    os.close(fd)
    return None


_VENDOR_KVM = {"kvm_intel", "kvm_amd", "kvm_hv"}
_VIRT_FLAGS = {"vmx", "svm"}


def _explain(host: Host, hypervisor_type: str, capable: bool, error: str | None,
             failed: list[str], kvm_usable: bool | None, checks: list[Check],
             rules: CheckRules = CHECK_1X) -> list[str]:
    """Say why the verdict is what it is, especially when /dev/kvm tells another story."""
    notes: list[str] = []
    kvm = host.kvm if kvm_usable is not None else None
    if error == rules.unknown_cpu:
        notes.append(f"{rules.runtime} knows only GenuineIntel and AuthenticAMD CPUs on amd64 "
                     "and stops before any other check")
        if kvm_usable:
            notes.append("/dev/kvm is usable (a test VM was created): only that vendor rule "
                         "stands in the way")
    elif not capable and kvm_usable:
        kvm_mods = [m for m in host.kvm_modules if m != "kvm"]
        other = [m for m in kvm_mods if m not in _VENDOR_KVM]
        failed_checks = [c for c in checks if c.ok is False and c.required and c.reference]
        covered = [c.label for c in failed_checks if c.name in _VIRT_FLAGS | _VENDOR_KVM]
        rest = [c.label for c in failed_checks if c.name not in _VIRT_FLAGS | _VENDOR_KVM]
        backend = (f"by {', '.join(other)}, a KVM module other than kvm_intel/kvm_amd "
                   "(e.g. paravirtual KVM)" if other else "by the loaded KVM modules")
        notes.append(
            f"/dev/kvm is usable nevertheless: it is served {backend} and a test VM was created"
            + (f"; the reference looks for {', '.join(covered)} by name only, so it does not "
               "see this" if covered else ""))
        if rest:
            notes.append("still missing for Kata beyond /dev/kvm: " + ", ".join(rest))
        else:
            notes.append("nothing else is missing: a runtime that tries /dev/kvm itself could "
                         "start VMs here")
    elif not capable and kvm is not None and kvm_usable is False:
        notes.append(f"/dev/kvm is not usable either: {kvm.reason}")
    elif capable and kvm is not None and kvm_usable is False:
        notes.append(f"the reference rules pass, but /dev/kvm is not usable ({kvm.reason}); "
                     "VMs will fail to start" + ("" if host.is_root else
                                                 " (the reference tests this only as root)"))
    if host.running_on_vmm.value:
        notes.append("this host is itself a virtual machine (cpuinfo flag `hypervisor`): "
                     "Kata needs nested virtualization here")
    return notes
