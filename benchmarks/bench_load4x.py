"""Issue 10: loading a Kata 4.x file with 10 config.d drop-ins vs tomllib.loads of the same
11 texts (<= 1.5). The file is the stock 4.1.0 configuration-qemu.toml of the conformance
cases, its paths moved under a temporary root holding real files."""
from __future__ import annotations

import json
import os
import tempfile
import tomllib
from pathlib import Path

from common import ROOT, interleaved

from katacfg.host.facts import Host

CASE = ROOT / "tests" / "data" / "conformance-4x" / "cases" / "stock_qemu_single_container"
FIXTURES = "/tmp/katacfg-fixtures"
DROPINS = [
    ("10-memory.toml", "[hypervisor.qemu]\ndefault_memory = 4096\nmemory_slots = 12\n"),
    ("20-vcpus.toml", "[hypervisor.qemu]\ndefault_vcpus = 1\ndefault_maxvcpus = 2\n"),
    ("30-debug.toml", "[hypervisor.qemu]\nenable_debug = true\n\n[agent.kata]\n"
                      "enable_debug = true\n"),
    ("40-kernel.toml", '[hypervisor.qemu]\nkernel_params = "quiet panic=1"\n'),
    ("50-runtime.toml", "[runtime]\nenable_debug = true\ncreate_container_timeout = 90\n"),
    ("60-annotations.toml", '[hypervisor.qemu]\nenable_annotations = ["default_memory", '
                            '"default_vcpus", "kernel_params"]\n'),
    ("70-agent.toml", "[agent.kata]\ndial_timeout = 60\nkernel_modules = []\n"),
    ("80-block.toml", '[hypervisor.qemu]\nblock_device_driver = "virtio-blk"\n'
                      "block_device_cache_set = true\n"),
    ("90-factory.toml", '[factory]\nvm_cache_endpoint = "/run/kata/cache.sock"\n'),
    ("99-network.toml", "[runtime]\nsandbox_cgroup_only = true\n"),
]


def install() -> tuple[str, list[str]]:
    root = tempfile.mkdtemp(prefix="katacfg-bench4x-")
    case = json.loads((CASE / "case.json").read_text())
    for f in case["fixtures"]:
        path = Path(root + f["path"][len(FIXTURES):])
        path.parent.mkdir(parents=True, exist_ok=True)
        if f.get("symlink_to") or f.get("dir"):
            continue
        path.write_bytes(f.get("content", "").encode())
        os.chmod(path, int(str(f.get("mode", "0644")), 8))
    text = (CASE / "config.toml").read_text().replace(FIXTURES, root)
    config = Path(root) / "configuration.toml"
    config.write_text(text)
    (Path(root) / "config.d").mkdir()
    texts = [text]
    for name, content in DROPINS:
        (Path(root) / "config.d" / name).write_text(content)
        texts.append(content)
    return str(config), texts


def run() -> list[dict]:
    from katacfg.profiles.kata4x.load import load

    config, texts = install()
    host = Host.real().with_facts(cpus=2, vhost_vsock=True, memory_mib=16384)
    cfg = load(config, host)  # must load cleanly, with every drop-in
    assert len(cfg.files) == 11 and cfg.hypervisor["default_memory"] == 4096

    def parse_all() -> None:
        for t in texts:
            tomllib.loads(t)

    # The same file in TOML 1.1 (its [agent.kata] as a multi-line inline table with a comment
    # and a trailing comma): gotoml's line scanner gives up, the v1.6 port reads it.
    main = Path(config).read_text()
    head, sep, tail = main.partition("\n[agent.kata]\n")
    assert sep
    body, nl, rest = tail.partition("\n[")
    keys = [line for line in body.split("\n") if line.strip() and not line.lstrip().startswith("#")]
    toml11 = Path(config).parent / "toml11"
    (toml11 / "config.d").mkdir(parents=True)
    for name, content in DROPINS:
        (toml11 / "config.d" / name).write_text(content)
    agent = "agent = { kata = { # TOML 1.1\n" + "".join(f"  {k.strip()},\n" for k in keys)
    (toml11 / "configuration.toml").write_text(agent + "} }\n" + head
                                               + ("\n[" + rest if nl else ""))
    config11 = str(toml11 / "configuration.toml")
    assert load(config11, host).agent == cfg.agent

    t = interleaved({"load": lambda: load(config, host), "tomllib": parse_all,
                     "load11": lambda: load(config11, host)}, number=100, repeat=15)
    return [{
        "name": "4.x load with 10 drop-ins / tomllib.loads of the 11 texts",
        "ratio": t["load"] / t["tomllib"], "target": 1.5,
        "detail": f"{t['load'] * 1e6:.0f} us vs {t['tomllib'] * 1e6:.0f} us",
    }, {
        "name": "the same, main file in TOML 1.1 (BurntSushi v1.6 port) / tomllib",
        "ratio": t["load11"] / t["tomllib"], "target": 1.5,
        "detail": f"{t['load11'] * 1e6:.0f} us vs {t['tomllib'] * 1e6:.0f} us",
    }]
