"""Tests for katacfg.gocompat.glob (Go filepath.Match / filepath.Glob / checkPathIsInGlobs)."""

from __future__ import annotations

import json
import os
import re
import sys

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from katacfg.gocompat.glob import (
    BadPattern,
    glob,
    glob_may_return,
    match,
    path_in_globs,
    path_match,
    pattern_in_globs,
)
from tests.helpers import as_unprivileged

BAD = "bad"

# Go's match_test.go table (Go 1.14/1.15 expectations).
GO_MATCH_TESTS = [
    ("abc", "abc", True),
    ("*", "abc", True),
    ("*c", "abc", True),
    ("a*", "a", True),
    ("a*", "abc", True),
    ("a*", "ab/c", False),
    ("a*/b", "abc/b", True),
    ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True),
    ("a*b?c*x", "abxbbxdbxebxczzy", False),
    ("ab[c]", "abc", True),
    ("ab[b-d]", "abc", True),
    ("ab[e-g]", "abc", False),
    ("ab[^c]", "abc", False),
    ("ab[^b-d]", "abc", False),
    ("ab[^e-g]", "abc", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "ab", False),
    ("a?b", "a☺b", True),
    ("a[^a]b", "a☺b", True),
    ("a???b", "a☺b", False),
    ("a[^a][^a][^a]b", "a☺b", False),
    ("[a-ζ]*", "α", True),
    ("*[a-ζ]", "A", False),
    ("a?b", "a/b", False),
    ("a*b", "a/b", False),
    ("[\\]a]", "]", True),
    ("[\\-]", "-", True),
    ("[x\\-]", "x", True),
    ("[x\\-]", "-", True),
    ("[x\\-]", "z", False),
    ("[\\-x]", "x", True),
    ("[\\-x]", "-", True),
    ("[\\-x]", "a", False),
    ("[]a]", "]", BAD),
    ("[-]", "-", BAD),
    ("[x-]", "x", BAD),
    ("[x-]", "-", BAD),
    ("[x-]", "z", BAD),
    ("[-x]", "x", BAD),
    ("[-x]", "-", BAD),
    ("[-x]", "a", BAD),
    ("\\", "a", BAD),
    ("[a-b-c]", "a", BAD),
    ("[", "a", BAD),
    ("[^", "a", BAD),
    ("[^bc", "a", BAD),
    ("a[", "a", False),  # Go <= 1.15: the name is exhausted before '[' is parsed
    ("a[", "ab", BAD),
    ("*x", "xxx", True),
]


@pytest.mark.parametrize("pattern,name,want", GO_MATCH_TESTS)
def test_go_match_table(pattern: str, name: str, want: object) -> None:
    for fn in (match, path_match):
        if want == BAD:
            with pytest.raises(BadPattern) as ei:
                fn(pattern, name)
            assert str(ei.value) == "syntax error in pattern"
        else:
            assert fn(pattern, name) is want


@pytest.mark.parametrize(
    "pattern,name,want",
    [
        # mismatch found before the malformed part: plain false (Go <= 1.15)
        ("x[", "a", False),
        ("x\\", "a", False),
        ("b[]", "a", False),
        ("b[^]", "a", False),
        ("b[a-]", "a", False),
        # malformed part reached: error
        ("[]", "a", BAD),
        ("[^]", "a", BAD),
        ("[a-]", "a", BAD),
        ("a\\", "a", False),  # name exhausted before the trailing '\\'
        ("a\\", "ab", BAD),
        ("*[", "x", BAD),
        # the malformed part is reached on an empty name: no error
        ("[", "", False),
        ("\\", "", False),
        # trailing star
        ("a*", "a/", False),
        ("*", "", True),
        ("*", ".hidden", True),
        ("", "", True),
        ("", "a", False),
        # escapes
        ("\\a", "a", True),
        ("\\[", "[", True),
        ("[\\^]", "^", True),
        ("[^\\]]", "]", False),
        ("[\\\\]", "\\", True),
        # '/' never matched by * or ?, but by a class or itself
        ("a[/]b", "a/b", True),
        ("a/*", "a/b", True),
        # ranges with lo > hi are not an error, they match nothing
        ("[z-a]", "m", False),
    ],
)
def test_match_edge_cases(pattern: str, name: str, want: object) -> None:
    if want == BAD:
        with pytest.raises(BadPattern):
            match(pattern, name)
    else:
        assert match(pattern, name) is want


