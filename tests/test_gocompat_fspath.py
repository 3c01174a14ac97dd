"""Tests for katacfg.gocompat.fspath (Go filepath.Clean/Abs/EvalSymlinks, Kata ResolvePath)."""

from __future__ import annotations

import errno
import os
import posixpath
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from katacfg.gocompat.fspath import (
    GoPathError,
    abs_path,
    clean,
    errno_text,
    eval_symlinks,
    getwd,
    go_os_error,
    join,
    resolve_path,
)
from tests.helpers import as_unprivileged

# Go's path_test.go cleantests
CLEAN_TESTS = [
    ("abc", "abc"),
    ("abc/def", "abc/def"),
    ("a/b/c", "a/b/c"),
    (".", "."),
    ("..", ".."),
    ("../..", "../.."),
    ("../../abc", "../../abc"),
    ("/abc", "/abc"),
    ("/", "/"),
    ("", "."),
    ("abc/", "abc"),
    ("abc/def/", "abc/def"),
    ("a/b/c/", "a/b/c"),
    ("./", "."),
    ("../", ".."),
    ("../../", "../.."),
    ("/abc/", "/abc"),
    ("abc//def//ghi", "abc/def/ghi"),
    ("//abc", "/abc"),
    ("///abc", "/abc"),
    ("//abc//", "/abc"),
    ("abc//", "abc"),
    ("abc/./def", "abc/def"),
    ("/./abc/def", "/abc/def"),
    ("abc/.", "abc"),
    ("abc/def/ghi/../jkl", "abc/def/jkl"),
    ("abc/def/../ghi/../jkl", "abc/jkl"),
    ("abc/def/..", "abc"),
    ("abc/def/../..", "."),
    ("/abc/def/../..", "/"),
    ("abc/def/../../..", ".."),
    ("/abc/def/../../..", "/"),
    ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
    ("/../abc", "/abc"),
    ("abc/./../def", "def"),
    ("abc//./../def", "def"),
    ("abc/../../././../def", "../../def"),
]


@pytest.mark.parametrize("p,want", CLEAN_TESTS)
def test_clean(p: str, want: str) -> None:
    assert clean(p) == want
    assert clean(want) == want


@given(st.text(alphabet="ab./", max_size=20))
def test_clean_matches_normpath_except_double_slash_root(p: str) -> None:
    got = clean(p)
    assert clean(got) == got
    want = posixpath.normpath(p) if p else "."
    if want.startswith("//"):
        want = want[1:]
    assert got == want


def test_join() -> None:
    assert join("a", "b") == "a/b"
    assert join("", "b") == "b"
    assert join("a", "") == "a"
    assert join("", "") == ""
    assert join("/a/", "../b/") == "/b"


