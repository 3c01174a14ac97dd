"""`katacfg policy` end to end: real CRI configurations in, API objects out.

The objects are validated against the Kubernetes 1.30 OpenAPI schema offline
(kubernetes-validate) and evaluated with cel-expr-python on pods.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from katacfg.cli.app import main
from tests.test_policy_cel import HP, STOCK, compiled, evaluate, pod

kubernetes_validate = pytest.importorskip("kubernetes_validate")

DATA = Path(__file__).resolve().parent / "data"
CONTAINERD = DATA / "cri" / "containerd-1.6.20-kata-v2.toml"
SEED004 = DATA / "cri" / "seed004-containerd-v1.toml"
CRIO = DATA / "cri" / "crio-kata.conf"


def policy(capsys: pytest.CaptureFixture[str], *argv: str, kata: Path | str = STOCK,
           code: int = 0) -> list[dict]:
    rc = main(["--kata-config", str(kata), "policy", "--assume-node-files", *argv])
    out = capsys.readouterr()
    assert rc == code, out.err
    assert "Traceback" not in out.err
    if code:
        return []
    if "-o" in argv and argv[argv.index("-o") + 1] == "json":
        return json.loads(out.out)["items"]
    return [o for o in yaml.safe_load_all(out.out) if o is not None]


def test_objects_pass_the_kubernetes_1_30_schema(capsys: pytest.CaptureFixture[str]) -> None:
    objs = policy(capsys, "--containerd-config", str(CONTAINERD), "--node-cpus", "8", "--deny")
    kinds = [o["kind"] for o in objs]
    assert kinds.count("ValidatingAdmissionPolicy") == kinds.count(
        "ValidatingAdmissionPolicyBinding") >= 3
    for obj in objs:
        kubernetes_validate.validate(obj, "1.30", strict=True)
        if obj["kind"] == "ValidatingAdmissionPolicy":
            for v in obj["spec"]["validations"]:
                compiled(v["expression"])
                assert "\n" not in v["message"] and v["message"].strip()
                assert v.get("reason") == "Forbidden"
            spec = obj["spec"]
            assert spec["failurePolicy"] == "Ignore"
            assert spec["matchConstraints"]["resourceRules"][0]["operations"] == ["CREATE"]
            assert int(obj["metadata"]["annotations"]["katacfg.io/worst-case-cost"]) < 1_000_000


def test_real_containerd_config_one_policy_per_kata_handler(
        capsys: pytest.CaptureFixture[str]) -> None:
    objs = policy(capsys, "--containerd-config", str(CONTAINERD))
    names = sorted(o["metadata"]["name"] for o in objs if o["kind"] == "ValidatingAdmissionPolicy")
    assert "katacfg-kata" in names and "katacfg-kata-strict" in names
    bad = pod({HP + "default_memory": "lots"})
    v = evaluate(objs, bad)
    assert len(v.failures) == 1 and v.failures[0].startswith(
        'Error encountered parsing annotation for default_memory: strconv.ParseUint: parsing '
        '"lots": invalid syntax [katacfg: annotation io.katacontainers.config.hypervisor.'
        'default_memory;')
    # kata-plain passes no pod annotation: nothing to refuse, a notice instead
    v = evaluate(objs, pod({HP + "default_memory": "lots"}, "kata-plain"))
    assert not v.denied
    n = evaluate(objs, pod({HP + "default_memory": "lots"}, "kata-plain"), notices=True)
    assert n.failures[0].startswith(f"annotation {HP}default_memory is dropped by containerd")


def test_filter_decides_what_reaches_kata(capsys: pytest.CaptureFixture[str]) -> None:
    objs = policy(capsys, "--containerd-config", str(CONTAINERD), "--runtime-class",
                  "kata-strict")
    agent = "io.katacontainers.config.agent.enable_tracing"
    assert not evaluate(objs, pod({agent: "maybe"}, "kata-strict")).denied  # dropped
    assert evaluate(objs, pod({agent: "maybe"}, "kata-strict"), notices=True).denied
    assert evaluate(objs, pod({HP + "enable_iommu": "maybe"}, "kata-strict")).denied


def test_gate_from_the_node_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    kata = tmp_path / "configuration.toml"
    kata.write_text(STOCK.read_text().replace('enable_annotations = [".*"]',
                                              'enable_annotations = ["default_vcpus"]'))
    assert 'enable_annotations = ["default_vcpus"]' in kata.read_text()
    objs = policy(capsys, "--containerd-config", str(SEED004), "--deny", kata=kata)
    v = evaluate(objs, pod({HP + "memory_offset": "1024"}))
    assert v.failures[0].startswith(
        f"annotation {HP}memory_offset is not enabled [katacfg: rule: enable_annotations gate; "
        f"{kata}:")
    assert not evaluate(objs, pod({HP + "default_vcpus": "2"})).denied
    binding = [o for o in objs if o["kind"] == "ValidatingAdmissionPolicyBinding"]
    assert binding[0]["spec"]["validationActions"] == ["Deny"]


def test_crio_and_runtime_class_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    objs = policy(capsys, "--crio-config", str(CRIO), "-o", "json")
    assert objs and all(o["apiVersion"] == "admissionregistration.k8s.io/v1" for o in objs)
    objs = policy(capsys, "--runtime-class", "kata-fc", "--node-cpus", "2")
    cond = objs[0]["spec"]["matchConditions"][0]["expression"]
    assert "['kata-fc']" in cond
    v = evaluate(objs, pod({HP + "default_vcpus": "3"}, "kata-fc"))
    assert v.failures[0].startswith("Number of cpus 3 specified in annotation default_vcpus is "
                                    "greater than the number of CPUs 2 on the system")


def test_bad_input_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    policy(capsys, code=1)
    policy(capsys, "--containerd-config", str(tmp_path / "missing.toml"), code=1)
    kata = tmp_path / "configuration.toml"
    kata.write_text("[hypervisor.qemu]\npath = 5\n")
    rc = main(["--kata-config", str(kata), "policy", "--runtime-class", "kata"])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["policy", "--runtime-class", "kata", "--node-cpus", "0"])


def test_readme_example(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's example, as written there."""
    rc = main(["--kata-config", str(DATA / "policy" / "configuration-qemu.toml"), "policy",
               "--containerd-config", str(CONTAINERD), "--runtime-class", "kata",
               "--assume-node-files", "--deny"])
    out = capsys.readouterr()
    assert rc == 0
    readme = (DATA.parent.parent / "README.md").read_text()
    line = next(s for s in out.err.splitlines() if s.startswith("katacfg: kata: "))
    assert line in readme
    objs = [o for o in yaml.safe_load_all(out.out) if o is not None]
    bad = yaml.safe_load((DATA / "policy" / "bad-pod.yaml").read_text())
    first = evaluate(objs, bad).failures[0]
    head, _, rest = first.partition(" [katacfg: ")
    assert f"denied request: {head} [katacfg: " in readme
    assert rest.split("configuration-qemu.toml:")[1] in readme


