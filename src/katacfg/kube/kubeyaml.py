"""One YAML document decoded as kubectl decodes it (sigs.k8s.io/yaml over go-yaml v2), bounded.

The document is built straight from the parser's events (libyaml's when present), never
from a composed node graph, so that cost is linear in the input:

- an alias is the anchored value itself (shared, not copied), and counted as go-yaml counts
  it: every decoded node is one operation, an alias adds the node count of its anchor to
  both the operation and the alias counters, and the document is refused with go-yaml's
  `document contains excessive aliasing` when aliases make up more than the allowed ratio
  (99% for small documents, falling to 10% between 400,000 and 4,000,000 operations);
- nesting deeper than go-yaml's 10,000 levels is refused (`exceeded max depth of 10000`);
- more than MAX_NODES parsed nodes in one document is refused (a memory bound of ours).

Scalars are resolved as go-yaml v2 resolves them for `interface{}` (`y`/`n` are booleans,
timestamps stay strings, `!!binary` is base64-decoded). Every mapping is a plain dict;
`Info` records where its keys are, and what the API server would object to (duplicate keys,
non-string keys, values that were not plain strings).
"""
from __future__ import annotations

import re

TYPE_CHECKING = False  # `typing` costs explain's start-up milliseconds
if TYPE_CHECKING:
    from typing import Any

__all__ = ["DocumentError", "Info", "load_document", "MAX_DEPTH", "MAX_NODES", "go_yaml_tag"]

MAX_DEPTH = 10_000  # go-yaml v2: max_flow_level / max_indents
MAX_NODES = 400_000  # ours: nodes parsed from one document (aliases excluded)

# go-yaml v2 decode.go: alias expansion allowance.
_RATIO_LOW = 400_000
_RATIO_HIGH = 4_000_000

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
MERGE = "tag:yaml.org,2002:merge"
BINARY = "tag:yaml.org,2002:binary"
TIMESTAMP = "tag:yaml.org,2002:timestamp"

# go-yaml v2 resolve table (resolve.go): plain scalars that are not strings.
GO_BOOL = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"),
                    True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off",
                     "OFF"), False),
}
_GO_NULL = frozenset(("", "~", "null", "Null", "NULL"))
GO_SPECIAL_FLOAT = {
    ".inf": float("inf"), ".Inf": float("inf"), ".INF": float("inf"),
    "+.inf": float("inf"), "+.Inf": float("inf"), "+.INF": float("inf"),
    "-.inf": float("-inf"), "-.Inf": float("-inf"), "-.INF": float("-inf"),
    ".nan": float("nan"), ".NaN": float("nan"), ".NAN": float("nan"),
}
# strconv.ParseInt(s, 0, 64) after go-yaml removed every "_".
_GO_INT_RE = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)\Z")
# go-yaml's yamlStyleFloat, tried after the integer forms.
_GO_FLOAT_RE = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_GO_DOT_FLOAT_RE = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?\Z")
_NUMERIC_START = frozenset("0123456789+-")
# First characters of the plain scalars go-yaml may resolve to something else than a string.
_SPECIAL = frozenset("yYnNtTfFoO.0123456789+-<~")
_SHORT_TAGS = {"!!str": STR, "!!int": INT, "!!float": FLOAT, "!!bool": BOOL, "!!null": NULL,
               "!!binary": BINARY, "!!timestamp": TIMESTAMP, "!!merge": MERGE}


def go_yaml_tag(value: str) -> str:
    """The tag go-yaml v2 gives a plain scalar when decoding into interface{}."""
    if not value or value in _GO_NULL:
        return NULL
    first = value[0]
    if first in "yYnNtTfFoO":
        return BOOL if value in GO_BOOL else STR
    if first == ".":
        if value in GO_SPECIAL_FLOAT:
            return FLOAT
        return FLOAT if _GO_DOT_FLOAT_RE.match(value) else STR
    if first in _NUMERIC_START:
        if value in GO_SPECIAL_FLOAT:
            return FLOAT
        plain = value.replace("_", "") if "_" in value else value
        if _GO_INT_RE.match(plain):
            return INT
        if _GO_FLOAT_RE.match(plain):
            return FLOAT
        return STR  # timestamps included: go-yaml keeps them as strings for interface{}
    if first == "<" and value == "<<":
        return MERGE
    return STR


