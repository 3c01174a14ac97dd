"""`katacfg kata-check`: can this host run Kata Containers? One line per check.

The verdict is kata-runtime 1.x's (same rules, same counting); katacfg adds what the
reference does not look at (is /dev/kvm really usable?) and explains any disagreement.
Exit status 0 only when capable (and, as root, when a VM could be created, as the
reference requires).
"""
from __future__ import annotations

import os
import sys

from katacfg.cli.app import Opt
from katacfg.cli.commands.common import seconds

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NO_NETWORK_ENV = "KATA_CHECK_NO_NETWORK"


# Simple options only: a plain command line is parsed without importing argparse (and the
# `re`, `enum`, `gettext` it pulls in), which is most of kata-check's start-up budget.
OPTIONS = (
    Opt(("--json",), "json", help='print {"capable": bool, "checks": [...]} as JSON'),
    Opt(("-v", "--verbose"), "verbose",
        help="also show checks the reference skips, descriptions and host facts"),
    Opt(("-s", "--strict"), "strict",
        help="also check that proxy and shim versions match the runtime's"),
    Opt(("-n", "--no-network-checks"), "no_network_checks",
        help="accepted for compatibility; katacfg never uses the network"),
    Opt(("--check-version-only",), "check_version_only",
        help="accepted for compatibility: the release check needs the network and is not run"),
    Opt(("--include-all-releases",), "include_all_releases",
        help="accepted for compatibility (release check not run)"),
    Opt(("--only-list-releases",), "only_list_releases",
        help="accepted for compatibility (release check not run)"),
    Opt(("--host-root",), "host_root", value=True, metavar="DIR",
        help="read the host facts from a recorded host tree (proc/, sys/, etc/, dev/, "
             "katacfg-host.json) instead of this machine"),
    Opt(("--probe-timeout",), "probe_timeout", value=True, default=2.0, type=seconds,
        metavar="SECONDS", help="timeout of each `<binary> --version` for --strict (default 2)"),
)


def prestart(argv: list[str]) -> Any:
    """As root on this machine, start the `modprobe --dry-run` of every kernel module the
    checks will ask about and that is not loaded, before the configuration is even read:
    they run while Python imports and loads (kata-check's start-up budget). Returns the
    Host holding them, or None."""
    if os.getuid() != 0 or any(a.startswith("--host-root") for a in argv):
        return None
    from katacfg.host.facts import Host
    from katacfg.reports.kata_check import rules_for

    host = Host.real()
    vendor = host.cpu_type if host.arch == "amd64" else None
    # qemu's rules (the usual case); other modules are started when the checks ask
    host.start_modprobe([r.name for r in rules_for(host.arch, vendor, "qemu")
                         if r.kind == "module" and not host.module_loaded(r.name)])
    return host


def run(args: Any) -> int:
    err = sys.stderr
    if args.check_version_only or args.only_list_releases:
        err.write("katacfg: the release check queries GitHub and is not run by katacfg "
                  "(kata-runtime skips it as root too)\n")
        return 0
    from katacfg.cli.commands.common import choose_profile, host_from_root, load_from_args
    from katacfg.reports.kata_check import check_host

    host = getattr(args, "prestarted", None) or host_from_root(args)
    if choose_profile(args) == "4.x":
        from katacfg.cli.commands.check4x import run4x

        return run4x(args, host)
    config = load_from_args(args, mode="cli", strict=False, host=host)
    report = check_host(host, config.hypervisor_type, extras=True)
    strict_error: str | None = None
    strict_ok: bool | None = None
    if args.strict and report.passed:
        strict_error = version_consistency(config, args.probe_timeout)
        strict_ok = strict_error is None

    if config.problems:
        more = len(config.problems) - 1
        err.write("katacfg: note: kata-runtime would refuse to load this configuration: "
                  f"{config.problems[0].one_line().removeprefix('katacfg: ')}"
                  + (f" (and {more} more; `katacfg lint` lists them)" if more else "")
                  + "; the checks below use its hypervisor type "
                  f"({config.hypervisor_type})\n")
    if args.json:
        from katacfg.reports.goencode import to_json

        data = report.as_dict()
        data["passed"] = report.passed and strict_ok is not False
        data["config"] = config.path
        if args.strict:
            data["versions_consistent"] = strict_ok
            data["versions_error"] = strict_error
        sys.stdout.write(to_json(data))
    else:
        _print_text(report, config, host, args)
        if report.passed and args.strict:
            if strict_error is None:
                sys.stdout.write("Version consistency of Kata Containers is verified\n")
            else:
                err.write(strict_error + "\n")
    if not report.passed:
        return 1
    return 0 if strict_ok is not False else 1


