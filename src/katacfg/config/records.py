"""Immutable records: what katacfg needs of dataclasses, without their start-up cost.

Importing `dataclasses` (and with it `inspect`, `ast`, `dis`) and building a class with it
costs tens of milliseconds, which `katacfg kata-env` cannot afford. A Record subclass
declares its fields as annotated class attributes, in order; the value of each is its
default (or `field(default, metadata=...)`), none means required. Instances keep their
values in a plain `__dict__` built in one step, refuse attribute assignment, and compare,
hash and print by field. Type checkers see them as frozen dataclasses (PEP 681).
"""
from __future__ import annotations

TYPE_CHECKING = False  # `typing` costs milliseconds at start-up; type checkers see True
if TYPE_CHECKING:
    from typing import Any, TypeVar, dataclass_transform

    R = TypeVar("R", bound="Record")
else:
    def dataclass_transform(**_kw):  # noqa: D103 - runtime no-op of typing.dataclass_transform
        return lambda cls: cls


class _Required:
    def __repr__(self) -> str:
        return "<required>"


REQUIRED: Any = _Required()
_ABSENT: Any = object()


class Field:
    """A field's default and metadata (the registry keeps its Option here)."""

    __slots__ = ("default", "metadata")

    def __init__(self, default: Any = REQUIRED, metadata: dict[str, Any] | None = None) -> None:
        self.default = default
        self.metadata = metadata or {}


def field(default: Any = REQUIRED, *, metadata: dict[str, Any] | None = None) -> Any:
    """A field with metadata, as dataclasses.field(default=..., metadata=...)."""
    return Field(default, metadata)


@dataclass_transform(eq_default=True, frozen_default=True, field_specifiers=(field,))
class Record:
    """Base of immutable records; see the module docstring."""

    FIELDS: tuple[str, ...] = ()
    DEFAULTS: dict[str, Any] = {}
    METADATA: dict[str, dict[str, Any]] = {}
    _REQUIRED: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        ns = cls.__dict__
        names = list(cls.FIELDS)
        known = set(names)
        defaults = dict(cls.DEFAULTS)
        metadata = dict(cls.METADATA)
        declared = []
        for name in ns.get("__annotations__", ()):
            if name[0] == "_" or name.isupper():
                continue  # class-level constants (FIELDS, OPTIONS, ...)
            value = ns.get(name, _ABSENT)
            if value is _ABSENT:
                default, meta = REQUIRED, {}
            else:
                declared.append(name)
                if type(value) is Field:
                    default, meta = value.default, value.metadata
                else:
                    default, meta = value, {}
            if name not in known:
                names.append(name)
                known.add(name)
            defaults[name] = default
            metadata[name] = meta
        for name in declared:
            delattr(cls, name)  # the instance's __dict__ holds every value
        cls.FIELDS = tuple(names)
        cls.DEFAULTS = defaults
        cls.METADATA = metadata
        cls._REQUIRED = tuple(n for n in names if defaults[n] is REQUIRED)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not kwargs and len(args) == len(self.FIELDS):  # every field, in order: no checks
            self.__dict__.update(zip(self.FIELDS, args))
            return
        values = self.DEFAULTS.copy()
        if args:
            if len(args) > len(self.FIELDS):
                raise TypeError(f"{type(self).__name__}() takes at most {len(self.FIELDS)} "
                                "positional values")
            values.update(zip(self.FIELDS, args))
        if kwargs:
            if not kwargs.keys() <= values.keys():
                unknown = ", ".join(sorted(kwargs.keys() - values.keys()))
                raise TypeError(f"{type(self).__name__}() got unexpected field(s) {unknown}")
            values.update(kwargs)
        for name in self._REQUIRED:
            if values[name] is REQUIRED:
                raise TypeError(f"{type(self).__name__}() is missing {name!r}")
        object.__setattr__(self, "__dict__", values)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable (use .replace())")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash(tuple(self.__dict__.values()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={self.__dict__[n]!r}" for n in self.FIELDS)
        return f"{type(self).__name__}({inner})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.__dict__.copy()))

    def replace(self: R, **changes: Any) -> R:
        """A copy with some fields changed (dataclasses.replace)."""
        values = self.__dict__.copy()
        if not changes.keys() <= values.keys():
            unknown = ", ".join(sorted(changes.keys() - values.keys()))
            raise TypeError(f"{type(self).__name__} has no field(s) {unknown}")
        values.update(changes)
        new = object.__new__(type(self))
        object.__setattr__(new, "__dict__", values)
        return new

    def as_dict(self) -> dict[str, Any]:
        """The fields and their values, in declaration order."""
        return self.__dict__.copy()


def _rebuild(cls: type[Record], values: dict[str, Any]) -> Record:
    new = object.__new__(cls)
    object.__setattr__(new, "__dict__", values)
    return new
