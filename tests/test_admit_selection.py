"""The node selection shared by admit, webhook and policy (katacfg.admission.selection)."""
from __future__ import annotations

from pathlib import Path

import pytest

from katacfg.admission.selection import (
    FILTER_CONTAINERD,
    FILTER_CRIO,
    FILTER_NONE,
    SelectionError,
    build_selection,
)

DATA = Path(__file__).resolve().parent / "data"
CTD_V2 = str(DATA / "cri/containerd-1.6.20-kata-v2.toml")
CTD_SEED = str(DATA / "cri/seed004-containerd-v1.toml")
CRIO = str(DATA / "cri/crio-kata.conf")
K = "io.katacontainers.config.hypervisor.default_vcpus"


def test_runtime_class_alone_passes_every_annotation() -> None:
    sel = build_selection(runtime_class="kata-qemu", kata_config="/etc/k.toml")
    (t,) = sel.targets
    assert t.runtime_classes == ("kata-qemu",) and t.handler == "kata-qemu"
    assert t.kata_config == "/etc/k.toml" and t.mode == "shimv2"
    assert t.filter_kind == FILTER_NONE and t.passes(K)
    assert sel.target_for("kata-qemu") is t
    assert sel.target_for("runc") is None and sel.target_for(None) is None
    sandbox = t.sandbox({K: "2"})
    assert sandbox.annotations[K] == "2" and not sandbox.dropped


def test_containerd_config_gives_every_kata_handler_with_its_filter() -> None:
    sel = build_selection(containerd_config=CTD_V2)
    by = {t.handler: t for t in sel.targets}
    assert set(by) == {"kata", "kata-strict", "kata-plain"}
    kata = by["kata"]
    assert kata.kata_config == "/opt/kata/share/defaults/kata-containers/configuration-qemu.toml"
    assert kata.mode == "shimv2" and kata.filter_kind == FILTER_CONTAINERD
    assert kata.pod_annotation_patterns == ("io.katacontainers.*",)
    assert kata.location.endswith(".toml:" + str(kata.runtime.line))
    assert kata.passes(K) and not kata.passes("example.com/x")
    assert by["kata-strict"].passes(K)
    assert not by["kata-strict"].passes("io.katacontainers.config.agent.kernel_modules")
    assert not by["kata-plain"].passes(K)
    dropped = by["kata-plain"].sandbox({K: "2"}).dropped
    assert dropped and dropped[0].key == K and "pod_annotations" in dropped[0].reason
    assert sel.target_for("kata-strict") is by["kata-strict"]
    assert sel.target_for("runc") is None  # a runtime, but not Kata
    assert sel.target_for(None) is None  # default runtime is runc
    assert sel.target_for("nonexistent") is None
    assert set(sel.runtime_classes) == {"kata", "kata-strict", "kata-plain"}


def test_kata_config_flag_overrides_every_handler_file() -> None:
    sel = build_selection(containerd_config=CTD_V2, kata_config="/x.toml")
    assert {t.kata_config for t in sel.targets} == {"/x.toml"}


def test_runtime_behind_the_runc_shim_loads_as_kata_runtime() -> None:
    (t,) = build_selection(containerd_config=CTD_SEED).targets
    assert t.handler == "kata" and t.mode == "cli"
    assert build_selection(containerd_config=CTD_SEED, mode="shimv2").targets[0].mode == "shimv2"


def test_crio_passes_kata_annotations() -> None:
    (t,) = build_selection(crio_config=CRIO).targets
    assert t.handler == "kata" and t.filter_kind == FILTER_CRIO and t.mode == "shimv2"
    assert t.passes(K) and not t.passes("io.kubernetes.cri-o.Devices")
    sandbox = t.sandbox({K: "4"}, name="p", namespace="ns")
    assert sandbox.annotations[K] == "4"
    assert sandbox.annotations["io.kubernetes.cri-o.ContainerType"] == "sandbox"


def test_runtime_classes_file_maps_names_to_handlers(tmp_path: Path) -> None:
    rc = tmp_path / "rc.yaml"
    rc.write_text("apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata:\n  name: secure\n"
                  "handler: kata-strict\n---\napiVersion: node.k8s.io/v1\nkind: RuntimeClass\n"
                  "metadata:\n  name: kata\nhandler: kata-plain\n")
    sel = build_selection(containerd_config=CTD_V2, runtime_classes=str(rc))
    by = {t.handler: t for t in sel.targets}
    assert by["kata-strict"].runtime_classes == ("kata-strict", "secure")
    assert by["kata-plain"].runtime_classes == ("kata-plain", "kata")
    assert by["kata"].runtime_classes == ()  # class "kata" selects kata-plain
    assert sel.target_for("secure") is by["kata-strict"]
    assert sel.target_for("kata") is by["kata-plain"]


def test_runtime_class_with_cri_config_keeps_only_its_handler() -> None:
    sel = build_selection(containerd_config=CTD_V2, runtime_class="kata-strict")
    (t,) = sel.targets
    assert t.handler == "kata-strict" and t.runtime_classes == ("kata-strict",)
    assert sel.target_for("kata") is None and sel.target_for("kata-strict") is t


def test_default_runtime_kata_takes_pods_without_a_class(tmp_path: Path) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text('version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n'
                    'default_runtime_name = "kata"\n'
                    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata]\n'
                    'runtime_type = "io.containerd.kata.v2"\npod_annotations = ["*"]\n')
    sel = build_selection(containerd_config=str(conf))
    (t,) = sel.targets
    assert t.default and sel.target_for(None) is t and sel.target_for("kata") is t


@pytest.mark.parametrize("kwargs, words", [
    ({}, "--runtime-class NAME"),
    ({"containerd_config": str(DATA / "cri/containerd-1.6.20-default.toml")},
     "no Kata runtime handler"),
    ({"containerd_config": CTD_V2, "runtime_class": "runc"}, "not Kata"),
    ({"containerd_config": CTD_V2, "runtime_class": "nope"}, 'no runtime for "nope"'),
    ({"containerd_config": str(DATA / "cri/containerd-docker-packaged.toml")}, "containerd"),
    ({"containerd_config": "/nonexistent.toml"}, "cannot read"),
    ({"runtime_class": "kata", "runtime_classes": "/nonexistent.yaml"}, "no such file"),
    ({"containerd_config": CTD_V2, "crio_config": CRIO}, "not both"),
])
def test_unusable_selection_is_one_clear_error(kwargs: dict, words: str) -> None:
    with pytest.raises(SelectionError) as err:
        build_selection(**kwargs)
    assert words in str(err.value)
    assert "\n" not in str(err.value)
