"""containerd / CRI-O pass-through of pod annotations (katacfg.kube.cri).

The containerd tests read what the real `containerd config default` prints (Debian's
containerd package, installed by `./dev test`) with Kata runtimes appended; recorded copies
in tests/data/cri are kept for reference and read too.
"""
from __future__ import annotations

import functools
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from katacfg.kube import cri
from katacfg.kube.cri import (
    CONTAINERD,
    CRIO,
    POD_SANDBOX,
    CRIConfigError,
    Dropped,
    container_type,
    cri_sandbox_annotations,
    load_containerd_config,
    load_cri_config,
    load_crio_config,
    passed_annotations,
    sandbox_annotations,
    suggest_pattern,
)

DATA = Path(__file__).parent / "data" / "cri"
KATA_PART = (DATA / "kata-runtimes-v2.toml.part").read_text()
RECORDED_DEFAULT = DATA / "containerd-1.6.20-default.toml"
RECORDED_KATA_V2 = DATA / "containerd-1.6.20-kata-v2.toml"
RECORDED_KATA_V1 = DATA / "containerd-1.6.20-kata-v1.toml"

VCPUS = "io.katacontainers.config.hypervisor.default_vcpus"
MODULES = "io.katacontainers.config.agent.kernel_modules"
SECCOMP = "io.katacontainers.config.runtime.disable_guest_seccomp"
SEED_POD1 = {MODULES: "e1000e EEE=1; i915"}


# ----------------------------------------------------------------------------- helpers


def containerd_config_default() -> str:
    """`containerd config default` from the installed binary; fail (not skip) without it."""
    exe = shutil.which("containerd")
    if exe is None:
        pytest.fail("the containerd binary is not installed: run `./dev test`, which installs "
                    "Debian's containerd package (only `containerd config default` is run)")
    proc = subprocess.run([exe, "config", "default"], capture_output=True, text=True,
                          timeout=60, check=False)
    if proc.returncode != 0 or "io.containerd.grpc.v1.cri" not in proc.stdout:
        pytest.fail(f"`containerd config default` failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout


def with_kata(default_text: str) -> str:
    """The default configuration with the Kata runtimes appended (version 2 layout)."""
    return default_text.rstrip("\n") + "\n" + KATA_PART


_PLUGIN_URI = re.compile(r'plugins\."io\.containerd\.[a-z]+\.v[0-9]+\.([A-Za-z0-9_-]+)"')


def to_v1_layout(text: str) -> str:
    """The same configuration in the version 1 layout: plugins by short id, no version."""
    text = re.sub(r"^version = 2\n", "", text, flags=re.M)
    return _PLUGIN_URI.sub(r"plugins.\1", text)


@functools.cache
def _live_text(layout: str) -> str:
    text = containerd_config_default()
    if layout == "default":
        return text
    text = with_kata(text)
    return to_v1_layout(text) if layout == "v1" else text


@functools.cache
def _tmpdir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="katacfg-ctd-")  # removed at exit


@functools.cache
def _live(layout: str) -> cri.CRIConfig:
    """The live configuration of a layout, read from a file (called inside tests: a
    missing binary fails each test rather than erroring a fixture)."""
    path = Path(_tmpdir().name) / f"config-{layout}.toml"
    path.write_text(_live_text(layout))
    return load_containerd_config(path)


def summary(cfg: cri.CRIConfig) -> dict:
    """What matters of a parsed configuration, without file names and line numbers."""
    return {
        "default": cfg.default_runtime_name,
        "runtimes": {n: (r.runtime_type, r.pod_annotations, r.config_path, r.is_kata,
                         r.implicit) for n, r in cfg.runtimes.items()},
        "diagnostics": sorted((d.severity, d.code, d.message.split(": ", 1)[-1])
                              for d in cfg.diagnostics),
    }


# ----------------------------------------------------------------------------- containerd


def test_real_containerd_default_has_only_runc_and_passes_nothing() -> None:
    live_default = _live_text("default")
    cfg = load_containerd_config(live_default)
    assert cfg.layout == "containerd-v2" and cfg.version == 2
    assert cfg.default_runtime_name == "runc"
    runc = cfg.runtime(None)
    assert runc.name == "runc" and not runc.implicit and not runc.is_kata
    assert runc.runtime_type == "io.containerd.runc.v2"
    assert runc.pod_annotations == ()
    passed, dropped = passed_annotations({VCPUS: "2"}, runc)
    assert passed == {}
    assert dropped[0].key == VCPUS and "has no pod_annotations" in dropped[0].reason
    assert cfg.diagnostics == ()


