"""`--version` probes and Go's version parse rules (spec/kata-env.md 4.1, 4.2)."""
from __future__ import annotations

import os
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from katacfg.gocompat.strings import fields as go_fields
from katacfg.gocompat.strings import trim_space as go_trim_space
from katacfg.host.probes import (
    UNKNOWN,
    UNKNOWN_VERSION,
    Probes,
    VersionInfo,
    construct_version_info,
    parse_semver,
    probe_versions,
    version_equal,
)
from tests.helpers import real_qemu


def script(tmp_path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


# -- 4.2 parse rules -------------------------------------------------------------------

def test_component_version_takes_the_last_word():
    assert construct_version_info("kata-proxy version 1.7.2-a56df7c") == \
        VersionInfo("1.7.2-a56df7c", 1, 7, 2, UNKNOWN)


def test_commit_is_the_second_of_three_or_more_dash_pieces():
    assert construct_version_info("kata-shim version 1.11.0-rc0-abc1234-dirty") == \
        VersionInfo("1.11.0-rc0-abc1234-dirty", 1, 11, 0, "abc1234")
    assert construct_version_info("x 1.13.0-alpha0").commit == UNKNOWN
    assert construct_version_info("x 1.0.0-a-bc").commit == UNKNOWN  # two pieces only
    assert construct_version_info("x 1.0.0-a-b-c").commit == UNKNOWN  # one character only
    assert construct_version_info("x 1.0.0-a-bc-d").commit == "bc"


def test_commit_comes_from_the_first_prerelease_identifier_only():
    assert construct_version_info("v 2.0.0-rc0.x-abc-d").commit == UNKNOWN
    assert construct_version_info("v 2.0.0-rc0-abc-d.x").commit == "abc"


def test_numeric_prerelease_has_no_commit():
    assert construct_version_info("v 1.2.3-4").semver == "1.2.3-4"
    assert construct_version_info("v 1.2.3-4").commit == UNKNOWN


def test_unparsable_versions_are_unknown():
    for text in ("", "kata-proxy", "v1.2.3", "1.2", "01.2.3", "1.02.3", "1.2.03", "1.2.3-",
                 "1.2.3+", "1.2.3-01", "1.2.3-a_b", "1.2.3-a..b", "1.2.x",
                 "1.2.18446744073709551616", "1.2.3\nCopyright"):
        assert construct_version_info(text) is UNKNOWN_VERSION, text


def test_build_metadata_and_big_numbers_parse():
    assert construct_version_info("x 1.2.3+build.5") == VersionInfo("1.2.3+build.5", 1, 2, 3, UNKNOWN)
    assert construct_version_info("18446744073709551615.0.0").major == 2**64 - 1


def test_multi_line_output_spans_lines_and_fails_like_go():
    # the last space-separated piece is "Bellard\n..." style text, not a version
    assert construct_version_info("QEMU emulator version 2.11.0\nCopyright (c) 2003-2017 x") \
        is UNKNOWN_VERSION


def test_version_equal_compares_major_minor_patch():
    a = construct_version_info("x 1.13.0-alpha0")
    assert version_equal(a, construct_version_info("y 1.13.0"))
    assert not version_equal(a, construct_version_info("y 1.12.0"))
    assert not version_equal(UNKNOWN_VERSION, UNKNOWN_VERSION)


_num = st.integers(min_value=0, max_value=10**6).map(str)
_ident = st.from_regex(r"[0-9A-Za-z-]{1,8}", fullmatch=True).filter(
    lambda s: not (s.isdigit() and len(s) > 1 and s[0] == "0"))


@given(_num, _num, _num, st.lists(_ident, max_size=3), st.lists(_ident, max_size=2))
def test_every_valid_semver_parses(major, minor, patch, pre, build):
    text = f"{major}.{minor}.{patch}" + ("-" + ".".join(pre) if pre else "") + \
        ("+" + ".".join(build) if build else "")
    sv = parse_semver(text)
    assert not isinstance(sv, str), sv
    assert (sv.major, sv.minor, sv.patch) == (int(major), int(minor), int(patch))


@given(st.text(max_size=30))
def test_parse_never_raises(text):
    info = construct_version_info(text)
    assert isinstance(info, VersionInfo)


def test_go_white_space_is_not_pythons():
    assert go_trim_space("\x1c v \x85") == "\x1c v"
    assert go_fields("a\x1cb \u3000c") == ["a\x1cb", "c"]


# -- probes ----------------------------------------------------------------------------

def test_probe_returns_trimmed_stdout_only(tmp_path):
    p = script(tmp_path, "comp", 'echo "  kata-proxy version 1.7.2-a56df7c  "; echo noise >&2')
    r = probe_versions([p])[p]
    assert r.ok and r.output == "kata-proxy version 1.7.2-a56df7c"
    assert r.version_info().semver == "1.7.2-a56df7c"


def test_missing_binary_is_a_problem_not_an_exception(tmp_path):
    missing = str(tmp_path / "nope")
    r = probe_versions([missing, "no-such-binary-anywhere", ""])
    assert r[missing].problem == f"fork/exec {missing}: no such file or directory"
    assert r["no-such-binary-anywhere"].problem.startswith('exec: "no-such-binary-anywhere"')
    assert r[""].problem == 'exec: "": executable file not found in $PATH'
    assert all(x.hypervisor_version() == UNKNOWN for x in r.values())
    assert all(x.version_info() is UNKNOWN_VERSION for x in r.values())


def test_not_executable_file_is_permission_denied(tmp_path):
    f = tmp_path / "plain"
    f.write_text("x")
    r = probe_versions([str(f)])[str(f)]
    assert r.problem == f"fork/exec {f}: permission denied"


def test_non_zero_exit_is_unknown_even_with_output(tmp_path):
    p = script(tmp_path, "fails", "echo 'kata-shim version 1.2.3'; exit 3")
    r = probe_versions([p])[p]
    assert not r.ok and r.problem == "exit status 3" and r.stdout == "kata-shim version 1.2.3"
    assert r.hypervisor_version() == UNKNOWN


def test_garbage_output_is_reported_as_unparsable(tmp_path):
    p = script(tmp_path, "garbage", "printf 'this is not\\377 a version'")
    r = probe_versions([p])[p]
    assert r.ok and r.version_info() is UNKNOWN_VERSION
    assert "printed no semantic version" in r.component_problem()


def test_hanging_binary_is_killed_at_the_deadline_with_its_children(tmp_path):
    marker = tmp_path / "child.pid"
    p = script(tmp_path, "hang", f"sleep 60 & echo $! > {marker}; echo v 1.0.0; wait")
    t0 = time.monotonic()
    r = probe_versions([p], timeout=0.5)[p]
    assert time.monotonic() - t0 < 3
    assert not r.ok and "no answer within 0.5 s" in r.problem
    child = int(marker.read_text())
    time.sleep(0.1)
    assert not os.path.exists(f"/proc/{child}") or \
        open(f"/proc/{child}/stat").read().split()[2] == "Z"


def test_probes_run_concurrently_with_one_deadline(tmp_path):
    paths = [script(tmp_path, f"slow{i}", "sleep 0.4; echo x 1.0.0") for i in range(5)]
    t0 = time.monotonic()
    results = probe_versions(paths, timeout=5)
    elapsed = time.monotonic() - t0
    assert all(r.ok for r in results.values())
    assert elapsed < 1.5, f"5 x 0.4 s probes took {elapsed:.2f} s: not concurrent"


def test_started_probes_overlap_with_the_callers_work(tmp_path):
    p = script(tmp_path, "slow", "sleep 0.3; echo x 2.0.0")
    probes = Probes(5)
    probes.start(p)
    time.sleep(0.35)  # the caller loads the configuration meanwhile
    t0 = time.monotonic()
    assert probes.result(p).ok
    assert time.monotonic() - t0 < 0.2
    probes.cancel()


def test_cancel_kills_running_probes(tmp_path):
    p = script(tmp_path, "forever", "exec sleep 60")
    probes = Probes(30)
    probes.start(p)
    probes.cancel()
    assert probes.result(p).problem == "cancelled"


@pytest.mark.needs_qemu
def test_real_qemu_version_is_its_trimmed_stdout():
    qemu = real_qemu()
    r = probe_versions([qemu])[qemu]
    assert r.ok, r.problem
    assert r.output.startswith("QEMU emulator version ")
    assert "\n" in r.output and r.output == r.output.strip()
    # its last word is not a semantic version: as a component it would be unknown
    assert r.version_info() is UNKNOWN_VERSION
