"""Issue: explain over 1,000 pods in one file vs loading that YAML alone (<= 2.0).

Two ratios, each measured side by side: in one process (explain() vs yaml.load_all with
the C loader), and whole processes (`katacfg explain FILE --containerd-config ...` vs a
Python process that imports PyYAML and loads the same file with the C loader), which is
what a CI job pays. Both sides of the whole-process ratio start from compiled bytecode.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from common import interleaved, interleaved_commands, seed_install

from katacfg.host.facts import Host
from katacfg.kube import cri
from katacfg.reports.explain import explain

ROOT = Path(__file__).resolve().parent.parent
P = "io.katacontainers.config."


def manifest(n: int) -> str:
    docs = []
    for i in range(n):
        kind = ("Pod", "Deployment")[i % 2]
        meta = (f"    annotations:\n      {P}hypervisor.default_memory: \"{1024 + i}\"\n"
                f"      {P}agent.kernel_modules: \"e1000e EEE=1; i915\"\n"
                f"      {P}runtime.disable_guest_seccomp: \"false\"\n")
        pod = ("spec:\n  runtimeClassName: kata\n  containers:\n  - name: c\n"
               "    image: busybox\n")
        if kind == "Pod":
            docs.append(f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: pod-{i}\n"
                        + meta.replace("    ", "  ", 1).replace("\n      ", "\n    ") + pod)
        else:
            docs.append(f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-{i}\n"
                        "spec:\n  template:\n    metadata:\n"
                        + meta.replace("    annotations", "      annotations")
                        .replace("\n      ", "\n        ")
                        + "    " + pod.replace("\n", "\n    ").rstrip() + "\n")
    return "---\n".join(docs)


def run() -> list[dict]:
    config, _ = seed_install(enable_annotations=True)
    path = Path(tempfile.mkdtemp(prefix="katacfg-bench-")) / "pods.yaml"
    path.write_text(manifest(1000))
    cfg = cri.load_containerd_config(ROOT / "tests/data/cri/seed004-containerd-v1.toml")
    host = Host.real().with_facts(cpus=4, vhost_vsock=False)
    report = explain(str(path), cri_config=cfg, kata_config=config, host=host)
    assert len(report.pods) == 1000 and all(p.starts for p in report.pods), report.pods[0]
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    def load_yaml() -> None:
        with open(path) as f:
            list(yaml.load_all(f.read(), Loader=loader))

    t = interleaved({
        "explain": lambda: explain(str(path), cri_config=cfg, kata_config=config, host=host),
        "yaml": load_yaml,
    }, number=1, repeat=7)
    rows = [{
        "name": "explain (1,000 pods) / yaml.load_all (CSafeLoader)",
        "ratio": t["explain"] / t["yaml"], "target": 2.0,
        "detail": f"{t['explain'] * 1e3:.0f} ms vs {t['yaml'] * 1e3:.0f} ms",
    }]
    return rows + [whole_process(path, config)]


def whole_process(path: Path, config: str) -> dict:
    """`katacfg explain` as a process vs a process loading the file with PyYAML's C loader."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src" / "katacfg")],
                   stdout=subprocess.DEVNULL, check=False)
    katacfg = str(Path(sys.executable).with_name("katacfg"))
    ctd = str(ROOT / "tests/data/cri/seed004-containerd-v1.toml")
    env_cmd = ["env", "-u", "PYTHONDONTWRITEBYTECODE"]
    t = interleaved_commands({
        "explain": env_cmd + [katacfg, "--kata-config", config, "explain", str(path),
                              "--containerd-config", ctd],
        "yaml": env_cmd + [sys.executable, "-c",
                           "import sys, yaml; list(yaml.load_all(open(sys.argv[1]).read(), "
                           "Loader=yaml.CSafeLoader))", str(path)],
    }, repeat=9)
    return {
        "name": "katacfg explain process (1,000 pods) / python+PyYAML C load",
        "ratio": t["explain"] / t["yaml"], "target": 2.0,
        "detail": f"{t['explain'] * 1e3:.0f} ms vs {t['yaml'] * 1e3:.0f} ms",
    }
