"""resolve(): discover -> load -> container type -> annotations -> assets -> hypervisor.

The stages and their order are those of CONTRACT.md section 3; the first failing stage ends
the run with a KataError naming it.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from katacfg.config.errors import Diagnostic, KataError
from katacfg.config.load import load
from katacfg.config.model import AnnotationOutcome, Config
from katacfg.kube.cri import POD_CONTAINER, container_type
from katacfg.profiles.kata1x.options import CONFIG_PATH_ANNOTATION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from katacfg.config.load import HostFacts
    from katacfg.profiles import KataProfile


def resolve(path: str | os.PathLike[str] | None = None,
            annotations: Mapping[str, str] | None = None, *,
            host: HostFacts | None = None, mode: str = "cli",
            fallback: bool = False, profile: KataProfile | None = None,
            assume_files: bool = False) -> Config:
    """The configuration a sandbox gets: the file as loaded, then the pod's annotations.

    In shimv2 mode the file is chosen as containerd-shim-kata-v2 does (config-files.md 3):
    a non-empty `io.katacontainers.config_path` annotation, else `path` (the CRI runtime's
    ConfigPath option), else $KATA_CONF_FILE, else the default paths.
    `assume_files`: the file belongs to another machine; the paths it names are assumed
    to exist. Raises KataError (with `.stage`) where the reference refuses.
    """
    path = None if path is None else os.fspath(path)
    annotations = dict(annotations or {})
    for name, value in annotations.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"annotation {name!r}: keys and values must be str, not "
                            f"{type(value if isinstance(name, str) else name).__name__}")
    own = profile.extra.get("resolve") if profile is not None else None
    if own is not None:  # a generation with its own stages (4.x: the shim's order)
        return own(path, annotations, host=host, mode=mode)  # type: ignore[no-any-return]
    if mode == "shimv2":
        chosen = annotations.get(CONFIG_PATH_ANNOTATION) or path or os.environ.get(
            "KATA_CONF_FILE")
        if chosen and chosen != path:
            path, fallback = chosen, False
    if host is None:
        from katacfg.host.facts import Host

        host = Host.real()
    cfg = load(path, host=host, mode=mode, strict=True, fallback=fallback, profile=profile,
               assume_files=assume_files)
    return overlay(cfg, annotations, host_cpus=host.cpus)


def overlay(cfg: Config, annotations: Mapping[str, str], *, host_cpus: int) -> Config:
    """Apply a pod's annotations to a loaded configuration (stages after load).

    Pure: returns a new Config whose `annotations` hold every annotation's outcome; a
    refusal raises KataError carrying the outcomes up to it.
    """
    kind, changed, outcomes = _stages(cfg, annotations, host_cpus, None)
    if kind == POD_CONTAINER:
        return cfg.replace(container_type=kind, annotations=tuple(outcomes.values()))
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


def overlay_outcomes(cfg: Config, annotations: Mapping[str, str], *, host_cpus: int,
                     ) -> tuple[AnnotationOutcome, ...]:
    """overlay()'s `annotations` (one outcome per annotation) without building the Config.

    For verdicts (admission): the same stages, refusals and outcomes as overlay(), but only
    the hypervisor section the later stages check is rebuilt.
    """
    kind, _, outcomes = _stages(cfg, annotations, host_cpus, "hypervisor")
    if kind == POD_CONTAINER:
        return tuple(outcomes.values())
    return tuple(map(outcomes.__getitem__, annotations))


def _stages(cfg: Config, annotations: Mapping[str, str], host_cpus: int, only: str | None,
            ) -> tuple[str, dict[str, Any], dict[str, AnnotationOutcome]]:
    """The stages after load: (container type, changed sections, outcome per annotation).

    `only`: the one section whose changes are needed (None: every changed section).
    """
    import katacfg.config.overlay as ann

    kind = container_type(annotations)
    if kind == POD_CONTAINER:
        # A pod container reuses its sandbox: no annotation is read, even invalid ones.
        return kind, {}, {name: AnnotationOutcome(
            name, value, "ignored", "pod containers take the sandbox's configuration")
            for name, value in annotations.items()}
    outcomes: dict[str, AnnotationOutcome] = {}
    try:
        ann.gate(cfg, annotations)
        changed, outcomes = ann.apply_overrides(cfg, annotations, host_cpus, only=only)
        hyp = changed.get("hypervisor", cfg.hypervisor)
        hyp, asset_outcomes = ann.apply_assets(cfg, hyp, annotations)
        if asset_outcomes:
            outcomes = {**outcomes, **asset_outcomes}
        hv = cfg.kata.hypervisor(cfg.hypervisor_type)
        if hv is not None and hv.zero_value_check is not None:
            hyp = hv.zero_value_check(hyp, hv)
    except KataError as exc:
        raise _refused(cfg, annotations, exc,
                       {**outcomes, **{o.name: o for o in exc.outcomes}}) from None
    if CONFIG_PATH_ANNOTATION in annotations:
        outcomes.update(_config_path_outcome(cfg, annotations))
    if len(outcomes) < len(annotations):
        outcomes.update(ann.classify(cfg.kata, annotations, outcomes))
    changed["hypervisor"] = hyp
    return kind, changed, outcomes


def _refused(cfg: Config, annotations: Mapping[str, str], exc: KataError,
             decided: dict[str, AnnotationOutcome]) -> KataError:
    """The refusal as resolve reports it: its file, and an outcome for every annotation."""
    outcomes = tuple(decided.get(name) or AnnotationOutcome(
        name, value, "refused" if name == exc.key else "not reached",
        exc.text if name == exc.key else "Kata stops at the first refusal")
        for name, value in annotations.items())
    return exc.with_location(file=exc.file or cfg.path, outcomes=outcomes)


def _config_path_outcome(cfg: Config, annotations: Mapping[str, str],
                         ) -> dict[str, AnnotationOutcome]:
    value = annotations.get(CONFIG_PATH_ANNOTATION)
    if value is None:
        return {}
    if cfg.mode != "shimv2":
        reason = "only containerd-shim-kata-v2 reads it; kata-runtime ignores it"
        status = "ignored"
    elif not value:
        reason, status = "an empty value counts as absent", "ignored"
    else:
        reason, status = "this pod chose its configuration file (not gated)", "applied"
    return {CONFIG_PATH_ANNOTATION: AnnotationOutcome(CONFIG_PATH_ANNOTATION, value, status,
                                                      reason)}
