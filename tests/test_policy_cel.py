"""The generated policies, compiled and evaluated by Google's CEL runtime (cel-expr-python).

`evaluate()` plays the API server's part for one pod: matchConditions, then every
validation (type-checked, with the strings extension Kubernetes enables), then the
messageExpression of each failure. Other tests import it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from katacfg.admission import policy
from katacfg.admission.selection import Target, build_selection
from katacfg.config.load import load

cel_mod = pytest.importorskip("cel_expr_python.cel")
ext_strings = pytest.importorskip("cel_expr_python.ext.ext_strings")

HERE = Path(__file__).resolve().parent
STOCK = HERE.parent / "src" / "katacfg" / "data" / "configuration.toml"
HP = "io.katacontainers.config.hypervisor."


@functools.cache
def env():  # type: ignore[no-untyped-def]
    t = cel_mod.Type
    return cel_mod.NewEnv(
        variables={"object": t.Map(t.STRING, t.DYN), "oldObject": t.DYN, "request": t.DYN},
        extensions=[ext_strings.ExtStrings()])


@functools.lru_cache(maxsize=4096)
def compiled(expr: str):  # type: ignore[no-untyped-def]
    return env().compile(expr)


@dataclass
class Verdict:
    matched: bool = False
    failures: list[str] = field(default_factory=list)  # messages of failed validations
    errors: list[str] = field(default_factory=list)  # evaluation errors (failurePolicy)

    @property
    def denied(self) -> bool:
        return bool(self.failures)


def run(expr: str, pod: dict):  # type: ignore[no-untyped-def]
    return compiled(expr).eval(data={"object": pod}).value()


def evaluate(objects: list[dict], pod: dict, *, notices: bool = False) -> Verdict:
    """The verdict of the refusal policies (or, with notices, of the notice policies)."""
    out = Verdict()
    for obj in objects:
        if obj["kind"] != "ValidatingAdmissionPolicy":
            continue
        if obj["metadata"]["name"].endswith("-notices") != notices:
            continue
        spec = obj["spec"]
        if not all(run(m["expression"], pod) is True for m in spec.get("matchConditions", [])):
            continue
        out.matched = True
        for v in spec["validations"]:
            try:
                ok = run(v["expression"], pod)
            except Exception as exc:  # noqa: BLE001 - an evaluation error, as the API server sees it
                out.errors.append(f"{v['expression'][:80]}: {exc}")
                continue
            if ok is not True:
                msg = v["message"]
                if "messageExpression" in v:
                    msg = run(v["messageExpression"], pod)
                out.failures.append(msg)
    return out


def pod(annotations: dict[str, str] | None, runtime_class: str | None = "kata") -> dict:
    p: dict = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
               "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    if annotations is not None:
        p["metadata"]["annotations"] = annotations
    if runtime_class is not None:
        p["spec"]["runtimeClassName"] = runtime_class
    return p


def make(text: str | None = None, tmp_path: Path | None = None, *, node_cpus: int | None = None,
         deny: bool = False, target: policy.Target | None = None) -> list[dict]:
    path = STOCK
    if text is not None:
        assert tmp_path is not None
        path = tmp_path / "configuration.toml"
        path.write_text(text)
    cfg = load(str(path), assume_files=True)
    ps = policy.build(cfg, target or for_class("kata"), node_cpus=node_cpus)
    return policy.objects(ps, deny=deny)


def for_class(name: str, mode: str = "shimv2") -> Target:
    return build_selection(runtime_class=name, mode=mode).targets[0]


QEMU = """[hypervisor.qemu]
path = "/usr/bin/qemu-system-x86_64"
kernel = "/usr/share/kata-containers/vmlinuz.container"
image = "/usr/share/kata-containers/kata-containers.img"
machine_type = "pc"
"""


def cfg_with(**keys: str) -> str:
    return QEMU + "".join(f"{k} = {v}\n" for k, v in keys.items())


# ----------------------------------------------------------------------------- tests


def test_every_expression_compiles_and_type_checks(tmp_path: Path) -> None:
    objs = make(cfg_with(enable_annotations='["default_vcpus", "^kernel$", "(?i)MEM"]',
                         valid_hypervisor_paths='["/usr/bin/qemu-*", "/opt/kata/bin/qemu"]'),
                tmp_path, node_cpus=8)
    n = 0
    for obj in objs:
        if obj["kind"] != "ValidatingAdmissionPolicy":
            continue
        for m in obj["spec"]["matchConditions"]:
            compiled(m["expression"])
            n += 1
        for v in obj["spec"]["validations"]:
            assert compiled(v["expression"]).return_type() == cel_mod.Type.BOOL
            if "messageExpression" in v:
                assert compiled(v["messageExpression"]).return_type() == cel_mod.Type.STRING
            n += 1
    assert n > 15


def test_stock_config_accepts_the_seed_pod_and_refuses_bad_values() -> None:
    objs = make()
    assert not evaluate(objs, pod({"io.katacontainers.config.agent.kernel_modules":
                                   "e1000e EEE=1; i915"})).denied
    v = evaluate(objs, pod({HP + "default_memory": "abc"}))
    assert v.failures == [
        'Error encountered parsing annotation for default_memory: strconv.ParseUint: parsing '
        '"abc": invalid syntax'
        + v.failures[0].split("invalid syntax", 1)[1]]
    assert v.failures[0].startswith("Error encountered parsing annotation for default_memory")
    assert "configuration.toml" in v.failures[0] and HP + "default_memory" in v.failures[0]


def test_other_runtime_class_and_no_annotations_are_not_matched() -> None:
    objs = make()
    assert not evaluate(objs, pod({HP + "default_memory": "x"}, "runc")).matched
    v = evaluate(objs, pod(None))
    assert v.matched and not v.denied and not v.errors


def test_gate_uses_enable_annotations_verbatim(tmp_path: Path) -> None:
    objs = make(cfg_with(enable_annotations='["default_vcpus", "^kernel$"]'), tmp_path)
    ok = evaluate(objs, pod({HP + "default_vcpus": "1", HP + "kernel": "/k"}))
    assert not ok.denied and not ok.errors
    bad = evaluate(objs, pod({HP + "memory_offset": "1"}))
    assert len(bad.failures) == 1
    assert bad.failures[0].startswith(
        f"annotation {HP}memory_offset is not enabled [katacfg: rule: enable_annotations gate")
    assert evaluate(objs, pod({HP + "kernel_params": "x"})).denied  # ^kernel$
    assert evaluate(objs, pod({HP + "DEFAULT_VCPUS": "1"})).denied  # case-sensitive


def test_uint32_like_go() -> None:
    objs = make()
    key = HP + "default_memory"
    for good in ("0", "2048", "4294967295", "0004294967295", "0" * 50 + "1"):
        assert not evaluate(objs, pod({key: good})).denied, good
    cases = {" 12": "invalid syntax", "+1": "invalid syntax", "": "invalid syntax",
             "1_000": "invalid syntax", "0x10": "invalid syntax", "-1": "invalid syntax",
             "4294967296": "value out of range", "99999999999x": "value out of range",
             "12\n": "invalid syntax"}
    for value, err in cases.items():
        v = evaluate(objs, pod({key: value}))
        assert v.denied, value
        assert err in v.failures[0], (value, v.failures)
    v = evaluate(objs, pod({key: 'a"b\\c'}))
    assert 'parsing "a\\"b\\\\c": invalid syntax' in v.failures[0]


def test_bool_enum_and_params() -> None:
    objs = make()
    for good in ("1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"):
        assert not evaluate(objs, pod({HP + "enable_iommu": good})).denied
    v = evaluate(objs, pod({HP + "enable_iommu": "yes"}))
    assert v.failures[0].startswith(
        "Error parsing annotation for iommu: Please specify boolean value 'true|false' [katacfg")
    v = evaluate(objs, pod({HP + "block_device_driver": "virtio-foo"}))
    assert v.failures[0].startswith(
        "Invalid hypervisor block storage driver virtio-foo specified in annotation")
    assert not evaluate(objs, pod({HP + "kernel_params": "quiet a=b c==d"})).denied
    for bad in ("=x", "quiet =x", "a\t=", "a\u3000=b"):
        v = evaluate(objs, pod({HP + "kernel_params": bad}))
        assert v.failures[0].startswith("Error adding kernel parameters in annotation "
                                        "kernel_params : Empty kernel parameter"), bad
    assert not evaluate(objs, pod({HP + "kernel_params": "a\x1c=b"})).denied  # not Go space


def test_experimental_items() -> None:
    objs = make()
    key = "io.katacontainers.config.runtime.experimental"
    assert not evaluate(objs, pod({key: "newstore newstore"})).denied
    v = evaluate(objs, pod({key: "newstore,x"}))
    assert v.failures[0].startswith(
        f"Unsupported experimental feature newstore,x specified in annotation {key}")
    v = evaluate(objs, pod({key: ""}))
    assert v.failures[0].startswith("Unsupported experimental feature  specified")


def test_restricted_paths_as_glob_results(tmp_path: Path) -> None:
    objs = make(cfg_with(valid_hypervisor_paths='["/usr/bin/qemu-*", "/opt/kata/bin/qemu/"]',
                         enable_annotations='[".*"]'), tmp_path)
    key = HP + "path"
    for good in ("/usr/bin/qemu-system-x86_64", "/usr/bin/qemu-", "/opt/kata/bin/qemu/"):
        assert not evaluate(objs, pod({key: good})).denied, good
    for bad in ("/usr/bin/qemu-a/b", "/usr/bin/../bin/qemu-x", "/usr//bin/qemu-x",
                "/opt/kata/bin/qemu", "/usr/bin/qemu-x/", "", "/usr/bin/qemu-" + "x" * 5000):
        v = evaluate(objs, pod({key: bad}))
        assert v.denied, bad
    v = evaluate(objs, pod({key: "/bin/sh"}))
    assert v.failures[0].startswith("hypervisor /bin/sh required from annotation is not valid")
    assert "cannot be checked here" in v.failures[0]


def test_node_cpus_only_when_given(tmp_path: Path) -> None:
    key = HP + "default_vcpus"
    assert not evaluate(make(), pod({key: "64"})).denied
    v = evaluate(make(node_cpus=4), pod({key: "005"}))
    assert v.failures[0].startswith("Number of cpus 5 specified in annotation default_vcpus is "
                                    "greater than the number of CPUs 4 on the system")
    assert not evaluate(make(node_cpus=4), pod({key: "4"})).denied
    v = evaluate(make(), pod({HP + "default_max_vcpus": "241"}))
    assert v.failures[0].startswith("Number of cpus 241 in annotation default_maxvcpus is "
                                    "greater than max no of CPUs 240 supported for qemu")


def test_pod_container_and_own_config_file_are_not_checked() -> None:
    objs = make()
    bad = {HP + "default_memory": "abc"}
    assert not evaluate(objs, pod({**bad, "io.kubernetes.cri-o.ContainerType": "container"})).denied
    v = evaluate(objs, pod({**bad, "io.kubernetes.cri.container-type": "x"}))
    assert any(f.startswith("Unknown container type x") for f in v.failures)
    assert not evaluate(objs, pod({**bad, "io.katacontainers.config_path": "/x.toml"})).denied
    n = evaluate(objs, pod({**bad, "io.katacontainers.config_path": "/x.toml"}), notices=True)
    assert n.denied and "chooses its own Kata configuration" in n.failures[0]


def test_asset_paths_must_be_absolute() -> None:
    v = evaluate(make(), pod({HP + "kernel": "vmlinuz"}))
    assert v.failures[0].startswith("vmlinuz is not an absolute path")
    assert not evaluate(make(), pod({HP + "kernel": ""})).denied


def test_deny_switches_the_actions_only() -> None:
    warn, deny = make(), make(deny=True)
    actions = {o["metadata"]["name"]: o["spec"]["validationActions"]
               for o in deny if o["kind"].endswith("Binding")}
    assert actions == {"katacfg-kata": ["Deny"], "katacfg-kata-notices": ["Warn", "Audit"]}
    assert [o["spec"]["validationActions"] for o in warn if o["kind"].endswith("Binding")] \
        == [["Warn", "Audit"], ["Warn", "Audit"]]
    assert all(o["spec"]["failurePolicy"] == "Ignore" for o in warn
               if o["kind"] == "ValidatingAdmissionPolicy")


def test_expressions_type_check_with_the_pod_schema_types(tmp_path: Path) -> None:
    """As the API server sees them: annotations map(string, string), runtimeClassName string
    (the schema's types replace the dynamic `object` of the other tests)."""
    t = cel_mod.Type
    typed = cel_mod.NewEnv(variables={"anns": t.Map(t.STRING, t.STRING), "rcn": t.STRING},
                           extensions=[ext_strings.ExtStrings()])
    subst = [("has(object.metadata.annotations)", "true"), ("has(object.spec.runtimeClassName)",
             "true"), ("has(object.spec)", "true"), ("object.metadata.annotations", "anns"),
             ("object.spec.runtimeClassName", "rcn")]
    for text in (None, cfg_with(enable_annotations='["^default_vcpus$", "(?i)^MEM"]',
                                valid_hypervisor_paths='["/usr/bin/qemu-*", "/a/b"]')):
        for obj in make(text, tmp_path, node_cpus=4):
            if obj["kind"] != "ValidatingAdmissionPolicy":
                continue
            exprs = [(m["expression"], t.BOOL) for m in obj["spec"]["matchConditions"]]
            for v in obj["spec"]["validations"]:
                exprs.append((v["expression"], t.BOOL))
                if "messageExpression" in v:
                    exprs.append((v["messageExpression"], t.STRING))
            for expr, want in exprs:
                for old, new in subst:
                    expr = expr.replace(old, new)
                assert "object" not in expr
                assert typed.compile(expr).return_type() == want, expr[:200]
