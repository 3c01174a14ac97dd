"""resolve(): discover -> load -> container type -> annotations -> assets -> hypervisor.

The stages and their order are those of CONTRACT.md section 3; the first failing stage ends
the run with a KataError naming it.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from katacfg.loader import HostFacts

from collections.abc import Mapping

from katacfg.cri import POD_CONTAINER, container_type
from katacfg.errors import KataError
from katacfg.loader import load
from katacfg.model import AnnotationOutcome, Config
from katacfg.options.globals import CONFIG_PATH_ANNOTATION

# Hypervisors whose valid() replaces zero values after the overlay; firecracker has none.
_ZERO_VALUE_CHECK = ("qemu", "acrn", "clh")


def resolve(path: str | None = None, annotations: Mapping[str, str] | None = None, *,
            host: HostFacts | None = None, mode: str = "cli",
            fallback: bool = False) -> Config:
    """The configuration a sandbox gets: the file as loaded, then the pod's annotations.

    In shimv2 mode a non-empty `io.katacontainers.config_path` annotation replaces `path`.
    Raises KataError (with `.stage`) where the reference refuses.
    """
    annotations = dict(annotations or {})
    if mode == "shimv2" and annotations.get(CONFIG_PATH_ANNOTATION):
        path = annotations[CONFIG_PATH_ANNOTATION]
        fallback = False
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
        raise exc.with_location(file=exc.file or cfg.path) from None
    ann.classify(annotations, outcomes)
    changed = {name: type(getattr(cfg, name))(**section)
               for name, section in values.items() if section != before[name]}
    return cfg.replace(container_type=kind, annotations=tuple(outcomes[n] for n in annotations),
                       **changed)