def test_recorded_default_is_real_containerd_output() -> None:
    cfg = load_containerd_config(RECORDED_DEFAULT)
    assert summary(cfg)["runtimes"] == {
        "runc": ("io.containerd.runc.v2", (), None, False, False)}
    assert "containerd" in (DATA / "containerd-1.6.20-default.version").read_text()


def test_kata_runtime_added_to_real_default_v2_layout() -> None:
    live_v2 = _live("v2")
    assert live_v2.layout == "containerd-v2"
    kata = live_v2.runtime("kata")
    assert kata.is_kata and kata.runtime_type == "io.containerd.kata.v2"
    assert kata.pod_annotations == ("io.katacontainers.*",)
    assert kata.config_path == "/opt/kata/share/defaults/kata-containers/configuration-qemu.toml"
    assert kata.line is not None and kata.file is not None
    assert sorted(r.name for r in live_v2.kata_runtimes) == ["kata", "kata-plain", "kata-strict"]
    assert live_v2.runtime(None).name == "runc"  # no runtimeClassName: default_runtime_name
    passed, dropped = passed_annotations({**SEED_POD1, "prometheus.io/scrape": "true"}, kata)
    assert passed == SEED_POD1
    assert dropped == [Dropped("prometheus.io/scrape", dropped[0].reason)]
    assert '"io.katacontainers.*"' in dropped[0].reason and '"prometheus.io/*"' in dropped[0].reason


def test_kata_runtime_added_to_real_default_v1_layout() -> None:
    live_v1 = _live("v1")
    live_v2 = _live("v2")
    assert live_v1.layout == "containerd-v1" and live_v1.version == 1
    assert summary(live_v1) == summary(live_v2)
    assert live_v1.runtime("kata").pod_annotations == ("io.katacontainers.*",)


def test_recorded_kata_copies_match_the_live_ones() -> None:
    live_v1 = _live("v1")
    live_v2 = _live("v2")
    assert summary(load_containerd_config(RECORDED_KATA_V2)) == summary(live_v2)
    assert summary(load_containerd_config(RECORDED_KATA_V1)) == summary(live_v1)
    assert RECORDED_KATA_V2.read_text() == with_kata(RECORDED_DEFAULT.read_text())
    assert RECORDED_KATA_V1.read_text() == to_v1_layout(with_kata(RECORDED_DEFAULT.read_text()))


def test_seed004_containerd_snippet() -> None:
    cfg = load_containerd_config(DATA / "seed004-containerd-v1.toml")
    assert cfg.layout == "containerd-v1"
    kata = cfg.runtime("kata")
    assert kata.runtime_type == "io.containerd.runc.v1"
    assert kata.binary == "/usr/bin/kata-runtime" and kata.is_kata
    assert kata.pod_annotations == ("io.katacontainers.*",)
    assert kata.line == 4
    # the default runc comes from containerd's built-in defaults
    assert cfg.runtime(None).implicit
    passed, dropped = passed_annotations({**SEED_POD1, SECCOMP: "false"}, kata)
    assert passed == {**SEED_POD1, SECCOMP: "false"} and dropped == []


@pytest.mark.parametrize(("pattern", "key", "passes"), [
    ("io.katacontainers.*", VCPUS, True),
    ("io.katacontainers.config.hypervisor.*", VCPUS, True),
    ("io.katacontainers.config.hypervisor.*", MODULES, False),
    ("*", VCPUS, True),
    ("*", "example.com/foo", False),  # path.Match: `*` never crosses '/'
    ("example.com/*", "example.com/foo", True),
    ("io.katacontainers.config.hypervisor.default_vcpu?", VCPUS, True),
    ("io.katacontainers.config.[ah]*", MODULES, True),
    ("io.katacontainers.config.[^ah]*", MODULES, False),
    ("io.katacontainers.config.hypervisor.default_\\vcpus", VCPUS, True),
    ("io.kata*", VCPUS, True),
    ("io.katacontainers", VCPUS, False),  # no implicit prefix match
])
def test_pod_annotations_use_go_path_match(pattern: str, key: str, passes: bool) -> None:
    runtime = cri.RuntimeHandler("kata", CONTAINERD, "io.containerd.kata.v2", (pattern,))
    passed, dropped = passed_annotations({key: "v"}, runtime)
    assert (key in passed) is passes
    assert (len(dropped) == 0) is passes


