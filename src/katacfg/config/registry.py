"""The option registry: every configuration key and annotation of Kata 1.x, written once.

Each section of the configuration is an immutable record (katacfg.config.records) whose fields
carry an `Option` in their metadata (Go type, default, which hypervisors read it, one-line doc, annotation).
Decoding, defaults, the annotation overlay, lint, the reports and the embedded
configuration's comments all read these fields; no other module lists keys.

A section built with no arguments holds Go's zero values, which is exactly what the
reference holds for a section it never filled.
"""
from __future__ import annotations

from katacfg.config.records import Field, Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Prefixes of the io.katacontainers.* annotation families.
KATA_PREFIX = "io.katacontainers."
HYPERVISOR_PREFIX = "io.katacontainers.config.hypervisor."
RUNTIME_PREFIX = "io.katacontainers.config.runtime."
AGENT_PREFIX = "io.katacontainers.config.agent."
PREFIXES = {"hypervisor": HYPERVISOR_PREFIX, "runtime": RUNTIME_PREFIX, "agent": AGENT_PREFIX}

# Go's zero value of each Go type the registry uses: what Go holds for an absent key.
GO_ZERO: dict[str, Any] = {"string": "", "bool": False, "int32": 0, "uint32": 0, "uint": 0,
                           "[]string": ()}
SAME = "<the default>"  # Option.builtin: the built-in value is the option's default


class Annotation(Record):
    """How an io.katacontainers.* annotation sets an option (spec/annotations.md 5)."""

    kind: str  # bool | uint32 | string | nonempty | restricted | enum | params | split | ignored
    error: str = ""  # the reference's refusal; {v} = value, {err} = Go strconv error text
    order: int = 0  # application order (spec 5: groups, then rows)
    suffix: str = ""  # name after the family prefix; the option's key unless stated
    allowlist: str = ""  # restricted: key of the glob list the value must match
    asset: str = ""  # asset kind of the assets stage (spec 7); its hash is `<asset>_hash`
    choices: Any = ()  # enum: accepted values, or a mapping value -> stored value; split: each
    sep: str = ""  # split: separator
    zero_keeps: bool = False  # uint32: 0 leaves the loaded value unchanged
    nonzero: bool = False  # uint32: 0 is refused with `error`
    check: str = ""  # extra named check (vcpus, maxvcpus, virtio_fs)
    family: str = ""  # hypervisor | runtime | agent, filled from the section
    target: str = ""  # key of the option it sets, filled from the field
    name: str = ""  # full annotation name, filled from family and suffix


class Adjustment(Record):
    """Why loading changed a value the file gave: a clamp, or zero meaning the default."""

    # "clamp": the value is limited; "default": zero means the default; "host": zero asks for
    # a host fact (the documented way to say "all host CPUs", nothing to warn about)
    kind: str
    reason: str = ""  # clamp: why, e.g. "at most 5 PCI bridges"
    hint: str | None = None


if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    S = TypeVar("S", bound=Record)

    # normalise(value, default, host, hypervisor profile or None) -> (value, adjustment or None)
    Normaliser = Callable[[Any, Any, Any, Any], tuple[Any, Adjustment | None]]


class Option(Record):
    """One configuration key: all it takes to decode, default, normalise, report and override it.

    `hypervisors` None means every hypervisor of the profile reads the key (hypervisor
    section only); `normalise` turns the decoded value (Go's zero when absent) into the
    loaded one and says why it changed; `builtin` is the value when the file has no table
    at all (Go's built-in defaults); `env` is the field's name in the kata-env report.
    """

    gotype: str  # string | bool | int32 | uint32 | uint | []string
    default: Any  # value after loading when the key is absent or zero
    doc: str
    hypervisors: tuple[str, ...] | None = None
    normalise: Normaliser | None = None
    toml: bool = True  # False: no TOML key (runtime-computed or annotation-only)
    annotation: Annotation | None = None
    env: str = ""  # kata-env report field name, when the report shows it
    builtin: Any = None  # None: Go's zero value; SAME: the default
    key: str = ""  # filled from the field name
    section: str = ""  # filled by @section

    def read_by(self, hypervisor_type: str) -> bool:
        return self.hypervisors is None or hypervisor_type in self.hypervisors

    @property
    def zero(self) -> Any:
        """Go's zero value of the key's type."""
        return GO_ZERO[self.gotype]

    @property
    def builtin_value(self) -> Any:
        if self.builtin is None:
            return self.zero
        return self.default if self.builtin == SAME else self.builtin


