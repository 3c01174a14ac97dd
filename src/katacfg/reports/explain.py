"""katacfg explain: what each Kubernetes pod really gets from Kata through its CRI runtime.

For every pod (and pod template) whose runtimeClassName selects Kata: which annotations the
API server accepts, which the CRI layer (containerd's pod_annotations patterns, CRI-O's
restricted keys) passes down or drops, which Kata applies, refuses or ignores, and the
effective per-pod configuration as a difference from the node's default.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from katacfg.config.load import HostFacts

from katacfg.config.errors import Diagnostic, KataError
from katacfg.config.load import load
from katacfg.config.model import AnnotationOutcome, Config, serialize_kernel_params
from katacfg.config.pipeline import overlay
from katacfg.config.registry import KATA_PREFIX
from katacfg.kube import cri, manifests
from katacfg.profiles.kata1x.options import CONFIG_PATH_ANNOTATION


class PodReport:
    """The explanation of one pod (or pod template)."""

    def __init__(self, object: str, location: str, runtime_class: str | None) -> None:
        self.object = object  # "Deployment default/web"
        self.location = location  # file:line
        self.runtime_class = runtime_class
        self.runtime = ""  # the CRI runtime handler and where it is defined
        self.kata_config = ""
        self.mode = ""
        self.front_end = ""  # the binary that loads the configuration
        self.starts = True
        self.failure = ""  # why the pod would not start (reference text where Kata refuses)
        self.failure_stage = ""  # api-server | cri | load | container_type | annotations ...
        self.dropped: list[tuple[str, str]] = []
        self.outcomes: list[AnnotationOutcome] = []
        self.changes: list[tuple[str, Any, Any]] = []
        self.notes: list[str] = []
        self.warnings: list[str] = []  # what the API server warns about
        self.fixed: PodReport | None = None  # the same pod with what the user meant
        self.fix = ""  # what `fixed` changes ("annotation values quoted", ...)
        self.config_chosen_by_pod = False  # kata_config came from io.katacontainers.config_path


class ExplainReport:
    def __init__(self) -> None:
        self.pods: list[PodReport] = []
        self.skipped: list[tuple[str, str]] = []  # (object, why not Kata)
        self.errors: list[Diagnostic] = []  # objects that explain nothing
        self.notes: list[str] = []

    @property
    def failed(self) -> bool:
        return bool(self.errors) or any(not p.starts for p in self.pods)


class _Node:
    """The node: its CRI configuration, and its Kata configuration loaded once per mode."""

    def __init__(self, cri_config: cri.CRIConfig | None, kata_config: str | None,
                 host: HostFacts, assume_files: bool, profile: str | None = None) -> None:
        self.profile = profile  # --profile: 1.x, 4.x or auto (per configuration file)
        self.cri = cri_config
        self.kata_config = kata_config
        self.host = host
        self.assume_files = assume_files
        self._loaded: dict[tuple[str | None, str], Config | KataError] = {}
        self.chosen_by: dict[str, str] = {}  # config_path chosen by a pod -> the first pod
        self._overlays: dict[tuple[Any, ...], Any] = {}
        self._cpus: int | None = None
        self._runtime_text: dict[int, str] = {}

    def runtime_text(self, runtime: cri.RuntimeHandler) -> str:
        text = self._runtime_text.get(id(runtime))
        if text is None:
            text = self._runtime_text[id(runtime)] = (
                f"{runtime.manager} runtime {runtime.name!r} ({runtime.location()})")
        return text

    def overlay(self, base: Config, sandbox: dict[str, str]
                ) -> tuple[tuple[AnnotationOutcome, ...], tuple[tuple[str, Any, Any], ...]] | KataError:
        """(Kata's outcome of each io.katacontainers.* annotation, the differences from the
        node default) of a sandbox, or Kata's refusal. Only Kata's annotations and the
        container type reach the overlay (Kata reads nothing else), so pods with the same
        Kata annotations share one result."""
        kata = {k: v for k, v in sandbox.items()
                if k.startswith(KATA_PREFIX)
                or (k in _KATA4X_EXTRA and not isinstance(base, Config))}
        try:  # 1.x: a pod sandbox is the overlay's default, the keys need not be passed
            sandbox_type = isinstance(base, Config) and cri.container_type(
                sandbox) == cri.POD_SANDBOX
        except KataError:
            sandbox_type = False  # an unknown container type: the overlay refuses it
        if not sandbox_type:
            kata.update((k, sandbox[k]) for k in cri.CONTAINER_TYPE_KEYS if k in sandbox)
        key = (id(base), tuple(kata.items()))
        found = self._overlays.get(key)
        if found is None and not isinstance(base, Config):
            found = _overlay_4x(base, kata, self.host.cpus)
        if found is None:
            try:
                if self._cpus is None:
                    self._cpus = self.host.cpus  # a host fact read once per run
                cfg = overlay(base, kata, host_cpus=self._cpus)
                found = (tuple(o for o in cfg.annotations if o.name.startswith(KATA_PREFIX)),
                         tuple(diff(base, cfg)))
            except KataError as exc:
                found = exc
            if len(self._overlays) < 4096:
                self._overlays[key] = found
        return found

    def config(self, path: str | None, mode: str, chosen_by: str | None = None
               ) -> Config | KataError:
        key = (path, mode)
        if chosen_by is not None and path is not None:
            self.chosen_by.setdefault(path, chosen_by)
        if key not in self._loaded:
            try:
                if self.profile_for(path) == "4.x":
                    from katacfg.profiles.kata4x.load import load as load4x

                    self._loaded[key] = load4x(  # type: ignore[assignment]
                        path, self.host, assume_files=self.assume_files)  # type: ignore[arg-type]
                else:
                    self._loaded[key] = load(path, host=self.host, mode=mode,
                                             fallback=path is None,
                                             assume_files=self.assume_files)
            except KataError as exc:
                self._loaded[key] = exc
        return self._loaded[key]

    def profile_for(self, path: str | None) -> str:
        from katacfg.profiles import choose

        return choose(self.profile, path)[0]


def kata_mode(runtime: cri.RuntimeHandler | None) -> str:
    """The front end that loads the configuration: the shim v2 or kata-runtime behind runc."""
    return cri.kata_front_end(runtime)


def explain(manifest: str, *, cri_config: cri.CRIConfig | None = None,
            kata_config: str | None = None, runtime_class: str | None = None,
            host: HostFacts, assume_files: bool = False,
            source: str | None = None, is_text: bool = False,
            profile: str | None = None) -> ExplainReport:
    """Explain every Kata pod of a manifest file (or text; `source` names it).

    `is_text`: `manifest` is the YAML itself, whatever it looks like."""
    report = ExplainReport()
    objects = (manifests.load_manifests_text(manifest, source) if is_text
               else manifests.load_manifests(manifest, source=source))
    handlers = manifests.runtime_class_handlers(objects)
    node = _Node(cri_config, kata_config, host, assume_files, profile)
    if cri_config is None:
        report.notes.append("no CRI configuration given: every pod annotation is assumed to "
                            "reach Kata (as CRI-O passes them); give --containerd-config or "
                            "--crio-config for the node's real filter")
    for obj in objects:
        if isinstance(obj, manifests.ManifestError):
            report.errors.append(obj.as_diagnostic())
            continue
        if not obj.has_pod:
            continue
        why_not = _not_kata(obj, handlers, cri_config, runtime_class)
        if why_not:
            report.skipped.append((obj.display_name, why_not))
            continue
        report.pods.append(_explain_pod(obj, handlers, node, obj.annotations, with_fix=True))
    report.notes += _load_notes(node)
    return report


def _load_notes(node: _Node) -> list[str]:
    """One note per Kata configuration that could not be loaded, naming whose it is."""
    notes: list[str] = []
    for (path, _mode), loaded in node._loaded.items():
        if isinstance(loaded, KataError):
            pod = node.chosen_by.get(path) if path is not None else None
            shown = path if path and path not in loaded.text else ""
            if pod is not None:
                whose = (f"{shown + ', ' if shown else ''}the configuration file {pod} chooses "
                         f"with {CONFIG_PATH_ANNOTATION},")
            else:
                whose = f"the node's Kata configuration{' ' + shown if shown else ''}"
            if loaded.code in ("KC002", "KC003") and pod is None:
                fix = "; give a copy of the node's configuration.toml with --kata-config"
            elif loaded.host and not node.assume_files:
                fix = "; if it belongs to another machine, add --assume-node-files"
            else:
                fix = ""
            notes.append(f"{whose} is refused: {loaded.text}{fix}")
        elif any(d.code == "KC004" for d in loaded.diagnostics):
            notes.append("no Kata configuration installed here and none given "
                         "(--kata-config): using katacfg's embedded default "
                         f"({loaded.path})")
    return list(dict.fromkeys(notes))


def _not_kata(obj: manifests.ManifestObject, handlers: dict[str, str],
              cfg: cri.CRIConfig | None, runtime_class: str | None) -> str:
    name = obj.runtime_class_name
    if runtime_class is None and any((d.key or "").endswith("runtimeClassName")
                                     for d in obj.errors):
        return ""  # the API server refuses the class itself: say so, whatever it names
    if runtime_class is not None:
        return "" if name == runtime_class else f"runtimeClassName is {name or 'not set'}"
    if cfg is None:
        return "" if name and "kata" in name.lower() else (
            f"runtimeClassName {name!r} does not name Kata" if name else "no runtimeClassName")
    try:
        runtime = cfg.runtime(manifests.handler_for(name, handlers), obj.annotations)
    except cri.CRIConfigError:
        # No such runtime: a Kata-looking class still counts, and fails in the CRI.
        return "" if name and "kata" in name.lower() else f"runtime {name!r} is not configured"
    return "" if runtime.is_kata else f"runtime {runtime.name!r} ({runtime.runtime_type}) is not Kata"


def _explain_pod(obj: manifests.ManifestObject, handlers: dict[str, str], node: _Node,
                 pod_annotations: dict[str, str], *, with_fix: bool) -> PodReport:
    rep = PodReport(obj.display_name, obj.location(), obj.runtime_class_name)
    rep.warnings = [_warning_text(d) for d in obj.warnings]
    if not obj.ok:
        rep.starts = False
        rep.failure_stage = "api-server"
        rep.failure = "; ".join(d.message for d in obj.errors)
        fixable = obj.suggested_annotations != obj.annotations or "runtimeClassName" in " ".join(
            obj.fixes)
        # (never for annotations the API server finds too long: their sum is unbounded)
        fixable = fixable and sum(map(len, obj.suggested_annotations.values())) <= (
            manifests.TOTAL_ANNOTATION_SIZE_LIMIT)
        if with_fix and fixable:
            rep.fixed = _explain_pod(_without_errors(obj), handlers, node,
                                     obj.suggested_annotations, with_fix=False)
            rep.fix = ", ".join(obj.fixes) or "the annotations the API server would accept"
        return rep
    runtime = None
    if node.cri is not None:
        try:
            runtime = node.cri.runtime(manifests.handler_for(obj.runtime_class_name, handlers),
                                       pod_annotations)
        except cri.CRIConfigError as exc:
            rep.starts, rep.failure_stage, rep.failure = False, "cri", str(exc)
            return rep
        rep.runtime = node.runtime_text(runtime)
        sandbox = cri.sandbox_annotations(pod_annotations, runtime, name=obj.name or "",
                                          namespace=obj.namespace or "default",
                                          labels=obj.labels)
        annotations = sandbox.annotations
        rep.dropped = [(d.key, d.reason) for d in sandbox.dropped]
    else:
        annotations = {**pod_annotations, cri.CRIO_CONTAINER_TYPE: "sandbox"}
    rep.mode = kata_mode(runtime)
    rep.front_end = _front_end_name(runtime, rep.mode)
    path, chosen = cri.kata_config_path(runtime, annotations, rep.mode,
                                        override=node.kata_config)
    node_path = node.kata_config or (runtime.config_path if runtime is not None else None)
    if chosen and node.profile_for(node_path) == "4.x":
        path, chosen = node_path, False  # Kata 4.x has no io.katacontainers.config_path
        rep.notes.append(f"{CONFIG_PATH_ANNOTATION} is ignored: Kata 4.x takes the file from "
                         "containerd's runtime options only")
    if chosen:
        rep.config_chosen_by_pod = True
        rep.notes.append(f"the pod chooses its Kata configuration file: {path} "
                         f"({CONFIG_PATH_ANNOTATION} is not gated)")
    base = node.config(path, rep.mode, chosen_by=obj.display_name if chosen else None)
    if isinstance(base, KataError):
        rep.starts, rep.failure_stage = False, base.stage
        rep.kata_config = base.file or (path or "")
        rep.failure = (f"{rep.kata_config} (chosen with {CONFIG_PATH_ANNOTATION}): {base.text}"
                       if chosen and rep.kata_config not in base.text else base.text)
        return rep
    rep.kata_config = base.path
    later = _later_note(base, annotations)
    if later:
        rep.notes.append(later)
    result = node.overlay(base, annotations)
    if isinstance(result, KataError):
        rep.starts, rep.failure_stage, rep.failure = False, result.stage, result.text
        rep.outcomes = _refused_outcome(result, annotations)
        return rep
    rep.outcomes, rep.changes = list(result[0]), list(result[1])
    return rep


def _later_note(base: Any, annotations: dict[str, str]) -> str | None:
    """One line for a pod written for Kata 2.x+ that reaches a Kata 1.x node."""
    profile = getattr(base, "kata", None)
    if profile is None or not profile.extra.get("later_generation"):
        return None
    from katacfg.profiles.kata4x.vocabulary import GENERATION, later_annotation, later_type

    known = profile.annotations
    names = [n for n in annotations if n not in known and later_annotation(n)]
    # (by the pod's annotations, not the profile's hundreds: this runs once per pod)
    forms = [f"{n}: {annotations[n]!r}" for n in annotations if n in known
             and not annotations[n].isdigit() and _is_float(annotations[n])
             and later_type(known[n].family, known[n].target) == "float32"]
    if not names and not forms:
        return None
    parts = []
    if names:
        parts.append(f"{len(names)} annotation(s) this Kata 1.x node does not know ("
                     + ", ".join(names[:3]) + (", ..." if len(names) > 3 else "") + ")")
    if forms:
        parts.append("fractional vCPUs Kata 1.x refuses (" + ", ".join(forms) + ")")
    return f"written for {GENERATION}: " + "; ".join(parts)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# What the 4.x shim reads beyond io.katacontainers.*: containerd's sandbox sizing, SGX EPC.
_KATA4X_EXTRA = frozenset({
    "io.kubernetes.cri.sandbox-cpu-period", "io.kubernetes.cri.sandbox-cpu-quota",
    "io.kubernetes.cri.sandbox-cpu-shares", "io.kubernetes.cri.sandbox-memory",
    "sgx.intel.com/epc",
})


def _overlay_4x(base: Any, kata: dict[str, str], host_cpus: int) -> Any:
    """The 4.x shim's stages after load, for one sandbox: (outcomes, changes) or a refusal."""
    from katacfg.profiles.kata4x import pipeline

    try:
        kind = pipeline.container_type(kata)
        if kind == "pod_container":
            return ((), ())
        cfg = pipeline.overlay(base, dict(kata), kind, host_cpus)
    except KataError as exc:
        return exc
    changes = []
    for section in ("hypervisor", "agent", "runtime"):
        old, new = getattr(base, section), getattr(cfg, section)
        for name, b in new.items():
            b = cfg.custom_assets.get(name, b) if section == "hypervisor" else b
            if old.get(name) != b:
                changes.append((f"{section}.{name}", _jsonable(old.get(name)), _jsonable(b)))
    return (tuple(o for o in cfg.annotations if o.name.startswith(KATA_PREFIX)
                  or o.name in _KATA4X_EXTRA), tuple(changes))


