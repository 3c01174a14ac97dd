"""katacfg lint: every problem of a configuration.toml, with file:line:column and a code.

Kata 1.x ignores typos and reports one refusal at a time; lint reports all of them, plus
what Kata does silently (clamps, dropped keys, fallbacks) and set-ups that let a pod choose
what runs on the host. Codes are stable: KC0xx are the reference's refusals, KC1xx what
the loader notices, KL2xx lint's own rules.
"""
from __future__ import annotations

import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from katacfg.config.load import HostFacts
    from katacfg.profiles import KataProfile

from katacfg.config.decode import RawConfig
from katacfg.config.errors import Diagnostic, KataError
from katacfg.config.load import read_config
from katacfg.config.model import Config
from katacfg.config.records import Record

SEVERITY_ORDER = {"error": 0, "warning": 1, "note": 2}
# guest assets a pod may name with no allow-list (the restricted ones have theirs)
_GUEST_ASSETS = ("kernel", "image", "initrd", "firmware")


class LintResult(Record):
    path: str
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def errors(self) -> int:
        return sum(d.severity == "error" for d in self.diagnostics)

    @property
    def warnings(self) -> int:
        return sum(d.severity == "warning" for d in self.diagnostics)


def lint_file(path: str, host: HostFacts, mode: str = "cli",
              profile: KataProfile | None = None, *, text: str | None = None) -> LintResult:
    """Every diagnostic for one file, sorted by line (`text`: its content, already read)."""
    if profile is None:
        from katacfg.profiles import get_profile

        profile = get_profile()
    try:
        if text is None:
            text = read_config(path)
        raw = profile.decode(text, path, profile)
    except KataError as exc:
        return LintResult(path, (exc.as_diagnostic(),))
    cfg = profile.build(raw, host, mode, profile)
    out = [p.as_diagnostic() for p in cfg.problems]
    out += [d for d in cfg.diagnostics]
    for rule in RULES:
        out += rule(cfg, raw, host)
    seen = set()
    unique = []
    for d in out:
        ident = (d.code, d.line, d.key, d.message)
        if ident not in seen:
            seen.add(ident)
            unique.append(d)
    unique.sort(key=lambda d: (d.line or 0, d.column or 0, SEVERITY_ORDER[d.severity]))
    return LintResult(path, tuple(unique))


class _Where:
    """Positions of keys in one file, for rules that point at a key."""

    def __init__(self, cfg: Config, raw: RawConfig) -> None:
        self.cfg, self.raw = cfg, raw
        tables = raw.tables.get("hypervisor", [])
        self.hv_table = tables[-1][0] if tables else None
        self.hv_values: dict[str, Any] = tables[-1][1] if tables else {}

    def at(self, severity: str, code: str, message: str, path: tuple[str, ...],
           hint: str | None = None) -> Diagnostic:
        pos = self.raw.positions.get(path) or self.raw.positions.get(path[:-1])
        exact = path in self.raw.positions
        return Diagnostic(severity, code, message, self.raw.path, pos[0] if pos else None,
                          pos[1] if pos and exact else None, ".".join(path), hint)

    def hv(self, severity: str, code: str, message: str, key: str,
           hint: str | None = None) -> Diagnostic:
        return self.at(severity, code, message, ("hypervisor", self.hv_table or "qemu", key),
                       hint)


# -- rules ----------------------------------------------------------------------------------

def rule_clamps(cfg: Config, raw: RawConfig, host: HostFacts) -> list[Diagnostic]:
    """Values the runtime silently changes, with the normaliser's own reason."""
    w = _Where(cfg, raw)
    out = []
    for a in cfg.adjusted:
        key = a.where[-1]
        if a.why.kind == "host":
            continue  # the documented way to ask for a host fact
        if a.why.kind == "default":
            out.append(w.at("note", "KL202", f"{key} = {a.given} means the default {a.loaded}",
                            a.where))
        else:
            out.append(w.at("warning", "KL201", f"{key} = {a.given} is loaded as {a.loaded} "
                            f"({a.why.reason})", a.where, a.why.hint))
    h = cfg.hypervisor
    if w.hv_table in cfg.kata.hypervisors and h.default_vcpus > h.default_maxvcpus > 0:
        out.append(w.hv("warning", "KL203", f"default_vcpus ({h.default_vcpus}) is above "
                        f"default_maxvcpus ({h.default_maxvcpus}); Kata does not check this",
                        "default_vcpus", "keep default_vcpus <= default_maxvcpus"))
    return out


