"""kata-env under the 4.x profile (format 1.0.27) against the reports the real Go
kata-runtime 4.1.0 printed (tests/data/kata-env-4x, copied from shared/conformance/
kata-env-4x; its README says how each was made).

Byte for byte, TOML and JSON: the configuration-derived values come from katacfg's 4.x
loader, the hypervisor's version from running the fixture binary, and the host-derived
values from the recording machine's facts (katacfg-recorded-host.json: its /proc/version,
/etc/os-release, /proc/cpuinfo, CPU count) plus the momentary /proc/meminfo and the uid
each report was made with, as the README describes.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from katacfg.host.facts import Host
from katacfg.profiles.kata4x.load import load
from katacfg.profiles.kata4x.report import CHECK_RULES
from katacfg.reports.kata_check import check_host
from katacfg.reports.kata_env4x import build_report_4x

DATA = Path(__file__).parent / "data" / "kata-env-4x"
ROOT = Path("/tmp/katacfg-fixtures")  # private to this test session (conftest.py)
PLACEHOLDER = "<the kata-runtime executable>"  # the README's stand-in for Runtime.Path
RUNTIME_PATH = "/usr/local/bin/kata-runtime"  # put in its place (Go's JSON would escape <>)
KATACFG = [sys.executable, "-m", "katacfg"]

# report -> (configuration, drop-in folder or None, uid of the recording run)
CASES = {
    "qemu": ("seed-config-4x-qemu.toml", None, 65534),
    "clh": ("seed-config-4x-clh.toml", None, 0),
    "qemu-debug-initrd-dropin": ("seed-config-4x-qemu-debug-initrd-dropin.toml",
                                 "seed-config-4x-qemu-debug-initrd-dropin.config.d", 65534),
}


def install(case: str) -> Path:
    """The fixture files of seed-config-4x-fixtures.json, the configuration and drop-ins."""
    if ROOT.exists():
        shutil.rmtree(ROOT)
    for f in json.loads((DATA / "seed-config-4x-fixtures.json").read_text()):
        p = Path(f["path"])
        if f.get("dir"):
            p.mkdir(parents=True, exist_ok=True)
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f["content"])
        p.chmod(int(f["mode"], 8))
    config, dropins, _ = CASES[case]
    path = ROOT / "configuration.toml"
    shutil.copy(DATA / config, path)
    if dropins:
        shutil.copytree(DATA / dropins, ROOT / "config.d")
    return path


def go_report(case: str, ext: str) -> str:
    return (DATA / f"go-kata-env-4x-{case}.{ext}").read_text().replace(PLACEHOLDER,
                                                                         RUNTIME_PATH)


def recorded_facts(case: str, ext: str = "toml") -> dict:
    """The recording machine's facts, with this report's memory reading (each run of
    `env` and `env --json` read its own) and uid."""
    facts = json.loads((DATA / "katacfg-recorded-host.json").read_text())
    facts = {k: v for k, v in facts.items() if not k.startswith("_")}
    if ext == "json":
        mem = json.loads(go_report(case, "json"))["Host"]["Memory"]
    else:
        block = go_report(case, "toml").split("[Host.Memory]\n")[1].split("\n\n")[0]
        mem = {k.strip(): int(v) for k, v in (line.split("=") for line in block.splitlines())}
    facts["files"]["/proc/meminfo"] = (
        f"MemTotal:       {mem['Total']} kB\nMemFree:        {mem['Free']} kB\n"
        f"MemAvailable:   {mem['Available']} kB\nBuffers:          123456 kB\n")
    uid = CASES[case][2]
    facts["uid"] = facts["euid"] = uid
    return facts


@pytest.mark.parametrize("case", sorted(CASES))
def test_report_equals_the_go_report_byte_for_byte(case):
    path = install(case)
    for ext in ("toml", "json"):
        host = Host("/", real=True).with_facts(**recorded_facts(case, ext))
        cfg = load(str(path), host)
        report = build_report_4x(cfg, host, runtime_path=RUNTIME_PATH)
        assert (report.toml() if ext == "toml" else report.json()) == go_report(case, ext)
        assert report.reference_error is None and not report.problems


@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_prints_the_go_report_from_a_recorded_host(case, tmp_path):
    """`katacfg --profile 4.x kata-env --host-root DIR` (and auto, which picks 4.x for
    these files): the same bytes, but for Runtime.Path, which is katacfg's own program."""
    path = install(case)
    for profile, fmt in (("4.x", []), ("auto", ["--json"])):
        root = tmp_path / f"host-{profile}"
        root.mkdir()
        (root / "katacfg-host.json").write_text(json.dumps(
            recorded_facts(case, "json" if fmt else "toml")))
        p = subprocess.run(KATACFG + ["--kata-config", str(path), "--profile", profile,
                                      "kata-env", "--host-root", str(root), *fmt],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        want = go_report(case, "json" if fmt else "toml")
        if fmt:
            got = json.loads(p.stdout)
            assert got["Runtime"].pop("Path") and json.loads(want)["Runtime"].pop("Path")
            expected = json.loads(want)
            expected["Runtime"].pop("Path")
            assert got == expected
            assert list(json.loads(p.stdout)) == list(json.loads(want))
        else:
            lines = [line for line in p.stdout.splitlines() if not line.startswith("  Path = \"/")
                     or "katacfg-fixtures" in line]
            assert "\n".join(lines) + "\n" == want.replace(
                f'  Path = "{RUNTIME_PATH}"\n', "", 1)
        assert "VMContainerCapable = false" in p.stderr  # and why, on stderr only


def test_the_real_host_fills_the_host_section():
    """On this machine: the values come from its /proc and /etc, read independently here."""
    path = install("qemu")
    host = Host.real().with_facts(vhost_vsock=True)  # the 4.x qemu loader requires it
    report = build_report_4x(load(str(path), host), host)
    h = report.data["Host"]
    assert h["Kernel"] == os.uname().release
    assert h["CPU"]["CPUs"] == len(os.sched_getaffinity(0))
    with open("/proc/meminfo") as f:
        total = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
    assert h["Memory"]["Total"] == total
    assert h["Memory"]["Available"] > 0
    assert report.data["Meta"] == {"Version": "1.0.27"}


def _facts(**changes):
    facts = recorded_facts("qemu")
    facts.update(changes)
    return Host("/", real=True).with_facts(**facts)


def test_guest_protection_tdx_then_snp():
    path = install("qemu")
    host = _facts(module_params={"kvm_amd/sev_snp": "Y"})
    report = build_report_4x(load(str(path), host), host)
    assert report.data["Host"]["AvailableGuestProtections"] == ["snp"]
    assert '  AvailableGuestProtections = ["snp"]\n' in report.toml()
    host = _facts(module_params={"kvm_intel/tdx": "Y", "kvm_amd/sev_snp": "Y"})
    assert build_report_4x(load(str(path), host), host).data["Host"][
        "AvailableGuestProtections"] == ["tdx"]


def test_enable_annotations_absent_is_nil_and_empty_is_empty():
    path = install("qemu")
    text = path.read_text()
    start = text.index("enable_annotations = [")
    end = text.index("]", start) + 1
    host = _facts()
    path.write_text(text[:start] + text[end:])
    report = build_report_4x(load(str(path), host), host)
    assert "EnableAnnotations" not in report.toml()
    assert '"EnableAnnotations": null' in report.json()
    path.write_text(text[:start] + "enable_annotations = []" + text[end:])
    report = build_report_4x(load(str(path), host), host)
    assert "    EnableAnnotations = []\n" in report.toml()


def test_socket_path_as_root():
    path = install("clh")
    host = _facts(uid=0, euid=0)
    assert build_report_4x(load(str(path), host), host).data["Hypervisor"][
        "SocketPath"] == "{ID}/clh.sock"


def test_unknown_cpu_type_is_fatal_and_spelled_as_4x_spells_it():
    path = install("qemu")
    files = dict(recorded_facts("qemu")["files"])
    files["/proc/cpuinfo"] = "processor\t: 0\nvendor_id\t: HygonGenuine\nflags\t\t: lm\n"
    host = _facts(files=files)
    report = build_report_4x(load(str(path), host), host)
    assert report.reference_error == "Unknown CPU Type"


def test_remote_on_intel_has_no_capability_rules():
    """setCPUtype of 4.x: on Intel, remote has no table: kata-runtime env fails."""
    files = dict(recorded_facts("qemu")["files"])
    files["/proc/cpuinfo"] = ("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: X\n"
                              "flags\t\t: vmx lm sse4_1\n")
    host = _facts(files=files)
    report = check_host(host, "remote", extras=False, rules=CHECK_RULES)
    assert report.error == "setCPUtype: Unknown hypervisor type remote"
    assert check_host(host, "dragonball", extras=False, rules=CHECK_RULES).error != \
        report.error


def test_missing_mem_available_is_a_crash_of_the_reference():
    path = install("qemu")
    files = dict(recorded_facts("qemu")["files"])
    files["/proc/meminfo"] = "MemTotal: 100 kB\nMemFree: 50 kB\n"
    host = _facts(files=files)
    report = build_report_4x(load(str(path), host), host)
    assert report.data["Host"]["Memory"] == {"Total": 100, "Free": 50, "Available": 0}
    assert "nil pointer" in (report.reference_error or "")


def test_1x_layout_refused_under_4x_and_4x_layout_under_1x():
    path = install("qemu")
    p = subprocess.run(KATACFG + ["--kata-config", str(path), "--profile", "4.x", "kata-env",
                                  "--format-version", "1.0.24"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "Kata 4.x prints format 1.0.27 only" in p.stderr
    assert "Traceback" not in p.stderr
    p = subprocess.run(KATACFG + ["--kata-config", str(path), "--profile", "1.x", "kata-env",
                                  "--format-version", "1.0.27"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "add --profile 4.x" in p.stderr


def test_kata_check_4x_rules():
    """Intel: the KVM rows cover the 4.x hypervisors, not acrn; the create-VM test as root
    is KVM's for qemu/clh/stratovirt/firecracker, none for remote, refused for dragonball."""
    from katacfg.reports.kata_check import CHECK_1X

    intel = ("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: X\n"
             "flags\t\t: vmx lm sse4_1\n")
    files = dict(recorded_facts("qemu")["files"], **{"/proc/cpuinfo": intel})
    host = _facts(files=files, modules=["kvm", "kvm_intel", "vhost", "vhost_net"],
                  module_params={"kvm_intel/unrestricted_guest": "Y"}, uid=0, euid=0,
                  kvm={"api_version": 12})
    for hv in ("qemu", "clh", "firecracker", "stratovirt"):
        report = check_host(host, hv, extras=False, rules=CHECK_RULES)
        assert report.capable and report.create_vm_error is None, hv
    dragonball = check_host(host, "dragonball", extras=False, rules=CHECK_RULES)
    assert dragonball.capable and dragonball.create_vm_error == \
        "archHostCanCreateVMContainer: Unknown hypervisor type dragonball"
    assert check_host(host, "acrn", extras=False, rules=CHECK_RULES).error == \
        "setCPUtype: Unknown hypervisor type acrn"
    assert check_host(host, "acrn", extras=False, rules=CHECK_1X).error is None
    amd = _facts(uid=0, euid=0)
    remote = check_host(amd, "remote", extras=False, rules=CHECK_RULES)
    assert remote.create_vm_error is None and "svm" in " ".join(remote.failed)


def test_kata_check_cli_under_4x():
    path = install("clh")
    p = subprocess.run(KATACFG + ["--kata-config", str(path), "--profile", "4.x", "kata-check",
                                  "--json"], capture_output=True, text=True, timeout=60)
    assert p.returncode in (0, 1) and "Traceback" not in p.stderr
    data = json.loads(p.stdout)
    assert data["profile"] == "4.x" and data["hypervisor_type"] == "clh"
    assert data["passed"] is (p.returncode == 0)
