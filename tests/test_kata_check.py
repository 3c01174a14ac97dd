"""kata-check: the reference verdict from rules as data, and the /dev/kvm truth beside it."""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from katacfg.host.facts import Fact, Host
from katacfg.reports.kata_check import FAIL_MESSAGE, RULES, UNKNOWN_CPU, check_host, rules_for

HOSTS = Path(__file__).parent / "data" / "hosts"
KATACFG = [sys.executable, "-m", "katacfg"]


def recorded(name: str, **facts) -> Host:
    host = Host.from_root(str(HOSTS / name))
    return host.with_facts(**facts) if facts else host


def names(rules) -> list[tuple[str, str, bool]]:
    return [(r.kind, r.name, r.required) for r in rules]


# -- the rule table (spec/kata-check.md 3) ---------------------------------------------

def test_intel_kvm_rules():
    for hv in ("qemu", "clh", "firecracker"):
        assert names(rules_for("amd64", "intel", hv)) == [
            ("attribute", "GenuineIntel", True), ("flag", "vmx", True), ("flag", "lm", True),
            ("flag", "sse4_1", True), ("module", "kvm", True), ("module", "kvm_intel", True),
            ("module-param", "unrestricted_guest", True), ("module", "vhost", True),
            ("module", "vhost_net", True), ("module", "vhost_vsock", False)]


def test_intel_acrn_rules():
    assert names(rules_for("amd64", "intel", "acrn")) == [
        ("attribute", "GenuineIntel", True), ("flag", "lm", True), ("flag", "sse4_1", True),
        ("module", "vhm_dev", False), ("module", "vhost", False), ("module", "vhost_net", False)]


def test_amd_rules_for_any_hypervisor():
    expected = [("attribute", "AuthenticAMD", True), ("flag", "svm", True), ("flag", "lm", True),
                ("flag", "sse4_1", True), ("module", "kvm", True), ("module", "kvm_amd", True),
                ("module", "vhost", True), ("module", "vhost_net", True),
                ("module", "vhost_vsock", False)]
    for hv in ("qemu", "acrn", "clh", "firecracker"):
        assert names(rules_for("amd64", "amd", hv)) == expected


def test_other_architectures_are_rows_too():
    assert [r.name for r in rules_for("arm64", None, "qemu")] == \
        ["kvm", "vhost", "vhost_net", "vhost_vsock"]
    assert [r.name for r in rules_for("ppc64le", None, "qemu")] == \
        ["off", "kvm", "kvm_hv", "vhost_vsock"]
    assert [r.name for r in rules_for("s390x", None, "qemu")] == ["kvm", "vhost_vsock"]
    assert {r.arch for r in RULES} == {"amd64", "arm64", "ppc64le", "s390x"}


# -- recorded hosts --------------------------------------------------------------------

@pytest.mark.parametrize("name", ["seed-tlinux", "intel-vmx", "amd-svm", "clear-linux",
                                  "no-os-release", "arm64", "ppc64le-power9", "s390x"])
def test_capable_hosts(name):
    report = check_host(recorded(name), "qemu")
    assert report.capable and report.error is None and report.passed
    assert all(c.ok is not False for c in report.checks if c.required and c.reference)


def test_intel_without_vmx_and_kvm_modules_is_not_capable():
    report = check_host(recorded("no-dev-kvm"), "qemu")
    assert not report.capable
    assert report.error == f"ERROR: {FAIL_MESSAGE}"
    assert report.failed == ("CPU flag vmx", "kernel module kvm", "kernel module kvm_intel")
    assert report.kvm_usable is False
    assert "/dev/kvm is not usable either: open /dev/kvm: no such file or directory" in report.notes


def test_missing_optional_module_does_not_count():
    report = check_host(recorded("amd-svm"), "qemu")
    vsock = next(c for c in report.checks if c.name == "vhost_vsock")
    assert vsock.ok is False and not vsock.required and report.capable


