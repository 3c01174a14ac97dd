"""katacfg admit: AdmissionReview verdicts on real files (Kata install, CRI configs, YAML)."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from katacfg.admission import review as rv
from katacfg.admission.admit import Admitter, admit_objects
from katacfg.admission.selection import build_selection
from katacfg.kube.manifests import load_manifests_text
from tests.helpers import config_text, host, make_install, write_config

DATA = Path(__file__).resolve().parent / "data"
CTD_V2 = str(DATA / "cri/containerd-1.6.20-kata-v2.toml")
EXE = [sys.executable, "-m", "katacfg"]
H = "io.katacontainers.config.hypervisor."


@pytest.fixture
def node(tmp_path: Path) -> str:
    root = make_install(tmp_path)
    return write_config(root, config_text(root, hypervisor_qemu={
        "enable_annotations": ["default_vcpus", "default_memory", "kernel", "kernel_hash",
                               "enable_iommu"],
        "valid_hypervisor_paths": None}))


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(EXE + list(args), capture_output=True, text=True, timeout=120,
                          input=stdin)


def pod_yaml(annotations: dict[str, str], runtime_class: str | None = "kata",
             name: str = "p", kind: str = "Pod") -> str:
    ann = "".join(f"    {k}: {json.dumps(v)}\n" for k, v in annotations.items())
    meta = f"metadata:\n  name: {name}\n" + (f"  annotations:\n{ann}" if ann else "")
    spec = "spec:\n" + (f"  runtimeClassName: {runtime_class}\n" if runtime_class else "") \
        + "  containers: [{name: c, image: busybox}]\n"
    if kind == "Pod":
        return f"apiVersion: v1\nkind: Pod\n{meta}{spec}"
    indent = "".join("    " + line + "\n" for line in (meta + spec).splitlines())
    return (f"apiVersion: apps/v1\nkind: {kind}\nmetadata: {{name: {name}}}\nspec:\n"
            f"  template:\n{indent}")


def review_json(pod: dict, uid: str = "u-1", kind: str = "Pod", group: str = "",
                operation: str = "CREATE") -> dict:
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": uid, "kind": {"group": group, "version": "v1", "kind": kind},
                        "resource": {"group": group, "version": "v1", "resource": "pods"},
                        "namespace": "default", "operation": operation, "object": pod}}


def a_pod(annotations: dict[str, str], runtime_class: str | None = "kata") -> dict:
    spec: dict = {"containers": [{"name": "c", "image": "busybox"}]}
    if runtime_class:
        spec["runtimeClassName"] = runtime_class
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "annotations": annotations},
            "spec": spec}


def test_refused_annotation_is_denied_with_kata_text_rule_file_and_line(tmp_path, node):
    f = tmp_path / "pods.yaml"
    f.write_text(pod_yaml({H + "default_vcpus": "64"}))
    p = run("--kata-config", node, "admit", str(f), "--runtime-class", "kata",
            "--host-cpus", "4")
    assert p.returncode == 1, p.stderr
    [item] = json.loads(p.stdout)["items"]
    resp = item["response"]
    assert item["apiVersion"] == "admission.k8s.io/v1" and item["kind"] == "AdmissionReview"
    assert resp["uid"] == f"{f}:1" and resp["allowed"] is False
    assert resp["status"]["code"] == 403
    msg = resp["status"]["message"]
    assert (f'annotation {H}default_vcpus: "Number of cpus 64 specified in annotation '
            'default_vcpus is greater than the number of CPUs 4 on the system"') in msg
    assert "rule KC210" in msg and "stage annotations" in msg
    line = next(i for i, t in enumerate(Path(node).read_text().splitlines(), 1)
                if t.startswith("default_vcpus"))
    assert f"Kata file {node}:{line}" in msg
    assert "DENIED" in p.stderr and "Traceback" not in p.stderr


def test_not_enabled_annotation_names_the_enable_annotations_line(tmp_path, node):
    f = tmp_path / "pods.yaml"
    f.write_text(pod_yaml({H + "machine_type": "q35"}))
    p = run("--kata-config", node, "admit", str(f), "--runtime-class", "kata")
    msg = json.loads(p.stdout)["items"][0]["response"]["status"]["message"]
    line = next(i for i, t in enumerate(Path(node).read_text().splitlines(), 1)
                if t.startswith("enable_annotations"))
    assert f'"annotation {H}machine_type is not enabled"' in msg
    assert f"{node}:{line}" in msg and "KC200" in msg


def test_accepted_pod_and_non_kata_objects_are_allowed(tmp_path, node):
    f = tmp_path / "pods.yaml"
    f.write_text("---\n".join([
        pod_yaml({H + "default_memory": "4096"}),
        pod_yaml({H + "default_vcpus": "999"}, runtime_class="runc", name="runc-pod"),
        pod_yaml({H + "default_vcpus": "999"}, runtime_class=None, name="plain"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n",
    ]))
    p = run("--kata-config", node, "admit", str(f), "--runtime-class", "kata")
    assert p.returncode == 0, p.stdout + p.stderr
    items = json.loads(p.stdout)["items"]
    assert len(items) == 4 and all(i["response"]["allowed"] for i in items)
    assert "status" not in items[1]["response"]  # not a Kata pod: untouched


def test_workload_templates_are_judged(tmp_path, node):
    f = tmp_path / "w.yaml"
    f.write_text(pod_yaml({H + "enable_iommu": "maybe"}, kind="Deployment", name="web"))
    p = run("--kata-config", node, "admit", str(f), "--runtime-class", "kata")
    assert p.returncode == 1
    msg = json.loads(p.stdout)["items"][0]["response"]["status"]["message"]
    assert "Please specify boolean value 'true|false'" in msg
    assert "Deployment web" in p.stderr


def test_cri_drop_is_a_warning_never_a_denial(tmp_path, node):
    f = tmp_path / "pods.yaml"
    f.write_text(pod_yaml({H + "default_vcpus": "999"}, runtime_class="kata-plain"))
    p = run("--kata-config", node, "admit", str(f), "--containerd-config", CTD_V2)
    assert p.returncode == 0, p.stdout + p.stderr
    resp = json.loads(p.stdout)["items"][0]["response"]
    assert resp["allowed"] is True
    [w] = resp["warnings"]
    assert w.startswith(f"{H}default_vcpus: dropped before Kata") and "pod_annotations" in w


def test_containerd_handler_filter_decides_what_kata_judges(tmp_path, node):
    f = tmp_path / "pods.yaml"
    # kata-strict passes hypervisor annotations only; the agent one is dropped (warning)
    f.write_text(pod_yaml({H + "default_vcpus": "999",
                           "io.katacontainers.config.agent.kernel_modules": "x"},
                          runtime_class="kata-strict"))
    p = run("--kata-config", node, "admit", str(f), "--containerd-config", CTD_V2,
            "--host-cpus", "8")
    resp = json.loads(p.stdout)["items"][0]["response"]
    assert resp["allowed"] is False and "Number of cpus 999" in resp["status"]["message"]
    assert "containerd runtime 'kata-strict'" in resp["status"]["message"]
    assert any(w.startswith("io.katacontainers.config.agent.kernel_modules: dropped")
               for w in resp["warnings"])


def test_asset_hash_on_the_node_is_checked(tmp_path, node):
    kernel = Path(node).parent / "share" / "vmlinuz.container"
    good = hashlib.sha512(kernel.read_bytes()).hexdigest()
    f = tmp_path / "pods.yaml"
    f.write_text("---\n".join([
        pod_yaml({H + "kernel": str(kernel), H + "kernel_hash": good}, name="good"),
        pod_yaml({H + "kernel": str(kernel), H + "kernel_hash": "0" * 128}, name="bad"),
    ]))
    p = run("--kata-config", node, "admit", str(f), "--runtime-class", "kata")
    good_r, bad_r = (i["response"] for i in json.loads(p.stdout)["items"])
    assert good_r["allowed"] is True
    assert bad_r["allowed"] is False and "stage assets" in bad_r["status"]["message"]


def test_admission_review_in_review_out(tmp_path, node):
    f = tmp_path / "review.json"
    f.write_text(json.dumps(review_json(a_pod({H + "default_vcpus": "64"}), uid="abc-123")))
    p = run("--kata-config", node, "admit", str(f), "--runtime-class", "kata",
            "--host-cpus", "2")
    assert p.returncode == 1
    out = json.loads(p.stdout)
    assert out["apiVersion"] == "admission.k8s.io/v1" and out["kind"] == "AdmissionReview"
    assert out["response"]["uid"] == "abc-123" and out["response"]["allowed"] is False
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps(review_json(a_pod({H + "default_vcpus": "2"}), uid="u2")))
    p = run("--kata-config", node, "admit", str(ok), "--runtime-class", "kata",
            "--host-cpus", "2")
    assert p.returncode == 0 and json.loads(p.stdout)["response"] == {"uid": "u2",
                                                                       "allowed": True}


@pytest.mark.parametrize("body, words", [
    ('{"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {}}',
     "admissionReviewVersions"),
    ('{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}',
     "no uid"),
    ('{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}', "no request"),
])
def test_malformed_review_is_one_line(tmp_path, node, body, words):
    f = tmp_path / "r.json"
    f.write_text(body)
    p = run("--kata-config", node, "admit", str(f), "--runtime-class", "kata")
    assert p.returncode == 1 and p.stdout == ""
    assert words in p.stderr and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr


def test_bad_inputs_are_one_clear_line(tmp_path, node):
    for args, words in [(["/nonexistent.yaml", "--runtime-class", "kata"], "no such file"),
                        ([str(tmp_path), "--runtime-class", "kata"], "directory"),
                        ([str(DATA / "manifests/seed004-pods.yaml")], "--runtime-class")]:
        p = run("--kata-config", node, "admit", *args)
        assert p.returncode == 1 and words in p.stderr and "Traceback" not in p.stderr, args


def test_broken_yaml_document_is_refused_and_the_rest_judged(node):
    objects = load_manifests_text("a: [\n---\n" + pod_yaml({H + "default_vcpus": "1"}), "f")
    sel = build_selection(runtime_class="kata", kata_config=node)
    answers = admit_objects(objects, Admitter(sel, host=host(2)))
    assert [a.allowed for a in answers] == [False, True]
    assert answers[0].review["response"]["status"]["code"] == 400


def test_api_server_refusal_is_422(node):
    objects = load_manifests_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n"
        f"    {H}enable_iommu: true\nspec:\n  runtimeClassName: kata\n"
        "  containers: [{name: c, image: b}]\n", "f")
    sel = build_selection(runtime_class="kata", kata_config=node)
    [a] = admit_objects(objects, Admitter(sel, host=host(2)))
    assert not a.allowed and a.review["response"]["status"]["code"] == 422
    assert "cannot unmarshal bool" in a.review["response"]["status"]["message"]


def test_pod_chosen_config_file_that_is_not_regular_is_refused_without_reading(node):
    sel = build_selection(runtime_class="kata", kata_config=node, mode="shimv2")
    adm = Admitter(sel, host=host(2))
    v = adm.verdict(rv.PodView("Pod", "p", "d", "kata",
                               {"io.katacontainers.config_path": "/dev/zero"}))
    assert not v.allowed and "/dev/zero is not a regular file" in v.message
    v = adm.verdict(rv.PodView("Pod", "p", "d", "kata",
                               {"io.katacontainers.config_path": node}))
    assert v.allowed and any("chooses its Kata configuration" in w for w in v.warnings)


def test_broken_node_configuration_denies_every_kata_pod(tmp_path):
    bad = tmp_path / "k.toml"
    bad.write_text("[hypervisor.qemu]\npath = \n")
    sel = build_selection(runtime_class="kata", kata_config=str(bad))
    adm = Admitter(sel, host=host(2))
    assert adm.preload()
    v = adm.verdict(rv.PodView("Pod", "p", "d", "kata", {}))
    assert not v.allowed and v.message.startswith("Kata refuses this node's configuration")
    assert adm.verdict(rv.PodView("Pod", "p", "d", "runc", {})).allowed


def test_update_of_a_running_pod_is_not_judged(node):
    sel = build_selection(runtime_class="kata", kata_config=node)
    adm = Admitter(sel, host=host(2))
    bad = a_pod({H + "default_vcpus": "99"})
    assert adm.review(rv.parse_review(review_json(bad, operation="UPDATE")))["response"][
        "allowed"]
    assert not adm.review(rv.parse_review(review_json(bad)))["response"]["allowed"]
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"template": {"metadata": {"annotations": bad["metadata"]["annotations"]},
                                 "spec": bad["spec"]}}}
    r = adm.review(rv.parse_review(review_json(dep, kind="Deployment", group="apps",
                                               operation="UPDATE")))
    assert not r["response"]["allowed"]


def test_verdicts_are_cached_by_annotations_only(node):
    sel = build_selection(runtime_class="kata", kata_config=node)
    adm = Admitter(sel, host=host(2), cache_size=2)
    pods = [rv.PodView("Pod", f"p{i}", "d", "kata", {H + "default_memory": str(1024 + i)})
            for i in range(5)]
    first = [adm.verdict(p) for p in pods]
    assert [adm.verdict(p) for p in pods] == first and len(adm._verdicts) == 2
    assert Admitter(sel, host=host(2), cache_size=0).verdict(pods[0]) == first[0]


def test_readme_examples():
    kata = str(DATA / "policy/configuration-qemu.toml")
    p = run("--kata-config", kata, "admit", str(DATA / "admission/review-bad-pod.json"),
            "--runtime-class", "kata", "--assume-node-files")
    assert p.returncode == 1
    resp = json.loads(p.stdout)["response"]
    assert resp["uid"] == "0d3c2a3e-5a2b-4c1e-9a77-6f1f3c2b8e01"
    assert resp["status"]["message"].startswith(
        'Kata would refuse this pod (FailedCreatePodSandBox): annotation '
        'io.katacontainers.config.hypervisor.memory_offset: "annotation '
        'io.katacontainers.config.hypervisor.memory_offset is not enabled" [rule KC200')
    assert "configuration-qemu.toml:111 (enable_annotations)" in resp["status"]["message"]
    p = run("--kata-config", kata, "admit", str(DATA / "policy/bad-pod.yaml"),
            "--containerd-config", CTD_V2, "--assume-node-files")
    assert p.returncode == 1 and "DENIED  Pod bad [" in p.stderr
    assert "containerd runtime 'kata'" in p.stderr


def review_yaml(pod_annotations: dict[str, str], uid: str) -> str:
    ann = "".join(f"        {k}: {json.dumps(v)}\n" for k, v in pod_annotations.items())
    return ("apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\nrequest:\n"
            f"  uid: {uid}\n  kind: {{group: '', version: v1, kind: Pod}}\n"
            "  resource: {group: '', version: v1, resource: pods}\n"
            "  namespace: default\n  operation: CREATE\n  object:\n"
            "    apiVersion: v1\n    kind: Pod\n    metadata:\n      name: p\n"
            + (f"      annotations:\n{ann}" if ann else "")
            + "    spec:\n      runtimeClassName: kata\n"
            "      containers: [{name: c, image: busybox}]\n")


def test_an_admission_review_in_yaml_is_answered_as_the_same_review_in_json(tmp_path, node):
    bad = {H + "default_vcpus": "64"}
    y = tmp_path / "review.yaml"
    y.write_text("# a review written by hand\n" + review_yaml(bad, "u-7"))
    j = tmp_path / "review.json"
    j.write_text(json.dumps(review_json(a_pod(bad), uid="u-7")))
    py = run("--kata-config", node, "admit", str(y), "--runtime-class", "kata",
             "--host-cpus", "4")
    pj = run("--kata-config", node, "admit", str(j), "--runtime-class", "kata",
             "--host-cpus", "4")
    assert py.returncode == pj.returncode == 1, py.stderr
    assert json.loads(py.stdout) == json.loads(pj.stdout)
    assert json.loads(py.stdout)["response"]["uid"] == "u-7"


def test_a_yaml_stream_of_reviews_gets_one_answer_each(tmp_path, node):
    f = tmp_path / "reviews.yaml"
    f.write_text(review_yaml({H + "default_memory": "4096"}, "ok-1") + "---\n"
                 + review_yaml({H + "machine_type": "q35"}, "bad-2"))
    p = run("--kata-config", node, "admit", str(f), "--runtime-class", "kata")
    assert p.returncode == 1, p.stderr
    items = json.loads(p.stdout)["items"]
    assert [(i["response"]["uid"], i["response"]["allowed"]) for i in items] == [
        ("ok-1", True), ("bad-2", False)]
    assert f"[{f}:19]" in p.stderr  # the second review's line


def test_a_broken_document_names_its_place_once_on_the_summary_line(tmp_path, node):
    f = tmp_path / "bad.yaml"
    f.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p\n")
    p = run("--kata-config", node, "admit", str(f), "--runtime-class", "kata")
    assert p.returncode == 1
    [line] = [x for x in p.stderr.splitlines() if x.startswith("DENIED")]
    assert line.count(str(f)) == 1, line
