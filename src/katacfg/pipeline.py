"""resolve(): discover -> load -> container type -> annotations -> assets -> hypervisor.

The stages and their order are those of CONTRACT.md section 3; the first failing stage ends
the run with a KataError naming it.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from katacfg.loader import HostFacts

import os
from collections.abc import Mapping

from katacfg.cri import POD_CONTAINER, container_type
from katacfg.errors import Diagnostic, KataError
from katacfg.loader import load
from katacfg.model import AnnotationOutcome, Config
from katacfg.options.globals import CONFIG_PATH_ANNOTATION

# Hypervisors whose valid() replaces zero values after the overlay; firecracker has none.
_ZERO_VALUE_CHECK = ("qemu", "acrn", "clh")


def resolve(path: str | os.PathLike[str] | None = None,
            annotations: Mapping[str, str] | None = None, *,
            host: HostFacts | None = None, mode: str = "cli",
            fallback: bool = False) -> Config:
    """The configuration a sandbox gets: the file as loaded, then the pod's annotations.

    In shimv2 mode the file is chosen as containerd-shim-kata-v2 does (config-files.md 3):
    a non-empty `io.katacontainers.config_path` annotation, else `path` (the CRI runtime's
    ConfigPath option), else $KATA_CONF_FILE, else the default paths.
    Raises KataError (with `.stage`) where the reference refuses.
    """
    path = None if path is None else os.fspath(path)
    annotations = dict(annotations or {})
    for name, value in annotations.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"annotation {name!r}: keys and values must be str, not "
                            f"{type(value if isinstance(name, str) else name).__name__}")
    if mode == "shimv2":
        chosen = annotations.get(CONFIG_PATH_ANNOTATION) or path or os.environ.get(
            "KATA_CONF_FILE")
        if chosen and chosen != path:
            path, fallback = chosen, False
    if host is None:
        from katacfg.host import Host

        host = Host.real()
    cfg = load(path, host=host, mode=mode, strict=True, fallback=fallback)
    return overlay(cfg, annotations, host_cpus=host.cpus)


def overlay(cfg: Config, annotations: Mapping[str, str], *, host_cpus: int) -> Config:
    """Apply a pod's annotations to a loaded configuration (stages after load)."""
    import katacfg.annotations as ann

    outcomes: dict[str, AnnotationOutcome] = {}
    kind = container_type(annotations)
    if kind == POD_CONTAINER:
        # A pod container reuses its sandbox: no annotation is read, even invalid ones.
        for name, value in annotations.items():
            outcomes[name] = AnnotationOutcome(name, value, "ignored",
                                               "pod containers take the sandbox's configuration")
        return cfg.replace(container_type=kind, annotations=tuple(outcomes.values()))
    try:
        ann.gate(cfg, annotations)
        values = ann.section_values(cfg)
        before = {name: dict(section) for name, section in values.items()}
        ann.apply_overrides(cfg, values, annotations, host_cpus, outcomes)
        ann.apply_assets(values["hypervisor"], annotations, outcomes)
        if cfg.hypervisor_type in _ZERO_VALUE_CHECK:
            ann.apply_hypervisor_defaults(values["hypervisor"])
    except KataError as exc:
        err = exc.with_location(file=exc.file or cfg.path)
        for name, value in annotations.items():
            outcomes.setdefault(name, AnnotationOutcome(
                name, value, "refused" if name == exc.key else "not reached",
                exc.text if name == exc.key else "Kata stops at the first refusal"))
        err.outcomes = tuple(outcomes[n] for n in annotations)
        raise err from None
    _config_path_outcome(cfg, annotations, outcomes)
    ann.classify(annotations, outcomes)
    changed = {name: type(getattr(cfg, name))(**section)
               for name, section in values.items() if section != before[name]}
    diagnostics = cfg.diagnostics
    if outcomes.get(CONFIG_PATH_ANNOTATION, None) and \
            outcomes[CONFIG_PATH_ANNOTATION].status == "applied":
        diagnostics += (Diagnostic(
            "warning", "KC240", f"the pod chose its Kata configuration file "
            f"({annotations[CONFIG_PATH_ANNOTATION]}) with {CONFIG_PATH_ANNOTATION}, which "
            "enable_annotations does not restrict", cfg.path, key=CONFIG_PATH_ANNOTATION,
            hint="strip this annotation in the CRI layer if pods must not choose"),)
    return cfg.replace(container_type=kind, annotations=tuple(outcomes[n] for n in annotations),
                       diagnostics=diagnostics, **changed)


def _config_path_outcome(cfg: Config, annotations: Mapping[str, str],
                         outcomes: dict[str, AnnotationOutcome]) -> None:
    value = annotations.get(CONFIG_PATH_ANNOTATION)
    if value is None:
        return
    if cfg.mode != "shimv2":
        reason = "only containerd-shim-kata-v2 reads it; kata-runtime ignores it"
        status = "ignored"
    elif not value:
        reason, status = "an empty value counts as absent", "ignored"
    else:
        reason, status = "this pod chose its configuration file (not gated)", "applied"
    outcomes[CONFIG_PATH_ANNOTATION] = AnnotationOutcome(CONFIG_PATH_ANNOTATION, value, status,
                                                         reason)
