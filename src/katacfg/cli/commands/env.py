"""`katacfg kata-env`: kata-runtime's environment report for this host and configuration.

Start-up matters here: the `--version` probes are started from a quick scan of the
configuration file before the loader is even imported, so the binaries run while Python
loads and checks the configuration; only the modules the report needs are imported.
"""
from __future__ import annotations

import os
import sys

from katacfg.cli.app import Opt
from katacfg.cli.commands.common import host_from_root, seconds

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# tables whose `path` names a binary kata-env runs with --version (besides [hypervisor.*])
_COMPONENT_TABLES = (("proxy", "kata"), ("shim", "kata"), ("netmon",))


OPTIONS = (
    Opt(("--json",), "json", help="Format output as JSON"),
    Opt(("--format-version",), "format_version", value=True, default=None,
        choices=("1.0.24", "1.0.23", "1.0.27"),
        help="report layout: 1.0.24 (kata-runtime 1.13, the 1.x default), 1.0.23 "
             "(kata-runtime 1.7.2) or 1.0.27 (Kata 4.x, the only one of --profile 4.x)"),
    Opt(("--probe-timeout",), "probe_timeout", value=True, default=2.0, type=seconds,
        metavar="SECONDS", help="how long each `<binary> --version` may take (default 2)"),
    Opt(("--host-root",), "host_root", value=True, metavar="DIR",
        help="read the host facts from a recorded host tree (proc/, sys/, etc/, dev/, "
             "katacfg-host.json) instead of this machine"),
    Opt(("--reference-errors",), "reference_errors",
        help="fail where kata-runtime kata-env fails: its one-line error on stderr, exit 1, "
             "nothing on stdout"),
)


def guess_config_file(kata_config: str | None) -> str | None:
    """The file the loader will most likely read (no resolution rules, no errors)."""
    if kata_config:
        return kata_config
    from katacfg.config.discovery import DEFAULT_CONFIG_PATHS, embedded_default_path

    for candidate in (*DEFAULT_CONFIG_PATHS, embedded_default_path()):
        if os.path.exists(candidate):
            return candidate
    return None


def guess_component_paths(text: str) -> list[str]:
    """Binaries a configuration names for the hypervisor, proxy, shim and netmon.

    Read with the same TOML reader as the loader, without the loader's rules: good enough
    to start the probes early. The real paths come from the loader afterwards; a wrong
    guess only costs one extra `--version` run.
    """
    from katacfg.gocompat import gotoml
    from katacfg.profiles.kata1x.options import DEFAULT_NETMON_PATH

    try:
        data = gotoml.parse(text).data
    except gotoml.TomlSyntaxError:
        data = {}
    found: list[str] = []
    hypervisors = data.get("hypervisor")
    tables = list(hypervisors.values()) if isinstance(hypervisors, dict) else []
    for path in _COMPONENT_TABLES:
        table: object = data
        for part in path:
            table = table.get(part) if isinstance(table, dict) else None
        tables.append(table)
    for table in tables:
        value = table.get("path") if isinstance(table, dict) else None
        if isinstance(value, str) and value:
            found.append(value)
    if not isinstance(data.get("netmon"), dict) or not data["netmon"].get("path"):
        found.append(DEFAULT_NETMON_PATH)
    paths = []
    for p in found:
        try:
            paths.append(os.path.realpath(p))  # Go runs the resolved path
        except (OSError, ValueError):
            continue
    return paths


def _runtime_path() -> str:
    """Go os.Executable() for us: the katacfg program that is running."""
    argv0 = sys.argv[0] if sys.argv else ""
    if not argv0 or argv0 == "-c":
        return ""
    if os.path.basename(argv0) == "__main__.py":
        return os.path.realpath(sys.executable)
    try:
        path = os.path.realpath(argv0)
    except (OSError, ValueError):
        return ""
    return path if os.path.isfile(path) else ""


def _start_probes(args: Any, probes: Any) -> None:
    _start_probes_for(getattr(args, "kata_config", None), probes)


def _start_probes_for(kata_config: str | None, probes: Any) -> None:
    path = guess_config_file(kata_config)
    if not path:
        return
    from katacfg.host.safeio import FileRefused, read_text

    try:
        text = read_text(path, what="configuration file")
    except FileRefused:
        return  # the loader reports it
    for binary in guess_component_paths(text):
        probes.start(binary)


