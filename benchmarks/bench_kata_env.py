"""Benchmark: whole-process wall time of `katacfg kata-env` with the real qemu.

The ratio is kata-env's time over the sum of the interpreter's bare start-up
(`python -c pass`) and `qemu-system-x86_64 --version` alone, all measured in one run with
interleaved repetitions (medians). Target <= 1.3: the probes run concurrently with each other
and with the loading, and start-up imports only what the report needs.

The configuration is seed 000's, installed into a temporary root with qemu-system-x86_64 as
the hypervisor, the seed's kernel and image names, and proxy/shim/netmon scripts printing the
seed's versions, so that it loads without a refusal (as on a real Kata host).
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED_CONFIG = ROOT / "tests" / "data" / "kata-env" / "seed-000-configuration.toml"
TARGET = 1.3
REPEAT = 15


def _script(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{text}'\n")
    path.chmod(0o755)


def _install(tmp: Path, qemu: str) -> str:
    share = tmp / "usr/share/kata-containers"
    share.mkdir(parents=True)
    (share / "vmlinuz-4.19.28.42-6.1.container").write_bytes(b"kernel")
    (share / "vmlinuz.container").symlink_to("vmlinuz-4.19.28.42-6.1.container")
    (share / "kata-containers-image.img").write_bytes(b"image" * 100)
    (share / "kata-containers.img").symlink_to("kata-containers-image.img")
    libexec = tmp / "usr/libexec/kata-containers"
    _script(libexec / "kata-proxy", "kata-proxy version 1.7.2-a56df7c")
    _script(libexec / "kata-shim", "kata-shim version 1.7.2-2ea178c")
    _script(libexec / "kata-netmon", "kata-netmon version 1.7.2")
    text = SEED_CONFIG.read_text()
    text = text.replace('"/usr/bin/qemu-lite-system-x86_64"', f'"{qemu}"')
    for prefix in ("/usr/share/kata-containers/", "/usr/libexec/kata-containers/"):
        text = text.replace(f'"{prefix}', f'"{tmp}{prefix}')
    cfg = tmp / "configuration.toml"
    cfg.write_text(text)
    return str(cfg)


def _time(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0, proc.returncode


def _katacfg() -> list[str]:
    script = Path(sys.executable).parent / "katacfg"
    return [str(script)] if script.exists() else [sys.executable, "-m", "katacfg"]


def run() -> list[dict]:
    qemu = shutil.which("qemu-system-x86_64")
    if qemu is None:
        return [{"name": "kata-env wall time", "ratio": float("nan"), "target": TARGET,
                 "detail": "qemu-system-x86_64 is not installed (run ./dev bench)"}]
    env = dict(os.environ)
    # an installed package has its bytecode compiled; let the warm-up runs write it
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory(prefix="katacfg-bench-") as tmpdir:
        tmp = Path(os.path.realpath(tmpdir))
        cfg = _install(tmp, qemu)
        kata_env = _katacfg() + ["--kata-config", cfg, "kata-env"]
        bare = [sys.executable, "-c", "pass"]
        qemu_version = [qemu, "--version"]
        for argv in (kata_env, kata_env, bare, qemu_version):  # warm caches and bytecode
            _, rc = _time(argv, env)
            if argv is kata_env and rc != 0:
                return [{"name": "kata-env wall time", "ratio": float("nan"), "target": TARGET,
                         "detail": f"katacfg kata-env exited {rc} on the benchmark config"}]
        runs: dict[str, list[float]] = {"kata-env": [], "python": [], "qemu": []}
        for _ in range(REPEAT):
            runs["kata-env"].append(_time(kata_env, env)[0])
            runs["python"].append(_time(bare, env)[0])
            runs["qemu"].append(_time(qemu_version, env)[0])
    med = {k: statistics.median(v) for k, v in runs.items()}
    ratio = med["kata-env"] / (med["python"] + med["qemu"])
    detail = (f"median of {REPEAT} interleaved runs: kata-env {med['kata-env'] * 1000:.1f} ms, "
              f"python -c pass {med['python'] * 1000:.1f} ms, qemu --version "
              f"{med['qemu'] * 1000:.1f} ms (seed 000 configuration, real qemu, bytecode "
              "compiled)")
    return [{"name": "kata-env wall time / (python start-up + qemu --version)",
             "ratio": round(ratio, 3), "target": TARGET, "detail": detail}]


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']}: {row['ratio']} (target <= {row['target']}) - {row['detail']}")