def opt(gotype: str, default: Any, doc: str, *, zero: Any = None, **kw: Any) -> Any:
    """A record field carrying an Option; its default is Go's zero value.

    The Option itself is built once by @section, which knows its key and section: the
    registry is built at every start-up, and building each record twice (then `replace`)
    cost kata-check about a tenth of a millisecond per section."""
    if zero is None:
        zero = GO_ZERO.get(gotype)
    # (gotype, default, doc, keyword fields) until @section builds the Option
    return Field(zero, {"option": (gotype, default, doc, kw)})


def ann(kind: str, error: str = "", order: int = 0, **kw: Any) -> Any:
    """An option's annotation (Annotation's fields; target, family and name are filled by
    @section from the field and its section)."""
    return (kind, error, order, kw)


# Records built in bulk by @section, without __init__ (the registry is built at every
# start-up): a declaration with a field the record does not have makes a dict of another size
_OPTION_DEFAULTS = Option.DEFAULTS
_N_OPTION = len(Option.DEFAULTS)
_ANNOTATION_DEFAULTS = Annotation.DEFAULTS
_N_ANNOTATION = len(Annotation.DEFAULTS)
_new = object.__new__
_set = object.__setattr__


def section(name: str) -> Callable[[type[S]], type[S]]:
    """Class decorator: build each field's Option, bound to its key and section."""

    def bind(cls: type[S]) -> type[S]:
        options: list[Option] = []
        for key in cls.FIELDS:
            meta = cls.METADATA[key]
            spec = meta.get("option")
            if spec is None:
                continue
            if type(spec) is Option:  # inherited from a section already built
                options.append(spec if spec.section == name else spec.replace(section=name))
                continue
            gotype, default, doc, kw = spec
            values = {**_OPTION_DEFAULTS, **kw, "gotype": gotype, "default": default,
                      "doc": doc, "key": key, "section": name}
            if len(values) != _N_OPTION:
                _unknown(cls, key, "Option", kw, _OPTION_DEFAULTS)
            a = kw.get("annotation")
            if a is not None:
                kind, error, order, akw = a
                family = akw.get("family") or name
                suffix = akw.get("suffix") or key
                avalues = {**_ANNOTATION_DEFAULTS, **akw, "kind": kind,
                           "error": error.replace("{suffix}", suffix) if error else error,
                           "order": order, "target": key, "family": family,
                           "suffix": suffix,
                           "name": PREFIXES[family] + suffix}
                if len(avalues) != _N_ANNOTATION:
                    _unknown(cls, key, "Annotation", akw, _ANNOTATION_DEFAULTS)
                values["annotation"] = ann_record = _new(Annotation)
                _set(ann_record, "__dict__", avalues)
            o = _new(Option)
            _set(o, "__dict__", values)
            meta["option"] = o
            options.append(o)
        cls.OPTIONS = tuple(options)  # type: ignore[attr-defined]
        return cls

    return bind


def _unknown(cls: type, key: str, what: str, given: dict[str, Any],
             known: dict[str, Any]) -> None:
    raise TypeError(f"{cls.__name__}.{key}: unknown {what} field(s) "
                    f"{', '.join(sorted(given.keys() - known.keys()))}")


# Experimental features of the 1.x runtime: name -> (description, release it targets).
EXPERIMENTAL_FEATURES: dict[str, tuple[str, str]] = {
    "newstore": (
        "This is a new storage driver which reorganized disk data structures, it has to be "
        "an experimental feature since it breaks backward compatibility.",
        "2.0",
    ),
}
