"""Tests for katacfg.gocompat.re2 (Go regexp semantics for enable_annotations)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from katacfg.gocompat.re2 import compile_go, regexp_contains

# ---------------------------------------------------------------------------
# annotations.md section 3, consequences table
# ---------------------------------------------------------------------------


def test_absent_or_empty_list_refuses_everything() -> None:
    assert not regexp_contains([], "kernel")
    assert not regexp_contains([], "")


def test_stock_dot_star_accepts_everything() -> None:
    for suffix in ("kernel", "default_memory", "unknown_thing", "", "x\ny"):
        assert regexp_contains([".*"], suffix)


def test_kernel() -> None:
    for s in ("kernel", "kernel_params", "kernel_hash"):
        assert regexp_contains(["kernel"], s)
    assert not regexp_contains(["kernel"], "image")
    assert not regexp_contains(["kernel"], "KERNEL")


def test_memory() -> None:
    for s in ("default_memory", "memory_slots", "memory_offset"):
        assert regexp_contains(["memory"], s)
    assert not regexp_contains(["memory"], "default_vcpus")


def test_anchored_kernel_only() -> None:
    assert regexp_contains(["^kernel$"], "kernel")
    assert not regexp_contains(["^kernel$"], "kernel_params")
    assert not regexp_contains(["^kernel$"], "kernel_hash")
    # Go's $ (OneLine) does not match before a trailing newline
    assert not regexp_contains(["^kernel$"], "kernel\n")


def test_case_sensitive() -> None:
    assert regexp_contains(["default_vcpus"], "default_vcpus")
    assert not regexp_contains(["default_vcpus"], "DEFAULT_VCPUS")
    assert regexp_contains(["(?i)default_vcpus"], "DEFAULT_VCPUS")


def test_invalid_pattern_matches_nothing_and_prints_nothing(capfd) -> None:
    assert compile_go("(?=x)") is None
    assert not regexp_contains(["(?=x)"], "x")
    assert not regexp_contains(["(?=x)", "[", "a{1001}"], "xa")
    assert regexp_contains(["(?=x)", "x"], "x")
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_invalid_pattern_prints_nothing_in_fresh_process() -> None:
    code = (
        "from katacfg.gocompat.re2 import regexp_contains as r;"
        "assert not r(['(?=x)', '(?<!y)', '\\\\C', '(', 'a**', '\\\\pX'], 'xy')"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout == "" and proc.stderr == ""


def test_re2_imported_lazily() -> None:
    code = "import sys, katacfg.gocompat.re2; print('re2' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"


# ---------------------------------------------------------------------------
# Go regexp syntax (syntax.Perl flags) vs RE2 defaults
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        "(?=x)",
        "(?!x)",
        "(?<=x)",
        "(?<!x)",
        "(?<name>x)",  # only Go >= 1.22
        "(?P<é>x)",  # non-ASCII group name
        "(?P<a-b>x)",
        "(?P<>x)",
        "(?P=name)",
        "(?#comment)",
        "(?x)a",
        "\\C",  # any byte: RE2 only
        "a\\Cb",
        "[\\C]",
        "\\1",
        "(a)\\1",
        "\\8",
        "\\Z",
        "\\e",
        "\\cA",
        "\\X",
        "\\R",
        "\\h",
        "\\K",
        "\\G",
        "\\E",
        "\\x{110000}",
        "\\p{Foo}",
        "\\pX",
        "\\p{Cn}",
        "[[:foo:]]",
        "[z-a]",
        "[a-\\d]",
        "[]",
        "[a",
        "(",
        ")",
        "a)",
        "*",
        "a**",
        "a++",
        "a*+",
        "a{2}{3}",
        "x{1001}",
        "x{2,1}",
        "(x{100}){100}",  # nested repeat product > 1000
        "\\",
        "[\\b]",
        "(?-)",
        "(?i-)",
        "(?P<n",
    ],
)
def test_go_invalid_patterns(pattern: str) -> None:
    assert compile_go(pattern) is None


@pytest.mark.parametrize(
    "pattern,text,want",
    [
        ("\\pN", "abc1", True),
        ("\\pN", "abc", False),
        ("\\p{Greek}", "λ", True),
        ("\\PL", "abc", False),
        ("\\p{^Greek}", "λ", False),
        ("[[:alpha:]]+$", "abc", True),
        ("^[[:digit:]]+$", "12a", False),
        ("[[:^alpha:]]", "abc", False),
        ("[[:word:]]", "_", True),
        ("(?P<name>ker)nel", "kernel", True),
        ("(?P<a>x)(?P<a>y)", "xy", True),  # Go allows duplicate names
        ("(?P<1x_Y>k)", "k", True),
        ("(?i)KERNEL", "kernel", True),
        ("(?i)k", "\u212a", True),  # Kelvin sign folds to k
        ("(?i:A)b", "aB", False),
        ("\\Qa.b\\E", "a.b", True),
        ("\\Qa.b\\E", "axb", False),
        ("\\Q\\C\\E", "\\C", True),  # \C inside \Q..\E is literal text
        ("\\Qab", "xab", True),
        ("kernel\\z", "kernel", True),
        ("kernel\\z", "kernel\n", False),
        ("\\Akernel", "kernel", True),
        ("\\bmem", "default_memory", False),
        ("\\bmem", "mem_x", True),
        ("\\d\\s\\w", "1 a", True),
        ("^$", "", True),
        ("(?m)^b$", "a\nb\nc", True),
        ("^b$", "a\nb\nc", False),
        ("a.c", "a\nc", False),
        ("(?s)a.c", "a\nc", True),
        ("a[^x]c", "a\nc", True),  # ClassNL: negated classes match \n
        ("\\_", "_", True),
        ("[\\_]", "_", True),
        ("x{1000}", "x" * 1000, True),
        ("(x{10}){100}", "x" * 1000, True),
        ("\\x41\\x{42}\\101", "ABA", True),
        ("\\0", "\x00", True),
        ("a\\.b", "a.b", True),
        ("\u00e9", "caf\u00e9", True),
        ("[(?<]", "<", True),  # inside a class these are plain characters
        ("[\\]]", "]", True),
        ("[]a]", "]", True),
        ("[^]a]", "b", True),
        ("x{,3}", "x{,3}", True),  # not a repeat: literal
        ("a{,}", "a{,}", True),
        ("(?U)a+", "aaa", True),
        ("(?)k", "k", True),
        ("(?i)(?-i:k)", "K", False),
        ("\\pL{1000}", "a" * 1000, True),  # large program: compiles as in Go
        ("", "anything", True),
        ("|", "", True),
        ("^*x", "x", True),
    ],
)
def test_go_valid_patterns(pattern: str, text: str, want: bool) -> None:
    rx = compile_go(pattern)
    assert rx is not None, pattern
    assert rx.search(text) is want


def test_text_with_invalid_utf8_seen_as_replacement_char() -> None:
    # Go decodes an invalid byte as U+FFFD (one rune per byte)
    assert compile_go("^.$").search("\udcff")
    assert compile_go("^\\x{FFFD}$").search("\udcff")
    assert compile_go("^.{3}$").search("\ud800")  # 3 invalid bytes
    assert compile_go("^a.b$").search("a\udce2\udc82b") is False
    assert compile_go("^a..b$").search("a\udce2\udc82b")


def test_pattern_with_lone_surrogate_is_invalid() -> None:
    assert compile_go("\ud800") is None


def test_nul_in_pattern_and_text() -> None:
    assert compile_go("a\x00b").search("xa\x00b")
    assert not compile_go("a\x00b").search("ab")


def test_compile_is_cached() -> None:
    assert compile_go("cached_pattern_x") is compile_go("cached_pattern_x")


def test_no_stderr_from_compile_errors_at_fd_level() -> None:
    # RE2's C++ logging would write to fd 2 directly; check a subprocess' raw stderr
    code = "from katacfg.gocompat.re2 import compile_go as c;[c(p) for p in ('(?=', '[', 'x{5000}', '\\\\Z')]"
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, check=True)
    assert proc.stderr == b""
