"""Issue 11: the webhook against an allow-all handler on the same stack, and admit vs explain.

All on 127.0.0.1, real TLS (a CA and certificate made here), keep-alive, h2load (Debian's
nghttp2-client) as the client, bounded in count and time:

- throughput: 20,000 reviews per run over 8 keep-alive connections, interleaved rounds,
  medians: the webhook as shipped (its verdict cache on; h2load sends one review, so
  after the first every verdict is a cache hit: this measures everything around the
  engine), the webhook judging every review (`--verdict-cache 0`), and `allow_all.py`;
  zero errors required (every answer a 2xx);
- latency: 6,000 reviews at a fixed 200 reviews/s (4 connections x 50/s) on the
  uncached webhook, p50 and p99 from h2load's per-request log; target p99 under 20 ms;
- `admit` over 1,000 pods in one file against `explain` over the same file (admit does
  explain's work for each pod and builds an AdmissionReview each: target 1.25).

The review is a Kata pod with three io.katacontainers.* annotations that Kata accepts and
two that are not Kata's, under the seed configuration (enable_annotations = [".*"]).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, interleaved, seed_install

HERE = Path(__file__).resolve().parent
P = "io.katacontainers.config."
TOTAL = 20_000
ROUNDS = 2
RATE_TOTAL = 6_000


def review() -> dict:
    return {
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "default", "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "web-7d4b9c-x2x9z", "namespace": "default",
                             "labels": {"app": "web", "pod-template-hash": "7d4b9c"},
                             "annotations": {
                                 f"{P}hypervisor.default_memory": "4096",
                                 f"{P}hypervisor.default_vcpus": "2",
                                 f"{P}agent.kernel_modules": "e1000e EEE=1; i915",
                                 "prometheus.io/scrape": "true",
                                 "kubectl.kubernetes.io/default-container": "web"}},
                "spec": {"runtimeClassName": "kata",
                         "containers": [{"name": "web", "image": "nginx:1.27",
                                         "ports": [{"containerPort": 80}],
                                         "resources": {"limits": {"cpu": "1",
                                                                  "memory": "512Mi"}}}]},
            },
            "dryRun": False,
        },
    }


class Server:
    def __init__(self, cmd: list[str], log: Path) -> None:
        self.log = open(log, "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True)
        deadline = time.monotonic() + 60
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("listening on "):
                self.port = int(line.rsplit(":", 1)[1].split("/")[0])
                break
            if time.monotonic() > deadline:
                break
        else:
            raise RuntimeError(f"server did not start: {cmd}")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


def h2load(port: int, body: Path, *args: str) -> dict:
    cmd = ["h2load", "--h1", "-d", str(body), "-H", "content-type: application/json",
           *args, f"https://127.0.0.1:{port}/validate"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    out = p.stdout
    m = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", out)
    r = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
    s = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    if not (m and r and s):
        raise RuntimeError(f"h2load output not understood: {out}\n{p.stderr}")
    total, done, ok = int(r.group(1)), int(r.group(2)), int(r.group(3))
    errors = total - ok + int(s.group(2)) + int(s.group(3)) + int(s.group(4))
    return {"rps": float(m.group(3)), "total": total, "done": done, "errors": errors}


def run() -> list[dict]:
    if shutil.which("h2load") is None:
        raise RuntimeError("h2load is not installed: ./dev bench installs Debian's "
                           "nghttp2-client")
    from katacfg.admission.tls import make_certificates

    work = Path(tempfile.mkdtemp(prefix="katacfg-bench-webhook-"))
    config, _ = seed_install(enable_annotations=True)
    _, cert, key = make_certificates(["127.0.0.1", "localhost"]).write(str(work / "tls"))
    body = work / "review.json"
    body.write_text(json.dumps(review()))

    def webhook(*extra: str, log: str) -> Server:
        return Server([sys.executable, "-m", "katacfg", "--kata-config", config, "webhook",
                       "--runtime-class", "kata", "--host-cpus", "4", *extra,
                       "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key],
                      work / log)

    servers = {"webhook": webhook(log="webhook.log"),
               "webhook, no cache": webhook("--verdict-cache", "0", log="nocache.log"),
               "allow-all": Server([sys.executable, str(HERE / "allow_all.py"), cert, key],
                                   work / "allow.log")}
    rows = []
    runs: dict[str, list[float]] = {name: [] for name in servers}
    errors = reviews = 0
    try:
        for server in servers.values():  # a first short run: every server answers
            r = h2load(server.port, body, "-n", "10", "-c", "1")
            errors += r["errors"]
            reviews += r["done"]
        for _ in range(ROUNDS):
            for name, server in servers.items():
                r = h2load(server.port, body, "-n", str(TOTAL), "-c", "8")
                runs[name].append(r["rps"])
                errors += r["errors"]
                reviews += r["done"]
        lat_log = work / "latency.tsv"
        rate = h2load(servers["webhook, no cache"].port, body, "-n", str(RATE_TOTAL), "-c", "4",
                      "--rps", "50", "--log-file", str(lat_log))
        errors += rate["errors"]
        reviews += rate["done"]
        lat = sorted(int(line.split("\t")[2]) / 1000.0
                     for line in lat_log.read_text().splitlines() if line.strip())
        p50 = lat[len(lat) // 2]
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    finally:
        for server in servers.values():
            server.stop()
    # every review the uncached webhook answered was judged and logged: count the log
    judged = sum(1 for line in (work / "nocache.log").read_text().splitlines()
                 if '"kata":true' in line)
    if errors:
        raise RuntimeError(f"{errors} errors in the webhook benchmark")
    rps = {name: statistics.median(v) for name, v in runs.items()}
    allow_rps = rps["allow-all"]
    for name, why in (("webhook", "as shipped: verdicts cached by Kata annotations"),
                      ("webhook, no cache", "--verdict-cache 0: every review judged")):
        rows.append({
            "name": f"reviews/s: allow-all / {name} (TLS, keep-alive)",
            "ratio": allow_rps / rps[name], "target": 2.0,
            "detail": f"{rps[name]:,.0f} vs {allow_rps:,.0f} reviews/s "
                      f"({rps[name] / allow_rps:.0%}); {why}",
        })
    rows[-1]["detail"] += f"; {reviews:,} reviews in all, {errors} errors"
    rows.append({
        "name": "webhook (no cache) p99 at 200 reviews/s / 20 ms",
        "ratio": p99 / 20.0, "target": 1.0,
        "detail": f"p50 {p50:.2f} ms, p99 {p99:.2f} ms over {len(lat):,} reviews "
                  f"({judged:,} judged by the uncached webhook in all), {os.cpu_count()} CPUs",
    })
    rows.append(admit_vs_explain())
    return rows


def admit_vs_explain() -> dict:
    from bench_explain import manifest

    from katacfg.admission.admit import Admitter, admit_objects
    from katacfg.admission.selection import build_selection
    from katacfg.host.facts import Host
    from katacfg.kube import cri, manifests
    from katacfg.reports.explain import explain

    config, _ = seed_install(enable_annotations=True)
    path = Path(tempfile.mkdtemp(prefix="katacfg-bench-")) / "pods.yaml"
    path.write_text(manifest(1000))
    containerd = ROOT / "tests/data/cri/seed004-containerd-v1.toml"
    cfg = cri.load_containerd_config(containerd)
    host = Host.real().with_facts(cpus=4, vhost_vsock=False)

    def admit() -> list:
        objects = manifests.load_manifests(str(path))
        sel = build_selection(cri_config=cfg, kata_config=config,
                              handlers=manifests.runtime_class_handlers(objects))
        return admit_objects(objects, Admitter(sel, host=host))

    answers = admit()
    assert len(answers) == 1000 and all(a.allowed and a.kata for a in answers), answers[0]
    t = interleaved({
        "admit": admit,
        "explain": lambda: explain(str(path), cri_config=cfg, kata_config=config, host=host),
    }, number=1, repeat=7)
    return {
        "name": "admit (1,000 pods) / explain (same file)",
        "ratio": t["admit"] / t["explain"], "target": 1.25,
        "detail": f"{t['admit'] * 1e3:.0f} ms vs {t['explain'] * 1e3:.0f} ms",
    }
