"""katacfg qemu-argv: QEMU's command line as Kata 1.x builds it (QEMU-CONTRACT.md).

The cases produced by the real Go runtime are vendored in tests/data/conformance/qemu-cases;
when the shared folder is present, its own runner (run-qemu) runs as well.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from katacfg.cli.app import main
from katacfg.config.errors import KataError
from katacfg.config.pipeline import resolve
from katacfg.host.facts import Host
from katacfg.qemu.argv import QemuCommand, build_qemu_command
from tests.helpers import config_text, make_install, write_config
from tests.test_conformance import FIXTURE_ROOT, make_fixtures

HERE = Path(__file__).resolve().parent
CASES = HERE / "data" / "conformance" / "qemu-cases"
RANDOM_HEX = re.compile(r"\b(iothread|image|fs|char)-([0-9a-f]{16})\b")
VSOCK_CID = re.compile(r"\b(vsock-|guest-cid=)(\d+)\b")
HV = "io.katacontainers.config.hypervisor."


def normalise(argv: list[str]) -> list[str]:
    """The runner's placeholders for what Go draws at random (section 5)."""
    hexes: dict[str, int] = {}
    cids: dict[str, int] = {}

    def hex_sub(m: re.Match) -> str:
        return f"{m.group(1)}-<random-{hexes.setdefault(m.group(2), len(hexes) + 1)}>"

    def cid_sub(m: re.Match) -> str:
        assert 3 <= int(m.group(2)) <= 0xFFFFFFFF
        return f"{m.group(1)}<cid-{cids.setdefault(m.group(2), len(cids) + 1)}>"

    return [VSOCK_CID.sub(cid_sub, RANDOM_HEX.sub(hex_sub, a)) for a in argv]


def case_argv(case_dir: Path, case: dict) -> list[str]:
    argv = ["--kata-config", str(FIXTURE_ROOT / "configuration.toml"), "qemu-argv", "--json",
            "--annotations-file", str(case_dir / "annotations.json"), "--mode", case["mode"],
            "--host-cpus", str(case["host_cpus"]),
            "--host-memory-mib", str(case["host_memory_mib"]),
            "--host-vhost-vsock" if case["host_vhost_vsock"] else "--no-host-vhost-vsock",
            "--host-nested" if case["host_nested"] else "--no-host-nested",
            "--sandbox-id", case["sandbox_id"], "--uuid", case["uuid"]]
    for i in case["host_interfaces"]:
        argv += ["--host-interface", f"{i['name']}={i['mac']}"]
    return argv


@pytest.mark.parametrize("case_dir", sorted(p for p in CASES.iterdir() if p.is_dir()),
                         ids=lambda p: p.name)
def test_qemu_case(case_dir: Path, capsys) -> None:
    case = json.loads((case_dir / "case.json").read_text())
    make_fixtures(case, case_dir / "config.toml")
    expected = json.loads((case_dir / "expected.json").read_text())
    code = main(case_argv(case_dir, case))
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    actual = json.loads(out.out)
    if "error" in expected:
        assert code == 1, actual
        assert (actual["error"], actual["stage"]) == (expected["error"], expected["stage"])
        assert len(out.err.strip().splitlines()) == 1, out.err
        return
    assert code == 0, actual
    assert normalise(actual["argv"]) == normalise(expected["argv"])
    if "virtiofsd_argv" in expected:
        assert actual["virtiofsd_argv"] == expected["virtiofsd_argv"]
    else:
        assert "virtiofsd_argv" not in actual


def shared_qemu_runner() -> Path | None:
    for base in (os.environ.get("KATACFG_SHARED_DIR"), HERE.parent.parent / "shared",
                 "/work/shared"):
        if base and (Path(base) / "conformance" / "run-qemu").exists():
            return Path(base) / "conformance" / "run-qemu"
    return None


def test_shared_qemu_runner() -> None:
    runner = shared_qemu_runner()
    if runner is None:
        pytest.skip("shared/conformance is not next to this checkout; the vendored copy ran")
    p = subprocess.run([sys.executable, str(runner), "--katacfg", f"{sys.executable} -m katacfg"],
                       capture_output=True, text=True, timeout=900)
    last = p.stdout.strip().splitlines()[-1]
    assert p.returncode == 0 and last.endswith(", 0 refused with other wording, 0 failed"), \
        p.stdout[-3000:]