def test_match_is_bytewise_like_go() -> None:
    # Go's star retry skips single bytes: '?' can then consume lone UTF-8
    # continuation bytes of a 3-byte character.
    assert match("*??", "€") is True
    assert match("??", "€") is False
    assert match("?", "€") is True
    # an invalid byte (surrogateescape) is one rune U+FFFD for '?' and classes
    assert match("a?b", "a\udcffb") is True
    assert match("a[^x]b", "a\udcffb") is True
    assert match("a[\ufffd]b", "a\udcffb") is True


# ---------------------------------------------------------------------------
# Hypothesis: match agrees with a regex model on patterns without classes
# ---------------------------------------------------------------------------

_TOKENS = st.sampled_from(["a", "b", "/", ".", "*", "?", "\\*", "\\?", "\\a", "\\/", "\\\\", "-"])


def _model(tokens: list[str], name: str) -> bool:
    rx = []
    for t in tokens:
        if t == "*":
            rx.append("[^/]*")
        elif t == "?":
            rx.append("[^/]")
        elif t.startswith("\\"):
            rx.append(re.escape(t[1]))
        else:
            rx.append(re.escape(t))
    return re.fullmatch("".join(rx), name, flags=re.DOTALL) is not None


@settings(max_examples=600)
@given(st.lists(_TOKENS, max_size=8), st.text(alphabet="ab/.*?\\-", max_size=10))
def test_match_agrees_with_model(tokens: list[str], name: str) -> None:
    pattern = "".join(tokens)
    assert match(pattern, name) == _model(tokens, name)


@settings(max_examples=300)
@given(st.lists(_TOKENS, max_size=6))
def test_match_pattern_matches_its_literal(tokens: list[str]) -> None:
    # replacing each meta token by one concrete char yields a matching name
    name = "".join("x" if t in ("*", "?") else (t[1] if t.startswith("\\") else t) for t in tokens)
    assert match("".join(tokens), name)


# ---------------------------------------------------------------------------
# Glob on the real file system
# ---------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    (root / "opt" / "kata" / "bin").mkdir(parents=True)
    (root / "opt" / "other" / "bin").mkdir(parents=True)
    (root / "empty").mkdir()
    for name in ("qemu", "qemu-lite", "qemu-virtiofs", ".hidden", "a[b]", "star*", "b"):
        (root / "bin" / name).write_text("x")
    (root / "opt" / "kata" / "bin" / "qemu").write_text("x")
    (root / "opt" / "other" / "bin" / "qemu").write_text("x")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil").write_text("x")
    os.symlink(str(outside / "evil"), root / "bin" / "link-out")
    os.symlink(str(tmp_path / "missing"), root / "bin" / "dangling")
    os.symlink(str(root / "opt" / "kata"), root / "kata-link")
    return root


def test_glob_no_meta(tree) -> None:
    p = str(tree / "bin" / "qemu")
    assert glob(p) == [p]
    assert glob(p + "-nope") == []
    # not cleaned: written forms are returned as written when lstat succeeds
    assert glob(str(tree) + "//bin/./qemu") == [str(tree) + "//bin/./qemu"]
    assert glob(str(tree / "bin") + "/") == [str(tree / "bin") + "/"]
    # dangling symlink counts (lstat)
    assert glob(str(tree / "bin" / "dangling")) == [str(tree / "bin" / "dangling")]
    assert glob("") == []


def test_glob_star_sorted_hidden_and_links(tree) -> None:
    b = str(tree / "bin")
    got = glob(b + "/*")
    names = sorted(os.listdir(b))
    assert got == [b + "/" + n for n in names]
    assert b + "/.hidden" in got
    assert b + "/link-out" in got  # link name, not its target
    assert glob(b + "/qemu*") == [b + "/qemu", b + "/qemu-lite", b + "/qemu-virtiofs"]
    assert glob(b + "/qemu?lite") == [b + "/qemu-lite"]
    assert glob(b + "/[ab]") == [b + "/b"]
    assert glob(b + "/[^q]") == [b + "/b"]
    assert glob(b + "/a\\[b\\]") == [b + "/a[b]"]
    assert glob(b + "/star\\*") == [b + "/star*"]
    assert glob(b + "/\\q\\e\\m\\u") == [b + "/qemu"]  # escapes make it meta, still matches


