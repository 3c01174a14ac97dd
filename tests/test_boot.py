"""katacfg boot: Kata's QEMU command line booted here, checked from inside the guest.

The real boots (TCG, the Debian test guest) take about 10 s each on two shared cores, so only
two run: the stock configuration (its NVDIMM image swapped for the test initramfs) and one
with an initrd, pod annotations and virtio-9p checked from the guest. The failure paths use
QEMU too, but never wait for a guest: a missing or non-executable binary, an option QEMU
refuses, a timeout and Ctrl-C, each checked to leave no process, socket or file behind.
"""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from katacfg.host.facts import Host
from katacfg.qemu import boot as qboot
from katacfg.qemu import guest as qguest
from tests.helpers import real_qemu

ROOT = Path(__file__).resolve().parent.parent
STOCK = ROOT / "src" / "katacfg" / "data" / "configuration.toml"


# ---------------------------------------------------------------- fixtures


def stock_install(base: Path, **replace: str) -> Path:
    """The stock configuration with Kata's install folders moved under `base`, holding
    files for the kernel, image, initrd, proxy, shim and netmon (they need only exist)."""
    share, libexec = base / "share", base / "libexec"
    share.mkdir(parents=True)
    libexec.mkdir()
    (share / "vmlinuz.container").write_bytes(b"not a kernel: the test guest's stands in\n")
    (share / "kata-containers.img").write_bytes(b"\0" * (2 << 20))
    (share / "kata-containers-initrd.img").write_bytes(b"not an initrd\n")
    for name in ("kata-proxy", "kata-shim", "kata-netmon"):
        (libexec / name).write_text("#!/bin/sh\necho 1.13.0\n")
        (libexec / name).chmod(0o755)
    text = STOCK.read_text()
    text = text.replace("/usr/share/kata-containers/", f"{share}/")
    text = text.replace("/usr/libexec/kata-containers/", f"{libexec}/")
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = base / "configuration.toml"
    path.write_text(text)
    return path


@pytest.fixture
def private_tmp(tmp_path: Path) -> Path:
    """TMPDIR for the katacfg under test: whatever it leaves behind shows up here."""
    d = tmp_path / "tmpdir"
    d.mkdir()
    return d


def katacfg(*args: str, tmpdir: Path, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TMPDIR=str(tmpdir))
    return subprocess.run([sys.executable, "-m", "katacfg", *args], capture_output=True,
                          text=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL)


