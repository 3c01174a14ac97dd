"""The fast command-line path (cli._quick_parse, no argparse import) and argparse agree.

`katacfg kata-env` parses its plain command lines without argparse (start-up time); these
tests hold the two parsers to the same answer: on every command line the test suite runs,
and on generated ones built from every option of every fast-path command.
"""
from __future__ import annotations

import argparse
import contextlib
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from katacfg.cli import app as cli
from katacfg.cli.parser import build_parser

FAST_COMMANDS = {name: __import__(f"katacfg.cli.commands.{module}", fromlist=["_"])
                 for name, (module, _, _) in cli.COMMANDS.items()}
FAST_COMMANDS = {name: m for name, m in FAST_COMMANDS.items() if hasattr(m, "OPTIONS")}


def with_argparse(argv: list[str], command: str) -> dict[str, object] | None:
    parser = build_parser(command)
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            ns = parser.parse_args(argv)
    except SystemExit:
        return None
    return vars(ns)


def with_fast_path(argv: list[str], command: str) -> dict[str, object] | None:
    ns = cli._quick_parse(argv, command, FAST_COMMANDS[command].OPTIONS)
    return None if ns is None else vars(ns)


def agree(argv: list[str]) -> None:
    command = cli._find_command(argv)
    if command not in FAST_COMMANDS:
        return
    fast = with_fast_path(argv, command)
    if fast is None:
        return  # argparse parses it (and reports its errors): nothing to compare
    slow = with_argparse(argv, command)
    assert slow == fast, argv


# every command line of the test suite that takes the fast path (tests/test_kata_env.py,
# tests/test_cli.py, benchmarks)
SUITE = [
    ["kata-env"],
    ["env"],
    ["--kata-config", "/c.toml", "kata-env"],
    ["--kata-config", "/c.toml", "kata-env", "--json"],
    ["--kata-config", "/c.toml", "kata-env", "--host-root", "tests/data/hosts/intel-vmx"],
    ["--kata-config", "/c.toml", "kata-env", "--host-root", "tests/data/hosts/intel-vmx",
     "--reference-errors"],
    ["--kata-config", "/c.toml", "kata-env", "--format-version", "1.0.23"],
    ["--kata-config", "/c.toml", "kata-env", "--format-version", "1.0.24", "--json"],
    ["--kata-config", "/c.toml", "kata-env", "--json", "--probe-timeout", "5"],
    ["--kata-config=/c.toml", "kata-env", "--probe-timeout=0.5"],
    ["--strict", "kata-env"],
    ["kata-env", "--format-version", "1.0.25"],  # refused: argparse reports it
    ["kata-env", "--probe-timeout", "0"],  # refused: argparse reports it
]


@pytest.mark.parametrize("argv", SUITE, ids=[" ".join(a) for a in SUITE])
def test_fast_path_agrees_with_argparse_on_the_suites_command_lines(argv):
    agree(argv)


def _tokens() -> list[str]:
    toks = ["kata-env", "env", "resolve", "/c.toml", "1.0.23", "1.0.24", "2", "0", "-1", "x",
            "--", "-", "--json=1", "--kata-config=", "--probe-timeout=3"]
    for opt in cli.GLOBAL_OPTIONS:
        toks.extend(opt.flags)
    for module in FAST_COMMANDS.values():
        for opt in module.OPTIONS:
            toks.extend(opt.flags)
            toks.extend(opt.choices)
    return toks


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_tokens()), max_size=8))
def test_fast_path_agrees_with_argparse_on_any_command_line(argv):
    agree(argv)


def test_fast_path_answers_plain_command_lines():
    """The agreement tests above are not vacuous: the fast path does parse these."""
    for argv in SUITE[:11]:
        assert with_fast_path(argv, "kata-env") is not None, argv


def test_argparse_namespace_has_the_same_fields():
    ns = with_argparse(["kata-env"], "kata-env")
    assert ns is not None and isinstance(argparse.Namespace(**ns), argparse.Namespace)
