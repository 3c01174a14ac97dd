"""katacfg diff A B: the effective difference between two configurations, key by key.

A and B are configuration files (the same file twice is fine): `--profile-a/--profile-b`
load each side under the 1.x or 4.x rules (default: the global --profile, else auto), and
`--no-dropins-a/--no-dropins-b` leave a 4.x side's config.d out. Each differing key shows
both values and where each side's value came from (file:line, drop-in, default, clamp).
"""
from __future__ import annotations

import json
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

from katacfg.config.errors import KataError


def configure(p: argparse.ArgumentParser) -> None:
    from katacfg.cli.commands.common import add_host_flags

    p.add_argument("a", metavar="A", help="first configuration file")
    p.add_argument("b", metavar="B", help="second configuration file")
    for side in ("a", "b"):
        p.add_argument(f"--profile-{side}", choices=("1.x", "4.x", "auto"),
                       help=f"rules that load {side.upper()} (default: --profile, else auto)")
        p.add_argument(f"--no-dropins-{side}", action="store_true",
                       help=f"load {side.upper()} without its config.d drop-ins (4.x)")
    p.add_argument("--json", action="store_true", help="the differences as JSON")
    p.add_argument("--all", action="store_true", help="show equal keys too")
    add_host_flags(p)
    p.add_argument("--host-memory-mib", type=int, metavar="MIB",
                   help="total memory of the node in MiB (4.x default_maxmemory)")


def _load(path: str, profile: str | None, no_dropins: bool, host: Any) -> tuple[str, Any]:
    from katacfg.profiles import choose
    from katacfg.profiles.kata4x import compare

    chosen, _ = choose(profile, path)
    if chosen == "4.x":
        from katacfg.profiles.kata4x.load import load

        return chosen, compare.flatten_4x(load(path, host, dropins=not no_dropins))
    from katacfg.config.load import load as load1

    return chosen, compare.flatten_1x(load1(path, host=host, mode="shimv2"))


def run(args: argparse.Namespace) -> int:
    from katacfg.cli.commands.common import host_from_args
    from katacfg.profiles.kata4x.compare import diff

    host = host_from_args(args)
    if getattr(args, "host_memory_mib", None) is not None:
        host = host.with_facts(memory_mib=args.host_memory_mib)
    sides = []
    for side, path in (("a", args.a), ("b", args.b)):
        profile = getattr(args, f"profile_{side}") or getattr(args, "profile", None)
        try:
            sides.append(_load(path, profile, getattr(args, f"no_dropins_{side}"), host))
        except KataError as exc:
            sys.stderr.write(f"katacfg: {side.upper()} ({path}) is refused: "
                             f"{exc.one_line().removeprefix('katacfg: ')}\n")
            return 1
    (pa, fa), (pb, fb) = sides
    rows = diff(fa, fb)
    if args.all:
        changed = {r[0] for r in rows}
        rows = [(k, *fa[k], *fb.get(k, ("<absent>", ""))) if k not in changed else
                next(r for r in rows if r[0] == k) for k in fa] + \
            [r for r in rows if r[0] not in fa]
    if args.json:
        out = {"a": {"path": args.a, "profile": pa}, "b": {"path": args.b, "profile": pb},
               "differences": [{"key": k, "a": {"value": va, "origin": oa},
                                "b": {"value": vb, "origin": ob}}
                               for k, va, oa, vb, ob in rows]}
        sys.stdout.write(json.dumps(out, indent=2, default=list) + "\n")
        return 0
    lines = [f"A: {args.a} (profile {pa}" + (", no drop-ins" if args.no_dropins_a else "")
             + ")", f"B: {args.b} (profile {pb}" + (", no drop-ins" if args.no_dropins_b else "")
             + ")"]
    if not rows:
        lines.append("no difference in the effective configuration")
    for k, va, oa, vb, ob in rows:
        lines.append(f"{k}")
        lines.append(f"  A: {_show(va)}" + (f"    ({oa})" if oa else ""))
        lines.append(f"  B: {_show(vb)}" + (f"    ({ob})" if ob else ""))
    if rows and not args.all:
        lines.append(f"{len(rows)} key(s) differ")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _show(value: Any) -> str:
    if value == "<absent>":
        return "(no such key under this profile)"
    return json.dumps(value, default=list)