def test_malformed_pattern_matches_nothing_and_is_reported() -> None:
    live_v2 = _live("v2")
    strict = live_v2.runtime("kata-strict")
    warnings = [d for d in live_v2.diagnostics if d.code == cri.CODE_PATTERN]
    assert len(warnings) == 1
    assert "io.katacontainers.config.[agent" in warnings[0].message
    assert warnings[0].line is not None
    passed, dropped = passed_annotations({VCPUS: "2", MODULES: "i915"}, strict)
    assert passed == {VCPUS: "2"}
    (d,) = dropped
    assert d.key == MODULES
    assert "malformed, matching nothing" in d.reason and '"io.katacontainers.*"' in d.reason


def test_malformed_pattern_against_a_name_it_could_match() -> None:
    # Go path.Match returns ErrBadPattern here; containerd ignores the error: no match.
    runtime = cri.RuntimeHandler("k", CONTAINERD, "io.containerd.kata.v2", ("io.kata[",))
    assert passed_annotations({"io.kata[": "x"}, runtime)[0] == {}
    assert not cri.pattern_is_valid("io.kata[")
    assert cri.pattern_is_valid("io.katacontainers.*")


def test_runtime_without_pod_annotations_drops_everything() -> None:
    live_v2 = _live("v2")
    plain = live_v2.runtime("kata-plain")
    passed, dropped = passed_annotations({VCPUS: "2", MODULES: "i915"}, plain)
    assert passed == {}
    assert {d.key for d in dropped} == {VCPUS, MODULES}
    assert all('pod_annotations = ["io.katacontainers.*"]' in d.reason for d in dropped)


def test_unknown_handler_is_containerds_refusal() -> None:
    live_v2 = _live("v2")
    with pytest.raises(CRIConfigError) as info:
        live_v2.runtime("gvisor")
    assert info.value.message == 'no runtime for "gvisor" is configured'
    assert 'runtimes.gvisor]' in (info.value.hint or "")


def test_untrusted_workload_annotation() -> None:
    live_v2 = _live("v2")
    untrusted = {cri.CONTAINERD_UNTRUSTED_WORKLOAD: "true"}
    with pytest.raises(CRIConfigError, match="untrusted workload with explicit runtime"):
        live_v2.runtime("kata", untrusted)
    with pytest.raises(CRIConfigError, match='no runtime for "untrusted"'):
        live_v2.runtime(None, untrusted)
    cfg = load_containerd_config(DATA / "containerd-deprecated-v1.toml")
    assert cfg.runtime(None, untrusted).runtime_type == "io.containerd.kata.v2"


def test_deprecated_default_and_untrusted_tables() -> None:
    cfg = load_containerd_config(DATA / "containerd-deprecated-v1.toml")
    assert cfg.default_runtime_name == "default"
    assert cfg.runtime(None).runtime_type == "io.containerd.runtime.v1.linux"
    assert cfg.runtimes["untrusted"].is_kata
    assert sum(d.severity == "warning" for d in cfg.diagnostics) == 2


def test_default_runtime_name_without_runtime_is_an_error() -> None:
    text = ('version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n'
            '  default_runtime_name = "kata"\n')
    cfg = load_containerd_config(text)
    (d,) = cfg.diagnostics
    assert d.severity == "error" and "default_runtime_name" in d.message and d.line == 3


@pytest.mark.parametrize(("name", "fragment"), [
    ("containerd-no-cri.toml", "unknown containerd configuration layout: no CRI plugin table"),
    ("containerd-v2-tables-without-version.toml", "has no `version = 2`"),
    ("containerd-docker-packaged.toml", "the CRI plugin is disabled"),
    ("containerd-broken.toml", "is not valid TOML"),
    ("does-not-exist.toml", "cannot read containerd configuration"),
    ("crio-kata.conf", "this is a CRI-O configuration ([crio] table), not a containerd"),
])
def test_unusable_containerd_configuration_names_the_file(name: str, fragment: str) -> None:
    path = DATA / name
    with pytest.raises(CRIConfigError) as info:
        load_containerd_config(path)
    assert fragment in info.value.message
    assert info.value.file == str(path)
    assert info.value.render().count(str(path)) == 1  # named once, where the location goes


