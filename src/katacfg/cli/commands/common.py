"""Pieces shared by the commands: host flags, loading from the global options."""
from __future__ import annotations

import os
import sys

from katacfg.config.errors import Diagnostic

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any


def add_host_flags(parser: argparse.ArgumentParser) -> None:
    """--host-cpus / --host-vhost-vsock: answer for another node instead of this one."""
    import argparse

    parser.add_argument("--host-cpus", type=_positive_int, metavar="N",
                        help="CPU count of the node (default: this machine's)")
    parser.add_argument("--host-vhost-vsock", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="whether the node has /dev/vhost-vsock (default: this machine)")


def add_mode_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", choices=("cli", "shimv2"), default="cli",
                        help="front end that loads the file: kata-runtime (cli, default) or "
                             "containerd-shim-kata-v2 (shimv2)")


def _positive_int(text: str) -> int:
    import argparse

    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def host_from_args(args: argparse.Namespace) -> Any:
    """The real host, with the facts given on the command line replacing its own."""
    from katacfg.host.facts import Host

    host = Host.real()
    facts: dict[str, Any] = {}
    if getattr(args, "host_cpus", None) is not None:
        facts["cpus"] = args.host_cpus
    if getattr(args, "host_vhost_vsock", None) is not None:
        facts["vhost_vsock"] = args.host_vhost_vsock
    if getattr(args, "host_memory_mib", None) is not None:
        facts["memory_mib"] = args.host_memory_mib
    return host.with_facts(**facts) if facts else host


def load_from_args(args: argparse.Namespace, *, mode: str = "cli", strict: bool = True,
                   host: Any = None) -> Any:
    """katacfg.load() with --kata-config, the default paths and the embedded fallback."""
    from katacfg.config.load import load

    cfg = load(getattr(args, "kata_config", None), host=host or host_from_args(args),
               mode=mode, strict=strict,
               fallback=not getattr(args, "strict_discovery", False))
    print_notes(cfg.diagnostics, only=("KC004",))
    return cfg


def print_notes(diagnostics: tuple[Diagnostic, ...] | list[Diagnostic],
                only: tuple[str, ...] | None = None) -> None:
    for d in diagnostics:
        if only is None or d.code in only:
            sys.stderr.write(f"katacfg: {d.severity}: {d.message}"
                             + (f" ({d.hint})" if d.hint else "") + "\n")


def choose_profile(args: argparse.Namespace) -> str:
    """--profile / $KATACFG_PROFILE / auto; auto says on stderr when it picks 4.x."""
    from katacfg.profiles import choose

    profile, reason = choose(getattr(args, "profile", None), getattr(args, "kata_config", None))
    asked = getattr(args, "profile", None)
    if profile == "4.x" and asked in (None, "auto") and reason != "asked for":
        sys.stderr.write(f"katacfg: profile 4.x (auto): {reason}\n")
    return profile


def seconds(text: str) -> float:
    value = float(text)  # argparse reports a ValueError as "invalid _seconds value"
    if not 0 < value <= 600:
        raise ValueError("must be between 0 and 600 seconds")
    return value


def host_from_root(args: Any) -> Any:
    """This machine, or the recorded host named by --host-root."""
    from katacfg.config.errors import KataError
    from katacfg.host.facts import Host

    root = getattr(args, "host_root", None)
    if not root:
        return Host.real()
    if not os.path.isdir(root):
        raise KataError(f"--host-root {root}: not a directory", code="KC006",
                        hint="give a recorded host tree such as tests/data/hosts/intel-vmx")
    try:
        return Host.from_root(root)
    except (OSError, ValueError) as exc:
        raise KataError(str(exc), code="KC006",
                        hint="see tests/data/hosts/README.md for the facts and their "
                             "shapes") from None
