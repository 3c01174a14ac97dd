"""katacfg lint: every problem in configuration files, with file:line:column."""
from __future__ import annotations

import argparse
import sys

from katacfg.commands.common import add_host_flags, add_mode_flag, host_from_args


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("configs", nargs="*", metavar="CONFIG",
                   help="files to check (default: --kata-config or the file Kata would load)")
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text",
                   help="output format (SARIF 2.1.0 for CI annotations)")
    p.add_argument("--strict", action="store_true", help="warnings fail too")
    add_mode_flag(p)
    add_host_flags(p)


def run(args: argparse.Namespace) -> int:
    from katacfg import discovery
    from katacfg.errors import KataError
    from katacfg.reports import lint

    paths = list(args.configs)
    if not paths:
        if args.kata_config:
            paths = [args.kata_config]
        else:
            try:
                paths = [discovery.find_config(None)]
            except KataError as exc:
                if args.strict_discovery:
                    raise
                paths = [discovery.embedded_default_path()]
                sys.stderr.write(f"katacfg: note: {exc.text}; linting the embedded default\n")
    host = host_from_args(args)
    results = [lint.lint_file(p, host, args.mode) for p in paths]
    render = {"text": lint.render_text, "json": lint.render_json,
              "sarif": lint.render_sarif}[args.format]
    sys.stdout.write(render(results))
    if any(r.errors for r in results):
        return 1
    if args.strict and any(r.warnings for r in results):
        return 1
    return 0
