"""Issue: explain over 1,000 pods in one file vs loading that YAML alone (<= 2.0)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from common import interleaved, seed_install

from katacfg import cri
from katacfg.host import Host
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
    return [{
        "name": "explain (1,000 pods) / yaml.load_all (CSafeLoader)",
        "ratio": t["explain"] / t["yaml"], "target": 2.0,
        "detail": f"{t['explain'] * 1e3:.0f} ms vs {t['yaml'] * 1e3:.0f} ms",
    }]
