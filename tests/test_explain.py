"""katacfg explain on real inputs: the real containerd's default configuration with Kata
runtimes added, CRI-O configurations, realistic manifests and the seed 004 example."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from katacfg.kube import cri
from katacfg.reports.explain import explain
from tests.helpers import config_text, host, make_install, write_config

DATA = Path(__file__).resolve().parent / "data"
MANIFESTS = DATA / "manifests"
EXE = [sys.executable, "-m", "katacfg"]
H = "io.katacontainers.config.hypervisor."


@pytest.fixture
def node(tmp_path: Path) -> str:
    """A node's Kata configuration with its real files (stock qemu layout)."""
    root = make_install(tmp_path)
    return write_config(root, config_text(root))


def real_containerd_config(tmp_path: Path) -> Path:
    """`containerd config default` from Debian's containerd, plus Kata runtimes."""
    exe = shutil.which("containerd")
    if exe is None:
        pytest.fail("containerd is not installed: run ./dev test (it installs Debian's "
                    "containerd package)")
    out = subprocess.run([exe, "config", "default"], capture_output=True, text=True,
                         check=True).stdout
    path = tmp_path / "containerd.toml"
    path.write_text(out + "\n" + (DATA / "cri/kata-runtimes-v2.toml.part").read_text())
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(EXE + list(args), capture_output=True, text=True, timeout=120)


def test_seed_004_example(node):
    """pod1 gets its kernel modules; pod2's unquoted bool is refused by the API server."""
    cfg = cri.load_containerd_config(DATA / "cri/seed004-containerd-v1.toml")
    r = explain(str(MANIFESTS / "seed004-pods.yaml"), cri_config=cfg, kata_config=node,
                host=host(4))
    pod1, pod2 = r.pods
    assert pod1.starts and pod1.mode == "cli"
    assert ("agent.kernel_modules", [], ["e1000e EEE=1", " i915"]) in pod1.changes
    assert not pod2.starts and pod2.failure_stage == "api-server"
    assert "cannot unmarshal bool into Go struct field" in pod2.failure
    assert pod2.fixed is not None and pod2.fixed.starts
    assert pod2.fixed.changes == [("runtime.disable_guest_seccomp", True, False)]
    assert r.failed


def test_seed_004_example_from_the_command_line(node):
    p = run("--kata-config", node, "explain", str(MANIFESTS / "seed004-pods.yaml"),
            "--containerd-config", str(DATA / "cri/seed004-containerd-v1.toml"))
    assert p.returncode == 1, p.stderr
    assert "agent.kernel_modules: [] -> ['e1000e EEE=1', ' i915']" in p.stdout
    assert "runtime.disable_guest_seccomp: True -> False" in p.stdout
    assert "2 Kata pod(s): 1 would start, 1 would not" in p.stdout


def test_real_containerd_config_mixed_manifest(tmp_path, node):
    cfg = cri.load_containerd_config(real_containerd_config(tmp_path))
    r = explain(str(MANIFESTS / "mixed.yaml"), cri_config=cfg, kata_config=node, host=host(8))
    names = {p.object for p in r.pods}
    assert "Deployment shop/api" in names and "Job shop/migrate" in names
    assert {s[0] for s in r.skipped} >= {"StatefulSet shop/db"}
    api = next(p for p in r.pods if p.object == "Deployment shop/api")
    assert api.starts and api.mode == "shimv2"
    assert ("hypervisor.default_vcpus", 1, 4) in api.changes


def test_annotations_dropped_by_containerd_name_the_missing_pattern(tmp_path, node):
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(f"""apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
    {H}default_memory: "4096"
    io.katacontainers.config.agent.kernel_modules: "e1000e"
spec:
  runtimeClassName: kata-strict
  containers: [{{name: c, image: busybox}}]
""")
    cfg = cri.load_containerd_config(real_containerd_config(tmp_path))
    [pod] = explain(str(manifest), cri_config=cfg, kata_config=node, host=host()).pods
    assert [k for k, _ in pod.dropped] == ["io.katacontainers.config.agent.kernel_modules"]
    assert "io.katacontainers.config.agent." in pod.dropped[0][1] or \
        "io.katacontainers" in pod.dropped[0][1]
    assert ("hypervisor.default_memory", 2048, 4096) in pod.changes


def test_annotation_refused_by_kata_fails_the_pod(tmp_path, node):
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  template:
    metadata:
      annotations: {{"{H}default_vcpus": "64"}}
    spec:
      runtimeClassName: kata
      containers: [{{name: c, image: nginx}}]