# -- the library -------------------------------------------------------------------------------

@pytest.fixture
def install(tmp_path: Path) -> Path:
    return make_install(tmp_path)


def stock(install: Path, **changes) -> str:  # type: ignore[no-untyped-def]
    return write_config(install, config_text(install, **changes))


def node(cpus: int = 4, mib: int = 8192, nested: bool = False, vsock: bool = True) -> Host:
    return Host.real().with_facts(cpus=cpus, memory_mib=mib, nested=nested, vhost_vsock=vsock)


def build(path: str, annotations: dict | None = None, host: Host | None = None,
          **kw) -> QemuCommand:  # type: ignore[no-untyped-def]
    host = host or node()
    cfg = resolve(path, annotations or {}, host=host)
    return build_qemu_command(cfg, host, sandbox_id=kw.pop("sandbox_id", "pod1"),
                              uuid="0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", **kw)


def test_origins_cover_the_argv_in_order(install: Path) -> None:
    cmd = build(stock(install, hypervisor_qemu={"shared_fs": "virtio-fs"}),
                {HV + "default_memory": "3072"}, interfaces=[("eth0", "0A:58:0A:F4:01:07")])
    assert cmd.argv[0] == str(install / "bin/qemu-system-x86_64")
    position = 0
    for origin in cmd.origins:
        assert origin.start == position and origin.stop > origin.start and origin.sources
        position = origin.stop
    assert position == len(cmd.argv)
    assert cmd.kernel_cmdline == cmd.argv[cmd.argv.index("-append") + 1]
    stages = [o.stage for o in cmd.origins]
    assert {"create", "agent", "network", "launch"} <= set(stages)
    memory = next(o for o in cmd.origins if cmd.argv[o.start] == "-m")
    assert memory.sources[0].kind == "annotation"
    assert memory.sources[0].name == HV + "default_memory"
    machine = next(o for o in cmd.origins if cmd.argv[o.start] == "-machine")
    line = next(n for n, t in enumerate(config_text(install).splitlines(), 1)
                if t.startswith("machine_type"))
    assert (machine.sources[0].name, machine.sources[0].line) == \
        ("hypervisor.qemu.machine_type", line)
    # Go's net.HardwareAddr prints lower case; virtiofsd gets its own argv
    assert any("mac=0a:58:0a:f4:01:07" in a for a in cmd.argv)
    assert cmd.virtiofsd_argv is not None and cmd.virtiofsd_argv[1] == "--fd=3"


def test_random_ids_drawn_per_use(install: Path) -> None:
    path = stock(install, hypervisor_qemu={"enable_iothreads": True,
                                           "disable_image_nvdimm": True})
    one, two = build(path), build(path)
    ids = [re.findall(r"iothread-[0-9a-f]{16}", " ".join(c.argv)) for c in (one, two)]
    assert len(set(ids[0])) == 1 and len(ids[0]) == 2  # one draw, used twice
    assert ids[0][0] != ids[1][0]
    images = re.findall(r"image-[0-9a-f]{16}", " ".join(one.argv))
    assert len(set(images)) == 1 and images[0][6:] != ids[0][0][9:]  # a second draw


def test_origins_replay_the_same_random_draws(install: Path) -> None:
    cmd = build(stock(install, hypervisor_qemu={"enable_iothreads": True, "use_vsock": True,
                                                "shared_fs": "virtio-fs",
                                                "disable_image_nvdimm": True}))
    explained = cmd.origins.explanation.get()  # type: ignore[attr-defined]
    assert explained[0] == cmd.argv and explained[1] == cmd.virtiofsd_argv
    assert len(cmd.origins) == len(explained[3]) and cmd.origins[-1].stop == len(cmd.argv)
    assert cmd == cmd.replace()


