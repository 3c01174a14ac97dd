"""Which pods are Kata pods, and what reaches Kata: the node selection of admission.

`admit`, `webhook` and `policy` share one set of flags that describe the node a pod will
run on, and this module turns them into `Target`s:

- `--runtime-class NAME` alone: pods with that runtimeClassName run Kata with the given
  (or default) Kata configuration; every pod annotation is assumed to reach Kata.
- `--containerd-config F` / `--crio-config F`: every Kata runtime handler that CRI
  configuration defines is one target, with its own Kata configuration file (containerd's
  `ConfigPath` option, CRI-O's `runtime_config_path`), its CRI annotation filter
  (containerd's `pod_annotations`, CRI-O's restricted annotations) and its front end
  (shim v2 or kata-runtime). With `--runtime-class NAME` too, only the handler that class
  selects.
- `--runtime-classes FILE`: RuntimeClass objects (YAML) mapping class names to handlers;
  without it a class named X selects handler X (what kata-deploy installs).

The CRI resolution itself is explain's (`katacfg.kube.cri`, `katacfg.kube.manifests.handler_for`,
`katacfg.reports.explain.kata_mode`); this module only enumerates and matches.
"""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from katacfg.config.records import Record
from katacfg.kube import cri, manifests

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from katacfg.config.errors import Diagnostic
    from katacfg.config.load import HostFacts
    from katacfg.config.model import Config

__all__ = [
    "SelectionError", "Target", "Selection", "build_selection", "add_selection_flags",
    "selection_from_args", "FILTER_NONE", "FILTER_CONTAINERD", "FILTER_CRIO",
]

# How the CRI layer filters pod annotations on their way to Kata.
FILTER_NONE = "none"  # no CRI configuration given: every pod annotation reaches Kata
FILTER_CONTAINERD = "containerd-pod-annotations"  # path.Match patterns (pod_annotations)
FILTER_CRIO = "crio-restricted"  # CRI-O drops only its own unlisted annotations


class SelectionError(ValueError):
    """The selection flags cannot describe a node (one clear line for the user)."""


class Target(Record):
    """One Kata runtime of the node: which pods reach it and how Kata sees them."""

    runtime_classes: tuple[str, ...]  # runtimeClassName values known to select it
    handler: str | None  # the CRI runtime handler (None: no CRI configuration given)
    kata_config: str | None  # configuration.toml to load (None: Kata's default paths)
    mode: str  # "shimv2" (containerd-shim-kata-v2) or "cli" (kata-runtime)
    runtime: cri.RuntimeHandler | None = None  # the CRI runtime; None: no CRI filter
    default: bool = False  # pods without runtimeClassName run here (the CRI's default)
    location: str = ""  # where the target is defined (file:line), for messages

    @property
    def filter_kind(self) -> str:
        """FILTER_NONE, FILTER_CONTAINERD or FILTER_CRIO."""
        if self.runtime is None:
            return FILTER_NONE
        return FILTER_CONTAINERD if self.runtime.manager == cri.CONTAINERD else FILTER_CRIO

    @property
    def pod_annotation_patterns(self) -> tuple[str, ...]:
        """containerd's pod_annotations (Go path.Match patterns); () for other filters."""
        if self.runtime is not None and self.runtime.manager == cri.CONTAINERD:
            return self.runtime.pod_annotations
        return ()

    def passes(self, key: str, pod_annotations: Mapping[str, str] | None = None) -> bool:
        """Whether the CRI layer passes the pod annotation `key` down to Kata."""
        if self.runtime is None:
            return True
        passed, _ = cri.passed_annotations({key: ""} if pod_annotations is None
                                           else {**pod_annotations, key: ""}, self.runtime)
        return key in passed

    def sandbox(self, pod_annotations: Mapping[str, str], *, name: str = "",
                namespace: str = "default", labels: Mapping[str, str] | None = None
                ) -> cri.SandboxAnnotations:
        """The sandbox annotations Kata receives for a pod, and what the CRI dropped."""
        if self.runtime is None:
            # No CRI known: the pod's annotations reach Kata exactly as they are (without
            # a container-type key Kata takes the sandbox, which is what a pod creates).
            passed = dict(pod_annotations)
            return cri.SandboxAnnotations(dict(passed), passed, [], {}, [])
        return cri.sandbox_annotations(pod_annotations, self.runtime, name=name,
                                       namespace=namespace, labels=labels)

    def describe(self) -> str:
        """`containerd runtime 'kata' (file:12), shimv2, loads F` for messages and logs."""
        if self.runtime is not None:
            head = f"{self.runtime.manager} runtime {self.runtime.name!r} ({self.location})"
        else:
            head = "runtimeClassName " + ", ".join(self.runtime_classes)
        return f"{head}, {self.mode}, Kata configuration {self.kata_config or 'default paths'}"

    def load(self, *, host: HostFacts, assume_files: bool = False,
             config_path: str | None = None) -> Config:
        """Load this target's Kata configuration (or `config_path`, a pod's own choice).

        Raises KataError as Kata refuses. Without any path, Kata's default paths are
        searched and katacfg's embedded default is the fallback (as explain does).
        """
        from katacfg.config.load import load

        path = config_path or self.kata_config
        return load(path, host=host, mode=self.mode, fallback=path is None,
                    assume_files=assume_files)


