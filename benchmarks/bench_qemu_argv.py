"""Issue 12: `qemu-argv` against `resolve` of the same configuration (<= 1.3).

Same configuration as bench_resolve (the seed file on real files, ten annotations), a host
with two veth interfaces in the pod's namespace. Measured twice: in process
(resolve + build_qemu_command vs resolve) and as whole commands (`katacfg qemu-argv --json`
vs `katacfg resolve --json`), each side by side with interleaved repetitions.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from bench_resolve import ANNOTATIONS
from common import interleaved, interleaved_commands, seed_install

import katacfg
from katacfg.host.facts import Host
from katacfg.qemu.argv import build_qemu_command

TARGET = 1.3
INTERFACES = (("eth0", "0a:58:0a:f4:01:07"), ("eth1", "0a:58:0a:f4:02:09"))
UUID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"


def run() -> list[dict]:
    config, _ = seed_install(enable_annotations=True)
    host = Host.real().with_facts(cpus=4, vhost_vsock=False, memory_mib=16384, nested=False,
                                  fips=False)

    def argv() -> object:
        cfg = katacfg.resolve(config, ANNOTATIONS, host=host)
        return build_qemu_command(cfg, host, sandbox_id="bench", uuid=UUID,
                                  interfaces=INTERFACES)

    argv()  # must build cleanly
    t = interleaved({
        "qemu-argv": argv,
        "resolve": lambda: katacfg.resolve(config, ANNOTATIONS, host=host),
    }, number=200, repeat=15)
    rows = [{
        "name": "qemu-argv / resolve (seed 000 + 10 annotations, in process)",
        "ratio": t["qemu-argv"] / t["resolve"], "target": TARGET,
        "detail": f"{t['qemu-argv'] * 1e6:.0f} us vs {t['resolve'] * 1e6:.0f} us",
    }]
    annotations = Path(tempfile.mkdtemp(prefix="katacfg-bench-")) / "annotations.json"
    annotations.write_text(json.dumps(ANNOTATIONS))
    common = ["--annotations-file", str(annotations), "--host-cpus", "4",
              "--no-host-vhost-vsock"]
    base = [sys.executable, "-m", "katacfg", "--kata-config", config]
    w = interleaved_commands({
        "qemu-argv": base + ["qemu-argv", "--json", *common, "--host-memory-mib", "16384",
                             "--no-host-nested", "--no-host-fips", "--sandbox-id", "bench",
                             "--uuid", UUID] +
        [a for name, mac in INTERFACES for a in ("--host-interface", f"{name}={mac}")],
        "resolve": base + ["resolve", "--json", *common],
    }, repeat=15)
    rows.append({
        "name": "katacfg qemu-argv --json / katacfg resolve --json (wall)",
        "ratio": w["qemu-argv"] / w["resolve"], "target": TARGET,
        "detail": f"{w['qemu-argv'] * 1e3:.1f} ms vs {w['resolve'] * 1e3:.1f} ms",
    })
    return rows