def test_debug_gives_log_file_and_debug_daemon(install: Path) -> None:
    cmd = build(stock(install, hypervisor_qemu={"enable_debug": True,
                                                "shared_fs": "virtio-fs"}))
    assert cmd.argv[cmd.argv.index("-D") + 1] == "/run/vc/vm/pod1/qemu.log"
    assert cmd.argv[-2] == "-smp"  # -D comes before -smp, which is last
    assert " debug systemd.show_status=true systemd.log_level=debug " in cmd.kernel_cmdline
    assert cmd.virtiofsd_argv is not None and cmd.virtiofsd_argv[-1] == "-d"


def test_memory_offset_wraps_like_uint32(install: Path) -> None:
    cmd = build(stock(install, hypervisor_qemu={"memory_offset": 4294967295,
                                                "memory_slots": 300}))
    assert cmd.argv[cmd.argv.index("-m") + 1] == "2048M,slots=44,maxmem=9215M"


def test_disable_vhost_net_and_vsock_fd_order(install: Path) -> None:
    cmd = build(stock(install, hypervisor_qemu={"use_vsock": True, "disable_vhost_net": True,
                                                "default_vcpus": 2}),
                interfaces=[("eth1", "0a:58:0a:f4:02:09"), ("eth0", "0a:58:0a:f4:01:07")])
    text = " ".join(cmd.argv)
    assert "vhostfd=3," in text
    assert "tap,id=network-0,fds=4:5 " in text and "tap,id=network-1,fds=6:7 " in text
    assert "netdev=network-0,mac=0a:58:0a:f4:01:07" in text


def test_disable_new_netns_attaches_nothing(install: Path) -> None:
    path = stock(install, runtime={"internetworking_model": "none", "disable_new_netns": True})
    cmd = build(path, interfaces=[("eth0", "0a:58:0a:f4:01:07")])
    assert "-netdev" not in cmd.argv


def test_empty_nvdimm_image_is_dropped_by_govmm(install: Path) -> None:
    # the loader refuses an empty configured image; an annotated one is only used here
    (install / "share/empty.img").write_bytes(b"")
    cmd = build(stock(install), {HV + "image": str(install / "share/empty.img")})
    assert "nvdimm,id=nv0,memdev=mem0" not in cmd.argv
    assert cmd.argv[cmd.argv.index("-machine") + 1].endswith(",nvdimm")
    assert cmd.warnings


def test_missing_annotated_image_is_refused_at_create(install: Path) -> None:
    with pytest.raises(KataError) as err:
        build(stock(install), {HV + "image": str(install / "share/gone.img")})
    assert err.value.text == f"open {install}/share/gone.img: no such file or directory"
    assert err.value.stage == "create"
    with pytest.raises(KataError) as err:
        build(stock(install, hypervisor_qemu={"disable_image_nvdimm": True}),
              {HV + "image": str(install / "share/gone.img")})
    assert err.value.text == f"stat {install}/share/gone.img: no such file or directory"


def test_qemu_binary_gone_after_loading(install: Path) -> None:
    host = node()
    cfg = resolve(stock(install), {}, host=host)
    (install / "bin/qemu-system-x86_64").unlink()
    with pytest.raises(KataError) as err:
        build_qemu_command(cfg, host, sandbox_id="pod1", uuid="u")
    assert err.value.text == f"QEMU path ({install}/bin/qemu-system-x86_64) does not exist"
    assert err.value.stage == "create" and err.value.key == "hypervisor.qemu.path"


