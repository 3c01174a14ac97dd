"""Random pods and random node configurations: the policy's verdict is katacfg's overlay's.

The overlay (the same code as `resolve`) runs with the node's files assumed present
(`--assume-node-files`), the policy with `--node-cpus` set to the same CPU count; then
everything Kata decides is decidable without the node, and the two must agree exactly:
the policy denies a pod if and only if Kata would refuse it. Asset hashes (which read
files) and a pod's own configuration file are left out.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from katacfg.admission import policy
from katacfg.admission.selection import build_selection
from katacfg.config.errors import KataError
from katacfg.config.load import load
from katacfg.config.pipeline import overlay
from katacfg.config.registry import HYPERVISOR_PREFIX as HP
from katacfg.profiles.kata1x.tables import ALL_ANNOTATIONS
from tests.test_policy_cel import STOCK, evaluate

pytest.importorskip("cel_expr_python.cel")

EXAMPLES = int(os.environ.get("KATACFG_HYPOTHESIS_EXAMPLES", "120"))

GATES = ['".*"', '"default_vcpus"', '"^kernel$"', '"memory"', '"path"', '"(?i)DEFAULT"',
         '"virtio_fs"', '"^enable_"', '"["', '"shared_fs"', '"_"', '"^default_max_vcpus$"']
GLOBS = ['"/usr/bin/qemu-*"', '"/opt/kata/bin/*/qemu"', '"/usr/libexec/virtiofsd"',
         '"/dev/hugepages/*"', '"/run/vhost?user"', '""', '"/a/[b-d]x"', '"/usr//bin/*"',
         '"rel/*"', '"/x/../y/*"']
PATHS = ["/usr/bin/qemu-system-x86_64", "/usr/bin/qemu-", "/opt/kata/bin/x/qemu",
         "/opt/kata/bin/../qemu", "/usr/libexec/virtiofsd", "/dev/hugepages/2M",
         "/dev/hugepages/..", "/run/vhost-user", "/run/vhost/user", "", "/a/cx", "/a/ex",
         "/usr/bin/x", "rel/x", "/y/z", "/usr//bin/qemu-x", "/usr/bin/qemu-a/", "vmlinuz"]
VALUES = {
    "bool": ["true", "false", "1", "0", "T", "f", "yes", "", "TRUE ", "tRUE"],
    "uint32": ["0", "1", "2", "3", "8", "240", "241", "4294967295", "4294967296", "", "-1",
               " 1", "1 ", "0x1", "007", "99999999999x", "abc"],
    "enum": ["virtio-scsi", "virtio-blk", "nvdimm", "virtio-fs", "virtio-9p", "macvtap",
             "default", "none", "tcfilter", "", "virtio_fs", "bridged"],
    "params": ["quiet", "a=b c", "=x", "a =b", "a\t=b", "", "  ", "a==b"],
    "split": ["newstore", "newstore newstore", "", "newstore,x", "x", "newstore  newstore",
              "e1000e EEE=1; i915"],
    "string": ["x", "", "always"],
    "nonempty": ["x", ""],
    "ignored": ["x", ""],
}
KNOWN = [a for a in ALL_ANNOTATIONS]
EXTRA_KEYS = [HP + "unknown_thing", HP + "default_maxvcpus", HP + "x/y",
              "io.katacontainers.whatever", "example.com/other",
              "io.kubernetes.cri.container-type", "io.kubernetes.cri-o.ContainerType",
              "io.kubernetes.docker.type"]
CPU_CHOICES = [1, 2, 4, 8, 256]


def _values_for(key: str) -> list[str]:
    if key == "io.kubernetes.cri.container-type":
        return ["sandbox", "container", "podsandbox", "bogus", ""]
    if key.startswith("io.kubernetes."):
        # an unknown value of the later keys is left to the CRI, which sets its own
        return ["sandbox", "container", "podsandbox"]
    for a in KNOWN:
        if a.name == key:
            if a.kind in ("restricted", "asset"):
                return PATHS
            return VALUES.get(a.kind, ["x"])
    return ["x", ""]


@st.composite
def node_and_pod(draw):  # type: ignore[no-untyped-def]
    gate = draw(st.one_of(st.just(['".*"']),  # half the nodes let every name through
                          st.lists(st.sampled_from(GATES), min_size=0, max_size=3,
                                   unique=True)))
    keys = {
        "enable_annotations": "[" + ", ".join(gate) + "]",
        "valid_hypervisor_paths": "[" + ", ".join(draw(st.lists(st.sampled_from(GLOBS),
                                                                 max_size=3))) + "]",
        "valid_virtio_fs_daemon_paths": "[" + ", ".join(draw(st.lists(st.sampled_from(GLOBS),
                                                                       max_size=2))) + "]",
        "valid_file_mem_backends": "[" + ", ".join(draw(st.lists(st.sampled_from(GLOBS),
                                                                  max_size=2))) + "]",
        "valid_vhost_user_store_paths": "[" + ", ".join(draw(st.lists(st.sampled_from(GLOBS),
                                                                       max_size=2))) + "]",
        "shared_fs": draw(st.sampled_from(['"virtio-9p"', '"virtio-fs"'])),
        "virtio_fs_daemon": draw(st.sampled_from(['"/usr/libexec/virtiofsd"', '""'])),
    }
    names = draw(st.lists(st.sampled_from([a.name for a in KNOWN] + EXTRA_KEYS),
                          min_size=1, max_size=6, unique=True))
    noise = st.text(alphabet="0123456789 \t\u3000\x1c=/.-_abTtFfvirto", max_size=12)
    annotations = {n: draw(st.one_of(st.sampled_from(_values_for(n)), noise))
                   if not n.startswith("io.kubernetes.") else draw(st.sampled_from(
                       _values_for(n))) for n in names}
    cpus = draw(st.sampled_from(CPU_CHOICES))
    cri = draw(st.one_of(st.none(), st.just("crio"),
                         st.lists(st.sampled_from(POD_ANNOTATIONS), max_size=2)))
    return keys, annotations, cpus, cri


POD_ANNOTATIONS = ["io.katacontainers.*", "io.katacontainers.config.hypervisor.*",
                   "io.katacontainers.config.agent.*", "*", "io.katacontainers.config.[agent",
                   "io.katacontainers.config.hypervisor.default_*", "io.kubernetes.cri.*",
                   "io.katacontainers.config.runtime.?xperimental"]


def _target(tmp: Path, cri, kata: Path):  # type: ignore[no-untyped-def]
    if cri is None:
        return build_selection(runtime_class="kata", kata_config=str(kata), mode="cli")
    if cri == "crio":
        conf = tmp / "crio.conf"
        conf.write_text('[crio.runtime]\n[crio.runtime.runtimes.kata]\n'
                        'runtime_path = "/usr/bin/containerd-shim-kata-v2"\n'
                        'runtime_type = "vm"\n')
        return build_selection(crio_config=str(conf), kata_config=str(kata))
    conf = tmp / "containerd.toml"
    pats = ", ".join(f'"{p}"' for p in cri)
    conf.write_text('version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata]'
                    f'\nruntime_type = "io.containerd.kata.v2"\npod_annotations = [{pats}]\n')
    return build_selection(containerd_config=str(conf), kata_config=str(kata))


def _config(tmp: Path, keys: dict[str, str]) -> Path:
    lines = []
    for line in STOCK.read_text().splitlines():
        key = line.split("=", 1)[0].strip().lstrip("#").strip()
        if key in keys and "=" in line:
            continue  # replaced below
        lines.append(line)
        if line.strip() == "[hypervisor.qemu]":
            lines += [f"{k} = {v}" for k, v in keys.items()]
    path = tmp / "configuration.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(node_and_pod())
def test_policy_verdict_is_the_overlay_verdict(tmp_path: Path, case) -> None:  # type: ignore[no-untyped-def]
    keys, annotations, cpus, cri = case
    path = _config(tmp_path, keys)
    try:
        cfg = load(str(path), assume_files=True)
    except KataError:
        return  # the node's file is refused: every pod fails, no policy to compare
    target = _target(tmp_path, cri, path).targets[0]
    seen = annotations if cri is None else target.sandbox(annotations).annotations
    try:
        overlay(cfg, seen, host_cpus=cpus)
        refused = ""
    except KataError as exc:
        refused = exc.text
    objs = policy.objects(policy.build(cfg, target, node_cpus=cpus))
    verdict = evaluate(objs, {"metadata": {"annotations": annotations},
                              "spec": {"runtimeClassName": "kata"}})
    assert not verdict.errors
    assert verdict.denied == bool(refused), (keys, annotations, cpus, cri, refused,
                                             verdict.failures)
    if refused.endswith(" is not enabled"):  # which name Go reports depends on map order
        assert any(" is not enabled [katacfg" in f for f in verdict.failures)
    elif refused and not any(ch in "\x1c\x01" for ch in "".join(annotations.values())):
        # Kata's words are among the policy's (quoting escapes the usual characters only)
        assert any(f.startswith(refused + " [katacfg") for f in verdict.failures), (
            refused, verdict.failures)
