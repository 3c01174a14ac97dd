"""resolve() for Kata 4.x: the stages of containerd-shim-kata-v2 for a new sandbox.

container_type -> load (with config.d) -> annotations (sizing, gate, overrides, static
sizing) -> assets -> hypervisor (validateHypervisorConfig), as CONTRACT-4x.md section 3.
"""
from __future__ import annotations

import os

from katacfg.config.errors import KataError
from katacfg.config.model import AnnotationOutcome
from katacfg.profiles.kata4x import annotations as ann
from katacfg.profiles.kata4x import options as o
from katacfg.profiles.kata4x.gofloat import to_float32
from katacfg.profiles.kata4x.load import Config4x, Provenance, load

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from katacfg.profiles.kata4x.load import HostFacts

CRI_TYPE_KEYS = ("io.kubernetes.cri.container-type", "io.kubernetes.cri-o.ContainerType",
                 "io.kubernetes.docker.type")
CRI_TYPES = {"sandbox": "pod_sandbox", "podsandbox": "pod_sandbox",
             "container": "pod_container"}


def container_type(annotations: Mapping[str, str]) -> str:
    """oci.ContainerType: the first CRI key present decides."""
    for key in CRI_TYPE_KEYS:
        if key in annotations:
            value = annotations[key]
            if value in CRI_TYPES:
                return CRI_TYPES[value]
            raise KataError(f"Unknown container type {value}", "container_type", key=key,
                            code="KC250", hint="sandbox, podsandbox or container")
    return "single_container"


def config_path(path: str | None) -> str | None:
    """The shim's choice: containerd's ConfigPath option, else $KATA_CONF_FILE, else the
    default paths (None)."""
    return path or os.environ.get(o.CONF_FILE_ENV) or None


def resolve(path: str | None, annotations: Mapping[str, str] | None, host: HostFacts, *,
            dropins: bool = True, assume_files: bool = False) -> Config4x:
    annotations = dict(annotations or {})
    kind = container_type(annotations)
    cfg = load(config_path(path), host, dropins=dropins, assume_files=assume_files)
    if kind == "pod_container":
        outcomes = tuple(AnnotationOutcome(n, v, "ignored", "pod containers take the "
                                           "sandbox's configuration")
                         for n, v in annotations.items())
        return cfg.replace(container_type=kind, annotations=outcomes)
    return overlay(cfg, annotations, kind, host.cpus)


def overlay(cfg: Config4x, annotations: dict[str, str], kind: str, host_cpus: int) -> Config4x:
    hyp = dict(cfg.hypervisor)
    runtime = dict(cfg.runtime)
    agent = dict(cfg.agent)
    origins = dict(cfg.origins)
    if kind == "pod_sandbox":
        cpus, mem = ann.sandbox_sizing(annotations)
    else:
        cpus, mem = 0.0, 0  # CalculateContainerSizing: the OCI spec holds no limits here
    runtime["workload_cpus"] = cpus
    runtime["workload_memory_mb"] = mem
    ov = ann.Overlay(hyp, runtime, agent, cfg.hypervisor_type, annotations, host_cpus,
                     assume_files=cfg.assume_files)
    try:
        ann.gate(hyp["enable_annotations"], annotations)
        ov.run()
        if runtime["static_sandbox_resource_mgmt"]:
            hyp["default_vcpus"] = to_float32(hyp["default_vcpus"] + cpus)
            hyp["default_memory"] = (hyp["default_memory"] + mem) & 0xFFFFFFFF
            hyp["default_maxvcpus"] = max(_ceil(hyp["default_vcpus"]), 1)
            added = {"default_vcpus": cpus, "default_memory": mem}
            for key in ("default_vcpus", "default_memory", "default_maxvcpus"):
                if added.get(key, 1) == 0:
                    continue  # nothing added: the value keeps its origin
                before = origins.get(("hypervisor", key))
                origins[("hypervisor", key)] = Provenance(
                    "sizing", before.file if before else None, before.line if before else None,
                    "static_sandbox_resource_mgmt: "
                    + ("ceil(default_vcpus)" if key == "default_maxvcpus" else
                       f"+{added[key]:g} from the pod's limits"))
        custom = ann.apply_assets(hyp, cfg.hypervisor_type, annotations)
        ann.validate_hypervisor(hyp)
    except KataError as exc:
        err = exc.with_location(file=exc.file or cfg.path)
        err.outcomes = _outcomes(annotations, ov, exc)
        raise err from None
    for name, (key, _old, _new) in ov.applied.items():
        section, _, field = key.partition(".")
        origins[(section, field)] = Provenance("annotation", detail=name)
    for key, _path in custom.items():
        origins[("hypervisor", key)] = Provenance("annotation", detail="asset annotation")
    return cfg.replace(container_type=kind, hypervisor=hyp, runtime=runtime, agent=agent,
                       origins=origins, custom_assets=custom,
                       annotations=_outcomes(annotations, ov, None))


