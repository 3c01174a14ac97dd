"""`katacfg --profile 4.x kata-check`: Kata 4.x's rules (imported only for a 4.x file)."""
from __future__ import annotations

import sys

from katacfg.cli.commands.check import _print_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def run4x(args: Any, host: Any) -> int:
    """kata-check of Kata 4.x: its setCPUtype and create-VM rules (profiles/kata4x/report.py);
    the rest (CPU flags, modules, /dev/kvm) is 1.x's. No --strict: 4.x has no proxy or shim
    whose versions could differ."""
    from katacfg.config.errors import KataError
    from katacfg.profiles.kata4x.load import load
    from katacfg.profiles.kata4x.pipeline import config_path
    from katacfg.profiles.kata4x.report import CHECK_RULES
    from katacfg.reports.kata_check import check_host

    err = sys.stderr
    if args.strict:
        err.write("katacfg: note: --strict: Kata 4.x has no version-consistency check (no "
                  "kata-proxy, no kata-shim); nothing more is checked\n")
    path = config_path(getattr(args, "kata_config", None))
    refusal: KataError | None = None
    try:
        cfg = load(path, host)
        hypervisor_type, config_file = cfg.hypervisor_type, cfg.path
    except KataError as exc:
        refusal = exc
        hypervisor_type, config_file = _hypervisor_type_4x(path), path or "(default paths)"
        err.write("katacfg: note: kata-runtime 4.x would refuse to load this configuration: "
                  f"{exc.one_line().removeprefix('katacfg: ')}; the checks below use its "
                  f"hypervisor type ({hypervisor_type})\n")
    report = check_host(host, hypervisor_type, extras=True, rules=CHECK_RULES)
    if args.json:
        from katacfg.reports.goencode import to_json

        data = report.as_dict()
        data["passed"] = report.passed
        data["config"] = config_file
        data["profile"] = "4.x"
        data["config_error"] = refusal.text if refusal is not None else None
        sys.stdout.write(to_json(data))
    else:
        class _Cfg:
            path = config_file

        _print_text(report, _Cfg, host, args)
    return 0 if report.passed else 1


def _hypervisor_type_4x(path: str | None) -> str:
    """The hypervisor table of a 4.x file the loader refused (qemu when none can be read)."""
    from katacfg.config.errors import KataError
    from katacfg.profiles.kata4x.sources import decode_main

    if not path:
        return "qemu"
    try:
        tables = decode_main(path).tables["hypervisor"]
    except (KataError, OSError, ValueError):
        return "qemu"
    return next(iter(tables), "qemu")