def rule_unchecked_paths(cfg: Config, raw: RawConfig, host: HostFacts) -> list[Diagnostic]:
    """Paths Kata never checks at load time, and binaries that are not executable."""
    w = _Where(cfg, raw)
    h, out = cfg.hypervisor, []
    uses_virtio_fs = h.shared_fs == "virtio-fs"
    checks: list[tuple[str, tuple[str, ...], str, bool]] = []
    if w.hv_table in cfg.kata.hypervisors:
        t = ("hypervisor", w.hv_table)
        checks += [(h.path, t + ("path",), "hypervisor", True),
                   (h.jailer_path, t + ("jailer_path",), "jailer", True),
                   (h.ctlpath, t + ("ctlpath",), "acrnctl", True)]
        if uses_virtio_fs and h.virtio_fs_daemon:
            checks.append((h.virtio_fs_daemon, t + ("virtio_fs_daemon",), "virtiofsd", True))
        if h.entropy_source:
            checks.append((h.entropy_source, t + ("entropy_source",), "entropy source", False))
        if h.file_mem_backend:
            checks.append((h.file_mem_backend, t + ("file_mem_backend",),
                           "memory backend folder", False))
        if h.enable_vhost_user_store:
            checks.append((h.vhost_user_store_path, t + ("vhost_user_store_path",),
                           "vhost-user store folder", False))
    if cfg.proxy.path:
        checks.append((cfg.proxy.path, ("proxy", "kata", "path"), "kata-proxy", True))
    if cfg.shim.configured and cfg.shim.path:
        checks.append((cfg.shim.path, ("shim", "kata", "path"), "kata-shim", True))
    if cfg.netmon.enable_netmon:
        checks.append((cfg.netmon.path, ("netmon", "path"), "kata-netmon", True))
    for path, where, what, executable in checks:
        if not path:
            continue
        try:
            st = host.stat(path)
        except OSError:
            if any(p.key == ".".join(where) for p in cfg.problems):
                continue  # already refused by the reference
            out.append(w.at("warning", "KL210", f"{what} {path} does not exist (Kata does not "
                            "check it when loading; the sandbox fails later)", where))
            continue
        if executable and not (stat.S_ISREG(st.st_mode) and host.executable(path)):
            out.append(w.at("warning", "KL211", f"{what} {path} is not an executable file",
                            where, "point it at the binary"))
    return out


def rule_annotations(cfg: Config, raw: RawConfig, host: HostFacts) -> list[Diagnostic]:
    """enable_annotations and the valid_* allow-lists: what a pod may make the host run."""
    from katacfg.gocompat.re2 import compile_go

    w = _Where(cfg, raw)
    profile = cfg.kata
    if w.hv_table not in profile.hypervisors:
        return []
    h, out = cfg.hypervisor, []
    where = ("hypervisor", w.hv_table, "enable_annotations")
    gated = sorted(a.suffix for a in profile.annotations.values() if a.family == "hypervisor")
    enabled = [s for s in gated if _gate(h.enable_annotations, s)]
    for pattern in h.enable_annotations:
        rx = compile_go(pattern)
        if rx is None:
            out.append(w.at("warning", "KL220", f"enable_annotations entry {pattern!r} is not a "
                            "valid RE2 expression: Kata silently matches nothing with it", where))
            continue
        hits = [s for s in gated if rx.search(s)]
        literal = pattern.strip("^$")
        extra = [s for s in hits if s != literal]
        if pattern in (".*", ".+", "") or len(hits) == len(gated):
            out.append(w.at("warning", "KL221", f"enable_annotations entry {pattern!r} enables "
                            "every hypervisor annotation", where,
                            "list only the annotations pods need, anchored: ^default_vcpus$"))
        elif extra and literal in gated:
            out.append(w.at("warning", "KL222", f"enable_annotations entry {pattern!r} is an "
                            f"unanchored regular expression: it also enables "
                            f"{', '.join(extra)}", where, f"write '^{literal}$'"))
    for ann in profile.annotations.values():
        if ann.kind != "restricted" or ann.suffix not in enabled or not profile.option(
                "hypervisor", ann.target).read_by(cfg.hypervisor_type):
            continue
        allowed = getattr(h, ann.allowlist)
        list_where = ("hypervisor", w.hv_table, ann.allowlist)
        if not [p for p in allowed if p]:
            out.append(w.at("note", "KL223", f"the {ann.suffix} annotation is enabled but "
                            f"{ann.allowlist} is empty: Kata 1.13 refuses every value (Kata "
                            "releases before the valid_* lists ran whatever a pod named)",
                            where, f"add {ann.allowlist} or drop {ann.suffix} from "
                            "enable_annotations"))
            continue
        for pattern in allowed:
            problem = _broad_pattern(pattern, host)
            if problem:
                out.append(w.at("error" if problem.startswith("matches") else "warning",
                                "KL224", f"{ann.allowlist} entry {pattern!r} {problem}",
                                list_where, "name exact binaries, e.g. /usr/bin/qemu-system-x86_64"))
    for suffix in _GUEST_ASSETS:
        if suffix in enabled:
            out.append(w.at("warning", "KL225", f"the {suffix} annotation is enabled: a pod may "
                            "boot any absolute host path as its guest " + suffix + " (Kata has "
                            "no allow-list for it; a hash annotation is optional and always "
                            "SHA-512, asset_hash_type is ignored)", where,
                            f"drop {suffix} from enable_annotations unless pods need it"))
    return out


