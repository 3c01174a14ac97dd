"""Shared test helpers: real files for a Kata install under a temporary root."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from katacfg.host.facts import Host

STOCK_QEMU: dict[str, Any] = {
    "path": "{root}/bin/qemu-system-x86_64",
    "kernel": "{root}/share/vmlinuz.container",
    "image": "{root}/share/kata-containers.img",
    "machine_type": "pc",
    "enable_annotations": [".*"],
    "valid_hypervisor_paths": ["{root}/bin/qemu-system-x86_64"],
    "kernel_params": "",
    "firmware": "",
    "machine_accelerators": "",
    "cpu_features": "pmu=off",
    "default_vcpus": 1,
    "default_maxvcpus": 0,
    "default_bridges": 1,
    "default_memory": 2048,
    "shared_fs": "virtio-9p",
    "virtio_fs_daemon": "{root}/bin/virtiofsd",
    "valid_virtio_fs_daemon_paths": ["{root}/bin/virtiofsd"],
    "virtio_fs_cache": "auto",
    "block_device_driver": "virtio-scsi",
    "vhost_user_store_path": "{root}/vhost-user",
    "valid_vhost_user_store_paths": ["{root}/vhost-user"],
    "valid_file_mem_backends": [""],
}
STOCK_TABLES: dict[str, dict[str, Any]] = {
    "hypervisor.qemu": STOCK_QEMU,
    "factory": {},
    "proxy.kata": {"path": "{root}/libexec/kata-proxy"},
    "shim.kata": {"path": "{root}/libexec/kata-shim"},
    "agent.kata": {"kernel_modules": []},
    "netmon": {"path": "{root}/libexec/kata-netmon"},
    "runtime": {"internetworking_model": "tcfilter", "disable_guest_seccomp": True,
                "experimental": []},
}
FILES = {
    "bin/qemu-system-x86_64": "#!/bin/sh\necho 'QEMU emulator version 7.2.0'\n",
    "bin/virtiofsd": "#!/bin/sh\necho 'virtiofsd 1.0'\n",
    "bin/firecracker": "#!/bin/sh\necho 'Firecracker v0.23.0'\n",
    "bin/jailer": "#!/bin/sh\necho 'Jailer v0.23.0'\n",
    "bin/acrn-dm": "#!/bin/sh\necho 'acrn-dm 2.0'\n",
    "bin/acrnctl": "#!/bin/sh\necho 'acrnctl 2.0'\n",
    "bin/cloud-hypervisor": "#!/bin/sh\necho 'cloud-hypervisor v15.0'\n",
    "share/vmlinuz.container": "fake guest kernel\n",
    "share/vmlinux.container": "fake guest kernel (uncompressed)\n",
    "share/kata-containers.img": "fake guest rootfs image\n",
    "share/kata-containers-initrd.img": "fake guest initrd\n",
    "libexec/kata-proxy": "#!/bin/sh\necho 'kata-proxy version 1.13.0-alpha0'\n",
    "libexec/kata-shim": "#!/bin/sh\necho 'kata-shim version 1.13.0-alpha0'\n",
    "libexec/kata-netmon": "#!/bin/sh\necho 'kata-netmon version 1.13.0-alpha0'\n",
}


def make_install(root: Path) -> Path:
    """Create the binaries, kernel and images a configuration points at."""
    for rel, content in FILES.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
        p.chmod(0o755 if rel.startswith(("bin/", "libexec/")) else 0o644)
    (root / "vhost-user").mkdir(exist_ok=True)
    return root


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(value)


def config_text(root: Path, tables: dict[str, dict[str, Any]] | None = None,
                **changes: dict[str, Any] | None) -> str:
    """TOML for the stock layout; `changes` maps a table ("hypervisor_qemu") to new keys,
    a key set to None is removed, a table set to None is dropped."""
    base = {name: dict(values) for name, values in (tables or STOCK_TABLES).items()}
    for table, keys in changes.items():
        name = table.replace("_", ".", 1) if table.split("_")[0] in (
            "hypervisor", "proxy", "shim", "agent") else table
        if keys is None:
            base.pop(name, None)
            continue
        target = base.setdefault(name, {})
        for k, v in keys.items():
            if v is None:
                target.pop(k, None)
            else:
                target[k] = v
    lines = []
    for name, values in base.items():
        lines.append(f"[{name}]")
        for k, v in values.items():
            if isinstance(v, str):
                v = v.replace("{root}", str(root))
            elif isinstance(v, list):
                v = [x.replace("{root}", str(root)) if isinstance(x, str) else x for x in v]
            lines.append(f"{k} = {toml_value(v)}")
        lines.append("")
    return "\n".join(lines)


def write_config(root: Path, text: str, name: str = "configuration.toml") -> str:
    p = root / name
    p.write_text(text)
    return str(p)


def host(cpus: int = 2, vsock: bool = False) -> Host:
    """The real host with its CPU count and vhost-vsock injected."""
    return Host.real().with_facts(cpus=cpus, vhost_vsock=vsock)


def real_qemu() -> str:
    """Debian's qemu-system-x86_64; tests that need it fail (never skip) without it."""
    path = shutil.which("qemu-system-x86_64")
    if path is None:
        pytest.fail("qemu-system-x86_64 is not installed: run ./dev test, which installs "
                    "Debian's qemu-system-x86 (these tests must run, not skip)")
    return path


def as_unprivileged(argv: list[str], cwd: Path | str | None = None,
                    timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run argv without the privileges that bypass file permissions, so that permission
    cases really run under CI's root: as root, setpriv empties the capability bounding set
    (no CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH: mode 000 refuses uid 0 as anyone else), and
    the interpreter under /root stays usable. As another user, argv runs as it is."""
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.fail("setpriv (util-linux) is needed to run permission cases as root")
        argv = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs", "--",
                *argv]
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=timeout)