def processes_mentioning(marker: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if marker.encode() in cmd:
            text = cmd.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{pid}: {text[:200]}")
    return found


def assert_nothing_left(tmpdir: Path) -> None:
    """No QEMU (or virtiofsd) whose command line names our TMPDIR, and an empty TMPDIR:
    the sockets, pid file, shared folder and initramfs all lived in one folder there."""
    deadline = time.monotonic() + 5
    while processes_mentioning(str(tmpdir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_mentioning(str(tmpdir)) == []
    assert sorted(p.name for p in tmpdir.iterdir()) == []


@pytest.fixture(scope="module")
def test_guest() -> qguest.TestGuest:
    """Built once (apt-get download of the Debian packages) and cached under ~/.cache."""
    return qguest.ensure_test_guest()


# ---------------------------------------------------------------- real boots


@pytest.mark.needs_qemu
def test_boot_stock_configuration_with_the_test_guest(tmp_path, private_tmp, test_guest):
    real_qemu()
    config = stock_install(tmp_path / "kata")
    proc = katacfg("--kata-config", str(config), "boot", "--test-guest", "--json",
                   tmpdir=private_tmp)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    assert out["booted"] is True
    names = [c["name"] for c in out["checks"]]
    assert names == ["kernel command line", "vCPUs", "memory",
                     "shared folder (virtio-9p, tag kataShared)", "agent channel"]
    assert all(c["ok"] for c in out["checks"]), out["checks"]
    assert out["seconds"] > 0
    by_option: dict[str, list[dict[str, str]]] = {}
    for change in out["changes"]:
        by_option.setdefault(change["option"], []).append(change)
    # the image on NVDIMM is swapped for the test initramfs, and the report says so
    removed = [c["before"] for c in by_option["-device"] + by_option["-object"] if not c["after"]]
    assert any(b.startswith("nvdimm,") for b in removed)
    assert any("kata-containers.img" in b for b in removed)
    assert by_option["-initrd"][0]["after"].endswith("initrd.cpio")
    assert by_option["-kernel"][0]["after"] == test_guest.kernel
    assert by_option["-daemonize"][0]["after"] == ""
    machine = by_option["-machine"][0]
    assert "kernel_irqchip=on" in machine["after"] and "nvdimm=on" in machine["after"]
    if out["accel"] == "tcg":
        assert "accel=tcg" in machine["after"]
    for change in by_option["-chardev"]:
        assert "server=on,wait=off" in change["after"]
        assert str(private_tmp) in change["after"]
    assert "test_guest" in out and "linux-image" in out["test_guest"]
    assert_nothing_left(private_tmp)


@pytest.mark.needs_qemu
def test_boot_initrd_with_annotations_checks_9p_from_the_guest(tmp_path, private_tmp,
                                                              test_guest):
    real_qemu()
    share = tmp_path / "kata" / "share"
    config = stock_install(
        tmp_path / "kata",
        **{f'image = "{share}/kata-containers.img"':
           f'initrd = "{share}/kata-containers-initrd.img"'})
    proc = katacfg("--kata-config", str(config), "boot", "--test-guest",
                   "-a", "io.katacontainers.config.hypervisor.default_memory=1024",
                   "-a", "io.katacontainers.config.hypervisor.msize_9p=65536",
                   "-a", "io.katacontainers.config.hypervisor.kernel_params=katacfg.probe=9p",
                   tmpdir=private_tmp)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = proc.stdout
    assert "OK: booted, 5/5 checks passed" in text
    assert "for default_memory = 1024 MiB" in text
    assert "shared folder (virtio-9p, tag kataShared)" in text
    assert "(9p, msize=65536); it read the file katacfg-probe-" in text
    assert "-initrd" in text and "stands in for the configuration's" in text
    assert "kata-containers-initrd.img" in text
    assert_nothing_left(private_tmp)


# ---------------------------------------------------------------- failure paths


def test_refusal_is_the_same_as_resolve(tmp_path, private_tmp):
    config = stock_install(tmp_path / "kata", **{
        'path = "/usr/bin/qemu-system-x86_64"': f'path = "{tmp_path}/no/qemu"',
        'valid_hypervisor_paths = ["/usr/bin/qemu-system-x86_64"]':
            f'valid_hypervisor_paths = ["{tmp_path}/no/qemu"]'})
    resolved = katacfg("--kata-config", str(config), "resolve", tmpdir=private_tmp)
    booted = katacfg("--kata-config", str(config), "boot", "--test-guest", tmpdir=private_tmp)
    assert resolved.returncode == booted.returncode == 1
    assert booted.stderr == resolved.stderr
    assert "no/qemu" in booted.stderr and len(booted.stderr.splitlines()) == 1
    as_json = katacfg("--kata-config", str(config), "boot", "--test-guest", "--json",
                      tmpdir=private_tmp)
    out = json.loads(as_json.stdout)
    assert out["booted"] is False and "no/qemu" in out["error"]
    assert_nothing_left(private_tmp)


@pytest.mark.needs_qemu
def test_qemu_that_cannot_run_is_one_line(tmp_path, private_tmp, test_guest):
    fake = tmp_path / "qemu-not-executable"
    fake.write_text("not a program\n")
    fake.chmod(0o644)
    config = stock_install(tmp_path / "kata", **{
        '"/usr/bin/qemu-system-x86_64"': f'"{fake}"'})
    proc = katacfg("--kata-config", str(config), "boot", "--test-guest", tmpdir=private_tmp)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines == [f"katacfg: cannot start QEMU: {fake}: permission denied "
                     "(not an executable file)"], proc.stderr
    assert_nothing_left(private_tmp)


@pytest.mark.needs_qemu
def test_qemu_rejecting_an_option_is_quoted(tmp_path, private_tmp, test_guest):
    real_qemu()
    config = stock_install(tmp_path / "kata", **{
        'machine_accelerators = ""': 'machine_accelerators = "katacfg_no_such_option=on"'})
    proc = katacfg("--kata-config", str(config), "boot", "--test-guest", "--json",
                   tmpdir=private_tmp)
    assert proc.returncode == 1
    out = json.loads(proc.stdout)
    assert out["booted"] is False
    assert out["error"].startswith("QEMU exited with status 1 before the guest reported: ")
    assert "katacfg_no_such_option" in out["error"]  # QEMU's own stderr, quoted
    assert "hypervisor.qemu.machine_accelerators" in out["error"]
    assert proc.stderr.count("\n") == 1 and out["error"] in proc.stderr
    assert_nothing_left(private_tmp)


@pytest.mark.needs_qemu
def test_guest_that_never_reports_is_killed_at_the_timeout(tmp_path, private_tmp, test_guest):
    real_qemu()
    config = stock_install(tmp_path / "kata")
    start = time.monotonic()
    proc = katacfg("--kata-config", str(config), "boot", "--test-guest", "--timeout", "1.5",
                   tmpdir=private_tmp)
    assert time.monotonic() - start < 60
    assert proc.returncode == 1
    assert "the guest never reported within 1.5 s" in proc.stderr
    assert "FAILED: not booted" in proc.stdout
    assert_nothing_left(private_tmp)


@pytest.mark.needs_qemu
def test_ctrl_c_cleans_up(tmp_path, private_tmp, test_guest):
    real_qemu()
    config = stock_install(tmp_path / "kata")
    env = dict(os.environ, TMPDIR=str(private_tmp))
    proc = subprocess.Popen([sys.executable, "-m", "katacfg", "--kata-config", str(config),
                             "boot", "--test-guest"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env,
                            stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not any("qemu-system" in p for p in processes_mentioning(str(private_tmp))):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "QEMU never started"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert_nothing_left(private_tmp)


@pytest.mark.needs_qemu
def test_boot_of_the_configurations_own_guest_waits_for_its_agent(tmp_path, private_tmp,
                                                                  test_guest):
    """Without --test-guest the configuration's kernel and initrd boot as they are; the
    guest is ready when its agent opens agent.channel.0 (QMP's VSERPORT_CHANGE; the test
    guest's /init opens it as Kata's agent does), and QEMU's view of vCPUs and memory is
    checked. The test guest's files serve as "the configuration's own" here."""
    real_qemu()
    share = tmp_path / "kata" / "share"
    config = stock_install(tmp_path / "kata", **{
        f'kernel = "{share}/vmlinuz.container"': f'kernel = "{test_guest.kernel}"',
        f'image = "{share}/kata-containers.img"': f'initrd = "{test_guest.initrd}"'})
    proc = katacfg("--kata-config", str(config), "boot", "--json", tmpdir=private_tmp)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    assert out["booted"] is True and out["seconds"] > 0
    assert [(c["name"], c["ok"]) for c in out["checks"]] == [
        ("vCPUs", True), ("memory", True), ("agent channel", True)]
    assert "only with --test-guest" in out["notes"][0]
    assert "test_guest" not in out
    assert not any(c["option"] in ("-kernel", "-initrd") for c in out["changes"])
    assert_nothing_left(private_tmp)


def test_bad_timeout_is_a_usage_error(tmp_path, private_tmp):
    proc = katacfg("boot", "--test-guest", "--timeout", "soon", tmpdir=private_tmp)
    assert proc.returncode == 2
    assert "not a number of seconds" in proc.stderr


# ---------------------------------------------------------------- the command line rewrite


def kata_like_command(sid: str, image: str) -> SimpleNamespace:
    vm = f"/run/vc/vm/{sid}"
    argv = ("/usr/bin/qemu-system-x86_64", "-name", f"sandbox-{sid}",
            "-machine", "pc,accel=kvm,kernel_irqchip,nvdimm", "-cpu", "host,pmu=off",
            "-qmp", f"unix:{vm}/qmp.sock,server,nowait", "-m", "2048M,slots=10,maxmem=9000M",
            "-device", "virtconsole,chardev=charconsole0,id=console0",
            "-chardev", f"socket,id=charconsole0,path={vm}/console.sock,server,nowait",
            "-device", "nvdimm,id=nv0,memdev=mem0",
            "-object", f"memory-backend-file,id=mem0,mem-path={image},size=2097152",
            "-device", "virtserialport,chardev=charch0,id=channel0,name=agent.channel.0",
            "-chardev", f"socket,id=charch0,path={vm}/kata.sock,server,nowait",
            "-device", "virtio-9p-pci,disable-modern=true,fsdev=extra-9p-kataShared,"
                       "mount_tag=kataShared,romfile=",
            "-fsdev", f"local,id=extra-9p-kataShared,path=/run/kata-containers/shared/"
                      f"sandboxes/{sid}/shared,security_model=none",
            "-daemonize", "-kernel", "/k", "-append", "console=hvc0 quiet",
            "-pidfile", f"{vm}/pid", "-smp", "1,cores=1,threads=1,sockets=2,maxcpus=2")
    return SimpleNamespace(argv=argv, virtiofsd_argv=None, kernel_cmdline="console=hvc0 quiet",
                           origins=())


def fake_cfg(image: str = "/img", **hv: object) -> SimpleNamespace:
    values = dict(image=image, default_vcpus=1, default_memory=2048, msize_9p=8192)
    values.update(hv)
    return SimpleNamespace(hypervisor=SimpleNamespace(**values), path="/cfg.toml")


def fake_guest() -> qguest.TestGuest:
    return qguest.TestGuest("/g/vmlinuz", "/g/initrd.cpio", ("k=1",), "6.1", (), True)


def test_plan_lists_every_change_and_keeps_the_rest():
    cmd = kata_like_command("sb", "/img")
    plan = qboot.plan_boot(cmd, fake_cfg(), accel=qboot.Accel("tcg", "no KVM here"),
                           workdir="/w", guest=fake_guest(), sandbox_id="sb", token="t" * 32)
    argv = plan.argv
    assert "-daemonize" not in argv
    assert argv[argv.index("-machine") + 1] == "pc,accel=tcg,kernel_irqchip=on,nvdimm=on"
    assert argv[argv.index("-cpu") + 1] == "max,pmu=off"
    assert argv[argv.index("-qmp") + 1] == "unix:/w/vm/qmp.sock,server=on,wait=off"
    assert argv[argv.index("-kernel") + 1] == "/g/vmlinuz"
    assert argv[argv.index("-initrd") + 1] == "/w/initrd.cpio"
    assert argv[argv.index("-append") + 1] == "console=hvc0 quiet"  # never changed
    assert not any(a.startswith("nvdimm,") or "mem-path=/img" in a for a in argv)
    assert not any("/run/" in a for a in argv)
    # everything else is kept, in order
    before, after = qboot.parse_options(cmd.argv), qboot.parse_options(argv)
    assert [p for p in after if p in before] == [p for p in before if p in after]
    assert len([p for p in before if p in after]) == len(before) - 11
    assert len(plan.changes) == 12  # the 11 and the added -initrd
    assert plan.console_socket == "/w/vm/console.sock"
    assert plan.agent_channel == ("serial", "agent.channel.0")
    assert [(s.kind, s.tag, s.host_dir) for s in plan.shared] == [
        ("virtio-9p", "kataShared", "/w/shared/shared")]
    # one change per changed argument, each with its reason
    changed = {(c.option, c.before) for c in plan.changes}
    assert ("-machine", "pc,accel=kvm,kernel_irqchip,nvdimm") in changed
    assert ("-daemonize", "-daemonize") in changed
    assert ("-device", "nvdimm,id=nv0,memdev=mem0") in changed
    assert ("-initrd", "") in changed
    assert all(c.reason for c in plan.changes)
    machine = next(c for c in plan.changes if c.option == "-machine")
    assert "TCG: no KVM here" in machine.reason
    assert machine.line() == (
        "-machine pc: accel=kvm -> accel=tcg, kernel_irqchip -> kernel_irqchip=on, "
        "nvdimm -> nvdimm=on (TCG: no KVM here; QEMU 7 refuses or deprecates bare booleans)")


def test_plan_with_kvm_keeps_the_accelerator_and_cpu():
    plan = qboot.plan_boot(kata_like_command("sb", "/img"), fake_cfg(),
                           accel=qboot.Accel("kvm", "ok"), workdir="/w", guest=None,
                           sandbox_id="sb", token="t" * 32)
    assert plan.argv[plan.argv.index("-cpu") + 1] == "host,pmu=off"
    assert "accel=kvm" in plan.argv[plan.argv.index("-machine") + 1]
    assert plan.argv[plan.argv.index("-kernel") + 1] == "/k"  # no test guest: kept
    assert any(a.startswith("nvdimm,") for a in plan.argv)


def test_accelerator_choice():
    pvm = Host.real().with_facts(modules=["kvm", "kvm_pvm"], kvm_usable=True)
    assert qboot.choose_accel(pvm) == qboot.Accel("tcg", qboot.PVM_REASON)
    assert "kvm_pvm" in qboot.PVM_REASON
    good = Host.real().with_facts(modules=["kvm", "kvm_intel"], kvm_usable=True)
    assert qboot.choose_accel(good).name == "kvm"
    none = Host.real().with_facts(modules=[], kvm_usable=False, kvm_error="no such device")
    accel = qboot.choose_accel(none)
    assert accel.name == "tcg" and "no such device" in accel.reason


def test_this_machine_pvm_is_detected():
    host = Host.real()
    if "kvm_pvm" in host.kvm_modules:
        assert qboot.choose_accel(host).reason == qboot.PVM_REASON


def test_split_keyval_keeps_escaped_commas():
    assert qboot.split_keyval("a,b=1,,2,c") == ["a", "b=1,,2", "c"]
    assert qboot.split_keyval("") == [""]


# ---------------------------------------------------------------- the guest's report


def report_of(lines: list[str]) -> qboot.GuestReport:
    report = qboot.GuestReport()
    for line in lines:
        report.feed(line)
    return report


GOOD_REPORT = [
    "begin", "cmdline console=hvc0 quiet", "cpus 1 online=0 possible=0-1",
    "memtotal 2012128", "memmap 0x0 0x9fbff System RAM", "memmap 0x9fc00 0x9ffff Reserved",
    "memmap 0x100000 0x7ffdefff System RAM",
    "virtio virtio3 0x0009 driver=9pnet_virtio tag=kataShared",
    "port vport0p1 agent.channel.0", "mount 9p kataShared ok",
    "read 9p kataShared katacfg-probe-tttttttt " + "t" * 32, "end 2.7",
]


def _plan(**kw: object) -> qboot.BootPlan:
    return qboot.plan_boot(kata_like_command("sb", "/img"), fake_cfg(**kw),
                           accel=qboot.Accel("tcg", "x"), workdir="/w", guest=fake_guest(),
                           sandbox_id="sb", token="t" * 32)


def test_evaluate_a_good_report():
    checks = qboot.evaluate(report_of(GOOD_REPORT), _plan(), fake_cfg(), SimpleNamespace(
        origins=(), virtiofsd_argv=None))
    assert [(c.name, c.ok) for c in checks] == [
        ("kernel command line", True), ("vCPUs", True), ("memory", True),
        ("shared folder (virtio-9p, tag kataShared)", True), ("agent channel", True)]


def test_failed_checks_name_the_key():
    bad = [line.replace("console=hvc0 quiet", "console=hvc0 loud")
           .replace("cpus 1", "cpus 2").replace("0x7ffdefff", "0x3ffdefff")
           .replace("agent.channel.0", "other").replace("t" * 32, "stale")
           for line in GOOD_REPORT]
    source = SimpleNamespace(kind="key", name="hypervisor.qemu.default_memory", value="2048",
                             file="/cfg.toml", line=42)
    origin = SimpleNamespace(start=5, stop=7, sources=(source,))
    checks = qboot.evaluate(report_of(bad), _plan(), fake_cfg(),
                            SimpleNamespace(origins=(origin,), virtiofsd_argv=None))
    by_name = {c.name: c for c in checks}
    assert not any(c.ok for c in checks)
    assert by_name["kernel command line"].key == "hypervisor.qemu.kernel_params"
    assert "'quiet'" in by_name["kernel command line"].detail
    assert "'loud'" in by_name["kernel command line"].detail
    assert by_name["vCPUs"].key == "hypervisor.qemu.default_vcpus"
    assert by_name["memory"].key == "hypervisor.qemu.default_memory (/cfg.toml:42)"
    assert by_name["agent channel"].key == "hypervisor.qemu.use_vsock"
    assert by_name["shared folder (virtio-9p, tag kataShared)"].key == "hypervisor.qemu.shared_fs"


def test_a_silent_guest_fails_every_check():
    checks = qboot.evaluate(report_of(["begin"]), _plan(), fake_cfg(),
                            SimpleNamespace(origins=(), virtiofsd_argv=None))
    assert checks and not any(c.ok for c in checks)
    assert checks[-1].name == "guest report"


# ---------------------------------------------------------------- the test guest


def read_newc(data: bytes) -> dict[str, tuple[int, bytes]]:
    """A newc cpio reader (for the test): name -> (mode, data); stops at the trailer."""
    out, pos = {}, 0
    while True:
        assert data[pos:pos + 6] == b"070701", pos
        fields = [int(data[pos + 6 + 8 * i:pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name_at = pos + 110
        name = data[name_at:name_at + namesize - 1].decode()
        body_at = name_at + namesize + (-(110 + namesize) % 4)
        if name == "TRAILER!!!":
            return out
        out[name] = (mode, data[body_at:body_at + size])
        pos = body_at + size + (-size % 4)


def test_initramfs_is_a_newc_archive_with_init_busybox_and_modules():
    buf = io.BytesIO()
    qguest.write_initramfs(buf, b"BUSYBOX", [("virtio", b"KO1"), ("9p", b"KO22")],
                           qguest.init_script(["virtio", "9p"]))
    data = buf.getvalue()
    assert len(data) % 512 == 0
    entries = read_newc(data)
    assert entries["bin/busybox"] == (0o100755, b"BUSYBOX")
    assert entries["lib/modules/9p.ko"] == (0o100644, b"KO22")
    assert entries["dev/console"][0] == 0o020600
    mode, init = entries["init"]
    assert mode == 0o100755 and init.startswith(b"#!/bin/busybox sh\n")
    assert b"for m in virtio 9p; do" in init
    assert b"KATACFG:end" in init and b"poweroff -f" in init


def test_params_archive_is_appended_after_padding():
    buf = io.BytesIO()
    qguest.write_params(buf, {"MSIZE": "65536", "BAD": "$(reboot)"})
    entries = read_newc(buf.getvalue())
    assert entries["etc/katacfg.env"][1] == b"MSIZE=65536\n"  # unsafe values are dropped


def test_module_order_puts_dependencies_first():
    def module(depends: str) -> bytes:
        return _elf_with_modinfo(f"license=GPL\0depends={depends}\0".encode())

    mods = {"a": module("b,c"), "b": module("c"), "c": module(""), "d": module("")}
    assert qguest.module_order(mods, ["a", "d"]) == ["c", "b", "a", "d"]
    with pytest.raises(qguest.GuestError, match="e .needed by a. is not in the kernel package"):
        qguest.module_order({"a": module("e")}, ["a"])
    with pytest.raises(qguest.GuestError, match="loop"):
        qguest.module_order({"a": module("b"), "b": module("a")}, ["a"])


def _elf_with_modinfo(modinfo: bytes) -> bytes:
    """A minimal ELF64 with a .modinfo section (what modinfo_depends reads)."""
    import struct

    shstr = b"\0.modinfo\0.shstrtab\0"
    body_off = 64
    modinfo_off = body_off
    shstr_off = modinfo_off + len(modinfo)
    shoff = shstr_off + len(shstr)
    shoff += -shoff % 8
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<Q", header, 0x28, shoff)
    struct.pack_into("<HHH", header, 0x3A, 64, 3, 2)
    sections = b"\0" * 64
    sections += struct.pack("<IIQQQQIIQQ", 1, 1, 0, 0, modinfo_off, len(modinfo), 0, 0, 1, 0)
    sections += struct.pack("<IIQQQQIIQQ", 10, 3, 0, 0, shstr_off, len(shstr), 0, 0, 1, 0)
    data = bytes(header) + modinfo + shstr
    data += b"\0" * (shoff - len(data))
    return data + sections


def test_the_test_guest_is_cached(test_guest):
    assert os.path.isfile(test_guest.kernel) and os.path.isfile(test_guest.initrd)
    assert str(Path(test_guest.kernel).parent).startswith(qguest.cache_root())
    assert not test_guest.kernel.startswith("/tmp/")
    again = qguest.ensure_test_guest()
    assert again.cached and again.kernel == test_guest.kernel
    assert "9p" in again.modules and "virtio_console" in again.modules
    assert again.modules.index("9pnet") < again.modules.index("9p")


@pytest.mark.needs_qemu
def test_virtiofsd_that_fails_is_quoted(tmp_path, private_tmp, test_guest):
    real_qemu()
    daemon = tmp_path / "virtiofsd"
    daemon.write_text("#!/bin/sh\necho 'virtiofsd: no such option --syslog' >&2\nexit 2\n")
    daemon.chmod(0o755)
    config = stock_install(tmp_path / "kata", **{
        'shared_fs = "virtio-9p"': 'shared_fs = "virtio-fs"',
        '"/usr/bin/virtiofsd"': f'"{daemon}"'})
    proc = katacfg("--kata-config", str(config), "boot", "--test-guest", "--timeout", "60",
                   tmpdir=private_tmp)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "katacfg: virtiofsd exited with status 2 before the guest reported: "
        "virtiofsd: no such option --syslog"]
    assert "virtiofsd --fd=3 -o source=" in proc.stdout.replace(str(daemon), "virtiofsd")
    assert_nothing_left(private_tmp)


def test_without_apt_an_earlier_guest_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("KATACFG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no apt-cache, no apt-get
    with pytest.raises(qguest.GuestError, match="apt-cache not found"):
        qguest.ensure_test_guest()
    built = tmp_path / "cache" / "guest" / "linux-image-x_1+busybox-static_1+v2-0"
    built.mkdir(parents=True)
    (built / "vmlinuz").write_bytes(b"k")
    (built / "initrd.cpio").write_bytes(b"i")
    (built / "guest.txt").write_text("packages=linux-image-x=1 busybox-static=1\n"
                                     "release=6.1\nmodules=virtio 9p\n")
    guest = qguest.ensure_test_guest()
    assert guest.cached and guest.kernel == str(built / "vmlinuz")
    assert guest.modules == ("virtio", "9p")


@pytest.mark.parametrize("name", ["with,comma", "x" * 90])
def test_a_tmpdir_qemu_cannot_use_is_refused(tmp_path, name, test_guest):
    tmpdir = tmp_path / name
    tmpdir.mkdir()
    config = stock_install(tmp_path / "kata")
    proc = katacfg("--kata-config", str(config), "boot", "--test-guest", tmpdir=tmpdir)
    assert proc.returncode == 1
    assert len(proc.stderr.splitlines()) == 1 and "set TMPDIR to" in proc.stderr
    assert_nothing_left(tmpdir)
