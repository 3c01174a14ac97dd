"""The option registry: every configuration key and annotation of Kata 1.x, written once.

Each section of the configuration is an immutable record (katacfg.records) whose fields
carry an `Option` in their metadata (Go type, default, which hypervisors read it, one-line doc, annotation).
Decoding, defaults, the annotation overlay, lint, the reports and the embedded
configuration's comments all read these fields; no other module lists keys.

A section built with no arguments holds Go's zero values, which is exactly what the
reference holds for a section it never filled.
"""
from __future__ import annotations

from katacfg.records import Record, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Prefixes of the io.katacontainers.* annotation families.
KATA_PREFIX = "io.katacontainers."
HYPERVISOR_PREFIX = "io.katacontainers.config.hypervisor."
RUNTIME_PREFIX = "io.katacontainers.config.runtime."
AGENT_PREFIX = "io.katacontainers.config.agent."
PREFIXES = {"hypervisor": HYPERVISOR_PREFIX, "runtime": RUNTIME_PREFIX, "agent": AGENT_PREFIX}

HYPERVISOR_TYPES = ("qemu", "firecracker", "acrn", "clh")
_LETTER = {"Q": "qemu", "F": "firecracker", "A": "acrn", "C": "clh"}


class Annotation(Record):
    """How an io.katacontainers.* annotation sets an option (spec/annotations.md 5)."""

    suffix: str  # name after the family prefix
    kind: str  # bool | uint32 | string | nonempty | restricted | enum | params | split | ignored
    error: str = ""  # the reference's refusal; {v} = value, {err} = Go strconv error text
    order: int = 0  # application order (spec 5: groups, then rows)
    allowlist: str = ""  # restricted: key of the glob list the value must match
    asset: str = ""  # also an asset of the assets stage (spec 7)
    choices: tuple[str, ...] = ()  # enum: accepted values
    sep: str = ""  # split: separator
    zero_keeps: bool = False  # uint32: 0 leaves the loaded value unchanged
    nonzero: bool = False  # uint32: 0 is refused with `error`
    check: str = ""  # extra named check (vcpus, maxvcpus, virtio_fs)
    family: str = ""  # hypervisor | runtime | agent, filled from the section
    target: str = ""  # key of the option it sets, filled from the field
    gated: bool = False  # hypervisor family: name must pass enable_annotations
    name: str = ""  # full annotation name, filled from family and suffix


class Option(Record):
    """One configuration key: its Go type, default and meaning."""

    gotype: str  # string | bool | int32 | uint32 | uint | []string
    default: Any  # value after loading when the key is absent or zero
    doc: str
    readers: str = "QFAC"  # hypervisor section: letters of the hypervisors that read it
    toml: bool = True  # False: no TOML key (runtime-computed or annotation-only)
    annotation: Annotation | None = None
    key: str = ""  # filled from the field name
    section: str = ""  # filled by @section

    def read_by(self, hypervisor_type: str) -> bool:
        return any(_LETTER[c] == hypervisor_type for c in self.readers)


def opt(gotype: str, default: Any, doc: str, *, zero: Any = None, **kw: Any) -> Any:
    """A record field carrying an Option; its default is Go's zero value."""
    if zero is None:
        zero = {"string": "", "bool": False, "int32": 0, "uint32": 0, "uint": 0,
                "[]string": ()}.get(gotype, None)
    option = Option(gotype, default, doc, **kw)
    return field(zero, metadata={"option": option})


def section(name: str):  # type: ignore[no-untyped-def]
    """Class decorator: bind each field's Option to its key and section."""

    def bind(cls):  # type: ignore[no-untyped-def]
        options: list[Option] = []
        for key in cls.FIELDS:
            o = cls.METADATA[key].get("option")
            if o is None:
                continue
            ann = o.annotation
            if ann is not None:
                family = ann.family or name
                ann = ann.replace(target=key, family=family, gated=family == "hypervisor",
                                  name=PREFIXES[family] + ann.suffix)
            o = o.replace(key=key, section=name, annotation=ann)
            cls.METADATA[key]["option"] = o
            options.append(o)
        cls.OPTIONS = tuple(options)
        return cls

    return bind


# Experimental features of the 1.x runtime: name -> (description, release it targets).
EXPERIMENTAL_FEATURES: dict[str, tuple[str, str]] = {
    "newstore": (
        "This is a new storage driver which reorganized disk data structures, it has to be "
        "an experimental feature since it breaks backward compatibility.",
        "2.0",
    ),
}