class DocumentError(Exception):
    """A document kubectl cannot decode, or one beyond katacfg's bounds.

    `line`/`column` are 0-based within the text given to load_document."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.hint = hint


class Info:
    """Where a mapping's keys are (0-based lines), and what was odd about its entries."""

    __slots__ = ("line", "keys", "raw", "odd")

    def __init__(self, line: int) -> None:
        self.line = line
        self.keys: dict[Any, int] = {}  # key -> line of the key
        # key -> (source text, tag, line) of a value that was not a plain string
        self.raw: dict[Any, tuple[str, str, int]] | None = None
        # (what, key shown, line): "duplicate" | "key-type:<json kind>" | "key-unsupported"
        self.odd: list[tuple[str, str, int]] | None = None

    def note(self, what: str, key: str, line: int) -> None:
        if self.odd is None:
            self.odd = []
        self.odd.append((what, key, line))


class _BadKey:
    """A mapping key sigs.k8s.io/yaml cannot turn into a JSON key (a list, a map, null)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


_NO_KEY = object()


def _allowed_alias_ratio(count: int) -> float:
    if count <= _RATIO_LOW:
        return 0.99
    if count >= _RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * ((count - _RATIO_LOW) / (_RATIO_HIGH - _RATIO_LOW))


def _scalar(value: str, tag: str | None, implicit: tuple[bool, bool], line: int, col: int
            ) -> tuple[Any, str]:
    """(Python value, resolved tag) of a scalar event, as go-yaml v2 decodes it."""
    if tag is None or tag == "!":
        if not implicit[0] or tag == "!":
            return value, STR
        rtag = go_yaml_tag(value)
    else:
        rtag = _SHORT_TAGS.get(tag, tag)
        if rtag == STR:
            return value, STR
        if rtag == BINARY:
            import base64
            import binascii

            try:
                data = base64.b64decode("".join(value.split()), validate=True)
            except (binascii.Error, ValueError):
                raise DocumentError("yaml: !!binary value contains invalid base64 data",
                                    line, col) from None
            return data.decode("utf-8", "replace"), BINARY
        if rtag in (INT, FLOAT, BOOL, NULL):
            got = go_yaml_tag(value)
            if got != rtag and not (rtag == FLOAT and got == INT):
                short = "!!" + rtag.rsplit(":", 1)[-1]
                raise DocumentError(f"yaml: cannot decode !!str `{value[:40]}` as a {short}",
                                    line, col)
        elif rtag == TIMESTAMP:
            return value, STR
        else:
            return value, STR  # a local tag (!foo): go-yaml keeps the text
    if rtag == STR:
        return value, STR
    if rtag == NULL:
        return None, NULL
    if rtag == BOOL:
        return GO_BOOL[value], BOOL
    if rtag == INT:
        text = value.replace("_", "")
        try:
            return int(text, 0), INT
        except ValueError:
            digits = text.lstrip("+-")
            if digits[:1] == "0" and digits.isdigit():  # Go's legacy octal: 0755
                try:
                    return int(text, 8), INT
                except ValueError:
                    return float(text), FLOAT
            return value, STR
    if rtag == FLOAT:
        special = GO_SPECIAL_FLOAT.get(value)
        if special is not None:
            return special, FLOAT
        try:
            return float(value.replace("_", "")), FLOAT
        except ValueError:
            return value, STR
    return value, rtag  # MERGE


def _key_text(key: Any) -> str:
    """The JSON key sigs.k8s.io/yaml makes of a scalar key."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float):
        return repr(key) if key == key and key not in (float("inf"), float("-inf")) else (
            "NaN" if key != key else ("+Inf" if key > 0 else "-Inf"))
    return str(key)


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "null" if value is None else "string"


