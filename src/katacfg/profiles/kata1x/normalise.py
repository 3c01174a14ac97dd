"""Kata 1.x's per-key normalisers: defaults and clamps that cannot fail (spec 4.2, 4.4).

Each is `normalise(value, default, host, hypervisor) -> (value, adjustment)`: `value` is
what the decoder gave (Go's zero value for an absent key), `default` the option's default
for this hypervisor, `hypervisor` the HypervisorProfile (None outside [hypervisor]). The
Adjustment says why a value the file gave was changed; lint reports it as it is.
"""
from __future__ import annotations

from katacfg.config.registry import Adjustment

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_ZERO_MEANS_DEFAULT = Adjustment("default")


def or_default(value: Any, default: Any, host: Any, hv: Any) -> tuple[Any, Adjustment | None]:
    """Zero means the default; an explicit 0 is reported (an empty string just means unset)."""
    if value or not default:
        return value, None
    if isinstance(value, int) and not isinstance(value, bool):
        return default, _ZERO_MEANS_DEFAULT
    return default, None


def clamp_vcpus(value: int, default: int, host: Any, hv: Any) -> tuple[int, Adjustment | None]:
    """default_vcpus: below 0 or above the host's CPUs means all host CPUs; 0 means 1."""
    n = host.cpus
    hint = f"set default_vcpus between 1 and {n} on this host"
    if value < 0:
        return n, Adjustment("clamp", "negative means all host CPUs", hint)
    if value > n:
        return n, Adjustment("clamp", f"more than the host's {n} CPUs", hint)
    if value == 0:
        return default, Adjustment("clamp", f"0 means {default}", hint)
    return value, None


def clamp_max_vcpus(value: int, default: int, host: Any,
                    hv: Any) -> tuple[int, Adjustment | None]:
    """default_maxvcpus: 0 or at least the host's CPUs means the host's CPUs, then the
    hypervisor's maximum."""
    n = host.cpus
    loaded = n if value == 0 or value >= n else value
    if hv is not None and hv.max_vcpus:
        loaded = min(loaded, hv.max_vcpus)
    if value == loaded:
        return loaded, None
    if value == 0:
        return loaded, Adjustment("host", f"0 means the host's {n} CPUs")
    limit = f" and {hv.max_vcpus}" if hv is not None and hv.max_vcpus else ""
    return loaded, Adjustment("clamp", f"at most the host's {n} CPUs{limit}")


def at_most(limit: int, what: str) -> Any:
    """Zero means the default; above `limit` means `limit`."""

    def normalise(value: int, default: int, host: Any, hv: Any) -> tuple[int, Adjustment | None]:
        if value > limit:
            return limit, Adjustment("clamp", f"at most {limit} {what}")
        return or_default(value, default, host, hv)

    return normalise


def comma_list(value: str, default: str, host: Any, hv: Any) -> tuple[str, None]:
    """Comma-separated items, trimmed, empty ones dropped (machine_accelerators, cpu_features)."""
    items = [item.strip() for item in value.split(",") if item != ""]
    return ",".join(items).strip(","), None


def kernel_params(value: str, default: Any, host: Any, hv: Any) -> tuple[Any, None]:
    """Go DeserializeParams(strings.Fields(text))."""
    from katacfg.config.model import deserialize_kernel_params

    return deserialize_kernel_params(value), None


def mapped(table: dict[str, str], fallback: str) -> Any:
    """A value looked up in `table` (unknown values are refused by a load step)."""

    def normalise(value: str, default: str, host: Any, hv: Any) -> tuple[str, None]:
        return table.get(value, fallback), None

    return normalise
