"""What Kata 2.x and later read that Kata 1.x does not, as the 1.x profile asks it.

Nothing here is a list of its own: every answer is read from the 4.x profile's registry
(options.SECTIONS and HYPERVISORS, annotations.ANNOTATIONS), so a key added there is known
here too. The 1.x decoder, loader and overlay ask these questions only about names they do
not know, to say "a Kata 2.x+ key" instead of guessing a typo.
"""
from __future__ import annotations

from katacfg.profiles.kata4x import options as o

GENERATION = "Kata 2.x+"
HINT = ("`--profile 4.x` reads the file as Kata 4.1.0 does; for Kata 1.x, remove what it "
        "does not know")


def later_key(section: str, key: str) -> bool:
    """`key` of a [section] or [section.<name>] table is one Kata 4.x reads."""
    entry = o.SECTIONS.get(section)
    return entry is not None and key in entry[1]


def later_hypervisor(name: str) -> bool:
    """[hypervisor.<name>] is a hypervisor table Kata 4.x knows."""
    return name in o.HYPERVISORS


def later_annotation(name: str) -> str | None:
    """What the annotation does in Kata 4.x ("sets hypervisor.default_maxmemory: ..."),
    or None when 4.x does not know it either."""
    from katacfg.profiles.kata4x.annotations import ANNOTATIONS

    entry = ANNOTATIONS.get(name)
    if entry is None:
        return None
    target, meaning = entry
    return f"sets {target}: {meaning}" if target else meaning


def later_type(section: str, key: str) -> str | None:
    """The key's Go type in Kata 4.x (e.g. default_vcpus: float32), None if 4.x lacks it."""
    entry = o.SECTIONS.get(section)
    return entry[1].get(key) if entry is not None else None


def float_form_hint(section: str, key: str) -> str | None:
    """Why a fractional value is refused by 1.x but read by 4.x (default_vcpus = 0.75)."""
    if later_type(section, key) == "float32":
        return (f"{GENERATION} reads {key} as a float (0.75 CPU is allowed there); Kata 1.x "
                "needs a whole number")
    return None


def summary(keys: list[str]) -> str:
    """The one verdict line for a file with keys only Kata 2.x and later read."""
    n = len(keys)
    shown = ", ".join(f"`{k}`" for k in keys[:4]) + (", ..." if n > 4 else "")
    what = (f"a {GENERATION} configuration: Kata 1.x ignores these {n} keys" if n >= 3
            else f"Kata 1.x ignores {'this' if n == 1 else 'these'} {GENERATION} "
                 f"key{'s' if n > 1 else ''}")
    return f"{what} ({shown}): they are keys of Kata 2.0 and later, not typos"
