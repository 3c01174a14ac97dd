"""Command line: argument parsing only. Each command lives in katacfg.cli.commands.<name>.

Start-up time is a feature: `--kata-show-default-config-paths` is answered before argparse
is imported, and a command's module (with its imports) is loaded only when it runs.
"""
from __future__ import annotations

import sys

# name -> (module under katacfg.cli.commands, one-line help, aliases)
COMMANDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "resolve": ("resolve", "print a sandbox's effective configuration (dry run)", ()),
    "kata-env": ("env", "show the kata-runtime kata-env report for this host", ("env",)),
    "kata-check": ("check", "check whether this host can run Kata Containers", ("check",)),
    "lint": ("lint", "report every problem in configuration files, with file:line", ()),
    "diff": ("diff", "the effective difference between two configurations (files, profiles, "
                     "drop-ins), with where each value came from", ()),
    "explain": ("explain", "explain what Kubernetes pods get through containerd or CRI-O", ()),
    "policy": ("policy", "generate a ValidatingAdmissionPolicy from the node's Kata "
                         "configuration", ()),
    "qemu-argv": ("qemu_argv", "print the exact QEMU command line of a pod sandbox, and why", ()),
    "admit": ("admit", "admission verdicts on Kata pods (AdmissionReview or YAML), offline", ()),
    "webhook": ("webhook", "serve admission verdicts as a validating webhook (HTTPS)", ()),
    "boot": ("boot", "start QEMU with a sandbox's command line and check the guest from inside",
             ()),
}
SHOW_PATHS_FLAG = "--kata-show-default-config-paths"


class Opt:
    """A simple option (a flag, or one value) declared as data.

    Commands whose options are all simple declare them in OPTIONS; argparse is built from
    them for help and errors (katacfg.cli.parser), and a plain command line is parsed without importing
    argparse at all (kata-env's start-up budget).
    """

    __slots__ = ("flags", "dest", "value", "default", "help", "choices", "type", "metavar")

    def __init__(self, flags: tuple[str, ...], dest: str, *, value: bool = False,
                 default: object = None, help: str = "", choices: tuple[str, ...] = (),
                 type: object = None, metavar: str | None = None) -> None:
        self.flags, self.dest, self.value, self.default = flags, dest, value, default
        self.help, self.choices, self.type, self.metavar = help, choices, type, metavar


GLOBAL_OPTIONS: tuple[Opt, ...] = (
    Opt(("--kata-config",), "kata_config", value=True, metavar="PATH",
        help="use this configuration file instead of the default paths"),
    Opt((SHOW_PATHS_FLAG,), "kata_show_default_config_paths",
        help="print the default configuration file paths and exit"),
    Opt(("--profile",), "profile", value=True, choices=("1.x", "4.x", "auto"), metavar="P",
        help="Kata generation whose rules load the file: 1.x, 4.x or auto (default; also "
             "$KATACFG_PROFILE): auto picks 4.x only for a file only 4.x can read"),
    Opt(("--version",), "version", help="print katacfg's version and exit"),
    Opt(("--strict",), "strict_discovery",
        help="refuse as Kata does when no configuration file exists, instead of using the "
             "embedded default"),
)


class Args:
    """Parsed options (argparse.Namespace without importing argparse, nor `types`)."""

    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"Args({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"


def _quick_parse(argv: list[str], command: str, options: tuple[Opt, ...]):  # type: ignore[no-untyped-def]
    """Parse a plain command line of simple options without argparse, or return None
    (then argparse parses it, with its help and its error messages)."""
    values: dict[str, object] = {o.dest: (o.default if o.value else False)
                                 for o in GLOBAL_OPTIONS + options}
    scope = GLOBAL_OPTIONS
    i = 0
    while i < len(argv):
        tok = argv[i]
        if scope is GLOBAL_OPTIONS and _command_for(tok) == command:
            scope = options
            values["command"] = tok
            i += 1
            continue
        name, eq, inline = tok.partition("=")
        opt = next((o for o in scope if name in o.flags), None)
        if opt is None or (eq and not opt.value):
            return None
        if opt.value:
            if eq:
                raw = inline
            elif i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                i += 1
                raw = argv[i]
            else:
                return None
            if opt.choices and raw not in opt.choices:
                return None
            if opt.type is not None:
                try:
                    values[opt.dest] = opt.type(raw)  # type: ignore[operator]
                except Exception:
                    return None
            else:
                values[opt.dest] = raw
        else:
            values[opt.dest] = True
        i += 1
    if scope is GLOBAL_OPTIONS:
        return None
    return Args(**values)


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
        if tok in ("--kata-config", "--profile"):
            skip = True
            continue
        if tok.startswith("-"):
            continue
        return _command_for(tok)
    return None


