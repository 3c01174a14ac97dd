"""The command line as a user meets it: discovery (spec/config-files.md), resolve, bad input.

Commands run as real processes where start-up matters, in process otherwise.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from katacfg.cli.app import main
from katacfg.config import discovery
from tests.helpers import config_text, make_install, write_config

EXE = [sys.executable, "-m", "katacfg"]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_install(tmp_path)


def run(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(EXE + list(args), capture_output=True, text=True, cwd=cwd,
                          timeout=60)


# -- config-files.md --------------------------------------------------------------------------

@pytest.mark.parametrize("args", [["--kata-show-default-config-paths"],
                                  ["--kata-show-default-config-paths", "resolve"],
                                  ["--kata-config", "/nowhere", "--kata-show-default-config-paths"]])
def test_show_default_config_paths_prints_both_paths_and_nothing_else(args):
    p = run(*args)
    assert p.returncode == 0
    assert p.stdout == ("/etc/kata-containers/configuration.toml\n"
                        "/usr/share/defaults/kata-containers/configuration.toml\n")


def test_explicit_missing_config_is_refused_with_the_absolute_path(root):
    p = run("--kata-config", "missing.toml", "resolve", "--json", cwd=str(root))
    assert p.returncode == 1
    assert json.loads(p.stdout) == {
        "error": f"Cannot find usable config file (file {root}/missing.toml does not exist)",
        "stage": "load", "file": "missing.toml", "hint": "check the --kata-config path"}


def test_strict_without_default_files_reproduces_kata(monkeypatch):
    if any(os.path.exists(p) for p in discovery.DEFAULT_CONFIG_PATHS):
        pytest.skip("this machine has a Kata configuration installed")
    p = run("--strict", "resolve", "--json")
    assert p.returncode == 1
    assert json.loads(p.stdout)["error"] == (
        'Cannot find usable config file (config file "/etc/kata-containers/configuration.toml" '
        "unresolvable: file /etc/kata-containers/configuration.toml does not exist, config file "
        '"/usr/share/defaults/kata-containers/configuration.toml" unresolvable: file '
        "/usr/share/defaults/kata-containers/configuration.toml does not exist)")


def test_without_default_files_the_embedded_default_is_used_and_said(monkeypatch, capsys):
    monkeypatch.setattr(discovery, "DEFAULT_CONFIG_PATHS", ("/nonexistent/a.toml",))
    import katacfg

    cfg = katacfg.load(fallback=True, strict=False)
    assert cfg.path == discovery.embedded_default_path()
    assert any(d.code == "KC004" for d in cfg.diagnostics)
    assert cfg.hypervisor_type == "qemu"


def test_first_existing_default_path_wins(root, monkeypatch):
    first = write_config(root, config_text(root, runtime={"enable_debug": True}), "etc.toml")
    second = write_config(root, config_text(root), "share.toml")
    monkeypatch.setattr(discovery, "DEFAULT_CONFIG_PATHS", (str(root / "none.toml"), first,
                                                            second))
    assert discovery.find_config(None) == first


def test_symlinked_config_is_reported_by_its_target(root):
    target = write_config(root, config_text(root, hypervisor_qemu={"kernel": "/no/kernel"}))
    os.symlink(target, root / "link.toml")
    p = run("--kata-config", str(root / "link.toml"), "resolve", "--json")
    assert json.loads(p.stdout)["error"] == f"{target}: file /no/kernel does not exist"


def test_embedded_default_is_generated_from_the_registry():
    gen = Path(__file__).resolve().parent.parent / "scripts" / "gen_default_config.py"
    assert subprocess.run([sys.executable, str(gen), "--check"]).returncode == 0


# -- bad input: one line, exit 1, no traceback, nothing written --------------------------------

def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("content,expect", [
    ("[hypervisor.qemu\npath = 1\n", "Near line 1"),
    ("[runtime]\nenable_debug = \"yes\"\n", "toml: cannot load TOML value of type string into "
     "a Go boolean"),
    ("[factory]\nvm_cache_number = 1.5\n", "toml: cannot load TOML value of type float64 into "
     "a Go integer"),
    ("[hypervisor.qemu]\ndefault_memory = -2\n", "toml: value -2 is out of range for uint32"),
    ("", "no such file or directory"),
    ("[hypervisor.qemu]\n[hypervisor.firecracker]\n", None),
])
def test_bad_config_gives_one_clear_line(root, content, expect):
    path = write_config(root, content)
    before = snapshot(root)
    p = run("--kata-config", path, "resolve")
    assert p.returncode == 1
    assert "Traceback" not in p.stderr and p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("katacfg: ")
    assert path in lines[0]
    if expect:
        assert expect in lines[0]
    assert snapshot(root) == before


def test_a_directory_as_config(root):
    p = run("--kata-config", str(root / "share"), "resolve", "--json")
    assert p.returncode == 1
    assert json.loads(p.stdout)["error"] == f"read {root}/share: is a directory"


def test_type_error_names_file_line_and_key(root):
    path = write_config(root, config_text(root, hypervisor_qemu={"default_vcpus": "two"}))
    p = run("--kata-config", path, "resolve", "--json")
    err = json.loads(p.stdout)
    line = Path(path).read_text().splitlines()[err["line"] - 1]
    assert line.startswith("default_vcpus") and err["key"] == "hypervisor.qemu.default_vcpus"
    assert "default_vcpus must be an integer" in err["hint"]


# -- resolve inputs ---------------------------------------------------------------------------

@pytest.fixture
def good(root: Path) -> str:
    return write_config(root, config_text(root))


def test_resolve_annotation_flags_file_and_bundle_merge(root, good, capsys):
    bundle = root / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps({"ociVersion": "1.0.1", "annotations": {
        "io.katacontainers.config.hypervisor.default_memory": "1024",
        "io.katacontainers.config.hypervisor.default_vcpus": "2"}}))
    ann = root / "ann.json"
    ann.write_text(json.dumps({"io.katacontainers.config.hypervisor.default_memory": "3072"}))
    code = main(["--kata-config", good, "resolve", "--json", "--host-cpus", "4", "--bundle",
                 str(bundle), "--annotations-file", str(ann), "-a",
                 "io.katacontainers.config.hypervisor.default_vcpus=3"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (out["hypervisor"]["default_memory"], out["hypervisor"]["default_vcpus"]) == (3072, 3)


@pytest.mark.parametrize("setup,message", [
    (lambda r: (r / "a.json").write_text("[1, 2]"), "annotations must be a JSON object"),
    (lambda r: (r / "a.json").write_text("{bad json"), "malformed JSON"),
    (lambda r: (r / "a.json").write_text('{"k": true}'), "annotation values are strings"),
])
def test_resolve_bad_annotations_file(root, good, setup, message):
    setup(root)
    p = run("--kata-config", good, "resolve", "--annotations-file", str(root / "a.json"))
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert message in p.stderr and str(root / "a.json") in p.stderr


def test_resolve_bundle_without_config_json(root, good):
    p = run("--kata-config", good, "resolve", "--bundle", str(root))
    assert p.returncode == 1 and "config.json" in p.stderr and "not found" in p.stderr


def test_resolve_human_view_lists_each_annotation(root, good):
    p = run("--kata-config", good, "resolve", "--host-cpus", "8",
            "-a", "io.katacontainers.config.hypervisor.default_vcpus=2",
            "-a", "io.katacontainers.config.hypervisor.enable_vhost_user_store=true",
            "-a", "io.katacontainers.asset_hash_type=md5",
            "-a", "example.com/owner=me")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "applied     io.katacontainers.config.hypervisor.default_vcpus" in out
    assert "1 -> 2" in out
    assert "ignored     io.katacontainers.config.hypervisor.enable_vhost_user_store" in out
    assert "always SHA-512" in out
    assert "passed      example.com/owner" in out


def test_resolve_refusal_human_line_keeps_the_reference_text(root, good):
    p = run("--kata-config", good, "resolve", "--host-cpus", "2",
            "-a", "io.katacontainers.config.hypervisor.default_vcpus=3")
    text = ("Number of cpus 3 specified in annotation default_vcpus is greater than the number "
            "of CPUs 2 on the system")
    assert p.returncode == 1 and text in p.stderr and len(p.stderr.splitlines()) == 1
    assert p.stdout.splitlines() == [
        "annotations:", f"  refused     io.katacontainers.config.hypervisor.default_vcpus  {text}"]


def test_no_command_prints_usage():
    p = run()
    assert p.returncode == 2 and "usage:" in p.stderr


def test_annotation_flag_without_equals(good):
    p = run("--kata-config", good, "resolve", "-a", "novalue")
    assert p.returncode == 1 and "expected KEY=VALUE" in p.stderr


def test_version_and_stdin(tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    exe = [sys.executable, "-m", "katacfg"]
    p = subprocess.run(exe + ["--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("katacfg ")
    manifest = (Path(__file__).parent / "data/manifests/deployment.yaml").read_text()
    p = subprocess.run(exe + ["explain", "-", "--assume-node-files"], input=manifest,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "[<stdin>:2]" in p.stdout and "note:" not in p.stdout  # notes go to stderr
    seed = (Path(__file__).parent / "data/seed000-configuration.toml").read_text()
    p = subprocess.run(exe + ["lint", "--format", "json", "-"], input=seed, capture_output=True,
                       text=True)
    assert "<stdin>" in p.stdout and "Traceback" not in p.stderr


def test_a_refusal_names_the_file_once(tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    seed = Path(__file__).parent / "data/seed000-configuration.toml"
    p = subprocess.run([sys.executable, "-m", "katacfg", "--kata-config", str(seed), "resolve"],
                       capture_output=True, text=True)
    assert p.returncode == 1
    (line,) = p.stderr.strip().splitlines()
    assert line.count(str(seed)) == 1 and "(line 12:1, key hypervisor.qemu.path)" in line


def _entry(code: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run katacfg's console-script entry (katacfg.cli.app.entry) in a fresh interpreter."""
    src = ("import sys\n" + code + "\nsys.argv = ['katacfg', *" + repr(list(argv)) + "]\n"
           "from katacfg.cli.app import entry\nentry()\n")
    return subprocess.run([sys.executable, "-c", src], capture_output=True, text=True,
                          timeout=60)


def test_entry_flushes_output_and_keeps_the_exit_status(tmp_path: Path) -> None:
    # the console script skips the interpreter's finalization: output must still arrive
    ok = _entry("", "--kata-show-default-config-paths")
    assert ok.returncode == 0
    assert ok.stdout == "".join(p + "\n" for p in discovery.DEFAULT_CONFIG_PATHS)
    bad = _entry("", "--kata-config", str(tmp_path / "missing.toml"), "resolve")
    assert bad.returncode == 1
    assert bad.stderr.startswith("katacfg: ") and bad.stderr.endswith("\n")


def test_entry_runs_atexit_handlers_when_some_are_registered() -> None:
    got = _entry("import atexit\natexit.register(print, 'handler ran')",
                 "--kata-show-default-config-paths")
    assert got.returncode == 0
    assert got.stdout.endswith("handler ran\n")
