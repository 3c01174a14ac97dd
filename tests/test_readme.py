"""Every example of the README runs as written, from the repository's root.

`console` blocks are run; `text` blocks are excerpts over files that are not in the
repository (the qemu-argv examples use the QEMU conformance fixtures; boot needs KVM and a
prepared configuration). A console block with
a command other than katacfg (kubectl: a cluster session) is skipped, saying so.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", README, re.M | re.S)


def _console_examples() -> list[tuple[str, list[str]]]:
    """(command, expected output lines) of every `$ ` line of the console blocks; the
    commands of a block that needs more than katacfg come with expected None."""
    out: list[tuple[str, list[str]]] = []
    for block in _blocks("console"):
        lines = block.splitlines()
        external = any(line.startswith("$ ") and not line.startswith("$ katacfg ")
                       for line in lines)
        i = 0
        while i < len(lines):
            if not lines[i].startswith("$ "):
                i += 1
                continue
            command = lines[i][2:]
            while command.endswith("\\"):
                i += 1
                command = command[:-1] + " " + lines[i].strip()
            i += 1
            expected = []
            while i < len(lines) and not lines[i].startswith("$ "):
                expected.append(lines[i])
                i += 1
            out.append((command, None if external else expected))  # type: ignore[arg-type]
    return out


def _matches(expected: list[str], actual: list[str]) -> bool:
    """Each expected line (`…` matches any text; a line of `…` any lines) in order."""
    pos = 0
    for line in expected:
        if not line.strip() or line.strip() == "…":
            continue
        pattern = re.compile(".*".join(re.escape(p) for p in line.rstrip().split("…")) + r"\Z")
        while pos < len(actual) and not pattern.match(actual[pos].rstrip()):
            pos += 1
        if pos == len(actual):
            return False
        pos += 1
    return True


EXAMPLES = _console_examples()


def test_the_readme_has_examples() -> None:
    assert len(EXAMPLES) >= 4 and _blocks("python")


@pytest.mark.parametrize(("command", "expected"), EXAMPLES, ids=[c[:60] for c, _ in EXAMPLES])
def test_console_example_runs_as_written(command: str, expected: list[str] | None) -> None:
    if expected is None:
        pytest.skip("a cluster session (kubectl): not run here")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(command, shell=True, cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    actual = proc.stdout.splitlines() + proc.stderr.splitlines()
    assert "Traceback" not in proc.stderr
    assert _matches(expected, actual), "\n".join(actual)


@pytest.mark.parametrize("code", _blocks("python"))
def test_python_example_runs_as_written(code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    exec(compile(code, "README.md", "exec"), {})