def _gate(patterns: tuple[str, ...], suffix: str) -> bool:
    from katacfg.gocompat.re2 import regexp_contains

    return regexp_contains(patterns, suffix)


def _broad_pattern(pattern: str, host: HostFacts) -> str:
    """Why an allow-list glob lets too much through, or ""."""
    if not pattern:
        return ""
    parts = pattern.split("/")
    folder = "/".join(parts[:-1]) or "/"
    if any(ch in "".join(parts[:-1]) for ch in "*?["):
        return "has wildcards in a folder name: any matching folder's files are allowed"
    if parts[-1] and set(parts[-1]) <= set("*?"):
        return f"matches every file in {folder}"
    try:
        mode = host.stat(folder).st_mode
    except OSError:
        return ""
    if mode & stat.S_IWOTH:
        # Existence decides: any local user can create a matching path there (sticky or not).
        return f"is in {folder}, where any user on the host can create it"
    return ""


RULES = (rule_clamps, rule_unchecked_paths, rule_annotations)


# -- output formats -------------------------------------------------------------------------

def render_text(results: list[LintResult]) -> str:
    lines = []
    for r in results:
        for d in r.diagnostics:
            where = ":".join(str(x) for x in (d.file or r.path, d.line, d.column) if x is not None)
            lines.append(f"{where}: {d.severity}: {d.message} [{d.code}]"
                         + (f"\n    hint: {d.hint}" if d.hint else ""))
    errors = sum(r.errors for r in results)
    warnings = sum(r.warnings for r in results)
    lines.append(f"{len(results)} file(s): {errors} error(s), {warnings} warning(s)")
    return "\n".join(lines) + "\n"


def render_json(results: list[LintResult]) -> str:
    import json

    data = [{"file": r.path, "diagnostics": [
        {"severity": d.severity, "code": d.code, "message": d.message, "file": d.file or r.path,
         "line": d.line, "column": d.column, "key": d.key, "hint": d.hint}
        for d in r.diagnostics]} for r in results]
    return json.dumps(data, indent=2) + "\n"


_SARIF_LEVEL = {"error": "error", "warning": "warning", "note": "note"}


def render_sarif(results: list[LintResult]) -> str:
    """SARIF 2.1.0, one run, one rule per code, so CI systems annotate the lines."""
    import json

    from katacfg import __version__
    from katacfg.config.codes import CODES

    rules: dict[str, dict[str, Any]] = {}
    out_results = []
    for r in results:
        for d in r.diagnostics:
            rules.setdefault(d.code, {"id": d.code,
                                      "shortDescription": {"text": CODES.get(d.code, d.code)},
                                      "helpUri": "https://github.com/kata-containers/runtime"})
            region: dict[str, int] = {}
            if d.line:
                region["startLine"] = d.line
                if d.column:
                    region["startColumn"] = d.column
            location: dict[str, Any] = {"physicalLocation": {
                "artifactLocation": {"uri": _uri(d.file or r.path)}}}
            if region:
                location["physicalLocation"]["region"] = region
            message = d.message + (f" (hint: {d.hint})" if d.hint else "")
            out_results.append({"ruleId": d.code, "level": _SARIF_LEVEL[d.severity],
                                "message": {"text": message}, "locations": [location]})
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "katacfg", "version": __version__,
                                "informationUri": "https://github.com/kata-containers/runtime",
                                "rules": list(rules.values())}},
            "results": out_results,
        }],
    }
    return json.dumps(doc, indent=2) + "\n"


def _uri(path: str) -> str:
    """The file as the user named it (made absolute lexically: resolving symbolic links
    would name another file, and fails on a loop), relative to the working directory when
    under it."""
    import os
    from pathlib import PurePosixPath

    absolute = os.path.abspath(path)
    cwd = os.getcwd()
    if absolute.startswith(cwd.rstrip("/") + "/"):
        return PurePosixPath(os.path.relpath(absolute, cwd)).as_posix()
    return PurePosixPath(absolute).as_uri()