def test_acrn_on_intel_needs_no_vmx_and_no_modules():
    host = recorded("no-dev-kvm")
    report = check_host(host, "acrn")
    assert report.capable, report.failed


def test_unknown_cpu_type_stops_everything():
    report = check_host(recorded("hygon"), "qemu")
    assert not report.capable and report.error == UNKNOWN_CPU
    assert [c.kind for c in report.checks if c.reference] == ["cpu-type"]


def test_unknown_hypervisor_type_on_intel():
    report = check_host(recorded("intel-vmx"), "bogus")
    assert report.error == "setCPUtype: Unknown hypervisor type bogus"


def test_amd_accepts_any_hypervisor_type():
    assert check_host(recorded("amd-svm"), "acrn").capable


def test_unrestricted_guest_is_skipped_under_the_inverted_condition():
    report = check_host(recorded("intel-vmx"), "qemu")
    param = next(c for c in report.checks if c.kind == "module-param")
    assert param.ok is None and "inverted condition" in param.detail


def test_vmm_probe_error_ends_the_module_checks():
    host = recorded("intel-vmx", running_on_vmm=Fact(False, 'Couldn\'t find "flags" from '
                                                           '"/proc/cpuinfo" output'))
    report = check_host(host, "qemu")
    assert report.error == 'Couldn\'t find "flags" from "/proc/cpuinfo" output'
    assert not report.capable


def test_missing_flags_line():
    host = recorded("intel-vmx", files={"/proc/cpuinfo": "vendor_id : GenuineIntel\n"})
    assert check_host(host, "qemu").error == "Cannot find CPU flags"


def test_unreadable_cpuinfo_is_unknown_cpu_type_on_amd64(tmp_path):
    host = Host.from_root(str(tmp_path)).with_facts(arch="amd64")
    assert check_host(host, "qemu").error == UNKNOWN_CPU


def test_arm64_missing_module():
    host = recorded("arm64", modules=["kvm", "vhost"])
    report = check_host(host, "qemu")
    assert report.failed == ("kernel module vhost_net",)


def test_ppc64le_power8_with_smt_on():
    report = check_host(recorded("ppc64le-power8-smt"), "qemu")
    assert report.error == f"SMT is not Off. {FAIL_MESSAGE}"
    assert check_host(recorded("ppc64le-power8-smt", smt_off=True), "qemu").capable


def test_non_root_cannot_load_modules_and_root_may():
    host = recorded("amd-svm", modules=["kvm", "vhost", "vhost_net"])
    as_user = check_host(host, "qemu")
    kvm_amd = next(c for c in as_user.checks if c.name == "kvm_amd")
    assert not as_user.capable and "only root may load it" in kvm_amd.detail
    as_root = check_host(host.with_facts(uid=0, euid=0, loadable_modules=["kvm_amd"]), "qemu")
    assert as_root.capable
    assert "would load it" in next(c for c in as_root.checks if c.name == "kvm_amd").detail


def test_root_runs_the_create_vm_test():
    report = check_host(recorded("intel-vmx", uid=0, euid=0, kvm_usable=False,
                                 kvm_error="device or resource busy"), "qemu")
    assert report.capable and not report.passed
    assert report.create_vm_error == "device or resource busy"
    assert any("/dev/kvm is not usable" in n for n in report.notes)


def test_paravirtual_kvm_host_shows_both_facts_and_explains():
    report = check_host(recorded("amd-pvm"), "qemu")
    assert not report.capable  # the reference's rules, unchanged
    assert "CPU flag svm" in report.failed and "kernel module kvm_amd" in report.failed
    kvm = next(c for c in report.checks if c.kind == "kvm")
    assert kvm.ok and not kvm.reference and not kvm.required
    text = " ".join(report.notes)
    assert "kvm_pvm" in text and "CPU flag svm" in text and "kernel module kvm_amd" in text
    assert "kernel module vhost" in text  # still missing beyond /dev/kvm