def test_runtime_classes_file_and_default_runtime(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path) -> None:
    classes = tmp_path / "runtimeclasses.yaml"
    classes.write_text("apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata:\n"
                       "  name: kata-qemu\nhandler: kata\n")
    objs = policy(capsys, "--containerd-config", str(CONTAINERD), "--runtime-classes",
                  str(classes))
    bad = {HP + "default_memory": "lots"}
    assert evaluate(objs, pod(bad, "kata-qemu")).denied
    cond = next(o for o in objs if o["metadata"]["name"] == "katacfg-kata")["spec"][
        "matchConditions"][0]["expression"]
    assert "'kata-qemu'" in cond
    # containerd whose default runtime is Kata: pods without runtimeClassName are Kata pods
    conf = tmp_path / "containerd.toml"
    conf.write_text('version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n'
                    'default_runtime_name = "kata"\n'
                    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata]\n'
                    'runtime_type = "io.containerd.kata.v2"\n'
                    'pod_annotations = ["io.katacontainers.*"]\n')
    objs = policy(capsys, "--containerd-config", str(conf))
    assert evaluate(objs, pod(bad, None)).denied
    assert not evaluate(objs, pod(bad, "runc")).matched


def test_handler_names_that_clash_get_distinct_objects(capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    conf = tmp_path / "containerd.toml"
    conf.write_text("".join(
        f'[plugins.cri.containerd.runtimes.{name}]\nruntime_type = "io.containerd.kata.v2"\n'
        f'pod_annotations = ["io.katacontainers.*"]\n' for name in ("kata_fc", "kata-fc")))
    objs = policy(capsys, "--containerd-config", str(conf))
    names = [o["metadata"]["name"] for o in objs if o["kind"] == "ValidatingAdmissionPolicy"]
    assert len(names) == len(set(names)) == 4
    for obj in objs:
        kubernetes_validate.validate(obj, "1.30", strict=True)