def _ceil(x: float) -> int:
    import math

    if x != x or x in (float("inf"), float("-inf")):
        return 0
    return int(math.ceil(x)) & 0xFFFFFFFF


def _outcomes(annotations: Mapping[str, str], ov: ann.Overlay,
              exc: KataError | None) -> tuple[AnnotationOutcome, ...]:
    out = []
    for name, value in annotations.items():
        if exc is not None and name == exc.key:
            out.append(AnnotationOutcome(name, value, "refused", exc.text))
        elif name in ov.applied:
            key, old, new = ov.applied[name]
            out.append(AnnotationOutcome(name, value, "applied", "", key, old, new))
        elif exc is not None:
            out.append(AnnotationOutcome(name, value, "not reached",
                                         "Kata stops at the first refusal"))
        elif name in ann.SIZING.values():
            out.append(AnnotationOutcome(name, value, "applied", "containerd's sandbox sizing "
                                         "(runtime.workload_cpus / workload_memory_mb)"))
        elif name in CRI_TYPE_KEYS:
            out.append(AnnotationOutcome(name, value, "applied", "the container type"))
        elif name in o.DROPPED_ANNOTATIONS:
            out.append(AnnotationOutcome(name, value, "ignored", "a Kata 1.x annotation 4.x "
                                         "ignores: " + o.DROPPED_ANNOTATIONS[name]))
        elif name in ann.ANNOTATIONS:
            out.append(AnnotationOutcome(name, value, "ignored", ann.ANNOTATIONS[name][1]))
        elif name.startswith(ann.KATA):
            out.append(AnnotationOutcome(name, value, "ignored",
                                         "not an annotation Kata 4.x knows"))
        else:
            out.append(AnnotationOutcome(name, value, "passed", "not a Kata annotation"))
    return tuple(out)


# --- the resolve JSON of CONTRACT-4x.md section 4 ------------------------------------------

def contract_dict(cfg: Config4x) -> dict[str, Any]:
    from katacfg.config.model import serialize_kernel_params

    hyp = dict(cfg.hypervisor)
    for key, path in cfg.custom_assets.items():
        hyp[key] = path
    hyp.pop("enable_numa", None)
    params = hyp["kernel_params"]
    hyp["kernel_params"] = serialize_kernel_params(params)
    hyp["kernel_params_pairs"] = [list(p) for p in params]
    hyp["guest_extension_images"] = [dict(i) for i in hyp["guest_extension_images"]]
    hyp["guest_numa_nodes"] = [dict(n) for n in hyp["guest_numa_nodes"]]
    return {
        "profile": o.PROFILE_ID,
        "kata_version": o.KATA_VERSION,
        "container_type": cfg.container_type,
        "hypervisor_type": cfg.hypervisor_type,
        "hypervisor": _plain(hyp),
        "agent": _plain(cfg.agent),
        "runtime": _plain(cfg.runtime),
        "factory": _plain(cfg.factory),
    }


def _plain(section: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in section.items()}
