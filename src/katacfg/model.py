"""The effective configuration: frozen, typed values the pipeline produces and reports read."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from katacfg.errors import Diagnostic, KataError
from katacfg.options.agent import AgentConfig
from katacfg.options.components import FactoryConfig, NetmonConfig, ProxyConfig, ShimConfig
from katacfg.options.hypervisor import HypervisorConfig
from katacfg.options.runtime import RuntimeConfig

KernelParam = tuple[str, str]

__all__ = [
    "AgentConfig", "AnnotationOutcome", "Config", "FactoryConfig", "HypervisorConfig",
    "KernelParam", "NetmonConfig", "ProxyConfig", "RuntimeConfig", "ShimConfig",
    "deserialize_kernel_params", "serialize_kernel_params",
]


# Go unicode.IsSpace: the White_Space property (Python's str.split also splits on \x1c-\x1f).
_GO_SPACE = re.compile("[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")


def go_fields(text: str) -> list[str]:
    """Go strings.Fields: the words between runs of Unicode white space."""
    return [w for w in _GO_SPACE.split(text) if w]


def deserialize_kernel_params(text: str) -> tuple[KernelParam, ...]:
    """Go DeserializeParams(strings.Fields(text)): split on white space, then at the first '='."""
    out = []
    for word in go_fields(text):
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


@dataclass(frozen=True, slots=True)
class AnnotationOutcome:
    """What happened to one pod annotation: applied, refused or ignored, and why."""

    name: str
    value: str
    status: str  # applied | refused | ignored | passed (not a Kata option)
    reason: str = ""
    key: str = ""  # the option it targets, "section.key"
    old: object = None
    new: object = None


@dataclass(frozen=True, slots=True)
class Config:
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
    positions: Mapping[tuple[str, ...], tuple[int, int]] = field(default_factory=dict)
    assume_files: bool = False  # paths were assumed present, not checked on this machine

    @property
    def valid(self) -> bool:
        return not self.problems

    def line_of(self, *path: str) -> int | None:
        """Source line of a key, e.g. line_of("hypervisor", "qemu", "kernel")."""
        pos = self.positions.get(tuple(path))
        return pos[0] if pos else None
