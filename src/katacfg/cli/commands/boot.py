"""katacfg boot: start QEMU with Kata's command line and check the guest from inside."""
from __future__ import annotations

import argparse
import json
import sys

from katacfg.cli.commands.common import host_from_args, print_notes
from katacfg.cli.commands.resolve import InputError, read_annotations
from katacfg.config.errors import KataError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from katacfg.qemu.boot import BootResult

DEFAULT_TIMEOUT = 180.0


def configure(p: argparse.ArgumentParser) -> None:
    from katacfg.cli.commands import resolve

    resolve.configure(p)  # --json, --mode, host facts, annotations: as for resolve
    for action in p._actions:
        if action.dest == "json":
            action.help = ('print {"booted", "checks", "changes", "seconds", ...} (or the '
                           "refusal) as JSON")
    p.add_argument("--test-guest", action="store_true",
                   help="boot a small Debian kernel + busybox initramfs (cached under "
                        "~/.cache/katacfg) in place of the configuration's kernel and image "
                        "or initrd, whose files need only exist; its /init runs the checks")
    p.add_argument("--timeout", type=_seconds, default=DEFAULT_TIMEOUT, metavar="S",
                   help=f"give up when the guest has not reported after S seconds "
                        f"(default {DEFAULT_TIMEOUT:g})")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 86400 seconds")
    return value


def run(args: argparse.Namespace) -> int:
    from katacfg.config.pipeline import resolve

    try:
        annotations = read_annotations(args)
    except InputError as exc:
        return _fail(args, str(exc), stage="input")
    host = host_from_args(args)
    try:
        cfg = resolve(args.kata_config, annotations, host=host, mode=args.mode,
                      fallback=not args.strict_discovery)
    except KataError as exc:
        return _refuse(args, exc)
    print_notes(cfg.diagnostics, only=("KC004", "KC240"))
    if cfg.hypervisor_type != "qemu":
        return _fail(args, f"katacfg boot starts QEMU; this configuration uses "
                           f"{cfg.hypervisor_type}", stage="input")

    import secrets
    import uuid

    from katacfg.qemu.argv import build_qemu_command

    sandbox_id = "katacfg-boot-" + secrets.token_hex(6)
    try:
        command = build_qemu_command(cfg, host, sandbox_id=sandbox_id, uuid=str(uuid.uuid4()))
    except KataError as exc:
        return _refuse(args, exc)

    from katacfg.qemu.guest import GuestError, TestGuest, ensure_test_guest

    def progress(text: str) -> None:
        sys.stderr.write(f"katacfg: {text}\n")
        sys.stderr.flush()

    guest: TestGuest | None = None
    if args.test_guest:
        try:
            guest = ensure_test_guest(progress)
        except GuestError as exc:
            return _fail(args, f"cannot build the test guest: {exc}", stage="guest")
    from katacfg.qemu.boot import BootError, boot

    try:
        result = boot(command, cfg, host, guest=guest, timeout=args.timeout,
                      sandbox_id=sandbox_id, progress=progress)
    except BootError as exc:
        return _fail(args, str(exc), stage="boot")
    if args.json:
        sys.stdout.write(json.dumps(result.as_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(human_report(result, cfg.path))
    if result.error:
        sys.stderr.write(f"katacfg: {result.error}\n")
    return 0 if result.ok else 1


def human_report(result: BootResult, path: str) -> str:
    lines = [f"configuration: {path}"]
    if result.accel_reason:
        lines.append(f"accelerator: {result.accel.upper()} ({result.accel_reason})")
    if result.test_guest:
        lines.append(f"test guest: {result.test_guest} stand in for the configuration's "
                     "kernel and image/initrd")
    lines.append(f"changes to boot here ({len(result.changes)}):")
    lines += [f"  - {c.line()}" for c in result.changes]
    if result.booted:
        lines.append(f"booted with {result.accel.upper()}: guest ready after "
                     f"{result.seconds:.1f} s" if result.seconds is not None
                     else f"booted with {result.accel.upper()}")
    else:
        lines.append(f"did not boot ({result.accel.upper()}): {result.error}")
    if result.checks:
        lines.append("checks:")
        width = max(len(c.name) for c in result.checks)
        for c in result.checks:
            blame = f"  [{c.key}]" if c.key and not c.ok else ""
            lines.append(f"  {'ok  ' if c.ok else 'FAIL'}  {c.name:<{width}}  {c.detail}{blame}")
    lines += [f"note: {n}" for n in result.notes]
    passed = sum(c.ok for c in result.checks)
    verdict = "OK" if result.ok else "FAILED"
    lines.append(f"{verdict}: {'booted' if result.booted else 'not booted'}, "
                 f"{passed}/{len(result.checks)} checks passed")
    return "\n".join(lines) + "\n"


def _refuse(args: argparse.Namespace, exc: KataError) -> int:
    """A refusal Kata makes: the same line as `katacfg resolve`."""
    if args.json:
        out = {"booted": False, "checks": [], "changes": [], "seconds": None}
        out.update(exc.as_dict())
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    sys.stderr.write(exc.one_line() + "\n")
    return 1


def _fail(args: argparse.Namespace, message: str, *, stage: str) -> int:
    if args.json:
        sys.stdout.write(json.dumps({"booted": False, "checks": [], "changes": [],
                                     "seconds": None, "error": message, "stage": stage},
                                    indent=2) + "\n")
    sys.stderr.write(f"katacfg: {message}\n")
    return 1