def test_glob_meta_in_directory(tree) -> None:
    r = str(tree)
    assert glob(r + "/opt/*/bin/qemu") == [r + "/opt/kata/bin/qemu", r + "/opt/other/bin/qemu"]
    assert glob(r + "/*/kata/bin/*") == [r + "/opt/kata/bin/qemu"]
    # a symlinked directory is listed (os.Stat follows it); the result keeps the link name
    assert glob(r + "/kata-link/bin/*") == [r + "/kata-link/bin/qemu"]
    # results are joined and cleaned
    assert glob(r + "//opt/./kata/bin/q*") == [r + "/opt/kata/bin/qemu"]
    # trailing slash after a meta directory: file part is empty, nothing matches
    assert glob(r + "/opt/*/") == []
    # a file where a directory is expected is skipped
    assert glob(r + "/bin/qemu/*") == []


def test_glob_malformed_patterns(tree) -> None:
    b = str(tree / "bin")
    for pat in (b + "/[", b + "/q[", b + "/[]", b + "/[^]", b + "/[a-]", b + "/qemu\\", b + "/[/*"):
        assert glob(pat) == [], pat
    assert glob(str(tree) + "/o[pt/*") == []


def test_glob_relative(tree, monkeypatch) -> None:
    monkeypatch.chdir(tree)
    assert glob("bin/qemu-*") == ["bin/qemu-lite", "bin/qemu-virtiofs"]
    assert glob("./bin/qemu-l*") == ["bin/qemu-lite"]
    assert "kata-link" in glob("*")


def test_glob_unreadable_directory_skipped(tree) -> None:
    """Runs without the privileges that ignore permissions (setpriv when CI runs as root)."""
    d = tree / "opt" / "other" / "bin"
    d.chmod(0o000)
    code = ("import sys, json\nfrom katacfg.gocompat.glob import glob\n"
            "print(json.dumps(glob(sys.argv[1])))\n")
    try:
        p = as_unprivileged([sys.executable, "-c", code, str(tree) + "/opt/*/bin/qemu"])
    finally:
        d.chmod(0o755)
    assert json.loads(p.stdout) == [str(tree) + "/opt/kata/bin/qemu"], p.stderr


# ---------------------------------------------------------------------------
# path_in_globs: spec annotations.md section 6, row by row
# ---------------------------------------------------------------------------


def test_spec_pattern_checked_first(tree) -> None:
    assert not path_in_globs([str(tree / "bin") + "/[q"], str(tree / "bin" / "qemu"))


def test_spec_no_meta_exact(tree) -> None:
    p = str(tree / "bin" / "qemu")
    assert path_in_globs([p], p)
    assert not path_in_globs([p + "-missing"], p + "-missing")
    d = str(tree / "bin")
    assert path_in_globs([d + "/"], d + "/")
    assert not path_in_globs([d + "/"], d)
    assert not path_in_globs([d], d + "/")
    dangling = str(tree / "bin" / "dangling")
    assert path_in_globs([dangling], dangling)


def test_spec_meta_expanded_and_cleaned(tree) -> None:
    r = str(tree)
    assert path_in_globs([r + "/opt/*/bin/qemu"], r + "/opt/other/bin/qemu")
    assert path_in_globs([r + "//bin/q*"], r + "/bin/qemu")
    assert not path_in_globs([r + "//bin/q*"], r + "//bin/qemu")


def test_spec_star_question_class(tree) -> None:
    b = str(tree / "bin")
    assert path_in_globs([b + "/*"], b + "/.hidden")
    assert not path_in_globs([b + "/*"], b + "/sub/x")
    assert path_in_globs([b + "/qemu?lite"], b + "/qemu-lite")
    assert not path_in_globs([b + "/qemu?lite"], b + "/qemu/lite")
    assert path_in_globs([b + "/qemu-[k-m]ite"], b + "/qemu-lite")
    assert not path_in_globs([b + "/qemu-[^l]ite"], b + "/qemu-lite")
    assert path_in_globs([b + "/a\\[b\\]"], b + "/a[b]")


def test_spec_existence_and_no_resolution(tree, tmp_path) -> None:
    b = str(tree / "bin")
    assert not path_in_globs([b + "/nope*"], b + "/nope")
    # a symlink is allowed by its link name only
    assert path_in_globs([b + "/*"], b + "/link-out")
    assert not path_in_globs([b + "/*"], str(tmp_path / "outside" / "evil"))
    # the value is not made absolute
    assert not path_in_globs([b + "/qemu"], "bin/qemu")


def test_spec_empty_list_or_value(tree) -> None:
    assert not path_in_globs([], str(tree / "bin" / "qemu"))
    assert not path_in_globs([str(tree / "bin" / "*")], "")
    assert not path_in_globs([""], "")
    assert not path_in_globs([""], str(tree / "bin" / "qemu"))