def _status(check: Any) -> str:
    if check.ok is None:
        return "skip"
    if not check.reference:
        return "ok" if check.ok else "info"
    if check.ok:
        return "ok"
    return "FAIL" if check.required else "warn"


def _print_text(report: Any, config: Any, host: Any, args: Any) -> None:
    from katacfg.reports.kata_check import CAPABLE_MESSAGE, CREATE_MESSAGE

    out = sys.stdout
    lines = []
    if args.verbose:
        lines.append(f"host: arch {report.arch}, CPU type {report.cpu_type or 'unknown'}, "
                     f"uid {host.uid}; hypervisor {report.hypervisor_type} "
                     f"(from {config.path})")
        if not args.no_network_checks and not os.environ.get(NO_NETWORK_ENV):
            lines.append("release check: not run (katacfg never uses the network)")
    width = max((len(c.label) for c in report.checks), default=0)
    for c in report.checks:
        if c.ok is None and not args.verbose:
            continue
        desc = f"{c.description}: " if args.verbose and c.description else ""
        tag = "" if c.reference else " [katacfg]"
        lines.append(f"{_status(c):<4}  {c.label:<{width}}  {desc}{c.detail}{tag}")
    for note in report.notes:
        lines.append(f"note: {note}")
    out.write("\n".join(lines) + ("\n" if lines else ""))
    if report.capable:
        out.write(CAPABLE_MESSAGE + "\n")
        if report.create_vm_run:
            if report.create_vm_error is None:
                out.write(CREATE_MESSAGE + "\n")
            else:
                out.flush()
                sys.stderr.write(report.create_vm_error + "\n")
    else:
        out.flush()
        sys.stderr.write(f"{report.error}\n")


def version_consistency(config: Any, timeout: float) -> str | None:
    """kata-check --strict: proxy and shim major.minor.patch equal the runtime's."""
    from katacfg.host.probes import Probes, construct_version_info, version_equal
    from katacfg.reports.kata_env import NO_PROXY, RUNTIME_VERSION

    if not getattr(config.shim, "configured", True):
        return "cannot determine shim config"
    probes = Probes(timeout)
    try:
        if config.proxy.type != NO_PROXY:
            probes.start(config.proxy.path)
        probes.start(config.shim.path)
        shim = probes.result(config.shim.path).version_info()
        runtime = construct_version_info(RUNTIME_VERSION["1.0.24"])

        def v(info: Any) -> str:
            return f"v{info.major}.{info.minor}.{info.patch}"

        if config.proxy.type != NO_PROXY:
            proxy = probes.result(config.proxy.path).version_info()
            if not version_equal(proxy, runtime) or not version_equal(shim, runtime):
                return ("there exists version inconsistency in kata components. "
                        f"kata-proxy: {v(proxy)}, kata-shim: {v(shim)}, kata-runtime: {v(runtime)}")
        elif not version_equal(shim, runtime):
            return ("there exists version inconsistency in kata components. "
                    f"kata-shim: {v(shim)}, kata-runtime: {v(runtime)}")
        return None
    finally:
        probes.cancel()

