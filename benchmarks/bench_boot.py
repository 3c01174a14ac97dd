"""Benchmark: time to a ready guest of `katacfg boot --test-guest` on the stock configuration.

"Ready" is the guest's /init starting its report on Kata's console, measured from QEMU's
start (the `seconds` of `--json`). The median of several boots (KATACFG_BENCH_BOOTS,
default 3) is compared with 12 s, what TCG on 2 cores took for a Kata-shaped command line
when the boot command was specified; on a KVM host it is far less. The test guest is built
(or found in the cache) before the timing starts.
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STOCK = ROOT / "src" / "katacfg" / "data" / "configuration.toml"
REFERENCE_SECONDS = 12.0
TARGET = 1.0


def _install(base: Path) -> Path:
    share, libexec = base / "share", base / "libexec"
    share.mkdir(parents=True)
    libexec.mkdir()
    (share / "vmlinuz.container").write_bytes(b"kernel (the test guest's stands in)\n")
    (share / "kata-containers.img").write_bytes(b"\0" * (2 << 20))
    for name in ("kata-proxy", "kata-shim", "kata-netmon"):
        (libexec / name).write_text("#!/bin/sh\necho 1.13.0\n")
        (libexec / name).chmod(0o755)
    text = STOCK.read_text().replace("/usr/share/kata-containers/", f"{share}/")
    text = text.replace("/usr/libexec/kata-containers/", f"{libexec}/")
    config = base / "configuration.toml"
    config.write_text(text)
    return config


def run() -> list[dict[str, object]]:
    from katacfg.qemu.guest import ensure_test_guest

    ensure_test_guest()
    boots = max(1, int(os.environ.get("KATACFG_BENCH_BOOTS", "3")))
    base = Path(tempfile.mkdtemp(prefix="katacfg-bench-boot-"))
    try:
        config = _install(base / "kata")
        ready, walls = [], []
        accel = "?"
        for _ in range(boots):
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "katacfg", "--kata-config", str(config),
                                   "boot", "--test-guest", "--json"], capture_output=True,
                                  text=True, timeout=600, stdin=subprocess.DEVNULL)
            walls.append(time.perf_counter() - start)
            out = json.loads(proc.stdout or "{}")
            if proc.returncode != 0 or not out.get("seconds"):
                raise RuntimeError(f"katacfg boot failed: {proc.stderr.strip()[:500]}")
            ready.append(float(out["seconds"]))
            accel = out.get("accel", accel)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    median = statistics.median(ready)
    return [{
        "name": f"boot --test-guest: guest ready ({accel.upper()}) / 12 s",
        "ratio": median / REFERENCE_SECONDS,
        "target": TARGET,
        "detail": (f"median {median:.1f} s to a ready guest over {boots} boots "
                   f"({', '.join(f'{s:.1f}' for s in ready)}); whole command "
                   f"{statistics.median(walls):.1f} s with cleanup"),
    }]