def test_relative_globs_follow_cwd(tree, monkeypatch) -> None:
    monkeypatch.chdir(tree)
    assert path_in_globs(["bin/q*"], "bin/qemu")
    assert not path_in_globs(["bin/q*"], str(tree / "bin" / "qemu"))


# ---------------------------------------------------------------------------
# Hypothesis: glob results exist and match; path_in_globs refuses look-alikes
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def htree(tmp_path_factory):
    root = tmp_path_factory.mktemp("hglob")
    for d in ("ab", "ba", "a.b", "bb/aa", "bb/ab", "-"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for f in ("ab/a", "ab/b", "ab/.a", "ba/aa", "a.b/b-a", "bb/aa/a", "bb/ab/b", "-/a", "aa"):
        (root / f).write_text("x")
    outside = tmp_path_factory.mktemp("hglob_outside")
    (outside / "a").write_text("x")
    os.symlink(str(outside / "a"), root / "ab" / "ln")
    os.symlink("../ba", root / "ab" / "up")
    return root


_COMP = st.lists(st.sampled_from(["a", "b", ".", "-", "*", "?", "[ab]", "[^a]", "[a-b]", "\\a", "["]), min_size=1, max_size=4).map("".join)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_COMP, min_size=1, max_size=3))
def test_glob_results_exist_and_match(htree, comps: list[str]) -> None:
    assume(all(c not in (".", "..") for c in comps))
    pattern = str(htree) + "/" + "/".join(comps)
    for res in glob(pattern):
        os.lstat(res)  # exists (symlinks not followed)
        assert match(pattern, res)
        assert path_in_globs([pattern], res)


def _allowed(root) -> tuple[list[str], set[str]]:
    r = str(root)
    globs = [r + "/ab/*", r + "/bb/a?/a", r + "/-/a"]
    allowed = {
        r + "/ab/a", r + "/ab/b", r + "/ab/.a", r + "/ab/ln", r + "/ab/up",
        r + "/bb/aa/a", r + "/-/a",
    }
    return globs, allowed


_MUTATIONS = st.sampled_from([
    lambda v: v,
    lambda v: v + "/",
    lambda v: v.replace("/", "//", 1),
    lambda v: v.replace("/ab/", "/ab/./"),
    lambda v: v.replace("/ab/", "/ab/../ab/"),
    lambda v: v.replace("/ab/", "/bb/../ab/"),
    lambda v: v + "/..",
    lambda v: v + "/.",
    lambda v: v.replace("/", "\u2215"),
    lambda v: v.replace("a", "\uff41"),
    lambda v: v.replace("a", "\u0430"),  # Cyrillic a
    lambda v: v + "\x00",
    lambda v: v.replace("/ab/", "/ab\x00/"),
    lambda v: v[:-1] + "*",
    lambda v: v[:-1] + "?",
    lambda v: v[:-1] + "[ab]",
    lambda v: v + "x" * 5000,
    lambda v: "/" + v,
    lambda v: v.replace("/", "/./"),
    lambda v: v.upper(),
    lambda v: v + " ",
    lambda v: "../" * 3 + v.lstrip("/"),
])


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_path_in_globs_only_exact_matches(htree, data) -> None:
    globs, allowed = _allowed(htree)
    base = data.draw(st.sampled_from(sorted(allowed) + [str(htree / "ba" / "aa"), str(htree / "aa")]))
    mutate = data.draw(_MUTATIONS)
    value = mutate(base)
    got = path_in_globs(globs, value)
    assert got == (value in allowed)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=60))
def test_path_in_globs_arbitrary_text_never_raises(htree, value: str) -> None:
    globs, allowed = _allowed(htree)
    assert path_in_globs(globs, value) == (value in allowed)
    assert path_in_globs(globs, str(htree) + "/" + value) == (str(htree) + "/" + value in allowed)


def test_path_in_globs_symlink_outside_target_refused(htree) -> None:
    globs, _ = _allowed(htree)
    target = os.readlink(htree / "ab" / "ln")
    assert not path_in_globs(globs, target)
    assert not path_in_globs(globs, os.path.realpath(htree / "ab" / "up"))


def test_path_in_globs_nul_refused_without_error(htree) -> None:
    p = str(htree / "ab" / "a")
    assert not path_in_globs([p], p + "\x00")
    assert not path_in_globs([p + "\x00"], p + "\x00")
    assert not path_in_globs([p + "\x00*"], p)


