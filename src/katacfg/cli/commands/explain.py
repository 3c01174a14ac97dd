"""katacfg explain: what Kubernetes pods get from Kata through containerd or CRI-O.

Exit status: 0 every Kata pod would start; 1 a pod would not start, an object could not be
read, or an input file is unusable; 2 usage errors (argparse).
"""
from __future__ import annotations

import argparse
import sys

from katacfg.cli.commands.common import add_host_flags, host_from_args


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifest", metavar="MANIFEST.yaml",
                   help="Kubernetes YAML (multi-document); - reads standard input")
    cri = p.add_mutually_exclusive_group()
    cri.add_argument("--containerd-config", metavar="FILE",
                     help="the node's containerd config.toml (pod_annotations filter; its "
                          "imports are followed)")
    cri.add_argument("--crio-config", metavar="FILE",
                     help="the node's crio.conf (with the drop-ins of crio.conf.d beside it)")
    p.add_argument("--crio-config-dir", metavar="DIR", default=None,
                   help="CRI-O's drop-in directory (--config-dir; default: crio.conf.d beside "
                        "--crio-config; '' for none)")
    p.add_argument("--runtime-class", metavar="NAME",
                   help="only pods with this runtimeClassName (default: every class whose "
                        "runtime is Kata)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--assume-node-files", action="store_true",
                   help="the Kata configuration belongs to another machine: assume the paths "
                        "it names exist instead of checking them here")
    add_host_flags(p)


def _read_manifest(path: str) -> str | None:
    """The manifest's text, or None after one line on stderr saying why it is unusable."""
    from katacfg.host import safeio
    from katacfg.kube import cri, manifests

    try:
        text = manifests.read_manifest_file(path)
    except safeio.FileRefused as exc:
        sys.stderr.write(f"katacfg: {exc.text}; hint: {exc.hint}\n")
        return None
    if not manifests.looks_like_yaml_stream(text):
        try:
            import tomllib

            kind = cri.config_kind(tomllib.loads(text))
        except (tomllib.TOMLDecodeError, RecursionError):
            kind = None
        if kind is not None:
            what, fix = cri.config_kind_text(kind)
            sys.stderr.write(f"katacfg: {path}: this is {what}, not a Kubernetes manifest; "
                             f"{fix}\n")
            return None
    return text


def run(args: argparse.Namespace) -> int:
    from katacfg.kube import cri
    from katacfg.reports import explain

    text = _read_manifest(args.manifest)
    if text is None:
        return 1
    cri_config = None
    try:
        if args.containerd_config:
            cri_config = cri.load_containerd_config(args.containerd_config)
        elif args.crio_config:
            cri_config = cri.load_crio_config(
                args.crio_config,
                cri.AUTO if args.crio_config_dir is None else args.crio_config_dir or None)
    except cri.CRIConfigError as exc:
        sys.stderr.write(f"katacfg: {explain.render_diagnostic(exc.as_diagnostic())}\n")
        return 1
    if cri_config is not None:
        for d in cri_config.diagnostics:
            sys.stderr.write(f"katacfg: {explain.render_diagnostic(d)}\n")
    source = "<stdin>" if args.manifest == "-" else args.manifest
    report = explain.explain(text, cri_config=cri_config, source=source, is_text=True,
                             kata_config=args.kata_config, runtime_class=args.runtime_class,
                             host=host_from_args(args), assume_files=args.assume_node_files,
                             profile=getattr(args, "profile", None))
    for note in report.notes:
        sys.stderr.write(f"katacfg: note: {note}\n")
    if args.json:
        import json

        sys.stdout.write(json.dumps(explain.as_json(report), indent=2) + "\n")
    else:
        sys.stdout.write(explain.render_text(report, notes=False))
    return 1 if report.failed else 0
