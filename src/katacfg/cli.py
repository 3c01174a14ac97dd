"""Command line: argument parsing only. Each command lives in katacfg.commands.<name>.

Start-up time is a feature: `--kata-show-default-config-paths` is answered before argparse
is imported, and a command's module (with its imports) is loaded only when it runs.
"""
from __future__ import annotations

import sys

# name -> (module under katacfg.commands, one-line help, aliases)
COMMANDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "resolve": ("resolve", "print a sandbox's effective configuration (dry run)", ()),
    "kata-env": ("env", "show the kata-runtime kata-env report for this host", ("env",)),
    "kata-check": ("check", "check whether this host can run Kata Containers", ("check",)),
    "lint": ("lint", "report every problem in configuration files, with file:line", ()),
    "explain": ("explain", "explain what Kubernetes pods get through containerd or CRI-O", ()),
}
SHOW_PATHS_FLAG = "--kata-show-default-config-paths"


def _command_for(token: str) -> str | None:
    for name, (_, _, aliases) in COMMANDS.items():
        if token == name or token in aliases:
            return name
    return None


def _find_command(argv: list[str]) -> str | None:
    skip = False
    for tok in argv:
        if skip:
            skip = False
            continue
        if tok == "--kata-config":
            skip = True
            continue
        if tok.startswith("-"):
            continue
        return _command_for(tok)
    return None


def build_parser(command: str | None):  # -> argparse.ArgumentParser
    import argparse
    from importlib import import_module

    parser = argparse.ArgumentParser(
        prog="katacfg",
        description="Kata Containers 1.x configuration: what a sandbox gets, and why.",
    )
    parser.add_argument("--kata-config", metavar="PATH",
                        help="use this configuration file instead of the default paths")
    parser.add_argument(SHOW_PATHS_FLAG, action="store_true",
                        help="print the default configuration file paths and exit")
    parser.add_argument("--strict", dest="strict_discovery", action="store_true",
                        help="refuse as Kata does when no configuration file exists, "
                             "instead of using the embedded default")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text, aliases) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, aliases=list(aliases), description=help_text)
        if name == command:
            import_module(f"katacfg.commands.{module}").configure(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else list(argv)
    if SHOW_PATHS_FLAG in args_list:
        # kata-runtime handles this before everything else: no parsing, no file loaded
        from katacfg.discovery import DEFAULT_CONFIG_PATHS

        sys.stdout.write("".join(p + "\n" for p in DEFAULT_CONFIG_PATHS))
        return 0
    command = _find_command(args_list)
    parser = build_parser(command)
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    from importlib import import_module

    from katacfg.errors import KataError

    module = import_module(f"katacfg.commands.{COMMANDS[command][0]}")  # type: ignore[index]
    try:
        return int(module.run(args))
    except KataError as exc:
        sys.stderr.write(exc.one_line() + "\n")
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # never a traceback to a user
        sys.stderr.write(f"katacfg: internal error: {type(exc).__name__}: {exc}\n"
                         "katacfg: please report this with the command you ran\n")
        return 70


if __name__ == "__main__":
    sys.exit(main())
