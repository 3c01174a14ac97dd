"""Start-up bundles (katacfg/_fastimport.py): a command's modules replayed from one file.

Each test works on a copy of the package in a temporary directory (run through PYTHONPATH
in a fresh interpreter, as the console script runs), so that breaking a bundle or editing
a source never touches the checkout another test run may be using.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import katacfg

SRC = Path(katacfg.__file__).resolve().parent
DATA = Path(__file__).resolve().parent / "data"

# the console script, with what happened printed to stderr as one JSON line
DRIVER = """
import json, sys
from katacfg.cli import app
code, startup = app.console_run(sys.argv[1:])
mods = {n: type(m.__spec__.loader).__name__ for n, m in sys.modules.items()
        if n.startswith("katacfg.")}
sys.stdout.flush()
sys.stderr.write("\\nSTARTUP " + json.dumps({"code": code, "startup": startup,
                                            "loaders": mods}) + "\\n")
"""


@pytest.fixture
def pkg(tmp_path: Path) -> Path:
    """A copy of the katacfg package (sources only) under tmp_path/pkg."""
    root = tmp_path / "pkg"
    shutil.copytree(SRC, root / "katacfg", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _config(tmp_path: Path) -> str:
    path = tmp_path / "configuration.toml"
    path.write_text((DATA / "seed000-configuration.toml").read_text())
    return str(path)


def _env(pkg: Path, **extra: str) -> dict[str, str]:
    """This environment with bytecode writing on and the package copy first on the path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(pkg), **extra)
    return env


def _run(pkg: Path, *args: str, env_extra: dict[str, str] | None = None,
         bytecode: bool = True) -> tuple[str, dict]:
    env = _env(pkg)
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(env_extra or {})
    proc = subprocess.run([sys.executable, "-c", DRIVER, *args], capture_output=True,
                          text=True, env=env, cwd=str(pkg.parent), timeout=60)
    err, _, tail = proc.stderr.rpartition("\nSTARTUP ")
    assert tail, proc.stderr
    info = json.loads(tail)
    return proc.stdout + err, info


def _bundle(pkg: Path, name: str = "check") -> Path:
    tag = sys.implementation.cache_tag
    return pkg / "katacfg" / "__pycache__" / f"startup-{name}.{tag}.bundle"


def _check_args(tmp_path: Path) -> list[str]:
    return ["--kata-config", _config(tmp_path), "kata-check", "--host-root",
            str(DATA / "hosts" / "intel-vmx")]


def test_the_second_run_writes_the_bundle_and_the_third_replays_it(pkg, tmp_path):
    args = _check_args(tmp_path)
    out1, first = _run(pkg, *args)  # compiles and writes the pycs: no short path yet
    assert first["startup"] == {"bundle": "check", "saved": False}
    assert not _bundle(pkg).exists()
    out2, second = _run(pkg, *args)
    assert second["startup"] == {"bundle": "check", "saved": True}
    out3, third = _run(pkg, *args)
    assert third["startup"] == {"bundle": "check", "replayed": True}
    assert out1 == out2 == out3 and third["code"] == first["code"]
    # every module of the bundle was replayed: none had to be imported the usual way while
    # the bundle ran (the recorded order is a valid one, with no import cycle)
    replayed = {n for n, loader in third["loaders"].items() if loader == "SourceFileLoader"}
    assert "katacfg.config.load" in replayed and "katacfg.host.facts" in replayed
    assert third["loaders"]["katacfg.cli.app"] == "Loader"  # imported before the bundle


def test_kata_env_replays_its_bundle_with_the_same_report(pkg, tmp_path):
    args = ["--kata-config", _config(tmp_path), "kata-env", "--host-root",
            str(DATA / "hosts" / "intel-vmx")]
    outs = [_run(pkg, *args) for _ in range(3)]
    assert outs[1][1]["startup"]["saved"] is True
    assert outs[2][1]["startup"] == {"bundle": "env", "replayed": True}
    assert outs[0][0] == outs[1][0] == outs[2][0]