def test_broken_toml_gives_line() -> None:
    with pytest.raises(CRIConfigError) as info:
        load_containerd_config(DATA / "containerd-broken.toml")
    assert info.value.line is not None and info.value.line >= 5


def test_v1_tables_with_version_2() -> None:
    with pytest.raises(CRIConfigError, match="version 1 layout"):
        load_containerd_config("version = 2\n[plugins.cri.containerd.runtimes.kata]\n"
                               'runtime_type = "io.containerd.kata.v2"\n')


def test_pod_annotations_of_wrong_type() -> None:
    cfg = load_containerd_config('[plugins.cri.containerd.runtimes.kata]\n'
                                 'pod_annotations = "io.katacontainers.*"\n')
    (d,) = cfg.diagnostics
    assert d.severity == "error" and "list of strings" in d.message and d.line == 2
    assert cfg.runtime("kata").pod_annotations == ()


def test_containerd_sandbox_is_detected_as_sandbox() -> None:
    live_v2 = _live("v2")
    kata = live_v2.runtime("kata")
    sb = sandbox_annotations(SEED_POD1, kata, name="pod1", namespace="default")
    assert sb.annotations[cri.CONTAINERD_CONTAINER_TYPE] == "sandbox"
    assert container_type(sb.annotations) == POD_SANDBOX
    assert sb.annotations[MODULES] == SEED_POD1[MODULES]
    assert sb.annotations[cri.CONTAINERD_SANDBOX_NAME] == "pod1"
    assert sb.passed == SEED_POD1 and sb.dropped == [] and sb.overridden == []


def test_containerd_own_annotations_win_over_pod_ones() -> None:
    runtime = cri.RuntimeHandler("kata", CONTAINERD, "io.containerd.kata.v2", ("*",))
    pod = {cri.CONTAINERD_CONTAINER_TYPE: "container", VCPUS: "2"}
    sb = sandbox_annotations(pod, runtime)
    assert sb.passed == pod
    assert sb.overridden == [cri.CONTAINERD_CONTAINER_TYPE]
    assert container_type(sb.annotations) == POD_SANDBOX


def test_suggest_pattern() -> None:
    assert suggest_pattern(VCPUS) == "io.katacontainers.*"
    assert suggest_pattern("prometheus.io/scrape") == "prometheus.io/*"
    assert suggest_pattern("simple") == "simple"


# ----------------------------------------------------------------------------- CRI-O


def test_crio_passes_every_pod_annotation_without_allowed_annotations() -> None:
    cfg = load_crio_config(DATA / "crio-kata.conf")
    assert cfg.manager == CRIO and cfg.default_runtime_name == "runc"
    kata = cfg.runtime("kata")
    assert kata.is_kata and kata.runtime_type == "vm"
    assert kata.config_path == "/opt/kata/share/defaults/kata-containers/configuration-qemu.toml"
    pod = {**SEED_POD1, VCPUS: "2", "prometheus.io/scrape": "true"}
    passed, dropped = passed_annotations(pod, kata)
    assert passed == pod and dropped == []
    assert cfg.diagnostics == ()


def test_crio_drops_its_own_restricted_annotations_by_prefix() -> None:
    kata = load_crio_config(DATA / "crio-kata.conf").runtime("kata")
    pod = {VCPUS: "2", "io.kubernetes.cri-o.Devices": "/dev/fuse",
           "org.systemd.property.TimeoutStopUSec": "uint64 15000000",
           "io.kubernetes.cri-o.ShmSizeExtra": "1"}
    passed, dropped = passed_annotations(pod, kata)
    assert passed == {VCPUS: "2"}
    reasons = dict(dropped)
    assert '"org.systemd.property."' in reasons["org.systemd.property.TimeoutStopUSec"]
    assert '"io.kubernetes.cri-o.ShmSize"' in reasons["io.kubernetes.cri-o.ShmSizeExtra"]
    assert 'allowed_annotations = ["io.kubernetes.cri-o.Devices"]' in reasons[
        "io.kubernetes.cri-o.Devices"]


