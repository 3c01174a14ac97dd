"""`katacfg --profile 4.x kata-env`: kata-runtime 4.x's `env` report (format 1.0.27).

The configuration is loaded as the 4.x runtime loads it (config.d drop-ins included); a
refusal prints the runtime's text and exits 1 with no report, as `kata-runtime env` does.
"""
from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def run4x(args: Any, host: Any, probes: Any, runtime_path: str) -> int:
    from katacfg.config.errors import KataError
    from katacfg.profiles.kata4x.report import ENV_FORMAT

    if args.format_version not in (None, ENV_FORMAT):
        raise KataError(f"--format-version {args.format_version} is a Kata 1.x report",
                        code="KC006", hint=f"Kata 4.x prints format {ENV_FORMAT} only; use "
                        "--profile 1.x for a 1.x configuration")
    from katacfg.profiles.kata4x.load import load
    from katacfg.profiles.kata4x.pipeline import config_path
    from katacfg.reports.kata_env4x import build_report_4x

    cfg = load(config_path(getattr(args, "kata_config", None)), host)
    report = build_report_4x(cfg, host, probes, runtime_path=runtime_path)
    return emit4x(report, cfg, host, args)


def emit4x(report: Any, cfg: Any, host: Any, args: Any) -> int:
    from katacfg.cli.commands.env import write_report

    err = sys.stderr
    if not write_report(report, args):
        return 1
    lines = []
    for p in report.problems:
        if p.fatal:
            lines.append(f"katacfg: error: {p.line()}")
        else:
            lines.append(f"katacfg: warning: {p.line()}")
    if not report.data["Host"]["VMContainerCapable"]:
        from katacfg.profiles.kata4x.report import CHECK_RULES
        from katacfg.reports.kata_check import check_host

        check = check_host(host, cfg.hypervisor_type, extras=True, rules=CHECK_RULES)
        why = ", ".join(check.failed) if check.failed else check.error
        lines.append(f"katacfg: VMContainerCapable = false: kata-runtime 4.x requires {why}"
                     if check.failed else f"katacfg: VMContainerCapable = false: {why}")
        lines.extend(f"katacfg: note: {n}" for n in check.notes)
        lines.append("katacfg: note: `katacfg --profile 4.x kata-check --verbose` shows every "
                     "check")
    if report.reference_error is not None:
        lines.append("katacfg: note: kata-runtime env would print only this error: "
                     f"{report.reference_error}")
    if lines:
        err.write("\n".join(lines) + "\n")
    return 0 if not any(p.fatal and p.source == "config" for p in report.problems) else 1
