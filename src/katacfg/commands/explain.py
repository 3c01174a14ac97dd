"""katacfg explain: what Kubernetes pods get from Kata through containerd or CRI-O."""
from __future__ import annotations

import argparse
import sys

from katacfg.commands.common import add_host_flags, host_from_args


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifest", metavar="MANIFEST.yaml", help="Kubernetes YAML (multi-document)")
    cri = p.add_mutually_exclusive_group()
    cri.add_argument("--containerd-config", metavar="FILE",
                     help="the node's containerd config.toml (pod_annotations filter)")
    cri.add_argument("--crio-config", metavar="FILE", help="the node's crio.conf")
    p.add_argument("--runtime-class", metavar="NAME",
                   help="only pods with this runtimeClassName (default: every class whose "
                        "runtime is Kata)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--assume-node-files", action="store_true",
                   help="the Kata configuration belongs to another machine: assume the paths "
                        "it names exist instead of checking them here")
    add_host_flags(p)


def run(args: argparse.Namespace) -> int:
    import json
    import os

    from katacfg import cri
    from katacfg.reports import explain

    if not os.path.isfile(args.manifest):
        what = "is a directory" if os.path.isdir(args.manifest) else "not found"
        sys.stderr.write(f"katacfg: {args.manifest}: manifest {what}\n")
        return 1
    cri_config = None
    try:
        if args.containerd_config:
            cri_config = cri.load_containerd_config(args.containerd_config)
        elif args.crio_config:
            cri_config = cri.load_crio_config(args.crio_config)
    except cri.CRIConfigError as exc:
        sys.stderr.write(f"katacfg: {exc.render()}\n")
        return 1
    if cri_config is not None:
        for d in cri_config.diagnostics:
            sys.stderr.write(f"katacfg: {d.render()}\n")
    report = explain.explain(args.manifest, cri_config=cri_config,
                             kata_config=args.kata_config, runtime_class=args.runtime_class,
                             host=host_from_args(args), assume_files=args.assume_node_files)
    if args.json:
        sys.stdout.write(json.dumps(explain.as_json(report), indent=2) + "\n")
    else:
        sys.stdout.write(explain.render_text(report))
    return 1 if report.failed else 0