def test_crio_allowed_annotations_unlock_crio_annotations_only() -> None:
    cfg = load_crio_config(DATA / "crio-kata-allowed.conf")
    kata = cfg.runtime("kata")
    assert kata.allowed_annotations == ("io.kubernetes.cri-o.Devices",
                                        "io.kubernetes.cri-o.userns-mode")
    pod = {VCPUS: "2", "io.kubernetes.cri-o.Devices": "/dev/fuse",
           "io.kubernetes.cri-o.userns-mode": "auto", "io.kubernetes.cri-o.ShmSize": "1Gi"}
    passed, dropped = passed_annotations(pod, kata)
    assert passed == {VCPUS: "2", "io.kubernetes.cri-o.Devices": "/dev/fuse",
                      "io.kubernetes.cri-o.userns-mode": "auto"}
    assert [d.key for d in dropped] == ["io.kubernetes.cri-o.ShmSize"]


def test_crio_kata_entry_in_allowed_annotations_is_flagged() -> None:
    cfg = load_crio_config(DATA / "crio-kata-allowed.conf")
    (w,) = [d for d in cfg.diagnostics if "kata-misconfigured" in d.message]
    assert w.severity == "warning" and "invalid allowed_annotation" in w.message
    assert "Kata annotations need no entry" in w.message and w.line is not None
    # and it changes nothing: Kata annotations pass anyway
    passed, _ = passed_annotations({VCPUS: "2", MODULES: "i915"},
                                   cfg.runtime("kata-misconfigured"))
    assert passed == {VCPUS: "2", MODULES: "i915"}


def test_crio_workload_allowed_annotations() -> None:
    cfg = load_crio_config(DATA / "crio-kata-allowed.conf")
    kata = cfg.runtime("kata")
    pod = {"cpu-quota.crio.io": "disable"}
    assert passed_annotations(pod, kata, workloads=cfg.workloads)[0] == {}
    pod["target.workload.openshift.io/management"] = '{"effect": "PreferredDuringScheduling"}'
    assert "cpu-quota.crio.io" in passed_annotations(pod, kata, workloads=cfg.workloads)[0]
    assert "cpu-quota.crio.io" in passed_annotations(pod, kata)[0]  # the handler knows them


def test_crio_default_and_unknown_runtime() -> None:
    cfg = load_crio_config(DATA / "crio-kata-allowed.conf")
    assert cfg.runtime(None).name == "crun"
    assert cfg.runtime("runc").implicit  # CRI-O's built-in runc handler
    with pytest.raises(CRIConfigError, match="failed to find runtime handler gvisor"):
        cfg.runtime("gvisor")


def test_crio_default_runtime_without_table() -> None:
    cfg = load_crio_config('[crio.runtime]\ndefault_runtime = "kata"\n')
    (d,) = cfg.diagnostics
    assert d.severity == "error" and "[crio.runtime.runtimes.kata]" in d.message


def test_crio_sandbox_annotations() -> None:
    kata = load_crio_config(DATA / "crio-kata.conf").runtime("kata")
    pod = {**SEED_POD1, cri.CONTAINERD_CONTAINER_TYPE: "container"}
    sb = sandbox_annotations(pod, kata, name="pod1", namespace="default",
                             labels={"app": "x"})
    # a pod cannot fake containerd's container-type key: CRI-O restricts it
    assert cri.CONTAINERD_CONTAINER_TYPE not in sb.annotations
    assert sb.annotations[cri.CRIO_CONTAINER_TYPE] == "sandbox"
    assert container_type(sb.annotations) == POD_SANDBOX
    assert sb.annotations[MODULES] == SEED_POD1[MODULES]
    assert sb.annotations["app"] == "x"  # CRI-O copies pod labels too
    assert sb.annotations[cri.CRIO_RUNTIME_HANDLER] == "kata"


def test_crio_not_a_crio_conf() -> None:
    with pytest.raises(CRIConfigError, match="this is a containerd configuration, not a CRI-O") as info:
        load_crio_config(DATA / "containerd-1.6.20-default.toml")
    assert info.value.hint == "give it with --containerd-config"
    with pytest.raises(CRIConfigError, match=r"not a crio.conf: no \[crio\] table"):
        load_crio_config("[other]\nx = 1\n")


