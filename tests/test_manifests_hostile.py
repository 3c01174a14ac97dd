"""Hostile manifests: every one ends quickly, in bounded memory, with one clear message."""
from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from katacfg.kube.manifests import (
    CODE_DECODE,
    CODE_INVALID,
    CODE_TOO_BIG,
    ManifestError,
    ManifestObject,
    load_manifests,
)

MEMORY_CEILING = 256 * 1024 * 1024


def billion_laughs(levels: int = 9) -> str:
    lines = ['    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"    {cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    return ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: lol\n  annotations:\n"
            + "\n".join(lines) + "\nspec:\n  runtimeClassName: kata\n"
            "  containers: [{name: c, image: busybox}]\n")


HOSTILE = {
    "billion-laughs": billion_laughs(),
    "mapping-laughs": ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  annotations:\n"
                       "    a: &a {x: [y, y, y, y, y, y, y, y, y, y]}\n"
                       + "".join(f"    {c}: &{c} {{x: [" + ", ".join([f"*{p}"] * 10) + "]}\n"
                                 for p, c in zip("abcdefg", "bcdefgh"))
                       + "    <<: *h\n"),
    "recursive-anchor": "apiVersion: v1\nkind: Pod\nmetadata: &m\n  name: x\n  annotations: *m\n",
    "deep-flow": "apiVersion: v1\nkind: Pod\nmetadata:\n  annotations:\n    a: "
                 + "[" * 100_000 + "]" * 100_000 + "\n",
    "deep-block": "apiVersion: v1\nkind: Pod\nmetadata:\n  annotations:\n"
                  + "".join(" " * (4 + i) + f"k{i}:\n" for i in range(1500)),
    "many-nodes": "apiVersion: v1\nkind: Pod\nmetadata:\n  annotations:\n    a: ["
                  + "1," * 1_000_000 + "1]\n",
    "huge-document": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  annotations:\n"
                     "    a: \"" + "x" * (4 * 1024 * 1024) + "\"\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_manifest_is_one_error(name: str) -> None:
    results = load_manifests(HOSTILE[name])
    assert len(results) == 1
    (res,) = results
    assert isinstance(res, ManifestError) or not res.ok, res


def test_alias_bomb_is_refused_as_kubectl_does() -> None:
    (err,) = load_manifests(billion_laughs())
    assert isinstance(err, ManifestError) and err.code == CODE_TOO_BIG
    assert err.message == "yaml: document contains excessive aliasing"


def test_a_few_aliases_are_fine() -> None:
    text = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  labels: &l {app: x}\n"
            "  annotations:\n    io.katacontainers.config.hypervisor.default_vcpus: &v \"2\"\n"
            "    other: *v\nspec:\n  runtimeClassName: kata\n  containers: [{name: c, image: b}]\n"
            "  nodeSelector: *l\n")
    (pod,) = load_manifests(text)
    assert isinstance(pod, ManifestObject) and pod.ok
    assert pod.annotations["other"] == "2" and pod.labels == {"app": "x"}


def _run_bounded(path: Path) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CEILING, MEMORY_CEILING))

    return subprocess.run([sys.executable, "-m", "katacfg", "explain", str(path)],
                          capture_output=True, text=True, timeout=30, preexec_fn=limit,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})


@pytest.mark.parametrize("name", ["billion-laughs", "mapping-laughs", "many-nodes",
                                  "deep-flow", "huge-document"])
def test_hostile_manifest_under_the_memory_ceiling(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(HOSTILE[name])
    proc = _run_bounded(path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "internal error" not in proc.stderr


def test_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    (err,) = load_manifests(fifo)
    assert isinstance(err, ManifestError) and "FIFO" in err.message and err.code == "KM006"
    (err,) = load_manifests("/dev/zero")
    assert isinstance(err, ManifestError) and "character device" in err.message


def test_what_the_api_server_refuses() -> None:
    text = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${POD_NAME}\nspec:\n"
            "  runtimeClassName: kata\n  annotations:\n"
            "    io.katacontainers.config.hypervisor.default_vcpus: \"2\"\n"
            "  containers: [{name: c, image: b}]\n")
    (pod,) = load_manifests(text)
    assert isinstance(pod, ManifestObject) and not pod.ok
    messages = [e.message for e in pod.errors]
    assert 'strict decoding error: unknown field "spec.annotations"' in messages
    assert any(m.startswith('metadata.name: Invalid value: "${POD_NAME}"') for m in messages)
    placeholder = next(e for e in pod.errors if e.key == "metadata.name")
    assert "unexpanded placeholder" in (placeholder.hint or "")
    # the suggested pod has the annotations where they belong
    assert pod.suggested_annotations == {
        "io.katacontainers.config.hypervisor.default_vcpus": "2"}
    assert all(e.code in (CODE_INVALID, CODE_DECODE) for e in pod.errors)


def test_binary_and_non_string_keys_warn() -> None:
    text = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  annotations:\n"
            "    a: !!binary aGVsbG8=\n    1: \"x\"\nspec: {containers: []}\n")
    (pod,) = load_manifests(text)
    assert isinstance(pod, ManifestObject) and pod.ok
    assert pod.annotations == {"a": "hello", "1": "x"}
    warnings = " | ".join(w.message for w in pod.warnings)
    assert "!!binary" in warnings and "annotation key '1' is a number" in warnings


def test_runtime_class_placeholder_is_invalid() -> None:
    text = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n"
            "  runtimeClassName: ${RUNTIME_CLASS}\n  containers: []\n")
    (pod,) = load_manifests(text)
    assert isinstance(pod, ManifestObject) and not pod.ok
    assert pod.errors[0].key == "spec.runtimeClassName"


def test_many_bad_keys_are_counted_not_listed() -> None:
    keys = "".join(f'    bad key {i}: "x"\n' for i in range(5000))
    text = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  annotations:\n" + keys
            + "spec: {runtimeClassName: kata, containers: []}\n")
    (pod,) = load_manifests(text)
    assert isinstance(pod, ManifestObject) and not pod.ok
    assert len(pod.errors) == 21 and pod.errors[-1].message == "... and 4980 more like these"


def test_aliases_of_a_large_value_stay_shared(tmp_path: Path) -> None:
    text = ('apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  annotations:\n'
            '    a: &a "' + "x" * 1_000_000 + '"\n'
            + "".join(f"    k{i}: *a\n" for i in range(2000))
            + "    z: 1\nspec: {runtimeClassName: kata, containers: []}\n")
    path = tmp_path / "alias.yaml"
    path.write_text(text)
    proc = _run_bounded(path)
    assert proc.returncode == 1 and "Too long" in proc.stdout


def test_json_manifest_lone_surrogate_becomes_the_replacement_character() -> None:
    text = ('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "annotations": '
            '{"x": "a\\udc80b"}}, "spec": {"runtimeClassName": "kata", "containers": []}}\n')
    (pod,) = load_manifests(text)
    assert isinstance(pod, ManifestObject) and pod.ok
    assert pod.annotations == {"x": "a\ufffdb"}
