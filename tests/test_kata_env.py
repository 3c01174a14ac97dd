"""kata-env: the report of kata-runtime 1.x, value for value and byte for byte.

The recorded Go report is seed 000 (kata-runtime 1.7.2, format 1.0.23): its configuration is
installed into a temporary root with the seed's kernel/image names and fake qemu, proxy,
shim and netmon binaries printing the seed's versions, and loaded on the recorded host
`seed-tlinux`. The 1.0.24 expectation for the same inputs is written from the spec; reports of
the real Go runtime for other configurations are compared in test_kata_env_go.py.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

import katacfg
from katacfg.host.facts import Host
from katacfg.host.probes import Probes
from katacfg.reports.goencode import NIL
from katacfg.reports.kata_env import FORMAT_172, build_report, component_paths, kernel_params_172
from tests.helpers import real_qemu

DATA = Path(__file__).parent / "data"
HOSTS = DATA / "hosts"
ENV = DATA / "kata-env"
SEED = Path("/work/shared/seeds/000_470ed3ff73047da2.txt")
KATACFG = [sys.executable, "-m", "katacfg"]
SEED_RUNTIME = dict(runtime_path="/usr/bin/kata-runtime")
SEED_172 = dict(runtime_version="1.7.2", runtime_commit="9b9282693cfbcf70d442916bea56771cc6fc3afe",
                **SEED_RUNTIME)

QEMU_211 = ("QEMU emulator version 2.11.0\n"
            "Copyright (c) 2003-2017 Fabrice Bellard and the QEMU Project developers")


def _script(path: Path, stdout: str, exit_code: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(f"echo '{line}'\n" for line in stdout.split("\n"))
    path.write_text(f"#!/bin/sh\n{lines}exit {exit_code}\n")
    path.chmod(0o755)


def install_seed(tmp_path: Path, qemu: str | None = None) -> tuple[str, str]:
    """The seed's files under a temporary root; returns (root, configuration path)."""
    root = os.path.realpath(tmp_path)
    r = Path(root)
    share = r / "usr/share/kata-containers"
    share.mkdir(parents=True)
    (share / "vmlinuz-4.19.28.42-6.1.container").write_bytes(b"\x7fELF kernel")
    (share / "vmlinuz.container").symlink_to("vmlinuz-4.19.28.42-6.1.container")
    img = "kata-containers-image_centos_1.7.2_agent_20190702.img"
    (share / img).write_bytes(b"image" * 100)
    (share / "kata-containers.img").symlink_to(img)
    _script(r / "usr/bin/qemu-lite-system-x86_64", QEMU_211)
    libexec = r / "usr/libexec/kata-containers"
    _script(libexec / "kata-proxy", "kata-proxy version 1.7.2-a56df7c")
    _script(libexec / "kata-shim", "kata-shim version 1.7.2-2ea178c")
    _script(libexec / "kata-netmon", "kata-netmon version 1.7.2")
    text = (ENV / "seed-000-configuration.toml").read_text()
    for prefix in ("/usr/bin/qemu-lite-system-x86_64", "/usr/share/kata-containers/",
                   "/usr/libexec/kata-containers/"):
        text = text.replace(f'"{prefix}', f'"{root}{prefix}')
    if qemu is not None:
        text = text.replace(f'"{root}/usr/bin/qemu-lite-system-x86_64"', f'"{qemu}"')
    cfg = r / "usr/share/defaults/kata-containers/configuration.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(text)
    return root, str(cfg)


def expected(name: str, root: str) -> str:
    return (ENV / name).read_text().replace("@ROOT@", root)


@pytest.fixture
def seed(tmp_path):
    root, cfg = install_seed(tmp_path)
    host = Host.from_root(str(HOSTS / "seed-tlinux"))
    config = katacfg.load(cfg, host=host)
    return root, cfg, host, config


