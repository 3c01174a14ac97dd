"""katacfg lint under the 4.x profile: the Go loader's refusal and notes, what it changes
silently, and where Kata's Rust runtime (runtime-rs, the default shim of 4.x) would read the
same files differently.

runtime-rs (src/libs/kata-types/src/config/drop_in.rs, 4.1.0): config.d next to the path as
given (not the resolved file), entries sorted by name, a symbolic link refused ("drop-in cfg
file can only be a regular file or a symlink"), tables merged recursively (a drop-in key the
schema does not know is not an error), and an annotation outside enable_annotations skipped
instead of refusing the pod.
"""
from __future__ import annotations

import os

from katacfg.config.errors import Diagnostic, KataError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def lint_file(path: str, host: Any) -> Any:
    from katacfg.profiles.kata4x import sources
    from katacfg.profiles.kata4x.load import Loader, find_config
    from katacfg.reports.lint import SEVERITY_ORDER, LintResult

    out: list[Diagnostic] = []
    try:
        resolved = find_config(path)
        src = sources.Sources(resolved)
        text = sources.read_file(resolved)
        sources._decode_into(src, resolved, text, dropin=False)
        folder = sources.dropin_dir(resolved)
        out += runtime_rs_dropin_notes(path, folder)
        sources.decode_dropins(src, folder)
    except OSError as exc:
        out.append(Diagnostic("error", "KC005", str(exc), path))
        return LintResult(path, tuple(out))
    except KataError as exc:
        return LintResult(path, tuple(out) + (exc.as_diagnostic(),))
    try:
        cfg = Loader(src, host).run()
        out += list(cfg.diagnostics)
        out += clamp_notes(cfg)
        out += annotation_notes(cfg)
    except KataError as exc:
        out += list(src.diagnostics)
        out.append(exc.as_diagnostic())
    seen = set()
    unique = []
    for d in out:
        ident = (d.code, d.file, d.line, d.key, d.message)
        if ident not in seen:
            seen.add(ident)
            unique.append(d)
    unique.sort(key=lambda d: (d.file != path, d.file or "", d.line or 0,
                               SEVERITY_ORDER[d.severity]))
    return LintResult(path, tuple(unique))


def runtime_rs_dropin_notes(path: str, folder: str) -> list[Diagnostic]:
    out = []
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        names = []
    for name in names:
        entry = os.path.join(folder, name)
        if os.path.islink(entry):
            out.append(Diagnostic(
                "warning", "KL240", f"{name} in config.d is a symbolic link: the Go runtime "
                "follows it, runtime-rs (the Rust shim) refuses to start", entry,
                hint="copy the file into config.d instead of linking it"))
    if names:
        out.append(Diagnostic(
            "note", "KL241", f"{len(names)} drop-in(s): the Go runtime merges [hypervisor.*] "
            "and [agent.*] key by key and refuses unknown keys there; runtime-rs merges every "
            "table recursively and accepts them", folder,
            hint="keep drop-ins to keys both runtimes know"))
    real = os.path.realpath(path)
    if real != os.path.abspath(path) and names == [] and os.path.isdir(
            os.path.join(os.path.dirname(os.path.abspath(path)), "config.d")):
        out.append(Diagnostic(
            "warning", "KL242", "the configuration is a symbolic link: the Go runtime reads "
            "config.d next to its target, runtime-rs next to the link", path))
    return out


def clamp_notes(cfg: Any) -> list[Diagnostic]:
    out = []
    for (section, key), prov in cfg.origins.items():
        if prov.kind == "clamp":
            value = getattr(cfg, section).get(key)
            out.append(Diagnostic(
                "warning", "KL201", f"{section}.{key} becomes {value!r}: {prov.detail}",
                prov.file or cfg.path, prov.line, None, f"{section}.{key}",
                "write the value Kata uses, or remove the key"))
    return out


def annotation_notes(cfg: Any) -> list[Diagnostic]:
    from katacfg.gocompat.re2 import compile_go

    out = []
    patterns = cfg.hypervisor.get("enable_annotations", ())
    prov = cfg.origins.get(("hypervisor", "enable_annotations"))
    file, line = (prov.file, prov.line) if prov else (cfg.path, None)
    for p in patterns:
        if compile_go(p) is None:
            out.append(Diagnostic("error", "KL220", f"enable_annotations entry {p!r} is not a "
                                  "valid RE2 expression: it never matches", file, line,
                                  key="hypervisor.enable_annotations"))
        elif p in (".*", "", ".+", "^.*$"):
            out.append(Diagnostic("warning", "KL221", f"enable_annotations entry {p!r} lets "
                                  "every pod change every hypervisor setting", file, line,
                                  key="hypervisor.enable_annotations",
                                  hint="list the annotations pods may use"))
    if patterns:
        out.append(Diagnostic(
            "note", "KL243", "a pod annotation outside enable_annotations makes the Go runtime "
            "refuse the pod; runtime-rs skips the annotation and starts it", file, line,
            key="hypervisor.enable_annotations"))
    return out
