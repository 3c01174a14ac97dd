"""Host facts: the real machine, recorded hosts and overrides (spec/kata-env.md 4.3-4.5)."""
from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import pytest

from katacfg.host.facts import UNKNOWN, Fact, Host, KvmProbe, errno_text, find_word

HOSTS = Path(__file__).parent / "data" / "hosts"


def recorded(name: str) -> Host:
    return Host.from_root(str(HOSTS / name))


def tree(tmp_path: Path, files: dict[str, str]) -> Host:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return Host.from_root(str(tmp_path))


# -- the real host ---------------------------------------------------------------------

def _sh(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.real_host
def test_real_host_facts_match_the_machine():
    """Expectations from tools independent of katacfg.host.facts (coreutils, util-linux, Python's
    os-release parser), never from the calls the host module itself makes."""
    host = Host.real()
    assert host.cpus == int(_sh("nproc"))
    assert host.vhost_vsock == (subprocess.run(["test", "-e", "/dev/vhost-vsock"]).returncode
                                == 0)
    machine = _sh("uname", "-m")
    assert host.arch == {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    assert host.kernel_release == Fact(_sh("uname", "-r"))
    try:
        release = platform.freedesktop_os_release()
    except OSError:
        release = {}
    assert host.distro == Fact((release.get("NAME", "<<unknown>>"),
                                release.get("VERSION_ID", "<<unknown>>")))
    if host.arch == "amd64":
        cpuinfo = _sh("sed", "-n", "1,/^$/p", "/proc/cpuinfo")
        fields = {k.strip(): v.strip() for k, _, v in
                  (line.partition(":") for line in cpuinfo.splitlines()) if k.strip()}
        assert host.cpu_details == Fact((fields["vendor_id"], fields["model name"]))
        assert host.cpu_flags == fields["flags"]
    assert host.is_root == (_sh("id", "-u") == "0")


@pytest.mark.real_host
def test_real_kvm_probe_matches_an_independent_open():
    host = Host.real()
    probe = host.kvm
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        assert probe.open_error == errno_text(exc)
        assert not probe.usable
        return
    os.close(fd)
    assert probe.open_error is None
    if probe.usable:
        assert probe.api_version == 12 and probe.create_error is None
        assert "KVM_CREATE_VM returned a VM" in probe.reason


@pytest.mark.real_host
def test_the_kvm_probe_runs_once_and_leaves_no_descriptor_behind():
    host = Host.real()
    before = set(os.listdir("/proc/self/fd"))
    probe = host.kvm
    assert host.kvm is probe  # probed once, then cached
    assert set(os.listdir("/proc/self/fd")) <= before  # the device and the test VM closed


def test_a_missing_or_wrong_device_reports_as_the_reference(tmp_path):
    missing = recorded("no-dev-kvm")
    assert missing.kvm.open_error == "no such file or directory"
    host = tree(tmp_path, {"dev/kvm": ""})
    assert host.kvm.create_error == "inappropriate ioctl for device"
    overridden = Host.real().with_facts(kvm_usable=False)  # an injected fact is never probed
    assert not overridden.kvm.usable and overridden.kvm.open_error


@pytest.mark.real_host
def test_real_modules_are_sys_module_entries():
    host = Host.real()
    for name in os.listdir("/sys/module")[:20]:
        assert host.module_loaded(name)
    assert not host.module_loaded("surely_not_a_module_name")
    assert set(host.kvm_modules) == {n for n in os.listdir("/sys/module")
                                     if n == "kvm" or n.startswith("kvm_")}


def test_cheap_facts_read_no_other_fact():
    host = Host.real()
    host.cpus
    host.vhost_vsock
    assert not any(k.startswith(("file:", "kvm", "modprobe")) for k in host._cache)


# -- recorded hosts --------------------------------------------------------------------

def test_seed_host_matches_the_seed_report():
    host = recorded("seed-tlinux")
    assert host.kernel_release == Fact("4.14.105-1-tlinux3-0008")
    assert host.distro == Fact(("Tencent tlinux", "2.2"))
    assert host.cpu_details == Fact(("GenuineIntel", "Intel(R) Xeon(R) CPU X3440 @ 2.53GHz"))
    assert host.arch == "amd64" and host.cpus == 8 and host.vhost_vsock
    assert host.cpu_type == "intel"
    assert host.running_on_vmm == Fact(False)


def test_amd_host_without_quotes_in_os_release():
    host = recorded("amd-svm")
    assert host.distro == Fact(("Fedora", "33"))
    assert host.cpu_type == "amd" and find_word(host.cpu_flags, "svm")
    assert not host.vhost_vsock


def test_no_os_release_gives_unknown_name_and_version():
    assert recorded("no-os-release").distro == Fact((UNKNOWN, UNKNOWN))


def test_usr_lib_os_release_is_the_fallback():
    assert recorded("clear-linux").distro == Fact(("Clear Linux OS", "33710"))


def test_arm64_vendor_and_model_are_normalised():
    host = recorded("arm64")
    assert host.arch == "arm64"
    assert host.cpu_details == Fact(("ARM Limited", "v8"))
    assert host.cpu_flags.startswith("fp asimd")
    assert host.running_on_vmm == Fact(False)  # not probed on arm64


def test_ppc64le_model_comes_from_the_whole_file():
    assert recorded("ppc64le-power9").cpu_details == Fact(("", "9006-22P"))


def test_s390x_model_comes_from_the_processor_line():
    assert recorded("s390x").cpu_details == Fact(("IBM/S390", "2964"))


def test_no_dev_kvm_is_a_real_open_failure():
    probe = recorded("no-dev-kvm").kvm
    assert probe == KvmProbe("no such file or directory", None, None, None)
    assert probe.reason == "open /dev/kvm: no such file or directory"


def test_a_regular_file_as_dev_kvm_fails_at_the_ioctl(tmp_path):
    host = tree(tmp_path, {"dev/kvm": ""})
    probe = host.kvm
    assert probe.open_error is None and not probe.usable
    assert probe.create_error == "inappropriate ioctl for device"


# -- the Go rules, one by one ----------------------------------------------------------

def test_kernel_release_needs_three_fields(tmp_path):
    host = tree(tmp_path, {"proc/version": "Linux version\n"})
    assert host.kernel_release == Fact(None, "unexpected contents in /proc/version")


def test_unreadable_proc_version_is_the_os_error(tmp_path):
    (tmp_path / "proc" / "version").mkdir(parents=True)
    host = Host.from_root(str(tmp_path))
    assert host.kernel_release == Fact(None, "read /proc/version: is a directory")
    assert Host.from_root(str(tmp_path / "none")).kernel_release == \
        Fact(None, "open /proc/version: no such file or directory")


def test_distro_value_is_between_first_and_second_equals_quotes_trimmed(tmp_path):
    host = tree(tmp_path, {"etc/os-release": "NAME=\"A=B\"\nVERSION_ID='1'\nNAME=Other\n"})
    assert host.distro == Fact(('A', "'1'"))


def test_distro_keeps_values_of_the_first_file_while_reading_the_second(tmp_path):
    host = tree(tmp_path, {"etc/os-release": "NAME=First\n",
                           "usr/lib/os-release": "NAME=Second\nVERSION_ID=2\n"})
    assert host.distro == Fact(("First", "2"))


def test_distro_read_error_other_than_missing_aborts(tmp_path):
    (tmp_path / "etc" / "os-release").mkdir(parents=True)
    host = Host.from_root(str(tmp_path))
    assert host.distro == Fact(None, "read /etc/os-release: is a directory")


def test_cpu_details_use_the_first_block_last_line_wins(tmp_path):
    host = tree(tmp_path, {"proc/cpuinfo": "vendor_id : A\nvendor_id : GenuineIntel\n"
                                           "model name : X : Y\n\nvendor_id : Other\n"})
    assert host.cpu_details == Fact(("GenuineIntel", "X"))


def test_cpu_details_errors(tmp_path):
    assert tree(tmp_path / "a", {"proc/cpuinfo": "\n\n"}).cpu_details == \
        Fact(None, "Cannot determine CPU details")
    assert tree(tmp_path / "b", {"proc/cpuinfo": "model name : x\nGenuineIntel\n"}).cpu_details \
        == Fact(None, "cannot find vendor field in file /proc/cpuinfo")
    assert tree(tmp_path / "c", {"proc/cpuinfo": "vendor_id : GenuineIntel\n"}).cpu_details == \
        Fact(None, "cannot find model field in file /proc/cpuinfo")


def test_flags_line_must_split_into_exactly_two_on_colon(tmp_path):
    host = tree(tmp_path, {"proc/cpuinfo": "vendor_id : GenuineIntel\nflags : a:b\n"
                                           "flags\t: vmx lm \n"})
    assert host.cpu_flags == "vmx lm"


def test_running_on_vmm_reads_the_first_flags_line_of_the_whole_file(tmp_path):
    assert tree(tmp_path / "a", {"proc/cpuinfo": "flags : a hypervisor\n"}).running_on_vmm == \
        Fact(True)
    assert tree(tmp_path / "b", {"proc/cpuinfo": "flags : a b\nflags : hypervisor\n"}) \
        .running_on_vmm == Fact(False)
    assert tree(tmp_path / "c", {"proc/cpuinfo": "flags:vmx\n"}).running_on_vmm == \
        Fact(False, 'Couldn\'t find "flags" from "/proc/cpuinfo" output')


def test_cpu_type_looks_anywhere_in_the_file(tmp_path):
    assert tree(tmp_path / "a", {"proc/cpuinfo": "x\n\nAuthenticAMD GenuineIntel"}).cpu_type == \
        "intel"
    assert tree(tmp_path / "b", {"proc/cpuinfo": "HygonGenuine"}).cpu_type is None
    assert Host.from_root(str(tmp_path / "none")).cpu_type is None


def test_module_parameter_trailing_newlines_removed(tmp_path):
    host = tree(tmp_path, {"sys/module/kvm_intel/parameters/nested": "Y\r\n\n"})
    assert host.module_loaded("kvm_intel")
    assert host.module_param("kvm_intel", "nested") == Fact("Y")
    assert host.module_param("kvm_intel", "x").error == \
        "open /sys/module/kvm_intel/parameters/x: no such file or directory"


def test_find_word_is_go_regexp_word_boundary():
    assert find_word("fpu vmx lm", "vmx")
    assert not find_word("fpu vmxe", "vmx")
    assert not find_word("avx512_vmx", "vmx")
    assert find_word("lm,sse4_1", "sse4_1")
    assert not find_word("", "lm") and not find_word("lm", "")


# -- overrides -------------------------------------------------------------------------

def test_with_facts_overrides_and_keeps_the_original():
    host = Host.real()
    other = host.with_facts(cpus=64, vhost_vsock=True, kvm_usable=False, kvm_error="gone")
    assert other.cpus == 64 and other.vhost_vsock
    assert not other.kvm_usable and other.kvm.open_error == "gone"
    assert host.cpus == len(os.sched_getaffinity(0))


def test_with_facts_rejects_unknown_names():
    with pytest.raises(TypeError):
        Host.real().with_facts(cpu_count=3)


def test_host_is_immutable():
    with pytest.raises(AttributeError):
        Host.real().root = "/x"  # type: ignore[misc]


def test_files_override_replaces_file_contents():
    host = Host.from_root("/nonexistent").with_facts(
        files={"/proc/version": "Linux version 9.9.9 x", "/etc/os-release": None,
               "/usr/lib/os-release": "NAME=N\nVERSION_ID=V\n"})
    assert host.kernel_release == Fact("9.9.9")
    assert host.distro == Fact(("N", "V"))