def keys_in_order(value, prefix=()):
    """Every key path of a parsed document, in document order."""
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append(prefix + (k,))
            out.extend(keys_in_order(v, prefix + (k,)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(keys_in_order(v, prefix + (i,)))
    return out


# -- the recorded Go report ------------------------------------------------------------

def test_seed_expected_file_is_the_seed():
    """The hand-indented 1.0.23 file says exactly what the seed page shows."""
    page = SEED.read_text()
    start = page.index("[Meta]")
    block = page[start:page.index("\n3. configuration.toml")].strip()
    # a web page obfuscated the e-mail-like word (with a no-break space)
    block = block.replace("[email\u00a0protected]", "systemd.mask=systemd-coredump@.service")
    ours = "\n".join(line.strip() for line in
                     (ENV / "seed-000-kata-env-1.0.23.toml").read_text().replace("@ROOT@", "")
                     .splitlines() if line.strip())
    assert ours == block


def test_seed_report_1_0_23_byte_for_byte(seed):
    root, cfg, host, config = seed
    report = build_report(config, host, Probes(10), format_version="1.0.23", **SEED_172)
    assert report.toml() == expected("seed-000-kata-env-1.0.23.toml", root)
    assert report.problems == ()


def test_seed_report_1_0_24_byte_for_byte(seed):
    root, cfg, host, config = seed
    report = build_report(config, host, Probes(10), **SEED_RUNTIME)
    assert report.toml() == expected("seed-000-kata-env-1.0.24.toml", root)
    assert report.json() == expected("seed-000-kata-env-1.0.24.json", root)


def test_seed_report_parses_back_key_by_key_in_order(seed):
    root, cfg, host, config = seed
    report = build_report(config, host, Probes(10), **SEED_RUNTIME)
    want_toml = tomllib.loads(expected("seed-000-kata-env-1.0.24.toml", root))
    got_toml = tomllib.loads(report.toml())
    assert keys_in_order(got_toml) == keys_in_order(want_toml)
    assert got_toml == want_toml
    want_json = json.loads(expected("seed-000-kata-env-1.0.24.json", root))
    got_json = json.loads(report.json())
    assert keys_in_order(got_json) == keys_in_order(want_json)
    assert got_json == want_json
    # the TOML holds the same values as the JSON, with plain keys moved before sub-tables
    assert got_json["Runtime"]["Experimental"] is None and "Experimental" not in got_toml["Runtime"]
    assert list(got_toml["Runtime"])[-2:] == ["Version", "Config"]
    assert list(got_json["Runtime"])[:2] == ["Version", "Config"]


def test_seed_through_the_cli_with_a_recorded_host(tmp_path):
    root, cfg = install_seed(tmp_path)
    proc = subprocess.run(KATACFG + ["--kata-config", cfg, "kata-env", "--host-root",
                                     str(HOSTS / "seed-tlinux")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    got = tomllib.loads(proc.stdout)
    want = tomllib.loads(expected("seed-000-kata-env-1.0.24.toml", root))
    assert keys_in_order(got) == keys_in_order(want)
    got["Runtime"]["Path"] = want["Runtime"]["Path"]  # the running katacfg
    assert got == want
    assert proc.stderr == ""


def test_cli_format_1_0_23(tmp_path):
    root, cfg = install_seed(tmp_path)
    proc = subprocess.run(KATACFG + ["--kata-config", cfg, "kata-env", "--format-version",
                                     "1.0.23", "--host-root", str(HOSTS / "seed-tlinux")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    want = expected("seed-000-kata-env-1.0.23.toml", root)
    want = want.replace('Semver = "1.7.2"\n    Commit = "9b9282693cfbcf70d442916bea56771cc6fc3afe"',
                        'Semver = "1.7.2"\n    Commit = "<<unknown>>"')
    got = re.sub(r'(\n  Path = )"[^"]*"(\n  \[Runtime.Version\])', r'\1"/usr/bin/kata-runtime"\2',
                 proc.stdout)
    assert got == want


# -- values computed as Go does --------------------------------------------------------

def test_kernel_parameters_of_1_7_2(seed):
    root, cfg, host, config = seed
    params = kernel_params_172(config)
    assert params[0] == ("init", "/usr/lib/systemd/systemd")
    assert ("scsi_mod.scan", "none") not in params
    assert len(params) == 21


def test_kernel_parameters_1_7_2_keep_agent_and_user_params(tmp_path):
    root, cfg = install_seed(tmp_path)
    text = Path(cfg).read_text().replace('kernel_params = ""', 'kernel_params = "quiet a=b"')
    text = text.replace("#enable_debug = true\n# Enable agent tracing.",
                        "enable_debug = true\n# Enable agent tracing.")
    text = text.replace("# (default: disabled)\n#enable_tracing = true\n# If enabled, the runtime "
                        "will not", "# (default: disabled)\nenable_tracing = true\n# If enabled, "
                        "the runtime will not")
    Path(cfg).write_text(text)
    config = katacfg.load(cfg, host=Host.from_root(str(HOSTS / "seed-tlinux")))
    assert config.runtime.enable_tracing and config.agent.enable_debug
    assert kernel_params_172(config)[-3:] == (("agent.log", "debug"), ("quiet", ""), ("a", "b"))
    assert len(kernel_params_172(config)) == 4 + 3  # tracing drops the journald/udev masks


def test_experimental_features_are_an_array_of_tables(tmp_path):
    root, cfg = install_seed(tmp_path)
    Path(cfg).write_text(Path(cfg).read_text().replace("experimental=[]",
                                                       'experimental=["newstore"]'))
    host = Host.from_root(str(HOSTS / "seed-tlinux"))
    report = build_report(katacfg.load(cfg, host=host), host, Probes(10), **SEED_RUNTIME)
    toml_text = report.toml()
    assert ('    Path = "' + cfg + '"\n\n  [[Runtime.Experimental]]\n    Name = "newstore"\n'
            '    Description = "This is a new storage driver which reorganized disk data '
            'structures, it has to be an experimental feature since it breaks backward '
            'compatibility."\n    ExpRelease = "2.0"\n\n[Hypervisor]') in toml_text
    assert json.loads(report.json())["Runtime"]["Experimental"] == [
        {"Name": "newstore", "Description": tomllib.loads(toml_text)["Runtime"]["Experimental"][0]
         ["Description"], "ExpRelease": "2.0"}]


def test_vsock_means_no_proxy_and_no_proxy_probe(tmp_path):
    root, cfg = install_seed(tmp_path)
    Path(cfg).write_text(Path(cfg).read_text().replace("#use_vsock = true", "use_vsock = true"))
    host = Host.from_root(str(HOSTS / "seed-tlinux"))
    config = katacfg.load(cfg, host=host)
    assert "proxy" not in component_paths(config)
    report = build_report(config, host, Probes(10), **SEED_RUNTIME)
    assert report.data["Proxy"] == {"Type": "noProxy", "Version": {
        "Semver": "", "Major": 0, "Minor": 0, "Patch": 0, "Commit": ""}, "Path": "", "Debug": False}
    old = build_report(config, host, Probes(10), format_version=FORMAT_172, **SEED_RUNTIME)
    assert old.data["Proxy"] == {"Type": "noProxy", "Version": "", "Path": "", "Debug": False}


def test_no_shim_table_is_the_reference_error(tmp_path):
    root, cfg = install_seed(tmp_path)
    text = Path(cfg).read_text()
    Path(cfg).write_text(text.replace("[shim.kata]\npath", "[shimx.kata]\npath"))
    host = Host.from_root(str(HOSTS / "seed-tlinux"))
    config = katacfg.load(cfg, host=host)
    report = build_report(config, host, Probes(10), **SEED_RUNTIME)
    assert report.reference_error == "cannot determine shim config"
    assert not report.config_valid
    proc = subprocess.run(KATACFG + ["--kata-config", cfg, "kata-env", "--host-root",
                                     str(HOSTS / "seed-tlinux"), "--reference-errors"],
                          capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", "cannot determine shim config\n")


def test_unknown_cpu_type_is_the_reference_error(seed):
    root, cfg, host, config = seed
    hygon = Host.from_root(str(HOSTS / "hygon"))
    report = build_report(config, hygon, Probes(10), **SEED_RUNTIME)
    assert report.reference_error == "Unknow CPU Type"
    assert report.data["Host"]["VMContainerCapable"] is False
    assert report.config_valid  # the host, not the file


def test_unreadable_proc_files_complete_the_report_and_say_so(seed, tmp_path):
    root, cfg, host, config = seed
    broken = tmp_path / "broken"
    (broken / "proc/version").mkdir(parents=True)
    (broken / "etc/os-release").mkdir(parents=True)
    (broken / "proc/cpuinfo").mkdir(parents=True)
    report = build_report(config, Host.from_root(str(broken)).with_facts(arch="amd64"),
                          Probes(10), **SEED_RUNTIME)
    h = report.data["Host"]
    assert h["Kernel"] == h["Distro"]["Name"] == h["CPU"]["Vendor"] == "<<unknown>>"
    texts = [p.text for p in report.problems]
    assert "Unknow CPU Type" in texts
    assert "read /proc/version: is a directory" in texts
    assert "read /etc/os-release: is a directory" in texts
    assert "read /proc/cpuinfo: is a directory" in texts
    tomllib.loads(report.toml())


def test_arm64_host_architecture_and_cpu(seed):
    root, cfg, host, config = seed
    report = build_report(config, Host.from_root(str(HOSTS / "arm64")), Probes(10),
                          **SEED_RUNTIME)
    h = report.data["Host"]
    assert (h["Architecture"], h["CPU"], h["VMContainerCapable"]) == \
        ("arm64", {"Vendor": "ARM Limited", "Model": "v8"}, True)


def test_no_os_release_host(seed):
    root, cfg, host, config = seed
    report = build_report(config, Host.from_root(str(HOSTS / "no-os-release")), Probes(10))
    assert report.data["Host"]["Distro"] == {"Name": "<<unknown>>", "Version": "<<unknown>>"}
    assert report.problems == ()


# -- bad components --------------------------------------------------------------------

def test_hanging_and_garbage_components_within_the_timeout(tmp_path):
    root, cfg = install_seed(tmp_path)
    libexec = Path(root) / "usr/libexec/kata-containers"
    (libexec / "kata-proxy").write_text("#!/bin/sh\nsleep 60\n")
    (libexec / "kata-shim").write_text("#!/bin/sh\nprintf 'garbage \\377\\001<&>'\n")
    os.unlink(libexec / "kata-netmon")
    t0 = time.monotonic()
    proc = subprocess.run(KATACFG + ["--kata-config", cfg, "kata-env", "--json",
                                     "--probe-timeout", "0.5", "--host-root",
                                     str(HOSTS / "seed-tlinux")],
                          capture_output=True, text=True, timeout=60)
    assert time.monotonic() - t0 < 10
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    unknown = {"Semver": "<<unknown>>", "Major": 0, "Minor": 0, "Patch": 0,
               "Commit": "<<unknown>>"}
    assert data["Proxy"]["Version"] == data["Shim"]["Version"] == data["Netmon"]["Version"] \
        == unknown
    assert "proxy version unknown" in proc.stderr and "no answer within 0.5 s" in proc.stderr
    assert "shim version unknown" in proc.stderr and "printed no semantic version" in proc.stderr
    assert "netmon version unknown" in proc.stderr and "no such file or directory" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_assets_complete_the_report_and_exit_zero(tmp_path):
    root, cfg = install_seed(tmp_path)
    for name in ("vmlinuz-4.19.28.42-6.1.container",
                 "kata-containers-image_centos_1.7.2_agent_20190702.img"):
        os.unlink(Path(root) / "usr/share/kata-containers" / name)
    proc = subprocess.run(KATACFG + ["--kata-config", cfg, "kata-env", "--host-root",
                                     str(HOSTS / "seed-tlinux")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    tomllib.loads(proc.stdout)
    assert "missing on this host" in proc.stderr
    assert "vmlinuz.container does not exist" in proc.stderr
    assert "kata-runtime kata-env would print only this error" in proc.stderr


def test_invalid_configuration_still_reports_but_exits_one(tmp_path):
    root, cfg = install_seed(tmp_path)
    Path(cfg).write_text(Path(cfg).read_text().replace('block_device_driver = "virtio-scsi"',
                                                       'block_device_driver = "floppy"'))
    proc = subprocess.run(KATACFG + ["--kata-config", cfg, "kata-env", "--host-root",
                                     str(HOSTS / "seed-tlinux")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert tomllib.loads(proc.stdout)["Meta"]["Version"] == "1.0.24"
    assert "error:" in proc.stderr and "Invalid hypervisor block storage driver floppy" \
        in proc.stderr
    assert "Traceback" not in proc.stderr


# -- the real host and the real qemu ---------------------------------------------------

@pytest.mark.real_host
@pytest.mark.needs_qemu
def test_real_host_report_with_the_real_qemu(tmp_path):
    qemu = real_qemu()
    root, cfg = install_seed(tmp_path, qemu=qemu)
    proc = subprocess.run(KATACFG + ["--kata-config", cfg, "kata-env"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    got = tomllib.loads(proc.stdout)
    want = tomllib.loads(expected("seed-000-kata-env-1.0.24.toml", root))
    assert keys_in_order(got) == keys_in_order(want)
    qemu_out = subprocess.run([qemu, "--version"], capture_output=True, text=True).stdout.strip()
    assert got["Hypervisor"]["Version"] == qemu_out
    assert got["Hypervisor"]["Path"] == os.path.realpath(qemu)
    # host values: checked against independent sources in test_kata_env_go.py
    if not got["Host"]["VMContainerCapable"]:
        assert "VMContainerCapable = false" in proc.stderr
    # everything but the host and the hypervisor equals the seed report
    for section in ("Meta", "Image", "Kernel", "Initrd", "Proxy", "Shim", "Agent", "Netmon"):
        assert got[section] == want[section], section
    json_proc = subprocess.run(KATACFG + ["--kata-config", cfg, "kata-env", "--json"],
                               capture_output=True, text=True, timeout=60)
    as_json = json.loads(json_proc.stdout)
    assert keys_in_order(as_json) == keys_in_order(
        json.loads(expected("seed-000-kata-env-1.0.24.json", root)))
    assert as_json["Hypervisor"]["Version"] == qemu_out


@pytest.mark.real_host
@pytest.mark.needs_qemu
def test_fresh_machine_default_configuration_says_what_is_missing():
    real_qemu()
    env = dict(os.environ)
    proc = subprocess.run(KATACFG + ["kata-env"], capture_output=True, text=True, timeout=60,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    data = tomllib.loads(proc.stdout)
    assert data["Meta"]["Version"] == "1.0.24"
    assert "Traceback" not in proc.stderr
    if not os.path.exists("/usr/share/kata-containers/vmlinuz.container"):
        assert "missing on this host" in proc.stderr
        assert "vmlinuz.container does not exist" in proc.stderr


def test_report_data_has_every_section_in_order(seed):
    root, cfg, host, config = seed
    report = build_report(config, host, Probes(10))
    assert list(report.data) == ["Meta", "Runtime", "Hypervisor", "Image", "Kernel", "Initrd",
                                 "Proxy", "Shim", "Agent", "Host", "Netmon"]
    assert report.data["Runtime"]["Experimental"] is NIL


def test_kata_check_strict_compares_component_versions(tmp_path):
    root, cfg = install_seed(tmp_path)
    proc = subprocess.run(KATACFG + ["--kata-config", cfg, "kata-check", "--strict",
                                     "--host-root", str(HOSTS / "seed-tlinux")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "System is capable of running Kata Containers" in proc.stdout
    assert proc.stderr.strip().endswith(
        "there exists version inconsistency in kata components. kata-proxy: v1.7.2, "
        "kata-shim: v1.7.2, kata-runtime: v1.13.0")
    libexec = Path(root) / "usr/libexec/kata-containers"
    _script(libexec / "kata-proxy", "kata-proxy version 1.13.0-alpha0-abc1234-dirty")
    _script(libexec / "kata-shim", "kata-shim version 1.13.0")
    ok = subprocess.run(KATACFG + ["--kata-config", cfg, "kata-check", "--strict",
                                   "--host-root", str(HOSTS / "seed-tlinux")],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.rstrip().endswith("Version consistency of Kata Containers is verified")