def test_abs_path(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PWD", raising=False)
    cwd = os.getcwd()
    assert abs_path("x/../y/") == cwd + "/y"
    assert abs_path(".") == cwd
    assert abs_path("/a//b/./c/") == "/a/b/c"
    assert abs_path("/../..") == "/"


def test_getwd_prefers_pwd_naming_same_dir(tmp_path, monkeypatch) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    os.symlink(str(real), link)
    monkeypatch.chdir(real)
    monkeypatch.setenv("PWD", str(link))
    assert getwd() == str(link)  # Go's os.Getwd kludge
    assert abs_path("f") == str(link) + "/f"
    monkeypatch.setenv("PWD", str(tmp_path))  # stale: another directory
    assert getwd() == os.getcwd()
    monkeypatch.setenv("PWD", "relative")
    assert getwd() == os.getcwd()


# ---------------------------------------------------------------------------
# eval_symlinks / resolve_path on a real tree
# ---------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "t"
    (root / "dir" / "sub").mkdir(parents=True)
    (root / "dir" / "file").write_text("x")
    (root / "other").mkdir()
    (root / "other" / "f").write_text("y")
    os.symlink(str(root / "dir" / "file"), root / "abs-link")
    os.symlink("dir/file", root / "rel-link")
    os.symlink("abs-link", root / "chain")
    os.symlink(str(root / "dir"), root / "dirlink")
    os.symlink("../other", root / "dir" / "up")
    os.symlink(str(root / "dir" / "sub"), root / "sublink")
    os.symlink(str(root / "nowhere"), root / "dangling")
    os.symlink("loop-b", root / "loop-a")
    os.symlink("loop-a", root / "loop-b")
    os.symlink("self", root / "self")
    os.symlink("file", root / "dir" / "sibling")
    os.symlink("dir/file/", root / "slash-link")
    return root


def _r(root) -> str:
    return os.path.realpath(root)


def test_eval_symlinks_resolves(tree) -> None:
    t = str(tree)
    real = _r(tree)
    assert eval_symlinks(t + "/dir/file") == real + "/dir/file"
    assert eval_symlinks(t + "/abs-link") == real + "/dir/file"
    assert eval_symlinks(t + "/rel-link") == real + "/dir/file"
    assert eval_symlinks(t + "/chain") == real + "/dir/file"
    assert eval_symlinks(t + "/dirlink/sub") == real + "/dir/sub"
    assert eval_symlinks(t + "/dir/up/f") == real + "/other/f"
    assert eval_symlinks(t + "/dir/sibling") == real + "/dir/file"
    # '..' after a symlink applies to the link target (physical), as in Go
    assert eval_symlinks(t + "/sublink/..") == real + "/dir"
    assert eval_symlinks(t + "//dir/./sub/") == real + "/dir/sub"
    assert eval_symlinks(t + "/dir") == real + "/dir"  # a directory is fine


def test_eval_symlinks_relative(tree, monkeypatch) -> None:
    monkeypatch.chdir(tree)
    assert eval_symlinks("rel-link") == "dir/file"
    assert eval_symlinks("dir/up/f") == "other/f"
    assert eval_symlinks("./dir/../dir/file") == "dir/file"
    assert eval_symlinks("abs-link") == _r(tree) + "/dir/file"


def test_eval_symlinks_missing_names_the_prefix(tree) -> None:
    t = _r(tree)  # the walked (already resolved) prefix is what Go names
    with pytest.raises(GoPathError) as ei:
        eval_symlinks(t + "/missing/a/b")
    assert str(ei.value) == f"lstat {t}/missing: no such file or directory"
    assert ei.value.not_exist
    with pytest.raises(GoPathError) as ei:
        eval_symlinks(t + "/dangling")
    assert str(ei.value) == f"lstat {t}/nowhere: no such file or directory"
    assert ei.value.not_exist


def test_eval_symlinks_not_a_directory(tree) -> None:
    t = str(tree)
    for p in (t + "/dir/file/x", t + "/abs-link/x", t + "/dir/file/", t + "/slash-link", t + "/dir/file/.."):
        with pytest.raises(GoPathError) as ei:
            eval_symlinks(p)
        assert str(ei.value) == "not a directory", p
        assert not ei.value.not_exist


def test_eval_symlinks_loops(tree) -> None:
    for name in ("loop-a", "self"):
        with pytest.raises(GoPathError) as ei:
            eval_symlinks(str(tree / name))
        assert str(ei.value) == "EvalSymlinks: too many links"
        assert not ei.value.not_exist


def test_eval_symlinks_nul(tree) -> None:
    t = _r(tree)
    with pytest.raises(GoPathError) as ei:
        eval_symlinks(t + "/di\x00r/file")
    assert str(ei.value) == f"lstat {t}/di\x00r: invalid argument"


def test_eval_symlinks_name_too_long(tree) -> None:
    t = _r(tree)
    with pytest.raises(GoPathError) as ei:
        eval_symlinks(t + "/" + "x" * 300)
    assert str(ei.value) == f"lstat {t}/{'x' * 300}: file name too long"


def test_eval_symlinks_permission_denied(tree) -> None:
    """Runs without the privileges that ignore permissions (setpriv when CI runs as root)."""
    (tree / "dir").chmod(0o000)
    code = ("import sys\nfrom katacfg.gocompat.fspath import eval_symlinks, GoPathError\n"
            "try:\n    print(eval_symlinks(sys.argv[1]))\n"
            "except GoPathError as e:\n    print('error:', e)\n")
    try:
        p = as_unprivileged([sys.executable, "-c", code, str(tree / "dir" / "file")])
    finally:
        (tree / "dir").chmod(0o755)
    assert p.stdout.strip() == f"error: lstat {_r(tree)}/dir/file: permission denied", p.stderr


def test_resolve_path_spec_rules(tree, monkeypatch) -> None:
    t = str(tree)
    real = _r(tree)
    with pytest.raises(GoPathError, match="^path must be specified$"):
        resolve_path("")
    assert resolve_path(t + "/chain") == real + "/dir/file"
    assert resolve_path(t + "/dir/file/") == real + "/dir/file"  # Abs cleans first
    assert resolve_path(t + "/dirlink/../other/f") == real + "/other/f"  # lexical '..' first
    monkeypatch.chdir(tree)
    monkeypatch.delenv("PWD", raising=False)
    assert resolve_path("rel-link") == real + "/dir/file"
    assert resolve_path("dir") == real + "/dir"


def test_resolve_path_not_exist_uses_absolute_cleaned_path(tree, monkeypatch) -> None:
    t = str(tree)
    with pytest.raises(GoPathError) as ei:
        resolve_path(t + "//missing/./x/")
    assert str(ei.value) == f"file {t}/missing/x does not exist"
    with pytest.raises(GoPathError) as ei:
        resolve_path(t + "/dangling")
    assert str(ei.value) == f"file {t}/dangling does not exist"
    monkeypatch.chdir(tree)
    monkeypatch.delenv("PWD", raising=False)
    with pytest.raises(GoPathError) as ei:
        resolve_path("nope")
    assert str(ei.value) == f"file {os.getcwd()}/nope does not exist"


def test_resolve_path_other_errors_are_raw(tree) -> None:
    t = str(tree)
    real = _r(tree)
    with pytest.raises(GoPathError) as ei:
        resolve_path(t + "/dir/file/x")
    assert str(ei.value) == "not a directory"
    with pytest.raises(GoPathError) as ei:
        resolve_path(t + "/loop-a")
    assert str(ei.value) == "EvalSymlinks: too many links"
    with pytest.raises(GoPathError) as ei:
        resolve_path(t + "/a\x00b")
    assert str(ei.value) == f"lstat {real}/a\x00b: invalid argument"


def test_resolve_path_surrogateescape_names(tree) -> None:
    name = os.fsdecode(b"caf\xe9")
    (tree / name).write_text("z")
    assert resolve_path(str(tree) + "/" + name) == _r(tree) + "/" + name


# ---------------------------------------------------------------------------
# OS error texts
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code,text",
    [
        (errno.ENOENT, "no such file or directory"),
        (errno.EACCES, "permission denied"),
        (errno.EISDIR, "is a directory"),
        (errno.ENOTDIR, "not a directory"),
        (errno.ELOOP, "too many levels of symbolic links"),
        (errno.EBUSY, "device or resource busy"),
        (errno.ENXIO, "no such device or address"),
        (errno.EPERM, "operation not permitted"),
        (errno.EINVAL, "invalid argument"),
        (errno.EIO, "input/output error"),
        (errno.ENAMETOOLONG, "file name too long"),
        (errno.EROFS, "read-only file system"),
        (errno.EAGAIN, "resource temporarily unavailable"),
        (errno.ENOMEM, "cannot allocate memory"),
        (9999, "errno 9999"),
    ],
)
def test_errno_text(code: int, text: str) -> None:
    assert errno_text(code) == text


def test_go_os_error_from_real_failures(tmp_path) -> None:
    missing = str(tmp_path / "missing")
    with pytest.raises(OSError) as ei:
        open(missing, "rb")
    assert go_os_error("open", missing, ei.value) == f"open {missing}: no such file or directory"
    fd = os.open(str(tmp_path), os.O_RDONLY)
    try:
        with pytest.raises(OSError) as ei:
            os.read(fd, 10)
    finally:
        os.close(fd)
    assert go_os_error("read", str(tmp_path), ei.value) == f"read {tmp_path}: is a directory"
    with pytest.raises(ValueError) as ev:
        os.stat("a\x00b")
    assert go_os_error("stat", "a\x00b", ev.value) == "stat a\x00b: invalid argument"