def _event_source(text: str) -> Any:
    try:
        from yaml._yaml import CParser  # libyaml
    except ImportError:
        import yaml

        return yaml.SafeLoader(text)  # pure Python: also an event source (get_event)
    return CParser(text)


def load_document(text: str) -> tuple[Any, dict[int, Info]]:
    """The value of the single YAML document in `text`, and an Info per mapping (by id).

    Raises DocumentError (ours or go-yaml's refusals) or yaml.YAMLError (syntax).
    """
    parser = _event_source(text)
    try:
        return _Builder().run(parser.get_event)
    finally:
        parser.dispose()


_TOO_MANY = "katacfg reads at most this many; split the document"


class _Builder:
    """Values from parser events, counted as go-yaml counts them (see the module doc)."""

    def __init__(self) -> None:
        self.infos: dict[int, Info] = {}
        self.anchors: dict[str, tuple[Any, int]] = {}  # name -> (value, node count)
        self.open_anchors: set[str] = set()
        # frame: [container, info-or-None, pending key, anchor, count at start, key line]
        self.stack: list[list[Any]] = []
        self.count = 0  # decode operations, aliases expanded (go-yaml's decodeCount)
        self.alias_count = 0
        self.parsed = 0  # nodes really parsed
        self.root: Any = None
        self.documents = 0

    def run(self, get: Any) -> tuple[Any, dict[int, Info]]:
        """The event loop; the common case (a string scalar into a mapping) inline."""
        from yaml.events import (
            AliasEvent,
            DocumentStartEvent,
            MappingEndEvent,
            MappingStartEvent,
            ScalarEvent,
            SequenceEndEvent,
            SequenceStartEvent,
            StreamEndEvent,
        )

        stack = self.stack
        while True:
            ev = get()
            cls = ev.__class__
            raw = None
            if cls is ScalarEvent:
                self.count += 1
                self.parsed += 1
                mark = ev.start_mark
                if self.parsed > MAX_NODES:
                    raise DocumentError(f"more than {MAX_NODES} YAML nodes in one document",
                                        mark.line, mark.column, _TOO_MANY)
                value = raw = ev.value
                if ev.tag is None and (not ev.implicit[0] or (value and value[0] not in _SPECIAL)):
                    tag: str | None = STR  # quoted, or plainly a string: the common case
                else:
                    value, tag = _scalar(value, ev.tag, ev.implicit, mark.line, mark.column)
                if ev.anchor is not None:
                    self.anchors[ev.anchor] = (value, 1)
            elif cls is MappingStartEvent or cls is SequenceStartEvent:
                self.start(ev, cls is MappingStartEvent)
                continue
            elif cls is MappingEndEvent or cls is SequenceEndEvent:
                value, tag, mark = self.end(), None, ev.start_mark
            elif cls is AliasEvent:
                value, tag, mark = self.alias(ev), None, ev.start_mark
            elif cls is StreamEndEvent:
                return self.root, self.infos
            else:  # StreamStart, DocumentStart, DocumentEnd
                if cls is DocumentStartEvent:
                    self.document(ev)
                continue
            # A node is complete: into its sequence, or as a mapping's key or value.
            if not stack:
                self.root = value
                continue
            top = stack[-1]
            info = top[1]
            if info is None:
                top[0].append(value)
            elif top[2] is _NO_KEY:
                top[2] = value if value.__class__ is str else self._key(value, tag, info,
                                                                         mark.line)
                top[5] = mark.line
            else:
                self.set(top, info, value, tag, raw, mark)

    def document(self, ev: Any) -> None:
        self.documents += 1
        if self.documents > 1:
            raise DocumentError("expected a single document in the stream",
                                ev.start_mark.line, ev.start_mark.column)

    def end(self) -> Any:
        """A mapping or a sequence closes: its value (recorded for its anchor)."""
        frame = self.stack.pop()
        if frame[3] is not None:
            self.open_anchors.discard(frame[3])
            self.anchors[frame[3]] = (frame[0], self.count - frame[4])
        return frame[0]

    def start(self, ev: Any, mapping: bool) -> None:
        """A mapping or a sequence opens."""
        self.count += 1
        self.parsed += 1
        mark = ev.start_mark
        if self.parsed > MAX_NODES:
            raise DocumentError(f"more than {MAX_NODES} YAML nodes in one document",
                                mark.line, mark.column, _TOO_MANY)
        if len(self.stack) >= MAX_DEPTH:
            raise DocumentError(f"yaml: exceeded max depth of {MAX_DEPTH}", mark.line,
                                mark.column)
        container: Any
        info: Info | None = None
        if mapping:
            container = {}
            info = self.infos[id(container)] = Info(mark.line)
        else:
            container = []
        if ev.anchor is not None:
            self.open_anchors.add(ev.anchor)
        self.stack.append([container, info, _NO_KEY, ev.anchor, self.count - 1, 0])

    def alias(self, ev: Any) -> Any:
        """The anchored value, its nodes counted again (go-yaml expands every alias)."""
        name, mark = ev.anchor, ev.start_mark
        if name in self.open_anchors:
            raise DocumentError(f"yaml: anchor '{name}' value contains itself", mark.line,
                                mark.column)
        found = self.anchors.get(name)
        if found is None:
            raise DocumentError(f"yaml: unknown anchor '{name}' referenced", mark.line,
                                mark.column)
        value, size = found
        self.count += size
        self.alias_count += size
        count = self.count
        if (self.alias_count > 100 and count > 1000
                and self.alias_count / count > _allowed_alias_ratio(count)):
            raise DocumentError("yaml: document contains excessive aliasing", mark.line,
                                mark.column, "aliases expand to far more than the document "
                                "holds (a 'billion laughs'); kubectl refuses it")
        return value

    def set(self, top: list[Any], info: Info, value: Any, tag: str | None, raw: str | None,
            mark: Any) -> None:
        """A mapping's value is complete: set it under the key waiting for it."""
        key = top[2]
        top[2] = _NO_KEY
        if key is MERGE:
            _merge(top[0], info, value, self.infos, mark.line, mark.column)
            return
        if isinstance(key, _BadKey):
            return
        if key in info.keys:
            info.note("duplicate", key, top[5])
        top[0][key] = value
        info.keys[key] = top[5]
        if tag is not None and tag != STR:
            if info.raw is None:
                info.raw = {}
            info.raw[key] = (raw if raw is not None else "", tag, mark.line)
        elif info.raw and key in info.raw:
            del info.raw[key]

    @staticmethod
    def _key(value: Any, tag: str | None, info: Info, line: int) -> Any:
        """The key a completed node makes; what sigs.k8s.io/yaml cannot use is noted."""
        if isinstance(value, str):
            return value
        if tag == MERGE:
            return MERGE
        if isinstance(value, (list, dict)) or value is None:
            shown = "null" if value is None else ("a sequence" if isinstance(value, list)
                                                  else "a mapping")
            info.note("key-unsupported", shown, line)
            return _BadKey(shown)
        text = _key_text(value)
        info.note("key-type:" + _json_kind(value), text, line)
        return text


def _merge(target: dict[Any, Any], info: Info, value: Any, infos: dict[int, Info],
           line: int, col: int) -> None:
    """go-yaml v2 `<<`: merge a mapping, or a sequence of mappings (earlier ones win)."""
    sources = [value] if isinstance(value, dict) else (
        list(reversed(value)) if isinstance(value, list) else None)
    if sources is None or not all(isinstance(s, dict) for s in sources):
        raise DocumentError("yaml: map merge requires map or sequence of maps as the value",
                            line, col)
    for src in sources:
        src_info = infos.get(id(src))
        for k, v in src.items():
            target[k] = v
            info.keys[k] = src_info.keys.get(k, line) if src_info else line