def _without_errors(obj: manifests.ManifestObject) -> manifests.ManifestObject:
    return obj.replace(errors=(), warnings=(), annotations=dict(obj.suggested_annotations))


def _warning_text(d: Diagnostic) -> str:
    where = f"line {d.line}: " if d.line is not None else ""
    return f"{where}{d.message}" + (f" (hint: {d.hint})" if d.hint else "")


def render_diagnostic(d: Diagnostic) -> str:
    """`file:line: severity CODE: message (hint: ...)` -- the code where a code goes."""
    where = d.location()
    return (f"{where + ': ' if where else ''}{d.severity} {d.code}: {d.message}"
            + (f" (hint: {d.hint})" if d.hint else ""))


def _refused_outcome(exc: KataError, annotations: dict[str, str]) -> list[AnnotationOutcome]:
    name = exc.key or ""
    if name in annotations:
        return [AnnotationOutcome(name, annotations[name], "refused", exc.text)]
    return []


_SECTIONS = ("hypervisor", "agent", "runtime", "factory", "proxy", "shim", "netmon")


def diff(base: Config, cfg: Config) -> list[tuple[str, Any, Any]]:
    """(section.key, node default, this pod's value) for every value that differs."""
    out = []
    if base.container_type != cfg.container_type:
        out.append(("container_type", base.container_type, cfg.container_type))
    for section in _SECTIONS:
        old, new = getattr(base, section), getattr(cfg, section)
        if old is new:
            continue  # the overlay builds new objects only for the sections it changes
        before = old.__dict__
        after = new.__dict__
        if before.keys() == after.keys():  # same record type: compare values in order
            changed = [(n, a, b) for n, a, b in zip(after, before.values(), after.values())
                       if a is not b and a != b]  # unchanged values are the same objects
        else:
            changed = [(n, before.get(n), b) for n, b in after.items() if before.get(n) != b]
        out += [(f"{section}.{n}", _jsonable(a), _jsonable(b)) for n, a, b in changed
                if n != "configured"]
    return out


