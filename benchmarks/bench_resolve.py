"""Issue: katacfg.resolve of the seed configuration plus 10 annotations vs katacfg.load
alone, in process (<= 1.25). The seed file predates enable_annotations, under which every
hypervisor annotation is refused, so the benchmark copy adds enable_annotations = [".*"]."""
from __future__ import annotations

from common import interleaved, seed_install

import katacfg
from katacfg.host.facts import Host

P = "io.katacontainers.config."
ANNOTATIONS = {
    P + "hypervisor.default_vcpus": "2",
    P + "hypervisor.default_memory": "3072",
    P + "hypervisor.memory_slots": "12",
    P + "hypervisor.msize_9p": "16384",
    P + "hypervisor.enable_iothreads": "true",
    P + "hypervisor.kernel_params": "quiet systemd.log_level=warning",
    P + "runtime.disable_guest_seccomp": "false",
    P + "runtime.sandbox_cgroup_only": "true",
    P + "agent.kernel_modules": "e1000e EEE=1; i915",
    P + "agent.enable_tracing": "false",
}


def run() -> list[dict]:
    config, _ = seed_install(enable_annotations=True)
    host = Host.real().with_facts(cpus=4, vhost_vsock=False)
    katacfg.resolve(config, ANNOTATIONS, host=host)  # must resolve cleanly
    t = interleaved({
        "resolve": lambda: katacfg.resolve(config, ANNOTATIONS, host=host),
        "load": lambda: katacfg.load(config, host=host),
    }, number=200, repeat=15)
    return [{
        "name": "resolve (seed 000 + 10 annotations) / load",
        "ratio": t["resolve"] / t["load"], "target": 1.25,
        "detail": f"{t['resolve'] * 1e6:.0f} us vs {t['load'] * 1e6:.0f} us",
    }]
