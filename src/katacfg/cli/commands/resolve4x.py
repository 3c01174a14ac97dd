"""katacfg resolve under the 4.x profile: the JSON of CONTRACT-4x.md, or a human view."""
from __future__ import annotations

import json
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

from katacfg.config.errors import KataError


def run4x(args: argparse.Namespace, annotations: dict[str, str], host: Any) -> int:
    from katacfg.profiles.kata4x.pipeline import contract_dict, resolve

    if getattr(args, "mode", "shimv2") == "cli":
        pass  # 4.x has one front end (the shim v2); --mode cli is accepted and means the same
    try:
        cfg = resolve(args.kata_config, annotations, host,
                      dropins=not getattr(args, "no_dropins", False),
                      assume_files=getattr(args, "assume_node_files", False))
    except KataError as exc:
        if args.json:
            out = exc.as_dict()
            if getattr(exc, "syntax", False):
                out["toml_syntax_error"] = True
            sys.stdout.write(json.dumps(out, indent=2) + "\n")
        sys.stderr.write(exc.one_line() + "\n")
        return 1
    if args.json:
        sys.stdout.write(json.dumps(contract_dict(cfg), indent=2) + "\n")
    else:
        from katacfg.profiles.kata4x.view import human_view

        key = getattr(args, "key", None)
        sys.stdout.write(human_view(cfg, origins=getattr(args, "origins", False) or bool(key),
                                    only=key))
    return 0