def test_host_facts_from_a_recorded_host(tmp_path: Path, install: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/meminfo").write_text("MemFree: 1 kB\nMemTotal:  4194304 kB\n")
    (tmp_path / "proc/cpuinfo").write_text("processor\t: 0\nflags\t\t: fpu vme hypervisor\n\n")
    recorded = Host.from_root(str(tmp_path))
    assert (recorded.memory_mib, recorded.nested) == (4096, True)
    assert recorded.with_facts(nested=False).nested is False
    (tmp_path / "proc/meminfo").unlink()
    recorded = Host.from_root(str(tmp_path)).with_facts(cpus=2, vhost_vsock=False)
    assert recorded.fact_error("memory_mib") == "open /proc/meminfo: no such file or directory"
    with pytest.raises(KataError) as err:
        build(stock(install), host=recorded)
    assert err.value.text == "Unable to read memory info: open /proc/meminfo: no such file " \
                             "or directory"
    assert err.value.stage == "create"


def test_real_host_facts_are_read() -> None:
    host = Host.real()
    with open("/proc/meminfo") as f:
        total = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
    assert host.memory_mib == total // 1024
    with open("/proc/cpuinfo") as f:
        flags = next((line for line in f if line.startswith("flags")), "")
    assert host.nested == ("hypervisor" in flags.split())


# -- the command line --------------------------------------------------------------------------

def run_cli(capsys, *args: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    code = main(list(args))
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    return code, out.out, out.err


FACTS = ("--host-cpus", "4", "--host-memory-mib", "8192", "--no-host-nested",
         "--host-vhost-vsock", "--sandbox-id", "pod1", "--uuid", "u-1")


def test_human_form_annotates_each_option(install: Path, capsys) -> None:
    path = stock(install)
    code, out, err = run_cli(capsys, "--kata-config", path, "qemu-argv", *FACTS,
                             "-a", HV + "machine_type=q35")
    assert code == 0, err
    lines = out.splitlines()
    i = lines.index("  -machine q35,accel=kvm,kernel_irqchip,nvdimm")
    assert "annotation " + HV + "machine_type=q35" in "\n".join(lines[i:i + 4])
    line = next(n for n, t in enumerate(config_text(install).splitlines(), 1)
                if t.startswith("cpu_features"))
    i = lines.index("  -cpu host,pmu=off")
    assert "hypervisor.qemu.cpu_features" in lines[i + 2] and f"{path}:{line}" in lines[i + 2]
    assert any(t.startswith("  -append 'tsc=reliable") for t in lines)


def test_shell_form_is_one_line(install: Path, capsys) -> None:
    import shlex

    code, out, _ = run_cli(capsys, "--kata-config", stock(install), "qemu-argv", "--shell",
                           *FACTS)
    assert code == 0 and len(out.splitlines()) == 1
    assert shlex.split(out)[0] == str(install / "bin/qemu-system-x86_64")


def test_refusal_is_the_same_as_resolve(install: Path, capsys) -> None:
    path = stock(install)
    bad = (HV + "default_vcpus=9",)
    code_r, out_r, _ = run_cli(capsys, "--kata-config", path, "resolve", "--json", "-a", *bad,
                               "--host-cpus", "4")
    code_q, out_q, err_q = run_cli(capsys, "--kata-config", path, "qemu-argv", "--json", *FACTS,
                                   "-a", *bad)
    assert code_r == code_q == 1
    r, q = json.loads(out_r), json.loads(out_q)
    assert (q["error"], q["stage"]) == (r["error"], r["stage"])
    assert len(err_q.strip().splitlines()) == 1


def test_missing_qemu_binary_is_one_line(install: Path, capsys) -> None:
    path = stock(install)
    (install / "bin/qemu-system-x86_64").unlink()
    code_r, out_r, _ = run_cli(capsys, "--kata-config", path, "resolve", "--json")
    code, out, err = run_cli(capsys, "--kata-config", path, "qemu-argv", *FACTS)
    assert code == code_r == 1 and out == ""
    assert err.count("\n") == 1 and json.loads(out_r)["error"] in err
    assert "qemu-system-x86_64" in err


@pytest.mark.parametrize("bad", ["eth0", "eth0=zz:58:0a:f4:01:07", "=0a:58:0a:f4:01:07",
                                 "a/b=0a:58:0a:f4:01:07", "averyverylongname0=0a:58:0a:f4:01:07"])
def test_bad_interface_is_one_line(install: Path, capsys, bad: str) -> None:
    code, out, err = run_cli(capsys, "--kata-config", stock(install), "qemu-argv", *FACTS,
                             "--host-interface", bad)
    assert code == 1 and err.count("\n") == 1 and "--host-interface" in err


def test_sandbox_id_with_a_slash_is_refused(install: Path, capsys) -> None:
    code, out, err = run_cli(capsys, "--kata-config", stock(install), "qemu-argv", "--json",
                             "--host-cpus", "4", "--sandbox-id", "../../etc")
    assert code == 1 and "invalid sandbox id" in json.loads(out)["error"]


def test_defaults_read_this_machine(install: Path, capsys) -> None:
    code, out, err = run_cli(capsys, "--kata-config", stock(install), "qemu-argv", "--json")
    assert code == 0, err
    argv = json.loads(out)["argv"]
    maxmem = int(re.search(r"maxmem=(\d+)M", argv[argv.index("-m") + 1]).group(1))
    assert maxmem == Host.real().memory_mib + 1024
    assert re.fullmatch(r"sandbox-[0-9a-f]{64}", argv[argv.index("-name") + 1])


# -- a real network namespace ------------------------------------------------------------------

NETNS_SCRIPT = """
set -e
ip link add eth1 type veth peer name peer1
ip link add eth0 type veth peer name peer0
ip link set eth1 address 0a:58:0a:f4:02:09
ip link set eth0 address 0a:58:0a:f4:01:07
ip addr add 10.244.1.7/24 dev eth0
ip addr add 10.244.2.9/24 dev eth1
ip link set lo up
{extra}
exec "$@"
"""


def run_in_netns(extra: str, *argv: str) -> subprocess.CompletedProcess:
    """katacfg in a fresh network namespace holding two veth pairs (CNI's kind of links)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.fail("reading a network namespace needs root, unshare (util-linux) and ip "
                    "(iproute2): run ./dev test, which installs them")
    return subprocess.run(["unshare", "--net", "sh", "-c", NETNS_SCRIPT.format(extra=extra),
                           "sh", sys.executable, "-m", "katacfg", *argv],
                          capture_output=True, text=True, timeout=60)


def test_netns_veth_interfaces_are_read(install: Path) -> None:
    p = run_in_netns("", "--kata-config", stock(install), "qemu-argv", "--json", *FACTS,
                     "--netns", "/proc/self/ns/net")
    assert p.returncode == 0, p.stderr
    argv = json.loads(p.stdout)["argv"]
    netdevs = [argv[i + 1] for i, a in enumerate(argv) if a == "-netdev"]
    assert netdevs == ["tap,id=network-0,vhost=on,vhostfds=3,fds=4",
                       "tap,id=network-1,vhost=on,vhostfds=5,fds=6"]
    devices = " ".join(argv)
    assert "netdev=network-0,mac=0a:58:0a:f4:01:07" in devices  # eth0 first: name order
    assert "netdev=network-1,mac=0a:58:0a:f4:02:09" in devices  # peers have no address


def test_netns_other_links_are_refused(install: Path) -> None:
    p = run_in_netns("ip link add mv0 link peer0 type macvlan && ip addr add 10.9.0.1/24 dev mv0",
                     "--kata-config", stock(install), "qemu-argv", *FACTS,
                     "--netns", "/proc/self/ns/net")
    assert p.returncode == 1 and p.stderr.count("\n") == 1, p.stderr
    assert "interface mv0" in p.stderr and "macvlan" in p.stderr


def test_netns_missing_is_one_line(install: Path, capsys) -> None:
    code, out, err = run_cli(capsys, "--kata-config", stock(install), "qemu-argv", *FACTS,
                             "--netns", "katacfg-no-such-netns")
    assert code == 1 and err.count("\n") == 1
    assert "/var/run/netns/katacfg-no-such-netns" in err


# -- edges and properties ----------------------------------------------------------------------

def test_socket_paths_too_long_per_stage(install: Path) -> None:
    path = stock(install, hypervisor_qemu={"shared_fs": "virtio-fs"})
    # /run/vc/vm/<id>/console.sock fits 107 bytes with 83, vhost-fs.sock needs 82
    with pytest.raises(KataError) as err:
        build(path, sandbox_id="a" * 83)
    assert (err.value.stage, err.value.text) == (
        "agent", f"path too long (got 108, max 107): /run/vc/vm/{'a' * 83}/vhost-fs.sock")
    with pytest.raises(KataError) as err:
        build(path, sandbox_id="a" * 84)
    assert err.value.stage == "create" and err.value.text.endswith("/console.sock")
    assert build(path, sandbox_id="a" * 82).argv


HV_VALUES = {
    "default_vcpus": st.sampled_from(["1", "2", "4", "0", "-1"]),
    "default_maxvcpus": st.sampled_from(["0", "1", "2", "8", "300"]),
    "default_memory": st.sampled_from(["1024", "4096", "0"]),
    "memory_slots": st.sampled_from(["0", "1", "255", "256"]),
    "memory_offset": st.sampled_from(["0", "4294967295"]),
    "machine_type": st.sampled_from(["pc", "q35", "microvm", "virt", "pc-lite", "s390"]),
    "enable_iommu": st.sampled_from(["true", "false"]),
    "enable_iothreads": st.sampled_from(["true", "false"]),
    "use_vsock": st.sampled_from(["true", "false"]),
    "shared_fs": st.sampled_from(["virtio-9p", "virtio-fs"]),
    "block_device_driver": st.sampled_from(["virtio-scsi", "virtio-blk", "nvdimm"]),
    "enable_hugepages": st.sampled_from(["true", "false"]),
    "enable_mem_prealloc": st.sampled_from(["true", "false"]),
    "use_nvdimm": st.sampled_from(["true", "false"]),
    "pcie_root_port": st.sampled_from(["0", "2"]),
    "kernel_params": st.sampled_from(["", "quiet a=b", "=x"]),
    "cpu_features": st.sampled_from(["", "pmu=off,-avx"]),
    "machine_accelerators": st.sampled_from([",usb=off", "usb=off"]),
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(sorted(HV_VALUES)), st.none(), max_size=6).flatmap(
    lambda keys: st.fixed_dictionaries({HV + k: HV_VALUES[k] for k in keys})),
       st.lists(st.sampled_from(["eth0", "eth1", "net2"]), unique=True, max_size=3),
       st.booleans())
def test_any_pod_gets_a_command_line_or_one_refusal(install: Path, annotations: dict,
                                                    names: list, nested: bool) -> None:
    path = stock(install)
    host = node(nested=nested)
    interfaces = [(n, f"0a:58:00:00:00:{i:02x}") for i, n in enumerate(names)]
    try:
        cmd = build(path, annotations, host=host, interfaces=interfaces)
    except KataError as exc:
        assert exc.stage in ("annotations", "hypervisor", "create", "agent", "network", "launch")
        assert exc.text and "\n" not in exc.text
        return
    assert cmd.origins[-1].stop == len(cmd.argv)
    assert cmd.argv.count("-append") == 1 and cmd.argv[-2] == "-smp"
    assert sum(a == "-netdev" for a in cmd.argv) == len(names)
    fds = [int(f) for a in cmd.argv for f in re.findall(r"(?:vhost)?fds?=([\d:]+)", a)
           for f in f.split(":")]
    assert fds == list(range(3, 3 + len(fds)))  # extra files numbered from 3, in order


def test_why_the_agent_channel_is_a_serial_port(install: Path) -> None:
    no_agent_table = stock(install, hypervisor_qemu={"use_vsock": True}, agent_kata=None)
    cmd = build(no_agent_table)
    channel = next(o for o in cmd.origins if o.what.startswith("agent channel"))
    assert channel.what == "agent channel (serial port)"
    assert "[agent.kata]" in channel.sources[0].render()
    assert "agent.use_vsock=true" in cmd.kernel_cmdline
    cmd = build(stock(install), {HV + "use_vsock": "true"})
    channel = next(o for o in cmd.origins if o.what.startswith("agent channel"))
    assert channel.sources[0].kind == "annotation" and "not the agent's" in channel.sources[0].note


def test_other_architectures_and_huge_ids_are_refused(install: Path) -> None:
    with pytest.raises(KataError) as err:
        build(stock(install), host=node().with_facts(arch="arm64"))
    assert "amd64" in err.value.text and err.value.stage == "create"
    with pytest.raises(KataError) as err:
        build(stock(install), sandbox_id="a" * 5000)
    assert len(err.value.text) < 200
