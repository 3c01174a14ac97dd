"""Effective configurations as flat `section.key -> (value, origin)` maps, and their diff.

Both profiles flatten to the same shape, so `katacfg diff` compares two files, one file
under the 1.x and the 4.x rules, or a file with and without its config.d drop-ins.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Flat = dict[str, tuple[Any, str]]  # "section.key" -> (value, where it came from)


def flatten_4x(cfg: Any) -> Flat:
    from katacfg.profiles.kata4x.pipeline import contract_dict

    data = contract_dict(cfg)
    out: Flat = {"hypervisor_type": (data["hypervisor_type"], "the [hypervisor.*] table")}
    for section in ("hypervisor", "agent", "runtime", "factory"):
        for key, value in data[section].items():
            prov = cfg.origins.get((section, key))
            out[f"{section}.{key}"] = (value, prov.describe() if prov else "default")
    out.pop("hypervisor.kernel_params_pairs", None)
    return out


def flatten_1x(cfg: Any) -> Flat:
    from katacfg.reports.resolve_json import contract_dict

    data = contract_dict(cfg)
    out: Flat = {"hypervisor_type": (data["hypervisor_type"], "the [hypervisor.*] table")}
    for section in ("hypervisor", "agent", "runtime", "factory", "proxy", "shim", "netmon"):
        table = cfg.hypervisor_type if section == "hypervisor" else None
        for key, value in data.get(section, {}).items():
            path = (section, table, key) if table else (section, key)
            pos = cfg.positions.get(path)
            if pos is None and section in ("agent", "proxy", "shim"):
                pos = cfg.positions.get((section, "kata", key))
            origin = f"{cfg.path}:{pos[0]}" if pos else "default"
            out[f"{section}.{key}"] = (value, origin)
    return out


def diff(a: Flat, b: Flat) -> list[tuple[str, Any, str, Any, str]]:
    """(key, value A, origin A, value B, origin B) for every key whose values differ; a
    key only one side has shows `<absent>` on the other."""
    rows = []
    absent = "<absent>"
    for key in list(a) + [k for k in b if k not in a]:
        va, oa = a.get(key, (absent, ""))
        vb, ob = b.get(key, (absent, ""))
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (va, vb))
        if va != vb or (type(va) is not type(vb) and not numbers):
            rows.append((key, va, oa, vb, ob))
    return rows