# -- rendering --------------------------------------------------------------------------------

def render_text(report: ExplainReport, *, notes: bool = True) -> str:
    """The report for a terminal; notes=False leaves the notes out (the CLI prints them on
    standard error)."""
    lines: list[str] = []
    if notes:
        for note in report.notes:
            lines.append(f"note: {note}")
    for d in report.errors:
        lines.append(render_diagnostic(d))
    for pod in report.pods:
        lines.append("")
        lines += _pod_lines(pod)
    if report.skipped:
        lines.append("")
        lines.append(f"not Kata ({len(report.skipped)}):")
        for name, why in report.skipped:
            lines.append(f"  {name}: {why}")
    failing = sum(not p.starts for p in report.pods)
    lines.append("")
    lines.append(f"{len(report.pods)} Kata pod(s): {len(report.pods) - failing} would start, "
                 f"{failing} would not; {len(report.errors)} object(s) could not be read")
    return "\n".join(lines).lstrip("\n") + "\n"


def _fmt(value: Any) -> str:
    return repr(_jsonable(value))


_FRONT_ENDS = {"cli": "kata-runtime", "shimv2": "containerd-shim-kata-v2"}


def _front_end_name(runtime: cri.RuntimeHandler | None, mode: str) -> str:
    if mode == "shimv2" and runtime is not None:
        shim = cri.shim_binary(runtime)
        if shim:
            return shim
    if mode == "cli" and runtime is not None and runtime.binary:
        return runtime.binary
    return _FRONT_ENDS.get(mode, mode)


