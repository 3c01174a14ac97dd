"""Benchmark: whole-process wall time of `katacfg kata-check` over the interpreter's bare
start-up (`python -c pass`), interleaved repetitions, medians. Target <= 1.6 (Go's
kata-runtime kata-check takes about 2 times `python -c pass` on the same machine).

The configuration is seed 000's, installed as for bench_kata_env (it loads without a
refusal); the checks read this machine's /proc, /sys and /dev/kvm. The verdict (exit 0 or 1)
does not matter here, only the time.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_kata_env import _install, _katacfg  # noqa: E402

TARGET = 1.6
REPEAT = 21


def _time(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0, proc.returncode


def run() -> list[dict]:
    name = "kata-check wall time / python start-up"
    qemu = shutil.which("qemu-system-x86_64") or "/usr/bin/qemu-system-x86_64"
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its bytecode
    with tempfile.TemporaryDirectory(prefix="katacfg-bench-") as tmpdir:
        cfg = _install(Path(os.path.realpath(tmpdir)), qemu)
        check = _katacfg() + ["--kata-config", cfg, "kata-check"]
        bare = [sys.executable, "-c", "pass"]
        for argv in (check, check, bare):  # warm caches and bytecode
            _, rc = _time(argv, env)
            if argv is check and rc not in (0, 1):
                return [{"name": name, "ratio": float("nan"), "target": TARGET,
                         "detail": f"katacfg kata-check exited {rc}"}]
        # the same without its start-up bundle (katacfg/_fastimport.py), as where bytecode
        # writing is off and nothing wrote one: moved aside for those runs only
        bundle = _bundle_file()
        no_write = dict(env, PYTHONDONTWRITEBYTECODE="1")
        runs: dict[str, list[float]] = {"check": [], "python": [], "unbundled": []}
        for _ in range(REPEAT):
            runs["check"].append(_time(check, env)[0])
            runs["python"].append(_time(bare, env)[0])
            if bundle is not None and bundle.exists():
                aside = bundle.with_name(bundle.name + ".bench")
                bundle.rename(aside)
                try:
                    runs["unbundled"].append(_time(check, no_write)[0])
                finally:
                    aside.rename(bundle)
    med = {k: statistics.median(v) for k, v in runs.items() if v}
    without = (f"; without its start-up bundle {med['unbundled'] / med['python']:.2f}"
               if "unbundled" in med else "; no start-up bundle was written")
    return [{"name": name, "ratio": round(med["check"] / med["python"], 3), "target": TARGET,
             "detail": f"median of {REPEAT} interleaved runs: kata-check "
                       f"{med['check'] * 1000:.1f} ms, python -c pass "
                       f"{med['python'] * 1000:.1f} ms (seed 000 configuration, this host)"
                       + without}]


def _bundle_file() -> Path | None:
    """The kata-check bundle of the katacfg this benchmark runs (None: not found)."""
    probe = subprocess.run([sys.executable, "-c", "import katacfg._fastimport as f; "
                            "print(f.bundle_path('check') or '')"], capture_output=True,
                           text=True)
    path = probe.stdout.strip()
    return Path(path) if probe.returncode == 0 and path else None


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']}: {row['ratio']} (target <= {row['target']}) - {row['detail']}")
