"""katacfg resolve: the effective configuration of a sandbox, with its pod annotations."""
from __future__ import annotations

import argparse
import json
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from katacfg.cli.commands.common import add_host_flags, add_mode_flag, host_from_args, print_notes
from katacfg.config.errors import KataError


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true",
                   help="print the effective configuration (or the refusal) as JSON")
    add_mode_flag(p)
    add_host_flags(p)
    p.add_argument("--host-memory-mib", type=int, metavar="MIB",
                   help="total memory of the node in MiB (4.x default_maxmemory; default: "
                        "this machine's)")
    p.add_argument("--origins", action="store_true",
                   help="4.x: show where each value came from (file:line, drop-in, default, "
                        "clamp, annotation)")
    p.add_argument("--key", metavar="KEY",
                   help="4.x: only this key (e.g. default_memory or hypervisor.default_memory)"
                        ", with its origin")
    p.add_argument("--no-dropins", action="store_true",
                   help="4.x: load the file without its config.d drop-ins")
    p.add_argument("--annotation", "-a", action="append", default=[], metavar="KEY=VALUE",
                   help="a pod annotation (repeatable)")
    p.add_argument("--annotations-file", metavar="FILE.json",
                   help="a JSON object of annotations")
    p.add_argument("--bundle", metavar="DIR",
                   help="an OCI bundle: the annotations of DIR/config.json")
    p.add_argument("--assume-node-files", action="store_true",
                   help="the configuration belongs to another machine: assume the paths it "
                        "names exist instead of checking them here")


class InputError(Exception):
    """Bad input that is ours to refuse (not a Kata refusal)."""


def read_annotations(args: argparse.Namespace) -> dict[str, str]:
    """Bundle, then file, then --annotation flags (later ones win)."""
    out: dict[str, str] = {}
    if args.bundle:
        import os

        path = os.path.join(args.bundle, "config.json")
        spec = _read_json(path, "OCI bundle config.json")
        if not isinstance(spec, dict):
            raise InputError(f"{path}: an OCI runtime spec must be a JSON object")
        out.update(_string_map(spec.get("annotations") or {}, f"{path}: annotations"))
    if args.annotations_file:
        data = _read_json(args.annotations_file, "annotations file")
        out.update(_string_map(data, args.annotations_file))
    for item in args.annotation:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--annotation {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def _read_json(path: str, what: str) -> Any:
    """A JSON file read through the bounded reader and decoded as Go's encoding/json does."""
    from katacfg.gocompat.gojson import JSONError, loads
    from katacfg.host.safeio import FileRefused, read_bytes

    try:
        data = read_bytes(path, what=what)
    except FileRefused as exc:
        if exc.errno == 2:
            raise InputError(f"{path}: {what} not found") from None
        raise InputError(f"{path}: cannot read {what}: {exc.text} (hint: {exc.hint})") from None
    try:
        return loads(data)
    except JSONError as exc:
        where = f"{path}:{exc.line}:{exc.column}" if exc.line else path
        raise InputError(f"{where}: malformed JSON: {exc.message}") from None


def _string_map(data: Any, where: str) -> dict[str, str]:
    from katacfg.gocompat.gojson import kind

    if not isinstance(data, dict):
        raise InputError(f"{where}: annotations must be a JSON object of strings, "
                         f"not {kind(data)}")
    for key, value in data.items():
        if not isinstance(value, str):
            shown = {"number": str(value), "bool": str(value).lower()}.get(kind(value), "")
            fix = (f" (write {json.dumps(shown[:40] + ('...' if len(shown) > 40 else ''))})"
                   if shown else "")
            raise InputError(f"{where}: annotation {key!r} has a {kind(value)} value; "
                             f"annotation values are strings{fix}")
    return dict(data)


def run(args: argparse.Namespace) -> int:
    from katacfg.cli.commands.common import choose_profile

    try:
        annotations = read_annotations(args)
    except InputError as exc:
        return _refuse_input(args, str(exc))
    host = host_from_args(args)
    if choose_profile(args) == "4.x":
        from katacfg.cli.commands.resolve4x import run4x

        return run4x(args, annotations, host)
    from katacfg.config.pipeline import resolve

    try:
        cfg = resolve(args.kata_config, annotations, host=host, mode=args.mode,
                      fallback=not args.strict_discovery,
                      assume_files=args.assume_node_files)
    except KataError as exc:
        if args.json:
            sys.stdout.write(json.dumps(exc.as_dict(), indent=2) + "\n")
        elif exc.outcomes:
            from katacfg.reports.resolve_view import outcome_lines

            sys.stdout.write("\n".join(["annotations:", *outcome_lines(exc.outcomes)]) + "\n")
        sys.stderr.write(exc.one_line() + "\n")
        return 1
    print_notes(cfg.diagnostics, only=("KC004", "KC240"))
    if args.json:
        from katacfg.reports.resolve_json import contract_dict

        sys.stdout.write(json.dumps(contract_dict(cfg), indent=2) + "\n")
    else:
        from katacfg.reports.resolve_view import human_view

        sys.stdout.write(human_view(cfg, host))
    return 0


def _refuse_input(args: argparse.Namespace, message: str) -> int:
    if args.json:
        sys.stdout.write(json.dumps({"error": message, "stage": "input"}, indent=2) + "\n")
    sys.stderr.write(f"katacfg: {message}\n")
    return 1
