"""Human view of `katacfg resolve`: what each annotation did, then the effective values."""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from katacfg.config.model import AnnotationOutcome, Config
from katacfg.profiles.kata1x.options import ASSET_HASH_TYPE_ANNOTATION
from katacfg.reports.resolve_json import contract_dict


def hash_annotations(profile: Any) -> dict[str, str]:
    from katacfg.config.overlay import hash_annotations as names

    return names(profile)


def _fmt(value: Any) -> str:
    if isinstance(value, tuple):
        if value and isinstance(value[0], tuple):  # kernel parameters
            from katacfg.config.model import serialize_kernel_params

            return repr(serialize_kernel_params(value))
        return repr(list(value))
    return repr(value)


def outcome_lines(outcomes: tuple[AnnotationOutcome, ...]) -> list[str]:
    """One line per annotation: applied (old -> new), refused (why), ignored (why)."""
    width = max(len(o.name) for o in outcomes)
    lines = []
    for o in outcomes:
        if o.status == "applied" and o.key:
            what = f"{_fmt(o.old)} -> {_fmt(o.new)}"
            if o.reason:
                what += f"  ({o.reason})"
        else:
            what = o.reason
        lines.append(f"  {o.status:11} {o.name:{width}}  {what}")
    return lines


def human_view(cfg: Config, host: Any) -> str:
    lines = [
        f"configuration: {cfg.path}",
        f"front end:     {cfg.mode}  (host: {host.cpus} CPUs, "
        f"/dev/vhost-vsock {'present' if host.vhost_vsock else 'absent'})",
        f"hypervisor:    {cfg.hypervisor_type}",
        f"container:     {cfg.container_type}",
    ]
    if cfg.annotations:
        lines.append("")
        lines.append("annotations:")
        lines += outcome_lines(cfg.annotations)
        names = {o.name for o in cfg.annotations}
        if ASSET_HASH_TYPE_ANNOTATION in names or names & set(hash_annotations(cfg.kata)):
            lines.append("  note: Kata 1.x ignores asset_hash_type; asset hashes are always "
                         "SHA-512 (lower-case hex)")
    else:
        lines.append("annotations:   none")
    lines.append("")
    lines.append("effective configuration:")
    data = contract_dict(cfg)
    for section in ("hypervisor", "agent", "runtime", "factory", "proxy", "shim", "netmon"):
        lines.append(f"  [{section}]")
        for key, value in data[section].items():
            if isinstance(value, str) or isinstance(value, bool) or isinstance(value, int):
                shown = repr(value) if isinstance(value, str) else str(value).lower() \
                    if isinstance(value, bool) else str(value)
            else:
                shown = repr(value)
            lines.append(f"    {key} = {shown}")
    problems = [d for d in cfg.diagnostics if d.severity in ("error", "warning")]
    if problems:
        lines.append("")
        lines.append("warnings (Kata says nothing of these):")
        for d in problems:
            lines.append(f"  {d.render()}")
    return "\n".join(lines) + "\n"