def _pod_lines(pod: PodReport, indent: str = "") -> list[str]:
    verdict = "starts" if pod.starts else f"FAILS ({pod.failure_stage}): {pod.failure}"
    lines = [f"{indent}{pod.object}  [{pod.location}]  runtimeClassName: "
             f"{pod.runtime_class or '-'}"]
    front = pod.front_end or _FRONT_ENDS.get(pod.mode, pod.mode)
    if pod.runtime:
        lines.append(f"{indent}  via {pod.runtime}; {front} loads {pod.kata_config}")
    elif pod.kata_config:
        lines.append(f"{indent}  {front} loads {pod.kata_config}")
    for note in pod.notes:
        lines.append(f"{indent}  warning: {note}")
    for warning in pod.warnings:
        lines.append(f"{indent}  warning: {warning}")
    for o in pod.outcomes:
        if o.status == "applied" and o.key:
            lines.append(f"{indent}  applied  {o.name}: {_fmt(o.old)} -> {_fmt(o.new)}")
        else:
            lines.append(f"{indent}  {o.status:8} {o.name}: {o.reason}")
    for key, reason in pod.dropped:
        lines.append(f"{indent}  dropped  {key}: {reason}")
    if pod.changes:
        lines.append(f"{indent}  effective configuration (differences from the node default):")
        for key, old, new in pod.changes:
            lines.append(f"{indent}    {key}: {_fmt(old)} -> {_fmt(new)}")
    elif pod.starts:
        lines.append(f"{indent}  effective configuration: the node default")
    lines.append(f"{indent}  verdict: {verdict}")
    if pod.fixed is not None:
        lines.append(f"{indent}  with {pod.fix or 'the annotations quoted as strings'}, "
                     "it would get:")
        lines += _pod_lines(pod.fixed, indent + "    ")[1:]
    return lines


