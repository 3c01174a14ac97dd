"""Plain-data views of a Config: the resolve JSON of CONTRACT.md section 4."""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from katacfg.config.model import Config, serialize_kernel_params

_HIDDEN = {"configured"}  # bookkeeping fields that are not part of the contract


def _plain(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in obj.as_dict().items():
        if name in _HIDDEN:
            continue
        if name == "kernel_params":
            value = serialize_kernel_params(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[name] = value
    return out


def contract_dict(cfg: Config) -> dict[str, Any]:
    """The success object: every section flat, keys named as the 1.x TOML keys."""
    shim = _plain(cfg.shim)
    if not cfg.shim.configured:
        shim = {"type": cfg.shim.type}  # Go holds no shim configuration at all
    return {
        "container_type": cfg.container_type,
        "hypervisor_type": cfg.hypervisor_type,
        "hypervisor": _plain(cfg.hypervisor),
        "agent": _plain(cfg.agent),
        "runtime": _plain(cfg.runtime),
        "factory": _plain(cfg.factory),
        "proxy": _plain(cfg.proxy),
        "shim": shim,
        "netmon": _plain(cfg.netmon),
    }
