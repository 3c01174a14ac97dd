"""Property tests: every Go rule turned into CEL/RE2 agrees with katacfg's Go-compatible one.

The regular expressions are evaluated by the CEL engine itself (cel-expr-python), the
references are gocompat (Go regexp, strconv, path.Match, filepath.Glob on a real tree).
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from katacfg.admission import celgen as g
from katacfg.admission.celgen import lit
from katacfg.config.registry import HYPERVISOR_PREFIX
from katacfg.gocompat import strconv
from katacfg.gocompat.glob import BadPattern, glob, glob_may_return, path_match
from katacfg.gocompat.re2 import compile_go, regexp_contains

cel = pytest.importorskip("cel_expr_python.cel")
ext_strings = pytest.importorskip("cel_expr_python.ext.ext_strings")

SETTINGS = settings(max_examples=int(os.environ.get("KATACFG_HYPOTHESIS_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@functools.cache
def _env():  # type: ignore[no-untyped-def]
    return cel.NewEnv(variables={"s": cel.Type.STRING},
                      extensions=[ext_strings.ExtStrings()])


@functools.lru_cache(maxsize=2048)
def _compiled(expr: str):  # type: ignore[no-untyped-def]
    return _env().compile(expr)


def cel_true(expr: str, s: str) -> bool:
    return _compiled(expr).eval(data={"s": s}).value() is True


# ----------------------------------------------------------------------------- gate

FRAGMENTS = ["a", "b", "_", ".", ".*", "^", "$", "(?i)", "A", "[ab]", "[^a]", "\\b", "\\B",
             "|", "(", ")", "+", "?", "x{2}", "\\.", "k", "\\w"]
SUFFIX = st.text(alphabet="abAB_.kx/-1", min_size=1, max_size=8)


@st.composite
def go_patterns(draw):  # type: ignore[no-untyped-def]
    out = []
    for _ in range(draw(st.integers(1, 3))):
        p = "".join(draw(st.lists(st.sampled_from(FRAGMENTS), max_size=5)))
        if compile_go(p) is not None:
            out.append(p)
    return out


@SETTINGS
@given(go_patterns(), st.lists(SUFFIX, min_size=1, max_size=6))
def test_gate_regex_is_kata_search(patterns: list[str], suffixes: list[str]) -> None:
    if not patterns:
        return
    key_rx = g.gate_key_regex(HYPERVISOR_PREFIX, patterns)
    alt = g.alternation(patterns)
    for suffix in suffixes:
        want = regexp_contains(patterns, suffix)
        assert cel_true(f"s.substring({len(HYPERVISOR_PREFIX)}).matches({lit(alt)})",
                        HYPERVISOR_PREFIX + suffix) == want, (patterns, suffix)
        if key_rx is not None:
            assert cel_true(f"s.matches({lit(key_rx)})", HYPERVISOR_PREFIX + suffix) == want, \
                (patterns, suffix, key_rx)


# ----------------------------------------------------------------------------- strconv

UINT_TEXT = st.one_of(st.text(alphabet="0123456789", max_size=14),
                      st.text(alphabet="0123456789 +-_x\n", max_size=12),
                      st.integers(0, 2**40).map(str))
UINT_OK = (f"s.matches({lit(g.UINT_GUARD)}) && int(s) <= {g.UINT32_MAX}")
OVERFLOW = f"s.matches({lit(g.UINT32_OVERFLOW_PREFIX)})"


@SETTINGS
@given(UINT_TEXT)
def test_uint32_is_go_parse_uint(value: str) -> None:
    try:
        strconv.parse_uint(value, 32)
        ok, err = True, ""
    except strconv.NumError as exc:
        ok, err = False, str(exc)
    assert cel_true(UINT_OK, value) == ok, value
    if not ok:
        assert cel_true(OVERFLOW, value) == err.endswith("value out of range"), (value, err)


def test_le_and_gt_digit_regexes() -> None:
    import re

    for bound in ("4294967295", "240", "100", "9", "10"):
        le = re.compile(f"^(?:{g.le_digits(bound)})$")
        gt = re.compile(f"^(?:{g.gt_digits(bound)})$") if g.gt_digits(bound) else None
        b = int(bound)
        probes = set(range(max(0, b - 1500), min(10 ** len(bound), b + 1500)))
        probes |= {0, 10 ** len(bound) - 1, b // 2, b // 10, 10 ** (len(bound) - 1)}
        probes |= {int(bound[:i] + d + "0" * (len(bound) - i - 1))
                   for i in range(len(bound)) for d in "0123456789"}
        for n in sorted(probes):
            s = str(n).zfill(len(bound))
            assert bool(le.match(s)) == (n <= int(bound)), (bound, s)
            assert bool(gt and gt.match(s)) == (n > int(bound)), (bound, s)


# ----------------------------------------------------------------------------- path.Match

KEY = st.text(alphabet="io.katcner/*-?_", min_size=0, max_size=10)
MATCH_PATTERN = st.text(alphabet="io.k*?[]^\\-/a", min_size=0, max_size=8)


@SETTINGS
@given(MATCH_PATTERN, st.lists(KEY, min_size=1, max_size=5))
def test_pod_annotations_pattern_is_path_match(pattern: str, keys: list[str]) -> None:
    rx = g.path_match_rx(pattern)
    for key in keys:
        try:
            want = path_match(pattern, key)
        except BadPattern:
            want = False
        if rx is None:
            continue  # malformed: containerd (Go >= 1.16) matches nothing
        assert cel_true(f"s.matches({lit(rx)})", key) == want, (pattern, key, rx)


# ----------------------------------------------------------------------------- Glob

NAMES = ["a", "b", "ab", ".h", "a.b", "x-1", "[a]", "a*"]
GLOB_ALPHABET = ["a", "b", "*", "?", "[ab]", "[^a]", ".", "/", "..", "\\*", "x", "-", "1", "h"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("globtree")
    for top in NAMES:
        (root / top).mkdir()
        for name in NAMES:
            (root / top / name).write_text("")
    return root


def _policy_allows(pattern: str, value: str) -> bool:
    rx = g.glob_rx(pattern)
    if rx is None:
        return False
    if rx.literal is not None:
        return value == rx.literal
    if len(value.encode()) > g.GLOB_RESULT_MAX:
        return False
    if cel_true(f"s.matches({lit(rx.bad_rx)})", value):
        return False
    return cel_true(f"s.matches({lit('^(?:' + (rx.regex or '') + ')$')})", value)


@SETTINGS
@given(st.lists(st.sampled_from(GLOB_ALPHABET), min_size=1, max_size=5))
def test_glob_as_string_check_is_glob_on_a_real_tree(tree: Path, parts: list[str]) -> None:
    pattern = str(tree) + "/" + "".join(parts)
    results = set(glob(pattern))
    for r in results:  # never refuse what Kata's Glob returns
        assert _policy_allows(pattern, r), (pattern, r)
    existing = [str(tree / a / b) for a in NAMES for b in NAMES] + [str(tree / a) for a in NAMES]
    existing += [str(tree) + "/a/../b/a", str(tree) + "//a/b", str(tree) + "/a/./b",
                 str(tree) + "/a/b/", str(tree) + "/a/"]
    for path in existing:  # and for files that exist, the same verdict as Glob
        if os.path.lexists(path):
            assert _policy_allows(pattern, path) == (path in results), (pattern, path)


@SETTINGS
@given(st.text(max_size=20))
def test_cel_string_literal_round_trips(text: str) -> None:
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        return  # not representable in UTF-8, so never in a Kubernetes object
    if "\x00" in text:
        return  # cel-expr-python 0.1.3 cuts a bound string at NUL (its binding, not CEL)
    assert cel_true(f"s == {lit(text)}", text)


REL_GLOB = ["a", "b", "*", "?", "[ab]", "[^a]", ".", "/", "..", "\\*", "x", "-", "//", "\\"]
VALUE_PARTS = ["a", "b", ".", "..", "/", "x", "ab", "-", "*", "?", ""]


@SETTINGS
@given(st.booleans(), st.lists(st.sampled_from(REL_GLOB), min_size=1, max_size=6),
       st.lists(st.lists(st.sampled_from(VALUE_PARTS), max_size=6), min_size=1, max_size=6))
def test_glob_as_string_check_is_glob_may_return(absolute: bool, parts: list[str],
                                                 values: list[list[str]]) -> None:
    """Absolute and relative patterns, any value: the policy's verdict is Glob's, the
    entries assumed to exist (gocompat.glob.glob_may_return)."""
    pattern = ("/" if absolute else "") + "".join(parts)
    rx = g.glob_rx(pattern)
    for vparts in values:
        value = ("/" if absolute and vparts and vparts[0] != "/" else "") + "".join(vparts)
        want = value != "" and glob_may_return(pattern, value)
        assert _policy_allows(pattern, value) == want, (pattern, value, rx and rx.regex)


@pytest.mark.parametrize("pattern,value", [("?", "."), ("*/*", "/ab"), ("?/..", "b/.."),
                                           ("*", ".."), ("../x/*", "../x/a"), ("./*", "a")])
def test_relative_globs(pattern: str, value: str) -> None:
    assert _policy_allows(pattern, value) == glob_may_return(pattern, value)