def test_load_cri_config_dispatch() -> None:
    assert load_cri_config(DATA / "crio-kata.conf", CRIO).manager == CRIO
    assert load_cri_config(DATA / "seed004-containerd-v1.toml", CONTAINERD).manager == CONTAINERD
    with pytest.raises(ValueError):
        load_cri_config(DATA / "crio-kata.conf", "docker")


def test_cri_sandbox_annotations_keys() -> None:
    assert cri_sandbox_annotations(CONTAINERD)[cri.CONTAINERD_CONTAINER_TYPE] == "sandbox"
    assert cri_sandbox_annotations(CRIO)[cri.CRIO_CONTAINER_TYPE] == "sandbox"


# ----------------------------------------------------------------------------- properties

_keys = st.from_regex(r"[a-z][a-z0-9.\-/]{0,30}", fullmatch=True)
_annotations = st.dictionaries(_keys, st.text(max_size=5), max_size=8)
_patterns = st.lists(st.from_regex(r"[a-z.*?\[\]\-/\\^]{0,12}", fullmatch=True), max_size=4)


@settings(max_examples=200, deadline=None)
@given(_annotations, _patterns)
def test_containerd_passed_and_dropped_partition_the_pod(pod: dict, patterns: list) -> None:
    runtime = cri.RuntimeHandler("k", CONTAINERD, "io.containerd.kata.v2", tuple(patterns))
    passed, dropped = passed_annotations(pod, runtime)
    assert set(passed) | {d.key for d in dropped} == set(pod)
    assert not set(passed) & {d.key for d in dropped}
    assert all(pod[k] == v for k, v in passed.items())
    if "*" in patterns:  # "*" passes every key without '/'; another pattern may pass more
        assert {k for k in pod if "/" not in k} <= set(passed)


@settings(max_examples=200, deadline=None)
@given(_annotations, st.lists(st.sampled_from(cri.CRIO_RESTRICTED_ANNOTATIONS), max_size=5))
def test_crio_passed_and_dropped_partition_the_pod(pod: dict, allowed: list) -> None:
    runtime = cri.RuntimeHandler("k", CRIO, "vm", allowed_annotations=tuple(allowed))
    passed, dropped = passed_annotations(pod, runtime)
    assert set(passed) | {d.key for d in dropped} == set(pod)
    assert all(k.startswith("io.katacontainers") or True for k in passed)
    for k in pod:
        if k.startswith("io.katacontainers."):
            assert k in passed


# ----------------------------------------------------------------------------- containerd 2.x


def test_kata_docs_containerd2_example() -> None:
    cfg = load_containerd_config(DATA / "kata-docs-containerd2-v3.toml")
    assert cfg.layout == "containerd-v3" and cfg.version == 3 and not cfg.diagnostics
    kata = cfg.runtime("kata")
    assert kata.config_path == "/opt/kata/share/defaults/kata-containers/configuration.toml"
    assert kata.line == 7 and cri.kata_front_end(kata) == "shimv2"
    assert cri.shim_binary(kata) == "containerd-shim-kata-v2"


def test_kata_deploy_on_containerd2_follows_imports_and_merges_keys() -> None:
    root = DATA / "kata-deploy-v3/etc/containerd/config.toml"
    cfg = load_containerd_config(root)
    assert [Path(f).name for f in cfg.files] == ["config.toml", "50-user.toml",
                                                  "kata-deploy.toml"]
    assert sorted(cfg.kata_runtimes, key=lambda r: r.name) == [
        cfg.runtimes[n] for n in ("kata-clh", "kata-fc", "kata-qemu")]
    qemu = cfg.runtime("kata-qemu")
    # kata-deploy's file is read last and wins; it is where the runtime is defined
    assert qemu.pod_annotations == ("io.katacontainers.*",)
    assert qemu.file is not None and qemu.file.endswith("config.d/kata-deploy.toml")
    assert qemu.line == 2
    assert qemu.config_path.endswith("runtimes/qemu/configuration-qemu.toml")
    for r in cfg.kata_runtimes:  # kata-deploy's runtime types run the Kata shim v2
        assert cri.kata_front_end(r) == "shimv2"
        assert cri.shim_binary(r) == "/opt/kata/bin/containerd-shim-kata-v2"
    assert cfg.runtime(None).name == "runc" and not cfg.runtime("runc").implicit
    assert not [d for d in cfg.diagnostics if d.severity == "error"]


