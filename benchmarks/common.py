"""Helpers for the benchmarks: the seed configuration on real files, interleaved timing."""
from __future__ import annotations

import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "seed000-configuration.toml"


def seed_install(enable_annotations: bool = False) -> tuple[str, str]:
    """The seed's configuration with its paths moved under a temporary root that holds
    real files for them; returns (config path, root)."""
    root = tempfile.mkdtemp(prefix="katacfg-bench-")
    text = SEED.read_text()
    for path in sorted(set(re.findall(r'"(/usr/[^"]+)"', text))):
        target = Path(root + path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"#!/bin/sh\necho '{Path(path).name} version 1.13.0'\n")
        target.chmod(0o755)
    text = text.replace('"/usr/', f'"{root}/usr/')
    if enable_annotations:
        text = text.replace("[hypervisor.qemu]", '[hypervisor.qemu]\nenable_annotations = [".*"]', 1)
    config = Path(root) / "configuration.toml"
    config.write_text(text)
    return str(config), root


def interleaved(funcs: dict[str, Callable[[], object]], number: int, repeat: int) -> dict[str, float]:
    """Median seconds per call of each function, timed in alternation so drift hits all."""
    samples: dict[str, list[float]] = {k: [] for k in funcs}
    for _ in range(repeat):
        for name, fn in funcs.items():
            start = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - start) / number)
    return {k: statistics.median(v) for k, v in samples.items()}


def interleaved_commands(cmds: dict[str, list[str]], repeat: int) -> dict[str, float]:
    """Median wall seconds of whole processes, run in alternation."""
    samples: dict[str, list[float]] = {k: [] for k in cmds}
    for cmd in cmds.values():  # warm the page cache once
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(repeat):
        for name, cmd in cmds.items():
            start = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            samples[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in samples.items()}
