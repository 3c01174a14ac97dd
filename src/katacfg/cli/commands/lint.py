"""katacfg lint: every problem in configuration files, with file:line:column."""
from __future__ import annotations

import argparse
import sys

from katacfg.cli.commands.common import add_host_flags, add_mode_flag, host_from_args

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from katacfg.reports.lint import LintResult


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("configs", nargs="*", metavar="CONFIG",
                   help="files to check (default: --kata-config or the file Kata would load); "
                        "- reads standard input")
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text",
                   help="output format (SARIF 2.1.0 for CI annotations)")
    p.add_argument("--strict", action="store_true", help="warnings fail too")
    add_mode_flag(p)
    add_host_flags(p)


def run(args: argparse.Namespace) -> int:
    from katacfg.config import discovery
    from katacfg.config.errors import KataError
    from katacfg.reports import lint

    paths = list(args.configs)
    if not paths:
        if args.kata_config:
            paths = [args.kata_config]
        else:
            try:
                paths = [discovery.find_config(None)]
            except KataError as exc:
                if args.strict_discovery:
                    raise
                paths = [discovery.embedded_default_path()]
                sys.stderr.write(f"katacfg: note: {exc.text}; linting the embedded default\n")
    host = host_from_args(args)
    results = [_lint_one(p, host, args.mode, getattr(args, "profile", None)) for p in paths]
    render = {"text": lint.render_text, "json": lint.render_json,
              "sarif": lint.render_sarif}[args.format]
    sys.stdout.write(render(results))
    if any(r.errors for r in results):
        return 1
    if args.strict and any(r.warnings for r in results):
        return 1
    return 0


def _lint_one(path: str, host: Any, mode: str, profile: str | None = None) -> LintResult:
    """lint_file, with `-` for standard input, and a file of another kind named as such."""
    from katacfg.config.errors import Diagnostic
    from katacfg.reports import lint

    text = None
    name = path
    if path == "-":
        name = "<stdin>"
        data = sys.stdin.buffer.read((4 << 20) + 1)
        if len(data) > 4 << 20:
            return lint.LintResult(name, (Diagnostic(
                "error", "KC005", "standard input is larger than 4 MiB (katacfg's limit for a "
                "configuration)", name),))
        text = data.decode("utf-8", "replace")
    other = _other_kind(path, text)
    if other is not None:
        what, fix = other
        return lint.LintResult(name, (Diagnostic(
            "error", "KC005", f"this is {what}, not a Kata configuration.toml", name,
            hint=fix),))
    if path != "-":
        from katacfg.profiles import choose

        if choose(profile, path)[0] == "4.x":
            from katacfg.profiles.kata4x.lint import lint_file as lint4x

            return lint4x(path, host)  # type: ignore[no-any-return]
    return lint.lint_file(name, host, mode, text=text)


def _other_kind(path: str, text: str | None) -> tuple[str, str] | None:
    """(what the file is, what to run instead) when it is a manifest or a CRI file."""
    from katacfg.host import safeio
    from katacfg.kube import cri

    if text is None:
        try:
            text = safeio.read_text(path, what="configuration")
        except safeio.FileRefused:
            return None  # lint_file says why
    shown = "MANIFEST.yaml" if path == "-" else path
    if cri.looks_like_manifest(text):
        return ("a Kubernetes manifest (YAML)",
                f"katacfg explain {shown} checks what its pods get from Kata")
    try:
        import tomllib

        kind = cri.config_kind(tomllib.loads(text))
    except (ValueError, RecursionError):
        return None
    if kind in ("containerd", "crio"):
        what, _ = cri.config_kind_text(kind)
        flag = "--containerd-config" if kind == "containerd" else "--crio-config"
        return what, f"give it to katacfg explain MANIFEST.yaml {flag} {shown}"
    return None