""")
    r = explain(str(manifest), kata_config=node, host=host(4))
    [pod] = r.pods
    assert not pod.starts and pod.failure_stage == "annotations"
    assert pod.failure == ("Number of cpus 64 specified in annotation default_vcpus is greater "
                           "than the number of CPUs 4 on the system")
    assert r.failed


def test_crio_passes_kata_annotations(tmp_path, node):
    cfg = cri.load_crio_config(DATA / "cri/crio-kata.conf")
    r = explain(str(MANIFESTS / "deployment.yaml"), cri_config=cfg, kata_config=node,
                host=host(8))
    assert r.pods and all(p.runtime.startswith("crio runtime") for p in r.pods)


def test_cronjob_template_is_explained(node):
    r = explain(str(MANIFESTS / "cronjob.yaml"), kata_config=node, host=host(8))
    assert r.pods and r.pods[0].object.startswith("CronJob")


def test_broken_document_in_the_middle_is_reported_and_the_rest_explained(node):
    p = run("--kata-config", node, "explain", str(MANIFESTS / "broken-middle.yaml"), "--json")
    data = json.loads(p.stdout)
    assert data["errors"] and data["pods"]
    assert p.returncode == 1 and "Traceback" not in p.stderr


def test_not_kubernetes_yaml(node):
    p = run("--kata-config", node, "explain", str(MANIFESTS / "not-kubernetes.yaml"))
    assert p.returncode == 1 and "error KM002:" in p.stdout and "Traceback" not in p.stderr


def test_pod_without_annotations_gets_the_node_default(node):
    r = explain(str(MANIFESTS / "pod-no-annotations.yaml"), kata_config=node, host=host(),
                runtime_class="kata")
    assert r.pods and all(p.starts and not p.changes for p in r.pods)


def test_unusable_containerd_configuration_is_one_clear_line(tmp_path, node):
    p = run("--kata-config", node, "explain", str(MANIFESTS / "deployment.yaml"),
            "--containerd-config", str(DATA / "cri/containerd-docker-packaged.toml"))
    assert p.returncode == 1 and "Traceback" not in p.stderr
    (line,) = p.stderr.strip().splitlines()
    assert "containerd-docker-packaged.toml" in line and "error KR001:" in line


def test_json_output(node):
    p = run("--kata-config", node, "explain", str(MANIFESTS / "seed004-pods.yaml"), "--json",
            "--containerd-config", str(DATA / "cri/seed004-containerd-v1.toml"))
    data = json.loads(p.stdout)
    pod1 = data["pods"][0]
    assert pod1["starts"] and pod1["annotations"][0]["status"] == "applied"
    assert pod1["annotations"][0]["new"] == ["e1000e EEE=1", " i915"]
    assert data["failed"] is True


def test_node_files_of_another_machine(tmp_path):
    text = config_text(Path("/nonexistent-node"))
    path = tmp_path / "node.toml"
    path.write_text(text)
    r = explain(str(MANIFESTS / "seed004-pods.yaml"), kata_config=str(path), host=host(),
                assume_files=True)
    assert r.pods[0].starts
    r = explain(str(MANIFESTS / "seed004-pods.yaml"), kata_config=str(path), host=host())
    assert not r.pods[0].starts and any("--assume-node-files" in n for n in r.notes)


def test_crio_handler_from_a_kata_deploy_drop_in_is_explained(tmp_path, node):
    """CRI-O reads crio.conf.d/ after crio.conf; kata-deploy writes its handlers there."""
    (tmp_path / "crio.conf").write_text('[crio.runtime]\ndefault_runtime = "crun"\n'
                                        '[crio.runtime.runtimes.crun]\n')
    (tmp_path / "crio.conf.d").mkdir()
    (tmp_path / "crio.conf.d" / "99-kata-deploy").write_text(
        '[crio.runtime.runtimes.kata-qemu]\nruntime_type = "vm"\n'
        f'runtime_config_path = "{node}"\n')
    pod = tmp_path / "pod.yaml"
    pod.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n"
                   f"    {H}default_vcpus: \"64\"\nspec:\n  runtimeClassName: kata-qemu\n"
                   "  containers: [{name: c, image: busybox}]\n")
    p = run("explain", str(pod), "--crio-config", str(tmp_path / "crio.conf"),
            "--host-cpus", "4")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "99-kata-deploy" in p.stdout and "Number of cpus 64" in p.stdout
    p = run("explain", str(pod), "--crio-config", str(tmp_path / "crio.conf"),
            "--crio-config-dir", "")
    assert "kata-qemu" in p.stdout + p.stderr and "Number of cpus 64" not in p.stdout