def main(argv: list[str] | None = None) -> int:
    """The command line. The cyclic garbage collector is paused for the run: a command is
    short-lived and its values hold no cycles worth collecting, while collections during
    imports and parsing cost start-up time (about 7% of kata-check's)."""
    return _run(argv, None)


def _run(argv: list[str] | None, startup: dict[str, object] | None) -> int:
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        return _main(argv, startup)
    except KeyboardInterrupt:  # Ctrl-C while loading or starting (the run has its own)
        return 130
    finally:
        if enabled:
            gc.enable()


def entry() -> None:
    """The console script: main(), then leave without the interpreter's finalization.

    Tearing down every module and collecting them at exit costs about a tenth of a short
    command's run (kata-check, kata-env). Nothing needs it once the output is flushed, unless
    an atexit handler is registered or another thread runs: then exit normally.
    """
    code, _ = console_run(None)
    if _fast_exit_safe():
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass  # e.g. a closed pipe: the interpreter's own exit reports it as usual
        else:
            import os

            os._exit(code & 0xFF)
    sys.exit(code)


def console_run(argv: list[str] | None) -> tuple[int, dict[str, object]]:
    """main() as the console script runs it: the command's modules come from its start-up
    bundle (katacfg/_fastimport.py), and a run without a valid one writes it. Returns the
    exit status and what happened: {"bundle": the command's bundle name, "replayed": True,
    or False (a module failed while replayed; the usual imports took over), absent when
    there was no valid bundle; "saved": whether this run wrote one, when it tried}."""
    startup: dict[str, object] = {}
    code = _run(argv, startup)
    name = startup.get("bundle")
    if name and startup.get("replayed") is None and code in (0, 1):
        from katacfg._fastimport import save_bundle

        try:
            startup["saved"] = save_bundle(str(name))
        except KeyboardInterrupt:  # Ctrl-C after the output: the command was interrupted
            return 130, startup
    return code, startup


def _fast_exit_safe() -> bool:
    # handlers are registered through the atexit module: not imported, none registered
    atexit = sys.modules.get("atexit")
    if atexit is not None and atexit._ncallbacks():
        return False
    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() <= 1


def _main(argv: list[str] | None, startup: dict[str, object] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else list(argv)
    if args_list[:1] == ["--version"]:
        from katacfg import __version__

        sys.stdout.write(f"katacfg {__version__}\n")
        return 0
    if SHOW_PATHS_FLAG in args_list:
        # kata-runtime handles this before everything else: no parsing, no file loaded
        from katacfg.config.discovery import DEFAULT_CONFIG_PATHS

        sys.stdout.write("".join(p + "\n" for p in DEFAULT_CONFIG_PATHS))
        return 0
    command = _find_command(args_list)
    early = args = None
    if command is not None:
        bundle = None
        if startup is not None:
            # the console script: this command's modules from its start-up bundle
            # (katacfg/_fastimport.py), those of its early work first
            from katacfg._fastimport import Bundle

            startup["bundle"] = COMMANDS[command][0]
            bundle = Bundle.open(COMMANDS[command][0])
            if bundle is not None:
                startup["replayed"] = bundle.replay()
        module = __import__(f"katacfg.cli.commands.{COMMANDS[command][0]}", fromlist=["_"])
        # A command may start work before argument parsing (kata-env: its version probes).
        prestart = getattr(module, "prestart", None)
        if prestart is not None:
            early = prestart(args_list)
        if startup is not None:
            from katacfg._fastimport import mark_stage

            mark_stage()
            if bundle is not None:
                if startup["replayed"]:
                    startup["replayed"] = bundle.replay()
                bundle.close()
        if hasattr(module, "OPTIONS"):
            args = _quick_parse(args_list, command, module.OPTIONS)
    if args is None:
        from katacfg.cli.parser import build_parser

        parser = build_parser(command)
        args = parser.parse_args(args_list)
        if args.command is None and not args.version:
            parser.print_help(sys.stderr)
            return 2
    if getattr(args, "version", False):
        return main(["--version"])
    args.prestarted = early
    from katacfg.config.errors import KataError

    name = f"katacfg.cli.commands.{COMMANDS[command or _command_for(args.command)][0]}"  # type: ignore[index]
    __import__(name)  # importlib itself is an import (start-up time)
    module = sys.modules[name]
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