def test_glob_very_long_patterns_do_not_raise(tree) -> None:
    b = str(tree / "bin")
    assert glob(b + "/" + "x" * 5000) == []
    assert glob(b + "/" + "x" * 5000 + "/*") == []
    assert glob("/" + "a/" * 3000 + "*") == []
    assert not path_in_globs([b + "/*"], b + "/" + "q" * 100000)


# ---------------------------------------------------------------------------
# glob_may_return: Glob without the file system (explain --assume-node-files, policies)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("pattern,value,want", [
    # the differential fuzzing findings: Glob never yields '.' or '..'
    ("/dev/hugepages/*", "/dev/hugepages/..", False),
    ("/opt/kata/bin/*", "/opt/kata/bin/..", False),
    ("/opt/kata/bin/*", "/opt/kata/bin/.", False),
    ("/opt/kata/bin/*", "/opt/kata/bin/qemu", True),
    ("/opt/kata/bin/*", "/opt/kata/bin/.hidden", True),  # '*' matches a leading dot in Go
    ("/opt/*/bin/qemu", "/opt/../bin/qemu", False),
    ("/opt/*/bin/qemu", "/opt/kata/bin/qemu", True),
    # results are cleaned joins: never an empty component or a trailing '/'
    ("/opt/kata/bin/*", "/opt/kata/bin//qemu", False),
    ("/opt/kata/bin/*", "/opt/kata//bin/qemu", False),
    ("/opt/kata/bin/*/", "/opt/kata/bin/qemu/", False),
    ("/opt/kata/bin/*", "/opt/kata/bin/", False),
    ("/opt//kata/./bin/*", "/opt/kata/bin/qemu", True),
    ("/opt//kata/./bin/*", "/opt//kata/./bin/qemu", False),
    ("/opt/x/../kata/*", "/opt/kata/qemu", True),
    # no meta characters: exactly as written
    ("/opt/kata/bin/qemu", "/opt/kata/bin/qemu", True),
    ("/opt/kata/../kata/qemu", "/opt/kata/../kata/qemu", True),
    ("/opt/kata/../kata/qemu", "/opt/kata/qemu", False),
    # relative patterns
    ("*", "qemu", True),
    ("*/qemu", "bin/qemu", True),
    ("./bin/*", "bin/qemu", True),
    ("../*", "../qemu", True),
    ("*", "..", False),
    # malformed patterns return nothing
    ("/opt/[", "/opt/[", False),
    ("/opt/*[", "/opt/a[", False),
    ("", "", False),
    ("/*", "/", False),
    ("/*", "/bin", True),
])
def test_glob_may_return(pattern, value, want) -> None:
    assert glob_may_return(pattern, value) is want


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_COMP, min_size=1, max_size=3), st.data())
def test_glob_may_return_agrees_with_glob_on_existing_paths(htree, comps, data) -> None:
    """On a real tree, for paths that exist, the model and Go's Glob agree exactly."""
    pattern = str(htree) + "/" + "/".join(comps)
    results = glob(pattern)
    for res in results:
        assert glob_may_return(pattern, res), (pattern, res)
    existing = [str(htree)]
    for dirpath, dirnames, filenames in os.walk(htree):
        existing += [os.path.join(dirpath, n) for n in dirnames + filenames]
    value = data.draw(st.sampled_from(existing))
    mutate = data.draw(st.sampled_from([lambda v: v, lambda v: v + "/.", lambda v: v + "/..",
                                        lambda v: v.replace(str(htree) + "/", str(htree) + "//")]))
    value = mutate(value)
    if os.path.lexists(value):
        assert glob_may_return(pattern, value) == (value in results), (pattern, value)


def test_pattern_in_globs_refuses_what_path_in_globs_refuses_lexically() -> None:
    assert not pattern_in_globs([], "/a")
    assert not pattern_in_globs(["/a"], "")
    assert not pattern_in_globs(["/a\x00"], "/a\x00")
    assert pattern_in_globs(["/x/*", "/a/*"], "/a/b")


def test_deep_patterns_do_not_exhaust_the_stack(tree) -> None:
    """Go handles 10,000 levels; Go's recursion is a loop here."""
    deep = str(tree) + "/*" * 10_000
    assert glob(deep) == []
    assert not path_in_globs([deep], str(tree) + "/a" * 10_000)
    assert glob_may_return(deep, str(tree) + "/a" * 10_000)
    assert not glob_may_return(deep, str(tree) + "/a" * 9_999 + "/..")
    assert glob(str(tree) + "/*" * 3 + "/..") == []
    assert glob(str(tree) + "/*/*/qemu") == [str(tree) + "/kata-link/bin/qemu"]