def test_env_capability_skips_the_kvm_probe_when_not_asked():
    host = recorded("intel-vmx")
    report = check_host(host, "qemu", extras=False)
    assert report.kvm_usable is None and "kvm" not in host._cache


# -- the real host ---------------------------------------------------------------------

def _independent_verdict() -> tuple[bool, list[str]]:
    with open("/proc/cpuinfo") as f:
        text = f.read()
    vendor = "intel" if "GenuineIntel" in text else "amd" if "AuthenticAMD" in text else None
    block = text.split("\n\n")[0]
    flags = next((line.split(":")[1].split() for line in block.split("\n")
                  if line.startswith("flags") and line.count(":") == 1), [])
    missing = []
    if vendor == "intel":
        need_flags, need_mods = ["vmx", "lm", "sse4_1"], ["kvm", "kvm_intel", "vhost",
                                                           "vhost_net"]
    else:
        need_flags, need_mods = ["svm", "lm", "sse4_1"], ["kvm", "kvm_amd", "vhost",
                                                           "vhost_net"]
    missing += [f for f in need_flags if f not in flags]
    missing += [m for m in need_mods if not os.path.exists(f"/sys/module/{m}")]
    return not missing, missing


def _independent_kvm() -> bool:
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if fcntl.ioctl(fd, 0xAE00, 0) != 12:
            return False
        os.close(fcntl.ioctl(fd, 0xAE01, 0))
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


@pytest.mark.real_host
def test_real_host_verdict_and_kvm_truth():
    host = Host.real()
    if host.arch != "amd64":
        pytest.skip("the independent verdict below is written for amd64")
    report = check_host(host, "qemu")
    capable, missing = _independent_verdict()
    if not host.is_root or shutil.which("modprobe") is None:
        # (as root with modprobe the reference may load what is missing)
        assert report.capable == capable, (report.failed, missing)
    assert report.kvm_usable == _independent_kvm()
    kvm = next(c for c in report.checks if c.kind == "kvm")
    assert kvm.ok == report.kvm_usable
    if not report.capable and report.kvm_usable:
        assert any("/dev/kvm is usable nevertheless" in n for n in report.notes)


@pytest.mark.real_host
def test_cli_json_and_exit_status_on_the_real_host():
    proc = subprocess.run(KATACFG + ["kata-check", "--json"], capture_output=True, text=True,
                          timeout=60)
    data = json.loads(proc.stdout)
    assert isinstance(data["capable"], bool)
    assert all({"name", "ok", "detail"} <= set(c) for c in data["checks"])
    assert (proc.returncode == 0) == data["passed"]
    if not data["capable"]:
        assert proc.returncode == 1
    assert "Traceback" not in proc.stderr


@pytest.mark.real_host
def test_cli_text_one_line_per_check():
    proc = subprocess.run(KATACFG + ["kata-check"], capture_output=True, text=True, timeout=60)
    lines = proc.stdout.splitlines()
    assert any(line.startswith(("ok ", "FAIL")) for line in lines)
    verdict = "System is capable of running Kata Containers"
    assert (verdict in proc.stdout) == (proc.returncode == 0 or "ERROR" not in proc.stderr)
    assert "Traceback" not in proc.stderr


def test_cli_on_a_recorded_host():
    proc = subprocess.run(KATACFG + ["kata-check", "--host-root", str(HOSTS / "amd-pvm")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "FAIL  CPU flag svm" in proc.stdout
    assert "kvm_pvm" in proc.stdout
    assert proc.stderr.rstrip().endswith(f"ERROR: {FAIL_MESSAGE}")
    ok = subprocess.run(KATACFG + ["kata-check", "--host-root", str(HOSTS / "intel-vmx")],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and ok.stdout.rstrip().endswith(
        "System is capable of running Kata Containers")
