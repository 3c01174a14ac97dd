"""kata-env against reports the real Go kata-runtime printed (tests/data/kata-env-go, copied
from shared/conformance/kata-env; its README says how each was made).

Configuration-derived values must equal the Go report. Host-derived values are this
machine's own: they are checked against sources independent of katacfg's host module
(`uname`, the os-release parser of Python's platform module, a separate /proc/cpuinfo
reading, `qemu-system-x86_64 --version`).
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.helpers import real_qemu

GO = Path(__file__).parent / "data" / "kata-env-go"
FIXTURE_ROOT = Path("/tmp/katacfg-fixtures")  # private to this test session (conftest.py)
KATACFG = [sys.executable, "-m", "katacfg"]
VERSION_LINE = "version 1.13.0-alpha0-abc1234"

# Values the Go report took from the host or the installed binaries (README.md)
HOST_DERIVED = {("Runtime", "Path"), ("Runtime", "Version"), ("Runtime", "Config"),
                ("Hypervisor", "Version"), ("Host",)}
GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "ppc64le": "ppc64le", "s390x": "s390x"}


def install_fixtures() -> None:
    """The files the README lists, under the fixed fixture root."""
    FIXTURE_ROOT.mkdir(exist_ok=True)
    for child in FIXTURE_ROOT.iterdir():
        if child.is_dir() and not child.is_symlink():
            import shutil

            shutil.rmtree(child)
        else:
            child.unlink()
    for name in ("vmlinuz.container", "kata-containers.img", "kata-containers-initrd.img"):
        (FIXTURE_ROOT / name).write_text(f"fake {name}\n")
    (FIXTURE_ROOT / "bin").mkdir()
    for name in ("kata-proxy", "kata-shim", "kata-netmon"):
        p = FIXTURE_ROOT / "bin" / name
        p.write_text(f"#!/bin/sh\necho '{name} {VERSION_LINE}'\n")
        p.chmod(0o755)


def prepared(name: str, qemu: str) -> Path:
    text = (GO / name).read_text()
    text = text.replace('"/usr/bin/qemu-lite-system-x86_64"', f'"{qemu}"')
    text = text.replace("/usr/share/kata-containers/", f"{FIXTURE_ROOT}/")
    text = text.replace("/usr/libexec/kata-containers/", f"{FIXTURE_ROOT}/bin/")
    path = FIXTURE_ROOT / "configuration.toml"
    path.write_text(text)
    return path


def keys_in_order(value, prefix=()):
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append(prefix + (k,))
            out.extend(keys_in_order(v, prefix + (k,)))
    return out


def host_derived(path: tuple) -> bool:
    return any(path[:len(h)] == h for h in HOST_DERIVED)


def leaves(value, prefix=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, prefix + (k,))
    else:
        yield prefix, value


def first_cpu(field: str) -> str:
    """`field` of the first processor in /proc/cpuinfo (read here, not by katacfg)."""
    with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
        block = f.read().split("\n\n")[0]
    for line in block.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == field:
            return value.strip()
    return ""


@pytest.mark.real_host
@pytest.mark.needs_qemu
@pytest.mark.parametrize("config", ["seed-config", "debug-initrd"])
def test_kata_env_matches_the_go_report(config):
    qemu = real_qemu()
    install_fixtures()
    path = prepared(f"{config}.toml", qemu)
    want = tomllib.loads((GO / f"{config}.kata-env.toml").read_text())
    p = subprocess.run(KATACFG + ["--kata-config", str(path), "kata-env"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    got = tomllib.loads(p.stdout)
    assert keys_in_order(got) == keys_in_order(want)
    want_leaves = dict(leaves(want))
    for key, value in leaves(got):
        if host_derived(key) or key == ("Hypervisor", "Path"):
            continue
        assert value == want_leaves[key], key
    # the Go runtime ran /usr/bin/qemu-system-x86_64: so does this test's configuration
    assert got["Hypervisor"]["Path"] == os.path.realpath(qemu)
    assert got["Runtime"]["Config"]["Path"] == str(path)

    # host-derived values, from sources independent of katacfg.host.facts
    version = subprocess.run([qemu, "--version"], capture_output=True, text=True).stdout
    assert got["Hypervisor"]["Version"] == version.strip()
    h = got["Host"]
    assert h["Kernel"] == subprocess.run(["uname", "-r"], capture_output=True,
                                         text=True).stdout.strip()
    assert h["Architecture"] == GOARCH.get(platform.machine(), platform.machine())
    try:
        release = platform.freedesktop_os_release()
    except OSError:
        release = {}
    assert h["Distro"] == {"Name": release.get("NAME", "<<unknown>>"),
                           "Version": release.get("VERSION_ID", "<<unknown>>")}
    if h["Architecture"] == "amd64":
        assert h["CPU"] == {"Vendor": first_cpu("vendor_id"), "Model": first_cpu("model name")}
        flags = first_cpu("flags").split()
        if "vmx" not in flags and "svm" not in flags:
            assert h["VMContainerCapable"] is False  # no hardware virtualisation at all
    assert h["SupportVSocks"] == os.path.exists("/dev/vhost-vsock")
