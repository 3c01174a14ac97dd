"""The conformance cases of the real Go runtime (shared/conformance), run against katacfg.

A copy of the shared cases lives in tests/data/conformance so the suite is self-contained;
when the shared folder is present its own runner is run as well (it may hold newer cases).
Each case recreates its fixtures under /tmp/katacfg-fixtures, as CONTRACT.md requires.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from katacfg.cli.app import main

HERE = Path(__file__).resolve().parent
CASES = HERE / "data" / "conformance" / "cases"
FIXTURE_ROOT = Path("/tmp/katacfg-fixtures")


def shared_runner() -> Path | None:
    for base in (os.environ.get("KATACFG_SHARED_DIR"), HERE.parent.parent / "shared",
                 "/work/shared"):
        if base and (Path(base) / "conformance" / "run").exists():
            return Path(base) / "conformance" / "run"
    return None


def make_fixtures(case: dict, config: Path) -> None:
    if FIXTURE_ROOT.exists():
        shutil.rmtree(FIXTURE_ROOT)
    FIXTURE_ROOT.mkdir(parents=True)
    for f in case.get("fixtures", []):
        path = Path(f["path"])
        path.parent.mkdir(parents=True, exist_ok=True)
        if f.get("symlink_to"):
            path.symlink_to(f["symlink_to"])
        elif f.get("dir"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            with open(path, "wb") as out:
                out.write(f.get("content", "").encode())
                if "size" in f:
                    out.truncate(int(f["size"]))
            os.chmod(path, int(str(f.get("mode", "0644")), 8))
    shutil.copyfile(config, FIXTURE_ROOT / "configuration.toml")


def contains(expected, actual) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and contains(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(
            contains(e, a) for e, a in zip(expected, actual))
    return type(expected) is type(actual) and expected == actual


@pytest.mark.parametrize("case_dir", sorted(p for p in CASES.iterdir() if p.is_dir()),
                         ids=lambda p: p.name)
def test_conformance_case(case_dir: Path, capsys) -> None:
    case = json.loads((case_dir / "case.json").read_text())
    make_fixtures(case, case_dir / "config.toml")
    expected = json.loads((case_dir / "expected.json").read_text())
    argv = ["--kata-config", str(FIXTURE_ROOT / "configuration.toml"), "resolve", "--json",
            "--annotations-file", str(case_dir / "annotations.json"),
            "--mode", case.get("mode", "cli"), "--host-cpus", str(case["host_cpus"]),
            "--host-vhost-vsock" if case["host_vhost_vsock"] else "--no-host-vhost-vsock"]
    code = main(argv)
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    actual = json.loads(out.out)
    if "error" in expected:
        assert code == 1, actual
        assert actual["stage"] == expected["stage"], actual
        m = re.match(r"Near line (\d+) ", expected["error"])
        if actual["error"] != expected["error"] and m:
            assert re.search(rf"\bline {m.group(1)}\b", actual["error"]), actual
        else:
            assert actual["error"] == expected["error"]
    else:
        assert code == 0, actual
        assert contains(expected, actual), json.dumps(actual, indent=1)


@pytest.mark.parametrize("only_config", [True, False], ids=["only-no-annotations", "all"])
def test_shared_conformance_runner(only_config: bool) -> None:
    runner = shared_runner()
    if runner is None:
        pytest.skip("shared/conformance is not next to this checkout; the vendored copy ran")
    cmd = [sys.executable, str(runner), "--katacfg", f"{sys.executable} -m katacfg"]
    if only_config:
        cmd.append("--only-no-annotations")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    last = p.stdout.strip().splitlines()[-1]
    assert p.returncode == 0 and last.endswith(", 0 refused with other wording, 0 failed"), \
        p.stdout[-3000:]
