"""argparse for the command line: help texts, errors, and every command line the fast path
(katacfg.cli.app._quick_parse) does not take. Imported only then: argparse and what it
imports (re, gettext) cost a plain kata-check or kata-env more than its whole run.
"""
from __future__ import annotations

import sys

from katacfg.cli.app import COMMANDS, GLOBAL_OPTIONS, Opt


def add_option(parser, opt: Opt) -> None:  # type: ignore[no-untyped-def]
    """Declare one simple option on an argparse parser."""
    if not opt.value:
        parser.add_argument(*opt.flags, dest=opt.dest, action="store_true",
                            help=opt.help)
        return
    kw: dict[str, object] = {"dest": opt.dest, "default": opt.default, "help": opt.help}
    if opt.choices:
        kw["choices"] = opt.choices
    if opt.type is not None:
        kw["type"] = opt.type
    if opt.metavar:
        kw["metavar"] = opt.metavar
    parser.add_argument(*opt.flags, **kw)


def _formatter(prog: str):  # -> argparse.HelpFormatter
    """argparse's formatter, sized without importing shutil (2 ms of start-up: bz2, lzma)."""
    import argparse
    import os

    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 80
    return argparse.HelpFormatter(prog, width=max(columns - 2, 40))


def build_parser(command: str | None):  # -> argparse.ArgumentParser
    import argparse
    from importlib import import_module

    parser = argparse.ArgumentParser(
        prog="katacfg", formatter_class=_formatter,
        description="Kata Containers 1.x configuration: what a sandbox gets, and why.",
    )
    for opt in GLOBAL_OPTIONS:
        add_option(parser, opt)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text, aliases) in COMMANDS.items():
        if command is not None and name != command:
            continue  # a known command needs only its own sub-parser (start-up time)
        p = sub.add_parser(name, help=help_text, aliases=list(aliases), description=help_text,
                           formatter_class=_formatter)
        if name == command:
            cmd = import_module(f"katacfg.cli.commands.{module}")
            if hasattr(cmd, "OPTIONS"):
                for opt in cmd.OPTIONS:
                    add_option(p, opt)
            else:
                cmd.configure(p)
    return parser
