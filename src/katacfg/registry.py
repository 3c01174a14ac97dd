"""The whole registry: sections, their options, and every annotation, in one place."""
from __future__ import annotations

from katacfg.options import Annotation, Option
from katacfg.options.agent import AgentConfig
from katacfg.options.components import FactoryConfig, NetmonConfig, ProxyConfig, ShimConfig
from katacfg.options.hypervisor import HypervisorConfig
from katacfg.options.runtime import RuntimeConfig

SECTIONS: dict[str, type] = {
    "hypervisor": HypervisorConfig,
    "proxy": ProxyConfig,
    "shim": ShimConfig,
    "agent": AgentConfig,
    "runtime": RuntimeConfig,
    "factory": FactoryConfig,
    "netmon": NetmonConfig,
}
# [section.<name>] tables (Go maps); the others are plain [section] tables (Go structs).
MAP_SECTIONS = ("hypervisor", "proxy", "shim", "agent")
# Go struct type names, as the TOML decoder's messages spell them.
GO_STRUCT_NAMES = {name: f"katautils.{name}" for name in SECTIONS}

OPTIONS: dict[str, dict[str, Option]] = {
    name: {o.key: o for o in cls.OPTIONS if o.toml}  # type: ignore[attr-defined]
    for name, cls in SECTIONS.items()
}

ALL_ANNOTATIONS: tuple[Annotation, ...] = tuple(
    o.annotation
    for cls in SECTIONS.values()
    for o in cls.OPTIONS  # type: ignore[attr-defined]
    if o.annotation is not None
)
ANNOTATIONS_BY_NAME: dict[str, Annotation] = {a.name: a for a in ALL_ANNOTATIONS}