class Selection(Record):
    """The node: its Kata targets and how a pod's runtimeClassName picks one."""

    targets: tuple[Target, ...]
    cri_config: cri.CRIConfig | None = None
    handlers: Mapping[str, str] = MappingProxyType({})  # RuntimeClass name -> handler
    runtime_class: str | None = None  # --runtime-class: only this class
    notes: tuple[Diagnostic, ...] = ()  # CRI configuration findings worth showing

    @property
    def runtime_classes(self) -> tuple[str, ...]:
        """Every runtimeClassName known to select a Kata target (for policies)."""
        out: list[str] = []
        for t in self.targets:
            out += [c for c in t.runtime_classes if c not in out]
        return tuple(out)

    def target_for(self, runtime_class_name: str | None,
                   annotations: Mapping[str, str] | None = None) -> Target | None:
        """The Kata target a pod runs on, or None when the pod does not run Kata here."""
        name = runtime_class_name or None
        if self.runtime_class is not None and name != self.runtime_class:
            return None
        if self.cri_config is None:
            for t in self.targets:
                if name is not None and name in t.runtime_classes:
                    return t
            return None
        try:
            runtime = self.cri_config.runtime(manifests.handler_for(name, self.handlers),
                                              annotations or {})
        except cri.CRIConfigError:
            return None  # no such handler: the CRI fails the pod, Kata never sees it
        for t in self.targets:
            if t.handler == runtime.name:
                return t
        return None


def _classes_for(handler: str, handlers: Mapping[str, str]) -> tuple[str, ...]:
    names = [n for n, h in handlers.items() if h == handler]
    if handler not in handlers:  # a class named like the handler selects it
        names.insert(0, handler)
    return tuple(sorted(set(names), key=names.index))


def read_runtime_classes(path: str) -> dict[str, str]:
    """RuntimeClass name -> handler from a YAML file; SelectionError on unusable input."""
    objects = manifests.load_manifests(path)
    for obj in objects:
        if isinstance(obj, manifests.ManifestError):
            raise SelectionError(f"--runtime-classes: {obj.render()}")
    handlers = manifests.runtime_class_handlers(objects)
    if not handlers:
        raise SelectionError(f"--runtime-classes {path}: no RuntimeClass object with a "
                             "name and a handler")
    return handlers


