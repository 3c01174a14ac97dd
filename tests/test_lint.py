"""katacfg lint: each rule on a real file, the three formats, and the exit codes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from katacfg.reports.lint import lint_file
from tests.helpers import config_text, host, make_install, write_config

EXE = [sys.executable, "-m", "katacfg"]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_install(tmp_path)


def codes(root: Path, text: str, cpus: int = 2) -> dict[str, list]:
    path = write_config(root, text)
    out: dict[str, list] = {}
    for d in lint_file(path, host(cpus)).diagnostics:
        out.setdefault(d.code, []).append(d)
    return out


def lines_of(root: Path) -> list[str]:
    return (root / "configuration.toml").read_text().splitlines()


def test_clean_stock_layout_has_no_errors(root):
    c = codes(root, config_text(root))
    assert not [d for ds in c.values() for d in ds if d.severity == "error"]


def test_unknown_key_with_line_column_and_suggestion(root):
    c = codes(root, config_text(root, hypervisor_qemu={"defualt_memory": 1024}))
    [d] = c["KC101"]
    assert lines_of(root)[d.line - 1].startswith("defualt_memory") and d.column == 1
    assert d.hint == "did you mean `default_memory`?"


def test_unknown_section(root):
    c = codes(root, config_text(root) + "[runtme]\nenable_debug = true\n")
    assert c["KC100"][0].hint == "did you mean `runtime`?"


def test_wrong_type_is_an_error_with_its_line(root):
    c = codes(root, config_text(root, factory={"enable_template": "yes"}))
    [d] = c["KC011"]
    assert d.severity == "error" and lines_of(root)[d.line - 1].startswith("enable_template")


def test_syntax_error(root):
    c = codes(root, "[runtime]\nenable_debug = tru\n")
    [d] = c["KC010"]
    assert d.line == 2 and "expected value" in d.message


def test_clamps_are_explained(root):
    c = codes(root, config_text(root, hypervisor_qemu={"default_vcpus": -1,
                                                       "default_maxvcpus": 300,
                                                       "default_bridges": 8,
                                                       "default_memory": 0}), cpus=4)
    msgs = [d.message for d in c["KL201"]]
    assert "default_vcpus = -1 is loaded as 4 (negative means all host CPUs)" in msgs
    assert any("default_maxvcpus = 300 is loaded as 4" in m for m in msgs)
    assert any("default_bridges = 8 is loaded as 5" in m for m in msgs)
    assert c["KL202"][0].message == "default_memory = 0 means the default 2048"


def test_vcpus_above_maxvcpus(root):
    c = codes(root, config_text(root, hypervisor_qemu={"default_vcpus": 4,
                                                       "default_maxvcpus": 2}), cpus=8)
    assert "KL203" in c


def test_cross_key_conflict_is_an_error(root):
    c = codes(root, config_text(root, runtime={"disable_new_netns": True}))
    assert c["KC050"][0].message == (
        "config disable_new_netns only works with 'none' internetworking_model")


def test_every_refusal_is_listed_not_just_the_first(root):
    c = codes(root, config_text(root, hypervisor_qemu={"kernel": "/no/kernel"},
                                proxy_kata={"path": "/no/proxy"},
                                runtime={"experimental": ["warp"]}))
    texts = [d.message for ds in c.values() for d in ds if d.severity == "error"]
    assert any("/no/kernel" in t for t in texts) and any("/no/proxy" in t for t in texts)
    assert 'Unsupported experimental feature "warp"' in texts


def test_unchecked_and_non_executable_paths(root):
    (root / "bin/virtiofsd").chmod(0o644)
    c = codes(root, config_text(root, hypervisor_qemu={"shared_fs": "virtio-fs",
                                                       "entropy_source": "/dev/nonexistent"},
                                netmon={"enable_netmon": True, "path": "/no/netmon"}))
    assert any("virtiofsd" in d.message and "not an executable" in d.message
               for d in c["KL211"])
    missing = " ".join(d.message for d in c["KL210"])
    assert "/dev/nonexistent" in missing and "/no/netmon" in missing


def test_key_meaningless_for_the_hypervisor(root):
    c = codes(root, config_text(root, hypervisor_qemu={"jailer_path": "/usr/bin/jailer"}))
    assert c["KC107"][0].message == "`jailer_path` means nothing for qemu: Kata ignores it"


def test_unanchored_enable_annotations_entry(root):
    c = codes(root, config_text(root, hypervisor_qemu={"enable_annotations": ["path"]}))
    [d] = c["KL222"]
    assert "guest_hook_path" in d.message and d.hint == "write '^path$'"


def test_everything_enabled_and_asset_annotations(root):
    c = codes(root, config_text(root))
    assert "KL221" in c
    assert {d.message.split()[1] for d in c["KL225"]} == {"kernel", "image", "initrd",
                                                           "firmware"}
    assert "SHA-512" in c["KL225"][0].message


def test_enabled_restricted_annotation_without_allow_list(root):
    c = codes(root, config_text(root, hypervisor_qemu={"enable_annotations": ["^path$"],
                                                       "valid_hypervisor_paths": []}))
    [d] = c["KL223"]
    assert "valid_hypervisor_paths is empty" in d.message


@pytest.mark.parametrize("pattern,severity", [
    ("/usr/bin/*", "error"), ("/*/qemu", "warning"), ("/tmp/qemu", "warning")])
def test_over_broad_allow_list(root, pattern, severity):
    c = codes(root, config_text(root, hypervisor_qemu={"valid_hypervisor_paths": [pattern]}))
    [d] = c["KL224"]
    assert d.severity == severity


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(EXE + list(args), capture_output=True, text=True, timeout=60)


def test_exit_codes_and_strict(root):
    clean = write_config(root, config_text(root, hypervisor_qemu={
        "enable_annotations": ["^default_vcpus$"]}), "clean.toml")
    assert run("lint", clean).returncode == 0
    warn = write_config(root, config_text(root, hypervisor_qemu={"defualt": 1}), "warn.toml")
    assert run("lint", warn).returncode == 0
    assert run("lint", "--strict", warn).returncode == 1
    bad = write_config(root, config_text(root, runtime={"internetworking_model": "bridged"}),
                       "bad.toml")
    p = run("lint", clean, bad)
    assert p.returncode == 1 and f"{bad}:" in p.stdout and "Traceback" not in p.stderr


def test_text_format_is_file_line_column(root):
    path = write_config(root, config_text(root, hypervisor_qemu={"defualt": 1}))
    out = run("lint", path).stdout.splitlines()
    line = lines_of(root).index("defualt = 1") + 1
    assert f"{path}:{line}:1: warning: unknown key `hypervisor.qemu.defualt` (Kata 1.x ignores " \
        "it silently) [KC101]" in out


def test_json_format(root):
    path = write_config(root, config_text(root, hypervisor_qemu={"defualt": 1}))
    data = json.loads(run("lint", "--format", "json", path).stdout)
    assert data[0]["file"] == path
    d = [d for d in data[0]["diagnostics"] if d["code"] == "KC101"][0]
    assert set(d) == {"severity", "code", "message", "file", "line", "column", "key", "hint"}


def test_sarif_2_1_0(root):
    path = write_config(root, config_text(root, hypervisor_qemu={"defualt": 1},
                                          runtime={"internetworking_model": "bridged"}))
    doc = json.loads(run("lint", "--format", "sarif", path).stdout)
    assert doc["version"] == "2.1.0" and "sarif-2.1.0" in doc["$schema"]
    run0 = doc["runs"][0]
    assert run0["tool"]["driver"]["name"] == "katacfg"
    ids = {r["id"] for r in run0["tool"]["driver"]["rules"]}
    for r in run0["results"]:
        assert r["ruleId"] in ids and r["level"] in ("error", "warning", "note")
        loc = r["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"].endswith("configuration.toml")
        assert loc["region"]["startLine"] >= 1
    assert any(r["level"] == "error" and "Unknown type bridged" in r["message"]["text"]
               for r in run0["results"])


def test_unreadable_or_directory_config(root):
    p = run("lint", str(root / "share"))
    assert p.returncode == 1 and "is a directory" in p.stdout


def test_lint_never_changes_the_file(root):
    path = write_config(root, config_text(root, hypervisor_qemu={"defualt": 1}))
    before = Path(path).read_bytes(), os.stat(path).st_mtime_ns
    run("lint", "--format", "sarif", path)
    assert (Path(path).read_bytes(), os.stat(path).st_mtime_ns) == before


def test_every_code_used_is_in_the_catalogue():
    import re

    from katacfg.config.codes import CODES

    src = Path(__file__).resolve().parent.parent / "src" / "katacfg"
    used = set()
    for path in src.rglob("*.py"):
        used |= set(re.findall(r'"(K[CLRM][0-9]{3})"', path.read_text()))
    assert used <= set(CODES), sorted(used - set(CODES))
