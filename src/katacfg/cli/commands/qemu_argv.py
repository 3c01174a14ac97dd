"""katacfg qemu-argv: the exact command line Kata 1.x gives QEMU for a pod sandbox, and why."""
from __future__ import annotations

import argparse
import sys

from katacfg.cli.commands.common import add_host_flags, add_mode_flag, host_from_args, print_notes
from katacfg.config.errors import KataError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from katacfg.qemu.argv import ArgOrigin, QemuCommand

STAGE_TITLES = {
    "create": "create: qemu.createSandbox (machine, memory, devices, kernel)",
    "agent": "agent: the agent's channel and the shared folder",
    "network": "network: the pod's interfaces, in name order",
    "launch": "launch: govmm LaunchQemu",
}
IFNAMSIZ = 16


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true",
                   help='print {"argv": [...], "virtiofsd_argv": [...]} (or the refusal) as JSON')
    p.add_argument("--shell", action="store_true",
                   help="print the command line as one shell-quoted line (and virtiofsd's)")
    add_mode_flag(p)
    add_host_flags(p)
    p.add_argument("--host-memory-mib", type=_mib, metavar="MIB",
                   help="the node's MemTotal in MiB (default: this machine's /proc/meminfo)")
    p.add_argument("--host-nested", action=argparse.BooleanOptionalAction, default=None,
                   help="whether the node is itself a VM (default: this machine's cpuinfo "
                        "`hypervisor` flag)")
    p.add_argument("--host-fips", action=argparse.BooleanOptionalAction, default=None,
                   help="whether the node runs in FIPS mode (adds fips=1; default: this "
                        "machine's /proc/sys/crypto/fips_enabled)")
    p.add_argument("--host-interface", action="append", default=[], metavar="NAME=MAC",
                   help="a veth interface CNI put in the pod's network namespace "
                        "(repeatable; default: none)")
    p.add_argument("--netns", metavar="NAME|PATH",
                   help="read the interfaces from this network namespace (a name of `ip netns` "
                        "or a path such as /proc/PID/ns/net; needs root, nsenter and ip)")
    p.add_argument("--sandbox-id", metavar="ID",
                   help="the sandbox (pod) id (default: 64 random hex digits, as containerd)")
    p.add_argument("--uuid", metavar="UUID",
                   help="the VM UUID (default: a random one, as Kata draws it)")
    p.add_argument("--annotation", "-a", action="append", default=[], metavar="KEY=VALUE",
                   help="a pod annotation (repeatable)")
    p.add_argument("--annotations-file", metavar="FILE.json",
                   help="a JSON object of annotations")
    p.add_argument("--bundle", metavar="DIR",
                   help="an OCI bundle: the annotations of DIR/config.json")


