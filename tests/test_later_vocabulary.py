"""The 1.x profile knows Kata 2.x+ vocabulary (issue 13 part 4): keys, hypervisor tables,
annotations and value forms of later Kata are recognised from the 4.x profile's registry
(profiles/kata4x/vocabulary.py) and reported once per file, never as typos."""
from __future__ import annotations

from pathlib import Path

import katacfg
from katacfg.config.errors import KataError
from katacfg.profiles.kata4x import options as o
from katacfg.reports.lint import lint_file
from tests.helpers import config_text, host, make_install, write_config

SEED_4X = Path(__file__).parent / "data" / "kata-env-4x" / "seed-config-4x-qemu.toml"


def _codes(result, code):
    return [d for d in result.diagnostics if d.code == code]


def test_a_4x_configuration_gets_one_verdict_not_44_unknown_keys():
    result = lint_file(str(SEED_4X), host())
    verdicts = _codes(result, "KC140")
    assert len(verdicts) == 1
    assert verdicts[0].message.startswith("a Kata 2.x+ configuration: Kata 1.x ignores these "
                                          "44 keys")
    assert verdicts[0].line == 24  # the first of them: rootfs_type
    assert "--profile 4.x" in (verdicts[0].hint or "")
    assert not _codes(result, "KC101")
    # none of the wrong guesses of before
    assert not any("did you mean" in (d.hint or "") for d in result.diagnostics)


def test_a_typo_is_still_a_typo(tmp_path):
    make_install(tmp_path)
    path = write_config(tmp_path, config_text(tmp_path, runtime={"enable_pprof": True,
                                                                  "enable_debgu": True}))
    result = lint_file(path, host())
    typos = _codes(result, "KC101")
    assert len(typos) == 1 and "runtime.enable_debgu" in typos[0].message
    assert typos[0].hint == "did you mean `enable_debug`?"
    (verdict,) = _codes(result, "KC140")
    assert verdict.message == ("Kata 1.x ignores this Kata 2.x+ key (`runtime.enable_pprof`): "
                               "they are keys of Kata 2.0 and later, not typos")


def test_the_vocabulary_is_the_4x_registry(tmp_path, monkeypatch):
    """A key added to the 4.x registry is known to the 1.x profile at once: no second list."""
    make_install(tmp_path)
    path = write_config(tmp_path, config_text(tmp_path, hypervisor_qemu={"brand_new_key": True}))
    assert _codes(lint_file(path, host()), "KC101")
    monkeypatch.setitem(o.HYPERVISOR_KEYS, "brand_new_key", "bool")
    result = lint_file(path, host())
    assert not _codes(result, "KC101")
    assert "`hypervisor.qemu.brand_new_key`" in _codes(result, "KC140")[0].message


def test_every_4x_key_1x_lacks_is_recognised(tmp_path):
    from katacfg.profiles.kata1x.tables import OPTIONS

    make_install(tmp_path)
    extra = {k: True for k, t in o.HYPERVISOR_KEYS.items()
             if t == "bool" and k not in OPTIONS["hypervisor"]}
    path = write_config(tmp_path, config_text(tmp_path, hypervisor_qemu=extra))
    result = lint_file(path, host())
    assert not _codes(result, "KC101")
    assert f"ignores these {len(extra)} keys" in _codes(result, "KC140")[0].message


def test_a_4x_hypervisor_table_is_named_as_such(tmp_path):
    path = write_config(tmp_path, '[hypervisor.remote]\nremote_hypervisor_socket = '
                        '"/run/peerpod/hypervisor.sock"\ndefault_memory = 2048\n')
    with_problems = katacfg.load(path, host=host(), strict=False)
    refusal = with_problems.problems[0]
    assert refusal.text == "VM memory cannot be zero"  # Kata 1.x's own words, kept
    assert "[hypervisor.remote] is a Kata 2.x+ hypervisor" in (refusal.hint or "")
    (table,) = [d for d in with_problems.diagnostics if d.code == "KC141"]
    assert table.line == 1 and "--profile 4.x" in (table.hint or "")
    assert not [d for d in with_problems.diagnostics if d.code == "KC106"]
    # a misspelt 1.x name is still a misspelling
    path = write_config(tmp_path, "[hypervisor.qemuu]\n")
    cfg = katacfg.load(path, host=host(), strict=False)
    assert [d for d in cfg.diagnostics if d.code == "KC106"]