def build_selection(*, containerd_config: str | None = None, crio_config: str | None = None,
                    crio_config_dir: str | None = cri.AUTO,
                    runtime_class: str | None = None, runtime_classes: str | None = None,
                    kata_config: str | None = None, mode: str | None = None,
                    cri_config: cri.CRIConfig | None = None,
                    handlers: Mapping[str, str] | None = None) -> Selection:
    """Targets from the selection flags (see the module doc). Raises SelectionError.

    `handlers` (RuntimeClass name -> handler, e.g. from the manifest being checked) is
    used under the `runtime_classes` file's mapping.
    """
    if containerd_config and crio_config:
        raise SelectionError("give --containerd-config or --crio-config, not both")
    if mode not in (None, "cli", "shimv2"):
        raise SelectionError(f"--mode {mode!r}: allowed values are cli, shimv2")
    handlers = {**(handlers or {}),
                **(read_runtime_classes(runtime_classes) if runtime_classes else {})}
    if cri_config is None:
        try:
            if containerd_config:
                cri_config = cri.load_containerd_config(containerd_config)
            elif crio_config:
                cri_config = cri.load_crio_config(crio_config, crio_config_dir or None)
        except cri.CRIConfigError as exc:
            raise SelectionError(exc.render()) from None
    if cri_config is None:
        if not runtime_class:
            raise SelectionError("say which pods run Kata: give --runtime-class NAME, or the "
                                 "node's --containerd-config FILE or --crio-config FILE")
        target = Target((runtime_class,), manifests.handler_for(runtime_class, handlers),
                        kata_config, mode or "shimv2", location="--runtime-class")
        return Selection((target,), None, handlers, runtime_class)

    from katacfg.reports.explain import kata_mode

    kata = cri_config.kata_runtimes
    name = cri_config.file or f"the {cri_config.manager} configuration"
    if not kata:
        how = ('a runtime_path (or, without one, a name) that names kata: '
               'containerd-shim-kata-v2 with runtime_type "vm", or kata-runtime; the '
               "crio.conf.d drop-ins beside the file are read too"
               if cri_config.manager == cri.CRIO else
               "runtime_type io.containerd.kata.v2 (or io.containerd.kata-NAME.v2), or a kata "
               "binary")
        raise SelectionError(f"{name}: no Kata runtime handler (runtimes: "
                             f"{', '.join(sorted(cri_config.runtimes)) or 'none'}); a Kata "
                             f"handler has {how}")
    if runtime_class:
        handler = manifests.handler_for(runtime_class, handlers)
        try:
            chosen = cri_config.runtime(handler)
        except cri.CRIConfigError as exc:
            raise SelectionError(f"--runtime-class {runtime_class}: {exc.render()}") from None
        if not chosen.is_kata:
            raise SelectionError(f"--runtime-class {runtime_class}: handler {chosen.name!r} "
                                 f"({chosen.location()}) is {chosen.runtime_type or 'not Kata'}"
                                 f", not Kata")
        kata = [chosen]
    targets = []
    for runtime in kata:
        classes = _classes_for(runtime.name, handlers)
        if runtime_class:
            classes = (runtime_class,)
        targets.append(Target(
            classes, runtime.name, kata_config or runtime.config_path,
            mode or kata_mode(runtime), runtime,
            default=runtime.name == cri_config.default_runtime_name and not runtime_class,
            location=runtime.location()))
    notes = tuple(d for d in cri_config.diagnostics)
    return Selection(tuple(targets), cri_config, handlers, runtime_class, notes)


# ----------------------------------------------------------------------------- flags


def add_selection_flags(parser: argparse.ArgumentParser, *, with_mode: bool = True) -> None:
    """--containerd-config | --crio-config | --runtime-class, --runtime-classes, --mode."""
    group = parser.add_argument_group("the node (which pods run Kata, what reaches it)")
    ex = group.add_mutually_exclusive_group()
    ex.add_argument("--containerd-config", metavar="FILE",
                    help="the node's containerd config.toml: every Kata runtime it defines, "
                         "with its pod_annotations filter and ConfigPath")
    ex.add_argument("--crio-config", metavar="FILE",
                    help="the node's crio.conf: every Kata runtime handler it defines, with "
                         "the drop-ins of crio.conf.d beside it")
    group.add_argument("--crio-config-dir", metavar="DIR", default=cri.AUTO,
                       help="CRI-O's drop-in directory (--config-dir; default: crio.conf.d "
                            "beside --crio-config; '' for none)")
    group.add_argument("--runtime-class", metavar="NAME",
                       help="pods with this runtimeClassName run Kata (alone: every pod "
                            "annotation is assumed to reach Kata)")
    group.add_argument("--runtime-classes", metavar="FILE",
                       help="RuntimeClass objects (YAML) mapping class names to handlers "
                            "(default: a class named X uses handler X)")
    if with_mode:
        group.add_argument("--mode", choices=("cli", "shimv2"), default=None,
                           help="front end that loads the Kata file (default: from the CRI "
                                "runtime type; shimv2 without a CRI configuration)")


def selection_from_args(args: argparse.Namespace,
                        handlers: Mapping[str, str] | None = None) -> Selection:
    """build_selection() from parsed flags (and the global --kata-config)."""
    return build_selection(
        handlers=handlers,
        containerd_config=getattr(args, "containerd_config", None),
        crio_config=getattr(args, "crio_config", None),
        crio_config_dir=getattr(args, "crio_config_dir", cri.AUTO),
        runtime_class=getattr(args, "runtime_class", None),
        runtime_classes=getattr(args, "runtime_classes", None),
        kata_config=getattr(args, "kata_config", None),
        mode=getattr(args, "mode", None))
