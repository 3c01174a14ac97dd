"""The effective configuration: frozen, typed values the pipeline produces and reports read."""
from __future__ import annotations

from katacfg.config.errors import Diagnostic, KataError
from katacfg.config.records import Record
from katacfg.config.registry import Adjustment
from katacfg.gocompat.strings import fields
from katacfg.profiles.kata1x.options import (
    AgentConfig,
    FactoryConfig,
    HypervisorConfig,
    NetmonConfig,
    ProxyConfig,
    RuntimeConfig,
    ShimConfig,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # collections.abc costs 2 ms of start-up (it imports collections)
    from collections.abc import Iterable, Mapping

    from katacfg.profiles import KataProfile

KernelParam = tuple[str, str]

__all__ = [
    "AdjustedValue", "AgentConfig", "AnnotationOutcome", "Config", "FactoryConfig", "HypervisorConfig",
    "KernelParam", "NetmonConfig", "ProxyConfig", "RuntimeConfig", "ShimConfig",
    "deserialize_kernel_params", "serialize_kernel_params",
]


def deserialize_kernel_params(text: str) -> tuple[KernelParam, ...]:
    """Go DeserializeParams(strings.Fields(text)): split on white space, then at the first '='."""
    out = []
    for word in fields(text):
        key, _, value = word.partition("=")
        out.append((key, value))
    return tuple(out)


def serialize_kernel_params(params: Iterable[KernelParam]) -> str:
    """Go SerializeParams(params, "=") joined by spaces (kata-env Kernel.Parameters)."""
    words = []
    for key, value in params:
        if not key and not value:
            continue
        if not key:
            words.append(value)
        elif not value:
            words.append(key)
        else:
            words.append(f"{key}={value}")
    return " ".join(words)


class AdjustedValue(Record):
    """A value the file gave that loading changed (a clamp, or zero meaning the default)."""

    where: tuple[str, ...]  # ("hypervisor", "qemu", "default_vcpus")
    given: object
    loaded: object
    why: Adjustment


class AnnotationOutcome(Record):
    """What happened to one pod annotation: applied, refused or ignored, and why."""

    name: str
    value: str
    status: str  # applied | refused | ignored | passed (not a Kata option)
    reason: str = ""
    key: str = ""  # the option it targets, "section.key"
    old: object = None
    new: object = None


class Config(Record):
    """A loaded (and, after resolve, per-pod) Kata 1.x configuration.

    `problems` holds the refusals met when loading with strict=False, in the order the
    reference checks them (the first is what kata-runtime would print). `diagnostics` holds
    what the reference says nothing about: unknown keys, notes, warnings.
    """

    path: str
    mode: str
    hypervisor_type: str
    hypervisor: HypervisorConfig
    agent: AgentConfig
    runtime: RuntimeConfig
    factory: FactoryConfig
    proxy: ProxyConfig
    shim: ShimConfig
    netmon: NetmonConfig
    container_type: str = "pod_sandbox"
    problems: tuple[KataError, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    annotations: tuple[AnnotationOutcome, ...] = ()
    positions: Mapping[tuple[str, ...], tuple[int, int]] = {}  # shared, never mutated
    assume_files: bool = False  # paths were assumed present, not checked on this machine
    profile: KataProfile | None = None  # the Kata generation it was loaded with
    adjusted: tuple[AdjustedValue, ...] = ()  # values loading changed, and why

    @property
    def kata(self) -> KataProfile:
        """The profile (1.x when the Config was built by hand)."""
        if self.profile is not None:
            return self.profile
        from katacfg.profiles import get_profile

        return get_profile()

    @property
    def valid(self) -> bool:
        return not self.problems

    def line_of(self, *path: str) -> int | None:
        """Source line of a key, e.g. line_of("hypervisor", "qemu", "kernel")."""
        pos = self.positions.get(tuple(path))
        return pos[0] if pos else None