def test_kata_shim_name_from_runtime_type() -> None:
    r = cri.RuntimeHandler("kata-fc", CONTAINERD, "io.containerd.kata-fc.v2")
    assert cri.shim_binary(r) == "containerd-shim-kata-fc-v2"
    assert cri.kata_front_end(r) == "shimv2"
    runc = cri.RuntimeHandler("kata", CONTAINERD, "io.containerd.runc.v1", binary="kata-runtime")
    assert cri.kata_front_end(runc) == "cli"


def test_containerd1_drop_in_takes_the_root_version_and_replaces_the_plugin_table() -> None:
    cfg = load_containerd_config(DATA / "kata-deploy-v2/config.toml")
    assert cfg.layout == "containerd-v2" and len(cfg.files) == 2
    assert cfg.runtime("kata-qemu").is_kata
    assert cfg.runtime("runc").implicit  # the root's runc table was replaced with the plugin's
    (warn,) = cfg.diagnostics
    assert "replaces the whole [plugins.\"io.containerd.grpc.v1.cri\"] table" in warn.message


def test_mixed_tables_say_the_kata_table_is_ignored() -> None:
    cfg = load_containerd_config(DATA / "kata-docs-mixed-v1-v2.toml")
    kata = [d for d in cfg.diagnostics if d.key == "kata"]
    assert kata and "is ignored" in kata[0].message and kata[0].line == 16
    assert "reads only [plugins.cri]" in kata[0].message
    with pytest.raises(CRIConfigError):
        cfg.runtime("kata")


def test_v3_file_with_v2_tables_is_ignored_with_a_reason(tmp_path: Path) -> None:
    text = ('version = 3\n[plugins."io.containerd.cri.v1.runtime".containerd]\n'
            'default_runtime_name = "runc"\n'
            '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata]\n'
            'runtime_type = "io.containerd.kata.v2"\n')
    cfg = load_containerd_config(text)
    (d,) = cfg.diagnostics
    assert d.key == "kata" and "containerd 2.x reads runtimes from" in d.message


def test_imports_relative_glob_cycle_and_missing(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "config.toml").write_text(
        'version = 3\nimports = ["conf.d/*.toml", "missing.toml", "config.toml"]\n')
    (tmp_path / "conf.d" / "10-kata.toml").write_text(
        '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata]\n'
        'runtime_type = "io.containerd.kata.v2"\npod_annotations = ["io.katacontainers.*"]\n'
        'imports = ["../config.toml"]\n')
    cfg = load_containerd_config(tmp_path / "config.toml")
    # a drop-in without version is migrated: its version 2 table is read as version 3
    assert cfg.runtime("kata").pod_annotations == ("io.katacontainers.*",)
    (err,) = [d for d in cfg.diagnostics if d.severity == "error"]
    assert "missing.toml" in (err.file or "") and "containerd refuses to start" in err.message


def test_drop_in_of_a_higher_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('version = 2\nimports = ["d.toml"]\n'
                                          '[plugins."io.containerd.grpc.v1.cri"]\n')
    (tmp_path / "d.toml").write_text("version = 3\n")
    cfg = load_containerd_config(tmp_path / "config.toml")  # containerd 1.x: no such check
    assert cfg.layout == "containerd-v2"
    (tmp_path / "config.toml").write_text('version = 3\nimports = ["d.toml"]\n')
    (tmp_path / "d.toml").write_text("version = 4\n")
    with pytest.raises(CRIConfigError, match="drop-in config version 4 higher than root"):
        load_containerd_config(tmp_path / "config.toml")


def test_toml_1_0_features_are_read_without_positions() -> None:
    cfg = load_containerd_config(
        'version = 3\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.kata]\n'
        'runtime_type = "io.containerd.kata.v2"\noptions.ConfigPath = "/etc/k.toml"\n')
    assert cfg.runtime("kata").config_path == "/etc/k.toml"


def test_manifest_given_as_containerd_config() -> None:
    with pytest.raises(CRIConfigError, match="this is a Kubernetes manifest") as info:
        load_containerd_config(Path(__file__).parent / "data/manifests/deployment.yaml")
    assert "--containerd-config" in (info.value.hint or "")


