"""Hostile input, end to end (issue 13): every case ends at once with exit 0 or 1 and one
clear line, never an internal error (exit 70), a traceback or a hang.

The cost of the worst inputs (peak RSS, time) is measured in benchmarks/bench_hostile.py.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import katacfg
from katacfg.config.errors import KataError
from katacfg.config.load import load
from katacfg.config.pipeline import overlay
from tests.helpers import config_text, host, make_install, write_config

EXE = [sys.executable, "-m", "katacfg"]
H = "io.katacontainers.config.hypervisor."


def run(*args: str) -> subprocess.CompletedProcess[str]:
    # the timeout guards against a hang (the old behaviour on a FIFO); it is not a speed test
    return subprocess.run(EXE + list(args), capture_output=True, text=True, timeout=120)


def refused(p: subprocess.CompletedProcess[str], *words: str) -> str:
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "Traceback" not in p.stderr and "internal error" not in p.stderr, p.stderr
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, p.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_install(tmp_path)


@pytest.fixture
def good(root: Path) -> str:
    return write_config(root, config_text(root))


@pytest.fixture
def fifo(tmp_path: Path) -> str:
    path = tmp_path / "config-fifo"
    os.mkfifo(path)
    return str(path)


# -- 1. every read is bounded --------------------------------------------------------------

@pytest.mark.parametrize("command", [["resolve"], ["kata-env"], ["kata-check"]])
def test_a_fifo_as_configuration_is_refused_not_waited_on(fifo, command):
    line = refused(run("--kata-config", fifo, *command))
    assert f"open {fifo}: not a regular file (FIFO)" in line
    assert "hint:" in line


@pytest.mark.parametrize("command", [["resolve"], ["kata-env"], ["kata-check"]])
def test_dev_zero_as_configuration_is_refused(command):
    refused(run("--kata-config", "/dev/zero", *command),
            "open /dev/zero: not a regular file (character device)")


def test_lint_refuses_devices_and_fifos_per_file(fifo):
    p = run("lint", fifo, "/dev/zero")
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert "open /dev/zero: not a regular file (character device) [KC005]" in p.stdout
    assert f"open {fifo}: not a regular file (FIFO) [KC005]" in p.stdout


def test_a_pod_choosing_dev_zero_through_the_shim(good):
    refused(run("--kata-config", good, "resolve", "--mode", "shimv2",
                "-a", "io.katacontainers.config_path=/dev/zero"),
            "open /dev/zero: not a regular file")


def test_a_configuration_over_the_cap_is_refused_not_cut(tmp_path):
    from katacfg.host.safeio import MAX_CONFIG_BYTES

    path = tmp_path / "huge.toml"
    with open(path, "wb") as f:
        f.write(b"# a comment\n")
        f.truncate(MAX_CONFIG_BYTES + 1)
    refused(run("--kata-config", str(path), "resolve"), "larger than 1 MiB")


def test_kernel_hash_of_a_device_is_refused(root):
    text = config_text(root, hypervisor_qemu={"kernel": "/dev/zero"})
    path = write_config(root, text)
    line = refused(run("--kata-config", path, "resolve", "-a", H + "kernel=/dev/zero",
                       "-a", H + "kernel_hash=" + "0" * 128))
    assert "open /dev/zero: not a regular file (character device)" in line


def test_kernel_hash_of_a_large_file_is_checked_in_chunks(root):
    kernel = root / "share" / "big-kernel"
    with open(kernel, "wb") as f:
        f.write(b"kernel")
        f.truncate(48 << 20)
    h = hashlib.sha512()
    with open(kernel, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    cfg = load(write_config(root, config_text(root)), host=host())
    out = overlay(cfg, {H + "kernel": str(kernel), H + "kernel_hash": h.hexdigest()},
                  host_cpus=2)
    assert out.hypervisor.kernel == str(kernel)
    with pytest.raises(KataError, match="^Invalid hash for"):
        overlay(cfg, {H + "kernel": str(kernel), H + "kernel_hash": "0" * 128}, host_cpus=2)


@pytest.mark.parametrize("text,words", [
    ("[" + ".".join(["a"] * 20_000) + "]\n", ["table name has more than 64 parts"]),
    ("[[" + ".".join(["a"] * 20_000) + "]]\n", ["table name has more than 64 parts"]),
    ("a = " + "[" * 100_000 + "]" * 100_000 + "\n", ["nested more than 64 deep"]),
    ("a = " + "{b = " * 20_000 + "1" + "}" * 20_000 + "\n", ["nested more than 64 deep"]),
])
def test_deep_toml_is_refused_quickly(tmp_path, text, words):
    path = tmp_path / "deep.toml"
    path.write_text(text)
    line = refused(run("--kata-config", str(path), "resolve"), *words)
    assert f"{path}:1:" in line and "hint: a katacfg limit" in line
    assert len(line) < 500


def test_bom_error_is_located_on_line_one(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf[hypervisor.qemu]\n")
    line = refused(run("--kata-config", str(path), "resolve"))
    assert line.startswith(f"katacfg: {path}:1:1: Near line 0 (last key parsed ''): ")
    assert "byte order mark" in line


def test_many_unknown_keys_are_summarised(tmp_path):
    path = tmp_path / "keys.toml"
    path.write_text("".join(f"k{i} = 1\n" for i in range(5000)))
    p = run("lint", str(path))
    assert p.returncode == 1
    assert p.stdout.count("unknown table `") == 100 and p.stdout.count("[KC100]") == 101
    assert "more than 100 unknown keys and tables; the rest are not listed" in p.stdout


# -- 2. no internal error on any input ----------------------------------------------------

@pytest.mark.parametrize("content,words", [
    ('{"a": ' + "9" * 5000 + "}", ["annotation 'a' has a number value"]),
    ("[" * 100_000 + "]" * 100_000, ["malformed JSON", "nested too deeply"]),
    ('{"a": 1e999}', ["annotation 'a' has a number value"]),
    ('{"a": NaN}', ["malformed JSON"]),
    ('{"a": [' + "1," * 100_000 + "1]}", ["annotation 'a' has a array value"]),
    ("\xef\xbb\xbf{}", ["malformed JSON"]),
])
def test_hostile_annotation_files(good, tmp_path, content, words):
    path = tmp_path / "a.json"
    path.write_bytes(content.encode("latin-1") if content.startswith("\xef") else
                     content.encode())
    refused(run("--kata-config", good, "resolve", "--annotations-file", str(path)), *words)


def test_annotation_file_that_is_a_fifo(good, fifo):
    refused(run("--kata-config", good, "resolve", "--annotations-file", fifo),
            "not a regular file (FIFO)")


def test_sarif_on_a_symbolic_link_loop(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    for fmt in ("text", "json", "sarif"):
        p = subprocess.run(EXE + ["lint", "--format", fmt, "a"], capture_output=True,
                           text=True, timeout=120, cwd=tmp_path)
        assert p.returncode == 1 and "internal error" not in p.stderr, (fmt, p.stderr)
        assert "too many levels of symbolic links" in p.stdout
    doc = json.loads(p.stdout)
    loc = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "a"


@pytest.mark.parametrize("facts,words", [
    ("[1, 2]", ["must be a JSON object", "not an array"]),
    ('{"cpus": "many"}', ["host fact 'cpus' is the string 'many'", "whole number >= 1"]),
    ('{"cpus": -4}', ["host fact 'cpus' is the number -4"]),
    ('{"cpus": 0}', ["host fact 'cpus' is the number 0"]),
    ('{"cpus": true}', ["host fact 'cpus' is the boolean true"]),
    ('{"cpu_flags": 5}', ["host fact 'cpu_flags' is the number 5"]),
    ('{"distro": ["Debian"]}', ["host fact 'distro'"]),
    ('{"kvm": {"api_version": "12"}}', ["host fact 'kvm'"]),
    ('{"files": {"/proc/cpuinfo": 3}}', ["host fact 'files'"]),
    ('{"cpuz": 3}', ["unknown host fact 'cpuz'"]),
    ("{", ["not JSON"]),
    ("[" * 100_000, ["not JSON"]),
])
@pytest.mark.parametrize("command", ["kata-env", "kata-check"])
def test_host_facts_of_the_wrong_shape(good, tmp_path, facts, words, command):
    hroot = tmp_path / "host"
    hroot.mkdir()
    (hroot / "katacfg-host.json").write_text(facts)
    line = refused(run("--kata-config", good, command, "--host-root", str(hroot)), *words)
    assert str(hroot / "katacfg-host.json") in line


def test_with_facts_checks_shapes():
    h = katacfg.Host.real()
    with pytest.raises(ValueError, match="host fact 'cpus' is the number -1"):
        h.with_facts(cpus=-1)
    with pytest.raises(TypeError, match="unknown host fact"):
        h.with_facts(cpuz=1)
    assert h.with_facts(cpus=3, distro=("Debian", "12")).cpus == 3


def test_library_accepts_path_like_and_names_a_bad_annotation(good):
    cfg = katacfg.load(Path(good), host=host())
    assert cfg.path == good
    assert katacfg.resolve(Path(good), {}, host=host()).path == good
    with pytest.raises(TypeError, match="annotation 'io.katacontainers.config.hypervisor"
                                        ".default_vcpus'.*int"):
        katacfg.resolve(Path(good), {H + "default_vcpus": 2}, host=host())  # type: ignore


# -- 9. allow-lists at the edges ------------------------------------------------------------

@pytest.mark.parametrize("value,starts", [
    ("/opt/kata/bin/..", False),
    ("/opt/kata/bin/.", False),
    ("/opt/kata/bin//qemu", False),
    ("/opt/kata/bin/qemu/", False),
    ("/opt/kata/bin/qemu", True),
])
def test_assume_node_files_checks_allow_lists_as_glob_would(tmp_path, value, starts):
    node = Path("/nonexistent-node")
    text = config_text(node, hypervisor_qemu={
        "path": "/opt/kata/bin/qemu", "valid_hypervisor_paths": ["/opt/kata/bin/*"],
        "file_mem_backend": "", "valid_file_mem_backends": ["/dev/hugepages/*"]})
    cfg = load(write_config(tmp_path, text), host=host(), assume_files=True)
    for key, v in ((H + "path", value),
                   (H + "file_mem_backend", value.replace("/opt/kata/bin", "/dev/hugepages"))):
        if starts:
            assert overlay(cfg, {key: v}, host_cpus=2)
        else:
            with pytest.raises(KataError, match="not valid|not allowed|invalid"):
                overlay(cfg, {key: v}, host_cpus=2)


def test_lone_surrogate_escapes_are_decoded_as_go_does(root, tmp_path):
    """Go's JSON decoder turns a lone \\udc80 into U+FFFD: the pod asks for the U+FFFD path."""
    binary = root / "bin" / "qemu\ufffd"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    text = config_text(root, hypervisor_qemu={"valid_hypervisor_paths": [str(binary)]})
    path = write_config(root, text)
    ann = tmp_path / "a.json"
    ann.write_text('{"' + H + 'path": "' + str(root / "bin" / "qemu") + '\\udc80"}')
    p = run("--kata-config", path, "resolve", "--json", "--annotations-file", str(ann))
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["hypervisor"]["path"] == str(binary)
    # invalid UTF-8 bytes: one U+FFFD per byte, as Go's decoder
    ann.write_bytes(b'{"' + H.encode() + b'path": "' + str(root / "bin" / "qemu").encode()
                    + b'\xe2\x82"}')
    p = run("--kata-config", path, "resolve", "--json", "--annotations-file", str(ann))
    assert p.returncode == 1 and "qemu\ufffd\ufffd" in p.stderr


def test_containerd_imports_share_one_byte_budget(tmp_path):
    """Each file is capped at 1 MiB and all of one configuration at 2 MiB together: 64
    hostile imports of 1 MiB each took minutes to parse."""
    from katacfg.kube.cri import MAX_CRI_TOTAL_BYTES, load_containerd_config

    comment = "#" + "x" * 78 + "\n"
    filler = comment * ((MAX_CRI_TOTAL_BYTES // 3) // len(comment))
    for i in range(4):
        (tmp_path / f"{i}.toml").write_text(filler)
    (tmp_path / "config.toml").write_text(
        'version = 2\nimports = ["0.toml", "1.toml", "2.toml", "3.toml"]\n'
        '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata]\n'
        'runtime_type = "io.containerd.kata.v2"\n')
    cfg = load_containerd_config(tmp_path / "config.toml")
    assert cfg.runtime("kata") is not None
    (err,) = [d for d in cfg.diagnostics if d.severity == "error"]
    assert f"larger than {MAX_CRI_TOTAL_BYTES >> 20} MiB in all" in err.message
    assert "2.toml" in err.message
