"""Issue: load+normalise+validate of the seed configuration vs tomllib.loads (<= 1.5);
cold `katacfg --kata-show-default-config-paths` vs `python -c "import re"` (<= 1.25)."""
from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from common import interleaved, interleaved_commands, seed_install

import katacfg
from katacfg.host.facts import Host


def run() -> list[dict]:
    config, _ = seed_install()
    text = Path(config).read_text()
    host = Host.real().with_facts(cpus=2, vhost_vsock=False)
    katacfg.load(config, host=host)  # must load cleanly
    t = interleaved({
        "load": lambda: katacfg.load(config, host=host),
        "tomllib": lambda: tomllib.loads(text),
    }, number=200, repeat=15)
    rows = [{
        "name": "load+normalise+validate (seed 000) / tomllib.loads",
        "ratio": t["load"] / t["tomllib"], "target": 1.5,
        "detail": f"{t['load'] * 1e6:.0f} us vs {t['tomllib'] * 1e6:.0f} us",
    }]
    exe = Path(sys.executable)
    script = exe.parent / "katacfg"
    c = interleaved_commands({
        "katacfg": [str(script), "--kata-show-default-config-paths"],
        "python": [str(exe), "-c", "import re"],
    }, repeat=40)
    rows.append({
        "name": "cold katacfg --kata-show-default-config-paths / python -c 'import re'",
        "ratio": c["katacfg"] / c["python"], "target": 1.25,
        "detail": f"{c['katacfg'] * 1e3:.1f} ms vs {c['python'] * 1e3:.1f} ms",
    })
    return rows