def test_an_edited_source_makes_the_bundle_stale_and_the_edit_wins(pkg, tmp_path):
    args = _check_args(tmp_path)
    for _ in range(2):
        _run(pkg, *args)
    assert _bundle(pkg).exists()
    facts = pkg / "katacfg" / "host" / "facts.py"
    facts.write_text(facts.read_text().replace(
        '"""Whether this process may execute', '"""(edited) Whether this process may execute'))
    out, info = _run(pkg, *args)
    assert info["startup"].get("replayed") is None  # not used
    driver = ("import katacfg.host.facts as f, sys; "
              "print('(edited)' in f.Host.executable.__doc__)")
    env = _env(pkg)
    assert subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True,
                          env=env, check=True).stdout.strip() == "True"
    _, again = _run(pkg, *args)  # this run's pycs are fresh: it writes a new bundle
    assert again["startup"].get("saved") is True
    _, last = _run(pkg, *args)
    assert last["startup"]["replayed"] is True


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other-magic", "empty",
                                    "directory", "fifo", "huge-index", "escaping-path"])
def test_a_damaged_bundle_is_ignored_and_the_command_is_unchanged(pkg, tmp_path, damage):
    args = _check_args(tmp_path)
    reference, _ = _run(pkg, *args)
    _run(pkg, *args)
    bundle = _bundle(pkg)
    data = bundle.read_bytes()
    bundle.unlink()
    if damage == "garbage":
        bundle.write_bytes(os.urandom(4096))
    elif damage == "truncated":
        bundle.write_bytes(data[: len(data) // 2])
    elif damage == "other-magic":
        bundle.write_bytes(data[:12] + b"\x00\x00\r\n" + data[16:])
    elif damage == "empty":
        bundle.write_bytes(b"")
    elif damage == "directory":
        bundle.mkdir()
    elif damage == "fifo":
        os.mkfifo(bundle)
    elif damage == "huge-index":
        bundle.write_bytes(data[:16] + (2**31).to_bytes(4, "little") + data[20:])
    elif damage == "escaping-path":
        assert b"config/load.py" in data
        bundle.write_bytes(data.replace(b"config/load.py", b"../x/loadxx.py"))
    out, info = _run(pkg, *args)
    assert out == reference
    assert info["startup"].get("replayed") is None
    assert "Traceback" not in out


def test_no_bundle_is_written_when_bytecode_is_not(pkg, tmp_path):
    args = _check_args(tmp_path)
    _run(pkg, *args)  # pycs
    _, info = _run(pkg, *args, bytecode=False)
    assert info["startup"]["saved"] is False
    assert not _bundle(pkg).exists()


def test_a_module_failing_while_replayed_falls_back_to_the_usual_import(pkg, tmp_path):
    # a module whose body depends on the environment: fine when the bundle was recorded,
    # raising when replayed; the replay stops, the bundle is deleted, and the usual import
    # meets the same error as a run without any bundle does
    strings = pkg / "katacfg" / "gocompat" / "strings.py"
    strings.write_text(strings.read_text() + (
        "\nimport os as _os\nif _os.environ.get('KATACFG_TEST_FAIL'):\n"
        "    raise ImportError('strings refused (test)')\n"))
    args = _check_args(tmp_path)
    for _ in range(2):
        _run(pkg, *args)
    assert _bundle(pkg).exists()
    env = _env(pkg, KATACFG_TEST_FAIL="1")
    without = subprocess.run([sys.executable, "-c", "import katacfg.gocompat.strings"],
                             capture_output=True, text=True, env=env)
    assert "strings refused (test)" in without.stderr
    proc = subprocess.run([sys.executable, "-c", DRIVER, *args], capture_output=True,
                          text=True, env=env, cwd=str(tmp_path))
    assert "strings refused (test)" in proc.stderr  # the module's own error, as usual
    assert not _bundle(pkg).exists()  # deleted: the next good run writes a new one
    _run(pkg, *args)
    _, info = _run(pkg, *args)
    assert info["startup"] == {"bundle": "check", "replayed": True}


def test_replayed_modules_carry_the_standard_attributes(pkg, tmp_path):
    args = _check_args(tmp_path)
    for _ in range(2):
        _run(pkg, *args)
    driver = DRIVER + """
import importlib.util, inspect, os
import katacfg.config, katacfg.config.load as m
assert type(m.__spec__.loader).__name__ == "SourceFileLoader", m.__spec__.loader
assert m.__file__ == m.__spec__.origin == os.path.join(os.path.dirname(katacfg.config.__file__), "load.py")
assert m.__cached__ == importlib.util.cache_from_source(m.__file__) == m.__spec__.cached
assert m.__package__ == "katacfg.config" and m.__name__ == "katacfg.config.load"
assert katacfg.config.load is m  # a submodule is an attribute of its package
assert katacfg.config.__path__ == [os.path.dirname(katacfg.config.__file__)]
assert katacfg.config.__spec__.submodule_search_locations == katacfg.config.__path__
assert inspect.getsource(m).startswith('\"\"\"')
assert importlib.reload(m) is m
print("attributes ok")
"""
    env = _env(pkg)
    proc = subprocess.run([sys.executable, "-c", driver, *args], capture_output=True,
                          text=True, env=env, cwd=str(tmp_path))
    assert "attributes ok" in proc.stdout, proc.stderr
    assert '"replayed": true' in proc.stderr


def test_the_library_and_in_process_main_never_use_bundles(pkg, tmp_path):
    args = _check_args(tmp_path)
    for _ in range(2):
        _run(pkg, *args)
    driver = ("import sys; from katacfg.cli import main; import katacfg._fastimport as f; "
              "code = main(sys.argv[1:]); "
              "import katacfg.config.load as m; "
              "print(type(m.__spec__.loader).__name__, file=sys.stderr)")
    env = _env(pkg)
    proc = subprocess.run([sys.executable, "-c", driver, *args], capture_output=True,
                          text=True, env=env, cwd=str(tmp_path))
    assert proc.stderr.strip().splitlines()[-1] == "Loader"  # the short path, no replay


def test_a_package_that_would_shadow_a_bundled_module_makes_the_bundle_stale(pkg, tmp_path):
    # a name added beside a bundled module (here a package of the same name, which the
    # finder prefers to the module) must not leave the old module replayed
    args = _check_args(tmp_path)
    reference, _ = _run(pkg, *args)
    _run(pkg, *args)
    assert _bundle(pkg).exists()
    strings = pkg / "katacfg" / "gocompat" / "strings.py"
    shadow = pkg / "katacfg" / "gocompat" / "strings"
    shadow.mkdir()
    (shadow / "__init__.py").write_text(
        strings.read_text() + "\nimport sys\nsys.stderr.write('the new package ran\\n')\n")
    out, info = _run(pkg, *args)
    assert info["startup"].get("replayed") is None
    assert "the new package ran" in out
    assert out.replace("the new package ran\n", "") == reference


def test_ctrl_c_while_modules_are_replayed_exits_130_and_keeps_the_bundle(pkg, tmp_path):
    strings = pkg / "katacfg" / "gocompat" / "strings.py"
    strings.write_text(strings.read_text() + (
        "\nimport os as _os\nif _os.environ.get('KATACFG_TEST_INTERRUPT'):\n"
        "    raise KeyboardInterrupt\n"))
    args = _check_args(tmp_path)
    for _ in range(2):
        _run(pkg, *args)
    assert _bundle(pkg).exists()
    env = _env(pkg, KATACFG_TEST_INTERRUPT="1")
    script = "import sys; from katacfg.cli.app import entry; entry()"
    proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                          text=True, env=env, cwd=str(tmp_path))
    assert proc.returncode == 130 and "Traceback" not in proc.stderr, proc.stderr
    assert _bundle(pkg).exists()  # the bundle was not at fault


def test_ctrl_c_while_the_bundle_is_written_exits_130_and_leaves_no_file(pkg, tmp_path):
    args = _check_args(tmp_path)
    _run(pkg, *args)  # pycs
    driver = ("import sys, katacfg._fastimport as f\n"
              "def interrupted(*_):\n    raise KeyboardInterrupt\n"
              "f.os_write = interrupted\n"
              "from katacfg.cli.app import entry\nentry()\n")
    env = _env(pkg)
    proc = subprocess.run([sys.executable, "-c", driver, *args], capture_output=True,
                          text=True, env=env, cwd=str(tmp_path))
    assert proc.returncode == 130 and "Traceback" not in proc.stderr, proc.stderr
    assert "capable" in proc.stdout + proc.stderr  # the command's output came first
    leftovers = [p.name for p in (pkg / "katacfg" / "__pycache__").iterdir()
                 if p.name.startswith("startup-")]
    assert leftovers == []


def test_the_4x_profile_is_bundled_too(pkg, tmp_path):
    example = DATA / "kata4x-example"
    config = tmp_path / "kata4x"
    shutil.copytree(example, config)
    args = ["--profile", "4.x", "--kata-config", str(config / "configuration.toml"),
            "resolve", "--json", "--assume-node-files"]
    outs = [_run(pkg, *args) for _ in range(3)]
    assert outs[1][1]["startup"]["saved"] is True
    assert outs[2][1]["startup"] == {"bundle": "resolve", "replayed": True}
    assert "katacfg.profiles.kata4x.load" in outs[2][1]["loaders"]
    assert outs[0][0] == outs[1][0] == outs[2][0]