def test_fractional_vcpus_in_the_file(tmp_path):
    make_install(tmp_path)
    text = config_text(tmp_path, hypervisor_qemu={"default_vcpus": 7})
    path = write_config(tmp_path, text.replace("default_vcpus = 7", "default_vcpus = 0.75"))
    cfg = katacfg.load(path, host=host(), strict=False)
    (err,) = [p for p in cfg.problems if p.key == "hypervisor.qemu.default_vcpus"]
    assert err.text == "toml: cannot load TOML value of type float64 into a Go integer"
    assert "Kata 2.x+ reads default_vcpus as a float" in (err.hint or "")


def test_hex_integers_in_the_file(tmp_path):
    path = write_config(tmp_path, "[hypervisor.qemu]\ndefault_memory = 0x800\n")
    result = lint_file(path, host())
    (err,) = _codes(result, "KC010")
    assert "TOML 1.0: Kata 2.x+ reads them" in (err.hint or "")


def _resolve(tmp_path, annotations, enable=(".*",)):
    make_install(tmp_path)
    path = write_config(tmp_path, config_text(
        tmp_path, hypervisor_qemu={"enable_annotations": list(enable)}))
    return katacfg.resolve(path, annotations, host=host())


def test_a_4x_annotation_is_named_as_such(tmp_path):
    cfg = _resolve(tmp_path, {"io.katacontainers.config.runtime.create_container_timeout":
                              "30", "io.katacontainers.config.runtime.no_such": "1"})
    reasons = {a.name.rsplit(".", 1)[1]: a.reason for a in cfg.annotations}
    assert reasons["create_container_timeout"].startswith(
        "a Kata 2.x+ annotation Kata 1.x does not know (4.x: sets "
        "runtime.create_container_timeout")
    assert reasons["no_such"] == "not an annotation Kata 1.x knows"


def test_a_4x_hypervisor_annotation_refused_by_the_gate_says_why(tmp_path):
    try:
        _resolve(tmp_path, {"io.katacontainers.config.hypervisor.use_legacy_serial": "true"},
                 enable=("default_vcpus",))
    except KataError as exc:
        assert exc.text == ("annotation io.katacontainers.config.hypervisor.use_legacy_serial "
                            "is not enabled")
        assert (exc.hint or "").startswith("a Kata 2.x+ annotation (4.x: sets "
                                           "hypervisor.use_legacy_serial")
    else:
        raise AssertionError("the gate must refuse it")


def test_fractional_vcpus_annotation(tmp_path):
    try:
        _resolve(tmp_path, {"io.katacontainers.config.hypervisor.default_vcpus": "0.75"})
    except KataError as exc:
        assert "strconv.ParseUint: parsing \"0.75\": invalid syntax" in exc.text
        assert "Kata 2.x+ reads default_vcpus as a float" in (exc.hint or "")
    else:
        raise AssertionError("Kata 1.x refuses a fractional vCPU count")


POD_4X = """apiVersion: v1
kind: Pod
metadata:
  name: cc
  annotations:
    io.katacontainers.config.hypervisor.default_vcpus: "0.5"
    io.katacontainers.config.runtime.create_container_timeout: "30"
spec:
  runtimeClassName: kata
  containers:
  - {name: c, image: busybox}
"""


def test_explain_names_a_pod_written_for_later_kata(tmp_path):
    from katacfg.reports.explain import explain

    make_install(tmp_path)
    path = write_config(tmp_path, config_text(
        tmp_path, hypervisor_qemu={"enable_annotations": [".*"]}))
    report = explain(POD_4X, kata_config=path, runtime_class="kata", host=host(),
                     is_text=True, profile="1.x")
    (pod,) = report.pods
    assert pod.notes == [
        "written for Kata 2.x+: 1 annotation(s) this Kata 1.x node does not know "
        "(io.katacontainers.config.runtime.create_container_timeout); fractional vCPUs "
        "Kata 1.x refuses (io.katacontainers.config.hypervisor.default_vcpus: '0.5')"]
    assert not pod.starts and "0.5" in pod.failure