def prestart(argv: list[str]) -> Any:
    """Start the `--version` probes before the command line is even parsed.

    Only --kata-config and --probe-timeout are read here, from the raw arguments (argparse
    refuses malformed values afterwards); the binaries then run while Python imports and
    loads.
    """
    from katacfg.host.probes import Probes

    kata_config = _raw_option(argv, "--kata-config")
    try:
        timeout = float(_raw_option(argv, "--probe-timeout") or 2.0)
    except ValueError:
        timeout = 2.0
    probes = Probes(min(max(timeout, 0.001), 600.0))
    try:
        _start_probes_for(kata_config, probes)
    except Exception:  # never let a guess break the command: run() probes again
        probes.cancel()
        return None
    return probes


def _raw_option(argv: list[str], name: str) -> str | None:
    for i, tok in enumerate(argv):
        if tok == name and i + 1 < len(argv):
            return argv[i + 1]
        if tok.startswith(name + "="):
            return tok[len(name) + 1:]
    return None


def run(args: Any) -> int:
    from katacfg.host.probes import Probes

    probes = getattr(args, "prestarted", None)
    if probes is None:
        probes = Probes(args.probe_timeout)
        _start_probes(args, probes)
    try:
        from katacfg.cli.commands.common import choose_profile, load_from_args

        host = host_from_root(args)
        if choose_profile(args) == "4.x":
            from katacfg.cli.commands.env4x import run4x

            return run4x(args, host, probes, _runtime_path())
        if args.format_version == "1.0.27":
            from katacfg.config.errors import KataError

            raise KataError("--format-version 1.0.27 is the Kata 4.x report", code="KC006",
                            hint="add --profile 4.x (with a 4.x configuration)")
        config = load_from_args(args, mode="cli", strict=False, host=host)
        from katacfg.reports.kata_env import build_report

        report = build_report(config, host, probes,
                              format_version=args.format_version or "1.0.24",
                              runtime_path=_runtime_path())
    finally:
        probes.cancel()
    return emit(report, config, host, args)


def write_report(report: Any, args: Any) -> bool:
    """Print the report (TOML or JSON) as Go would; False when only the reference's error goes out."""
    if args.reference_errors and report.reference_error is not None:
        sys.stderr.write(report.reference_error + "\n")
        return False
    text = report.json() if args.json else report.toml()
    out = sys.stdout
    out.flush()
    out.buffer.write(text.encode("utf-8", "surrogateescape"))
    out.buffer.flush()
    return True


def emit(report: Any, config: Any, host: Any, args: Any) -> int:
    """Write the report and say what is wrong; the exit code is the configuration's verdict."""
    err = sys.stderr
    if not write_report(report, args):
        return 1

    lines = []
    # a binary the loader already reported missing needs no second line about its version
    from katacfg.reports.kata_env import component_paths

    missing = [(role, path) for role, path in component_paths(config).items()
               if any(p.source == "host" and f"file {path} does not exist" in p.text
                      for p in report.problems)]
    problems_by_text = {p.text: p for p in config.problems}
    for p in report.problems:
        if p.source == "config" and p.fatal:
            kerr = problems_by_text.get(p.text)
            lines.append(kerr.one_line().replace("katacfg: ", "katacfg: error: ", 1)
                         if kerr is not None else f"katacfg: error: {p.line()}")
        elif p.source == "host" and p.fatal:
            kerr = problems_by_text.get(p.text)
            where = f"{kerr.file}:{kerr.line}: " if kerr is not None and kerr.line else ""
            text = p.line().removeprefix(f"{config.path}: ")
            lines.append(f"katacfg: missing on this host: {where}{text}")
        elif not any(p.text.startswith(f"{role} version unknown: `{path} ")
                     for role, path in missing):
            lines.append(f"katacfg: warning: {p.line()}")
    if not report.data["Host"]["VMContainerCapable"]:
        lines.extend(_capability_lines(host, config.hypervisor_type))
    if report.reference_error is not None:
        lines.append(f"katacfg: note: kata-runtime kata-env would print only this error: "
                     f"{report.reference_error}")
    if lines:
        err.write("\n".join(lines) + "\n")
    return 0 if report.config_valid else 1


def _capability_lines(host: Any, hypervisor_type: str) -> list[str]:
    from katacfg.reports.kata_check import check_host

    check = check_host(host, hypervisor_type, extras=True)
    why = ", ".join(check.failed) if check.failed else check.error
    lines = [f"katacfg: VMContainerCapable = false: kata-runtime 1.x requires {why}"
             if check.failed else f"katacfg: VMContainerCapable = false: {why}"]
    lines.extend(f"katacfg: note: {n}" for n in check.notes)
    lines.append("katacfg: note: `katacfg kata-check --verbose` shows every check")
    return lines


