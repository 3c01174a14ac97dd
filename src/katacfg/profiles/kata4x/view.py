"""Human view of a 4.x configuration: every value, and with --origins where it came from."""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from katacfg.profiles.kata4x.load import Config4x


def _show(value: object) -> str:
    from katacfg.config.model import serialize_kernel_params

    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return repr(serialize_kernel_params(value))  # kernel parameters
    if isinstance(value, tuple):
        return repr(list(value))
    return repr(value)


def human_view(cfg: Config4x, *, origins: bool = False, only: str | None = None) -> str:
    lines = [f"Kata 4.x configuration ({cfg.container_type}), hypervisor {cfg.hypervisor_type}",
             "files: " + ", ".join(cfg.files)]
    for section in ("hypervisor", "agent", "runtime", "factory"):
        values = getattr(cfg, section)
        keys = [k for k in values if not only or only in (k, f"{section}.{k}")]
        if not keys:
            continue
        lines.append(f"[{section}]")
        for key in keys:
            value = cfg.custom_assets.get(key, values[key]) if section == "hypervisor" \
                else values[key]
            text = f"  {key} = {_show(value)}"
            if origins:
                prov = cfg.origins.get((section, key))
                if prov is not None:
                    text += f"    # {prov.describe()}"
            lines.append(text)
    if cfg.annotations:
        lines.append("annotations:")
        for a in cfg.annotations:
            lines.append(f"  {a.status:<9} {a.name}={a.value!r}" + (f"  ({a.reason})"
                                                                     if a.reason else ""))
    return "\n".join(lines) + "\n"