# -- CRI-O drop-ins (crio.conf.d) --------------------------------------------------------------

def _crio_node(tmp_path: Path, dropins: dict[str, str]) -> Path:
    (tmp_path / "crio.conf").write_text(
        '[crio.runtime]\ndefault_runtime = "crun"\n\n'
        '[crio.runtime.runtimes.crun]\nruntime_path = "/usr/bin/crun"\n')
    for name, text in dropins.items():
        f = tmp_path / "crio.conf.d" / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    return tmp_path / "crio.conf"


KATA_DEPLOY_DROPIN = (
    '[crio.runtime.runtimes.kata-qemu]\n'
    'runtime_path = "/opt/kata/bin/containerd-shim-kata-v2"\n'
    'runtime_type = "vm"\nruntime_root = "/run/vc"\n'
    'runtime_config_path = "/opt/kata/share/defaults/kata-containers/configuration-qemu.toml"\n'
    'privileged_without_host_devices = true\n')


def test_crio_reads_the_drop_ins_beside_crio_conf_as_kata_deploy_writes_them(tmp_path):
    conf = _crio_node(tmp_path, {"99-kata-deploy": KATA_DEPLOY_DROPIN})
    cfg = load_crio_config(conf)
    kata = cfg.runtime("kata-qemu")
    assert kata.runtime_type == "vm" and kata.config_path.endswith("configuration-qemu.toml")
    assert kata.file == str(tmp_path / "crio.conf.d" / "99-kata-deploy") and kata.line == 1
    assert cfg.runtime(None).name == "crun"
    assert cfg.files == (str(conf), str(tmp_path / "crio.conf.d" / "99-kata-deploy"))
    # the same file without its drop-ins: the handler is not there
    with pytest.raises(CRIConfigError, match="failed to find runtime handler kata-qemu"):
        load_crio_config(conf, None).runtime("kata-qemu")


def test_crio_drop_ins_apply_in_walk_order_and_replace_whole_entries(tmp_path):
    conf = _crio_node(tmp_path, {
        "10-kata": '[crio.runtime.runtimes.kata]\nruntime_type = "vm"\n'
                   'runtime_config_path = "/etc/kata/a.toml"\n'
                   'allowed_annotations = ["io.kubernetes.cri-o.Devices"]\n',
        # a subdirectory's files come where its name sorts: 20-more/ before 30-last
        "20-more/01-kata": '[crio.runtime.runtimes.kata]\nruntime_type = "vm"\n'
                           'runtime_config_path = "/etc/kata/b.toml"\n',
        "30-last": '[crio.runtime]\ndefault_runtime = "kata"\n',
    })
    cfg = load_crio_config(conf)
    kata = cfg.runtime("kata")
    # 20-more/01-kata replaced the whole entry: its allowed_annotations are gone
    assert kata.config_path == "/etc/kata/b.toml" and kata.allowed_annotations == ()
    assert cfg.runtime(None).name == "kata"
    assert [Path(f).name for f in cfg.files] == ["crio.conf", "10-kata", "01-kata", "30-last"]


def test_crio_drop_in_directory_can_be_named_or_turned_off(tmp_path):
    conf = _crio_node(tmp_path, {})
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "kata").write_text(KATA_DEPLOY_DROPIN)
    assert load_crio_config(conf, str(other)).runtime("kata-qemu").runtime_type == "vm"
    assert "kata-qemu" not in load_crio_config(conf).runtimes
    # text, not a file: no directory beside it
    assert "kata-qemu" not in load_crio_config(conf.read_text()).runtimes


def test_crio_drop_ins_are_bounded_and_a_broken_one_is_named(tmp_path):
    conf = _crio_node(tmp_path, {f"{i:03d}": "" for i in range(cri.MAX_IMPORTED_FILES + 1)})
    with pytest.raises(CRIConfigError, match="more than 64 CRI-O drop-in files"):
        load_crio_config(conf)
    (tmp_path / "crio.conf.d" / "064").unlink()
    (tmp_path / "crio.conf.d" / "000").write_text("[crio.runtime\n")
    with pytest.raises(CRIConfigError) as info:
        load_crio_config(conf)
    assert info.value.file == str(tmp_path / "crio.conf.d" / "000")
