"""Kubernetes manifests: pods, their runtime class and annotations (katacfg.kube.manifests)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from katacfg.kube.manifests import (
    CODE_DECODE,
    CODE_INVALID,
    CODE_IO,
    CODE_NOT_K8S,
    CODE_YAML,
    ManifestError,
    ManifestObject,
    handler_for,
    load_manifests,
    qualified_name_errors,
    runtime_class_handlers,
)

DATA = Path(__file__).parent / "data" / "manifests"
SEED = Path("/work/shared/seeds/004_a9f7b8796a50159b.txt")
VCPUS = "io.katacontainers.config.hypervisor.default_vcpus"
MEMORY = "io.katacontainers.config.hypervisor.default_memory"
MODULES = "io.katacontainers.config.agent.kernel_modules"
SECCOMP = "io.katacontainers.config.runtime.disable_guest_seccomp"


def objects(results: list) -> list[ManifestObject]:
    return [r for r in results if isinstance(r, ManifestObject)]


def pod_yaml(annotations_block: str, name: str = "p") -> str:
    return (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  annotations:\n"
            f"{annotations_block}spec:\n  runtimeClassName: kata\n  containers:\n"
            "  - name: c\n    image: busybox\n")


# ----------------------------------------------------------------------------- real files


def test_seed004_pods_verbatim() -> None:
    text = (DATA / "seed004-pods.yaml").read_text()
    if SEED.exists():  # the data file is the seed's example, byte for byte
        assert text.strip() in SEED.read_text()
    pod1, pod2 = load_manifests(DATA / "seed004-pods.yaml")
    assert isinstance(pod1, ManifestObject) and isinstance(pod2, ManifestObject)
    assert (pod1.kind, pod1.name, pod1.runtime_class_name) == ("Pod", "pod1", "kata")
    assert pod1.annotations == {MODULES: "e1000e EEE=1; i915"} and pod1.ok
    assert pod1.pod_path == "" and pod1.has_pod and pod1.line == 1
    # `disable_guest_seccomp: false` is a YAML bool: the API server refuses pod2
    assert not pod2.ok and pod2.name == "pod2" and pod2.line == 18
    (err,) = pod2.errors
    assert err.message == ("json: cannot unmarshal bool into Go struct field "
                           "ObjectMeta.metadata.annotations of type string")
    assert err.code == CODE_DECODE and err.key == SECCOMP and err.line == 23
    assert f'{SECCOMP}: "false"' in (err.hint or "")
    assert pod2.annotations == {}
    assert pod2.suggested_annotations == {SECCOMP: "false"}


def test_deployment() -> None:
    (dep,) = load_manifests(str(DATA / "deployment.yaml"))
    assert isinstance(dep, ManifestObject) and dep.ok
    assert dep.display_name == "Deployment shop/web"
    assert dep.pod_path == "spec.template" and dep.runtime_class_name == "kata"
    assert dep.annotations == {VCPUS: "2", MEMORY: "4096", "prometheus.io/scrape": "true"}
    assert dep.labels == {"app.kubernetes.io/name": "web"}
    assert dep.line == 2  # after the comment line
    assert dep.annotation_lines[VCPUS] == 23


def test_cronjob() -> None:
    (cj,) = load_manifests(DATA / "cronjob.yaml")
    assert isinstance(cj, ManifestObject) and cj.ok
    assert cj.pod_path == "spec.jobTemplate.spec.template"
    assert cj.runtime_class_name == "kata" and cj.namespace == "reports"
    assert cj.annotations == {MODULES: "e1000e EEE=1; i915", SECCOMP: "false"}


def test_cronjob_with_unquoted_bool_names_the_template_path() -> None:
    text = (DATA / "cronjob.yaml").read_text().replace(f'{SECCOMP}: "false"',
                                                       f"{SECCOMP}: false")
    (cj,) = load_manifests(text)
    assert isinstance(cj, ManifestObject)
    (err,) = cj.errors
    assert err.message == ("json: cannot unmarshal bool into Go struct field ObjectMeta."
                           "spec.jobTemplate.spec.template.metadata.annotations of type string")
    assert cj.annotations == {MODULES: "e1000e EEE=1; i915"}


def test_multi_document_mixing_kata_and_runc() -> None:
    results = load_manifests(DATA / "mixed.yaml")
    assert all(isinstance(r, ManifestObject) for r in results)
    objs = objects(results)
    assert [o.kind for o in objs] == ["RuntimeClass", "Service", "Deployment", "StatefulSet",
                                      "DaemonSet", "Job", "ConfigMap"]
    assert [o.doc_index for o in objs] == list(range(1, 8))
    rc = objs[0]
    assert rc.handler == "kata" and not rc.has_pod
    pods = {o.name: o for o in objs if o.has_pod}
    assert {n: o.runtime_class_name for n, o in pods.items()} == {
        "api": "kata", "db": None, "node-exporter": "runc", "migrate": "kata"}
    assert pods["migrate"].annotations == {MEMORY: "1024",
                                           "io.katacontainers.config.hypervisor."
                                           "enable_iothreads": "true"}
    assert pods["db"].annotations == {}
    handlers = runtime_class_handlers(results)
    assert handlers == {"kata": "kata"}
    assert handler_for("kata", handlers) == "kata"
    assert handler_for("runc", handlers) == "runc"  # no RuntimeClass object: same name
    assert handler_for("kata", {"kata": "kata-qemu"}) == "kata-qemu"
    assert handler_for(None, handlers) is None
    text = (DATA / "mixed.yaml").read_text().splitlines()
    for o in objs:  # every line number points at the object's apiVersion
        assert text[o.line - 1].startswith("apiVersion:")


def test_broken_document_in_the_middle() -> None:
    before, broken, after = load_manifests(DATA / "broken-middle.yaml")
    assert isinstance(before, ManifestObject) and before.name == "before"
    assert isinstance(after, ManifestObject) and after.name == "after"
    assert after.doc_index == 3 and after.line == 25
    assert isinstance(broken, ManifestError)
    assert broken.doc_index == 2 and broken.code == CODE_YAML
    assert broken.line == 18  # where the unclosed quote opens
    assert "quoted scalar" in broken.message
    assert "document 2" in broken.render() and "broken-middle.yaml:18" in broken.render()


def test_non_kubernetes_yaml_gives_one_message_per_object() -> None:
    results = load_manifests(DATA / "not-kubernetes.yaml")
    errors = [r for r in results if isinstance(r, ManifestError)]
    assert [e.code for e in errors] == [CODE_NOT_K8S] * 4
    assert "apiVersion not set, kind not set" in errors[0].message
    assert "services, version" in errors[0].message
    assert "is an array" in errors[1].message
    assert "is a string" in errors[2].message
    assert errors[3].message.startswith("not a Kubernetes object: apiVersion not set")
    assert [e.line for e in errors] == [2, 9, 12, 14]
    (real,) = objects(results)
    assert real.name == "real" and real.runtime_class_name is None


def test_pod_without_annotations() -> None:
    (pod,) = load_manifests(DATA / "pod-no-annotations.yaml")
    assert isinstance(pod, ManifestObject) and pod.ok
    assert pod.annotations == {} and pod.runtime_class_name == "kata"
    assert pod.namespace == "default"


def test_list_kind() -> None:
    a, b = load_manifests(DATA / "list.yaml")
    assert isinstance(a, ManifestObject) and isinstance(b, ManifestObject)
    assert (a.item_path, b.item_path) == ("items[0]", "items[1]")
    assert a.errors[0].message.startswith("json: cannot unmarshal number into")
    assert a.suggested_annotations == {VCPUS: "2"}
    assert b.kind == "ReplicaSet" and b.annotations == {MEMORY: "512"}
    assert (a.line, b.line) == (4, 13)


# ----------------------------------------------------------------------------- scalars


@pytest.mark.parametrize(("raw", "json_kind"), [
    ("false", "bool"), ("True", "bool"), ("yes", "bool"), ("off", "bool"),
    ("y", "bool"), ("N", "bool"),  # go-yaml v2 booleans that PyYAML reads as strings
    ("2", "number"), ("-3", "number"), ("0x1F", "number"), ("0o17", "number"),
    ("017", "number"), ("08", "number"), ("1_000", "number"), ("1.5", "number"),
    ("1e3", "number"), (".5", "number"), ("+.inf", "number"), (".NaN", "number"),
    ("[1, 2]", "array"), ("{a: b}", "object"),
])
def test_non_string_values_are_refused_like_the_api_server(raw: str, json_kind: str) -> None:
    (pod,) = load_manifests(pod_yaml(f"    {VCPUS}: {raw}\n"))
    assert isinstance(pod, ManifestObject)
    (err,) = pod.errors
    assert err.message == (f"json: cannot unmarshal {json_kind} into Go struct field "
                           "ObjectMeta.metadata.annotations of type string")
    assert VCPUS not in pod.annotations
    if json_kind in ("bool", "number"):
        assert pod.suggested_annotations[VCPUS] == raw
        assert f'"{raw}"' in (err.hint or "")


@pytest.mark.parametrize(("raw", "value"), [
    ('"false"', "false"), ("'2'", "2"), ("12:30", "12:30"), ("2020-01-01", "2020-01-01"),
    ("2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"),
    ("e1000e EEE=1; i915", "e1000e EEE=1; i915"), ("0x", "0x"), ("1.2.3", "1.2.3"),
    ("=", "="), ("yess", "yess"), ("-x", "-x"), (".", "."), ("1e", "1e"), ("Infinity", "Infinity"),
    ("|\n      two\n      lines", "two\nlines\n"),
])
def test_string_values_pass(raw: str, value: str) -> None:
    (pod,) = load_manifests(pod_yaml(f"    {VCPUS}: {raw}\n"))
    assert isinstance(pod, ManifestObject) and pod.ok, pod.errors
    assert pod.annotations == {VCPUS: value}


@pytest.mark.parametrize("raw", ["", "~", "null"])
def test_null_value_is_the_empty_string_with_a_warning(raw: str) -> None:
    (pod,) = load_manifests(pod_yaml(f"    {VCPUS}: {raw}\n"))
    assert isinstance(pod, ManifestObject) and pod.ok
    assert pod.annotations == {VCPUS: ""}
    assert "null" in pod.warnings[0].message


def test_annotation_key_validation() -> None:
    long_key = "io.katacontainers.config.hypervisor." + "x" * 60
    (pod,) = load_manifests(pod_yaml(f"    {long_key}: \"1\"\n    bad key: \"2\"\n"
                                     "    Example.COM/x: \"3\"\n"))
    assert isinstance(pod, ManifestObject)
    messages = [e.message for e in pod.errors]
    assert any("name part must be no more than 63 characters" in m for m in messages)
    assert any('Invalid value: "bad key": name part must consist of' in m for m in messages)
    assert all(e.code == CODE_INVALID for e in pod.errors)
    assert len(pod.errors) == 2  # keys are lower-cased before validation, as in Kubernetes
    assert qualified_name_errors(VCPUS) == []
    assert qualified_name_errors("a/b/c") and qualified_name_errors("/x")


def test_duplicate_key_is_refused_like_kubectl() -> None:
    (pod,) = load_manifests(pod_yaml(f'    {VCPUS}: "1"\n    {VCPUS}: "2"\n'))
    assert isinstance(pod, ManifestObject) and not pod.ok
    assert pod.annotations == {VCPUS: "2"}
    (err,) = pod.errors
    assert err.message == f'yaml: unmarshal errors: line 7: key "{VCPUS}" already set in map'
    assert err.line == 7 and err.code == CODE_DECODE


def test_annotations_of_wrong_shape() -> None:
    text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n  - a\n"
    (pod,) = load_manifests(text)
    assert isinstance(pod, ManifestObject)
    assert ("json: cannot unmarshal array into Go struct field ObjectMeta.metadata.annotations"
            " of type map[string]string") in [e.message for e in pod.errors]


def test_runtime_class_name_not_a_string() -> None:
    text = (DATA / "deployment.yaml").read_text().replace("runtimeClassName: kata",
                                                          "runtimeClassName: 1")
    (dep,) = load_manifests(text)
    assert isinstance(dep, ManifestObject)
    assert dep.errors[0].message == ("json: cannot unmarshal number into Go struct field "
                                     "PodSpec.spec.template.spec.runtimeClassName of type string")


def test_name_not_a_string() -> None:
    (pod,) = load_manifests("apiVersion: v1\nkind: Pod\nmetadata:\n  name: n\nspec: {}\n")
    assert isinstance(pod, ManifestObject) and pod.name == "false"
    assert pod.errors[0].message == ("json: cannot unmarshal bool into Go struct field "
                                     "ObjectMeta.metadata.name of type string")


def test_workload_without_template() -> None:
    (dep,) = load_manifests("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n"
                            "spec:\n  replicas: 1\n")
    assert isinstance(dep, ManifestObject) and not dep.ok
    assert "spec.template" in dep.errors[0].message


# ----------------------------------------------------------------------------- streams


def test_stream_markers_directives_and_empty_documents() -> None:
    text = ("# leading comment\n---\n---\n%YAML 1.1\n---\n"
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n...\n"
            "--- {apiVersion: v1, kind: Pod, metadata: {name: b}}\n"
            "---\n# only a comment\n")
    objs = load_manifests(text)
    assert [o.name for o in objs] == ["a", "b"]  # type: ignore[union-attr]
    assert [o.line for o in objs] == [6, 10]


def test_byte_order_mark_and_crlf() -> None:
    text = "\ufeffapiVersion: v1\r\nkind: Pod\r\nmetadata:\r\n  name: a\r\n---\r\n" \
           "apiVersion: v1\r\nkind: Pod\r\nmetadata:\r\n  name: b\r\n"
    assert [o.name for o in load_manifests(text)] == ["a", "b"]  # type: ignore[union-attr]


def test_unknown_tag_and_unreadable_file(tmp_path: Path) -> None:
    # go-yaml ignores a local tag on a mapping; on a scalar it keeps the text
    (pod,) = load_manifests("apiVersion: v1\nkind: Pod\nmetadata: !secret {name: !x a}\n")
    assert isinstance(pod, ManifestObject) and pod.name == "a"
    (err,) = load_manifests(tmp_path / "missing.yaml")
    assert isinstance(err, ManifestError) and err.code == CODE_IO
    assert "missing.yaml" in err.message
    (err,) = load_manifests(str(tmp_path / "missing.yaml"))
    assert err.code == CODE_IO  # type: ignore[union-attr]
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"apiVersion: v1\nkind: Pod\nmetadata: {name: \xe9}\n")
    (err,) = load_manifests(bad)
    assert err.code == CODE_IO  # type: ignore[union-attr]


_doc = st.fixed_dictionaries({
    "apiVersion": st.just("v1"), "kind": st.just("Pod"),
    "metadata": st.fixed_dictionaries({
        "name": st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True),
        "annotations": st.dictionaries(
            st.from_regex(r"io\.katacontainers\.[a-z_]{1,12}", fullmatch=True),
            st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
            max_size=3)}),
})
_broken = st.sampled_from(['a: "unclosed\nb: 1\n', "a: [1, 2\n", "a:\n\tb: 1\n", "{x: 1\n",
                           "a: b: c\n", "key: value\n  bad indent: 1\n"])


@settings(max_examples=60, deadline=None)
@given(st.lists(_doc, min_size=1, max_size=6), st.integers(0, 6), _broken)
def test_one_broken_document_never_hides_the_others(docs: list, at: int, broken: str) -> None:
    at = min(at, len(docs))
    # quoted: PyYAML leaves `n` or `0E0` plain, which kubectl's go-yaml reads as bool/number
    parts = [yaml.safe_dump(d, sort_keys=False, default_style='"') for d in docs]
    parts.insert(at, broken)
    results = load_manifests("---\n".join(parts))
    assert len(results) == len(docs) + 1
    assert isinstance(results[at], ManifestError) and results[at].doc_index == at + 1
    got = [r for i, r in enumerate(results) if i != at]
    assert [o.name for o in got] == [d["metadata"]["name"] for d in docs]  # type: ignore
    assert [o.annotations for o in got] == [  # type: ignore[union-attr]
        d["metadata"]["annotations"] for d in docs]


# ----------------------------------------------------------------------------- speed


def test_walking_costs_little_next_to_yaml_loading() -> None:
    one = (DATA / "deployment.yaml").read_text()
    text = "---\n".join(one.replace("name: web\n", f"name: web-{i}\n", 1) for i in range(400))

    def best(fn) -> float:
        times = []
        for _ in range(3):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)

    bare = best(lambda: list(yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader",
                                                                 yaml.SafeLoader))))
    ours = best(lambda: load_manifests(text))
    assert len(load_manifests(text)) == 400
    assert ours / bare < 2.0, (ours, bare)