def as_json(report: ExplainReport) -> dict[str, Any]:
    def pod(p: PodReport) -> dict[str, Any]:
        return {
            "object": p.object, "location": p.location, "runtime_class": p.runtime_class,
            "runtime": p.runtime, "kata_config": p.kata_config, "mode": p.mode,
            "front_end": p.front_end,
            "starts": p.starts, "failure": p.failure, "failure_stage": p.failure_stage,
            "annotations": [{"name": o.name, "value": o.value, "status": o.status,
                             "reason": o.reason, "key": o.key, "old": _jsonable(o.old),
                             "new": _jsonable(o.new)} for o in p.outcomes],
            "dropped": [{"name": k, "reason": r} for k, r in p.dropped],
            "changes": [{"key": k, "node": _jsonable(a), "pod": _jsonable(b)}
                        for k, a, b in p.changes],
            "notes": p.notes,
            "warnings": p.warnings,
            "fixed": pod(p.fixed) if p.fixed else None,
            "fix": p.fix,
        }

    return {
        "pods": [pod(p) for p in report.pods],
        "skipped": [{"object": o, "reason": r} for o, r in report.skipped],
        "errors": [{"message": d.message, "code": d.code, "file": d.file, "line": d.line,
                    "hint": d.hint} for d in report.errors],
        "notes": report.notes,
        "failed": report.failed,
    }


def _jsonable(value: Any) -> Any:
    if value.__class__ is tuple:
        if value and isinstance(value[0], tuple):
            return serialize_kernel_params(value)
        return list(value)
    return value