def _mib(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < 1 << 44:
        raise argparse.ArgumentTypeError("must be between 0 and 2^44 MiB")
    return value


class InputError(Exception):
    """Bad input that is ours to refuse (not a Kata refusal)."""


def _interfaces(items: list[str]) -> list[tuple[str, str]]:
    from katacfg.qemu.argv import parse_mac

    out = []
    for item in items:
        name, sep, mac = item.partition("=")
        if not sep or not name:
            raise InputError(f"--host-interface {item!r}: expected NAME=MAC, e.g. "
                             "eth0=0a:58:0a:f4:01:07")
        if len(name.encode()) >= IFNAMSIZ or any(c in name for c in "/: \t\n\0"):
            raise InputError(f"--host-interface {item!r}: {name!r} is not a Linux interface "
                             f"name (at most {IFNAMSIZ - 1} bytes, no '/', ':' or spaces)")
        try:
            out.append((name, parse_mac(mac)))
        except ValueError as exc:
            raise InputError(f"--host-interface {item!r}: {exc}") from None
    names = [n for n, _ in out]
    for n in names:
        if names.count(n) > 1:
            raise InputError(f"--host-interface: {n!r} is given twice; interface names are "
                             "unique in a network namespace")
    return out


def run(args: argparse.Namespace) -> int:
    from katacfg.cli.commands.resolve import InputError as ResolveInputError
    from katacfg.cli.commands.resolve import read_annotations

    try:
        annotations = read_annotations(args)
        interfaces = _interfaces(args.host_interface)
        if args.netns is not None and interfaces:
            raise InputError("--netns and --host-interface both name the pod's interfaces; "
                             "give one of them")
    except (ResolveInputError, InputError) as exc:
        return _refuse(args, KataError(str(exc), "input"), plain=True)
    host = host_from_args(args)
    facts: dict[str, object] = {}
    if args.host_memory_mib is not None:
        facts["memory_mib"] = args.host_memory_mib
    if args.host_nested is not None:
        facts["nested"] = args.host_nested
    if args.host_fips is not None:
        facts["fips"] = args.host_fips
    if facts:
        host = host.with_facts(**facts)
    drawn = []
    sandbox_id, uuid = args.sandbox_id, args.uuid
    if sandbox_id is None:
        sandbox_id = _random_hex(32)
        drawn.append("--sandbox-id")
    if uuid is None:
        uuid = _random_uuid()
        drawn.append("--uuid")
    elif not uuid or "\0" in uuid:
        return _refuse(args, KataError("--uuid: a VM UUID cannot be empty", "input"), plain=True)

    from katacfg.config.pipeline import resolve
    from katacfg.qemu.argv import build_qemu_command

    try:
        if args.netns is not None:
            from katacfg.qemu.netns import read_interfaces

            interfaces = read_interfaces(args.netns)
        cfg = resolve(args.kata_config, annotations, host=host, mode=args.mode,
                      fallback=not args.strict_discovery)
        print_notes(cfg.diagnostics, only=("KC004", "KC240"))
        command = build_qemu_command(cfg, host, sandbox_id=sandbox_id, uuid=uuid,
                                     interfaces=interfaces)
    except KataError as exc:
        return _refuse(args, exc)
    for warning in command.warnings:
        sys.stderr.write(f"katacfg: warning: {warning}\n")
    if args.json:
        import json

        sys.stdout.write(json.dumps(command.as_dict(), indent=2) + "\n")
    elif args.shell:
        import shlex

        if command.virtiofsd_argv is not None:
            sys.stdout.write(shlex.join(command.virtiofsd_argv) + "\n")
        sys.stdout.write(shlex.join(command.argv) + "\n")
    else:
        sys.stdout.write(human_view(command, cfg.path, sandbox_id, drawn))
    return 0


def _refuse(args: argparse.Namespace, exc: KataError, *, plain: bool = False) -> int:
    if args.json:
        import json

        sys.stdout.write(json.dumps(exc.as_dict(), indent=2) + "\n")
    sys.stderr.write((f"katacfg: {exc.text}" if plain else exc.one_line())
                     + (f" (stage {exc.stage})" if not plain else "") + "\n")
    return 1


def _random_hex(nbytes: int) -> str:
    import os

    return os.urandom(nbytes).hex()


def _random_uuid() -> str:
    import os

    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def human_view(command: QemuCommand, config_path: str, sandbox_id: str,
               drawn: list[str]) -> str:
    """One option per line, shell-quoted, each followed by where it comes from."""
    import shlex

    lines = [f"# QEMU command line of sandbox {sandbox_id}",
             f"# configuration: {config_path}"]
    if drawn:
        lines.append(f"# drawn at random here: {', '.join(drawn)} (pass them to choose)")
    if command.virtiofsd_argv is not None:
        lines.append("# virtio-fs: virtiofsd starts first (below the QEMU command line)")
    lines.append("")
    _block(lines, command.argv, command.origins, shlex.quote)
    if command.virtiofsd_argv is not None:
        lines += ["", "# virtiofsd, started by the runtime before QEMU", ""]
        _block(lines, command.virtiofsd_argv, command.virtiofsd_origins, shlex.quote)
    return "\n".join(lines) + "\n"


def _block(lines: list[str], argv: tuple[str, ...], origins: Sequence[ArgOrigin],
           quote: Callable[[str], str]) -> None:
    stage = None
    seen: set[str] = set()
    staged = any(o.stage != "launch" for o in origins)  # virtiofsd's argv has one stage
    for origin in origins:
        if staged and origin.start > 0 and origin.stage != stage:
            title = STAGE_TITLES.get(origin.stage, origin.stage)
            if origin.stage in seen:
                title = f"{origin.stage} (continued): the rest of it, in govmm's order"
            lines.append(f"  ## {title}")
            seen.add(origin.stage)
            stage = origin.stage
        for option in _options(argv[origin.start:origin.stop]):
            lines.append(("" if origin.start == 0 else "  ") + " ".join(quote(a) for a in option))
        lines.append(f"      # {origin.what}")
        for source in origin.sources:
            lines.append(f"      #   <- {source.render()}")


def _options(args: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Split a group into options: a flag and, unless the next item is a flag, its value."""
    out: list[tuple[str, ...]] = []
    i = 0
    while i < len(args):
        if args[i].startswith("-") and i + 1 < len(args) and not args[i + 1].startswith("-"):
            out.append((args[i], args[i + 1]))
            i += 2
        else:
            out.append((args[i],))
            i += 1
    return out
