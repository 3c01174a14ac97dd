"""Kubernetes manifests: the pods a YAML stream would create, and their annotations.

Reads what `kubectl apply -f` reads (multi-document YAML; Pods, the pod templates of the
workload kinds, `List`s of them, and RuntimeClasses) and keeps only what Kata cares about:
which runtime class each pod asks for and the pod annotations, checked the way the API
server checks them. A broken document or a non-Kubernetes one gives one `ManifestError`;
every other document is still read.

Scalars are resolved as kubectl's YAML decoder (go-yaml v2) resolves them, not as YAML 1.1
in PyYAML: `y`/`n` are booleans, `12:30` and `2020-01-01` stay strings, `1e3` is a number.
That decides which annotation values the API server refuses (`disable_guest_seccomp: false`).
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from katacfg.errors import Diagnostic

__all__ = [
    "ManifestObject", "ManifestError", "POD_TEMPLATE_PATHS", "load_manifests",
    "load_manifests_text", "go_json_kind", "runtime_class_handlers", "handler_for",
]

# Where each kind keeps the pod it creates (the path to an object with metadata + spec).
POD_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": (),
    "PodTemplate": ("template",),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
LIST_KINDS = frozenset({"List"})  # kubectl also accepts any *List kind with items
RUNTIME_CLASS_KIND = "RuntimeClass"

# Codes of the problems this module reports.
CODE_YAML = "KM001"  # the document is not valid YAML
CODE_NOT_K8S = "KM002"  # valid YAML, but not a Kubernetes object
CODE_DECODE = "KM003"  # the API server / kubectl cannot decode a field (wrong JSON type)
CODE_INVALID = "KM004"  # the API server validation refuses a field
CODE_WARN = "KM005"  # accepted, but probably not what was meant
CODE_IO = "KM006"  # the file cannot be read


@dataclass(frozen=True, slots=True)
class ManifestObject:
    """One Kubernetes object of the stream and, if it creates pods, their pod template.

    `annotations` holds only the entries the API server would accept (string -> string);
    `errors` lists why the API server would refuse the object (then no pod is created),
    `suggested_annotations` is what the user most likely meant (non-string values quoted).
    """

    kind: str
    api_version: str
    name: str | None
    namespace: str | None
    source: str | None  # file name, or None for text
    doc_index: int  # 1-based position of the document in the stream
    line: int  # 1-based line of the object's first key
    pod_path: str | None = None  # "" for a Pod, "spec.template" ...; None: creates no pod
    runtime_class_name: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    annotation_lines: dict[str, int] = field(default_factory=dict)
    suggested_annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    handler: str | None = None  # RuntimeClass only
    errors: tuple[Diagnostic, ...] = ()
    warnings: tuple[Diagnostic, ...] = ()
    item_path: str | None = None  # "items[3]" when the object came from a List

    @property
    def has_pod(self) -> bool:
        return self.pod_path is not None

    @property
    def ok(self) -> bool:
        """False when the API server would refuse the object."""
        return not self.errors

    @property
    def display_name(self) -> str:
        """`Deployment default/web`, as a user would name it."""
        name = self.name if self.name is not None else "<unnamed>"
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {ns}{name}"

    def location(self) -> str:
        return f"{self.source or '<stdin>'}:{self.line}"


@dataclass(frozen=True, slots=True)
class ManifestError:
    """A document that yields no Kubernetes object: broken YAML, or not Kubernetes."""

    message: str
    source: str | None
    doc_index: int
    line: int | None
    column: int | None = None
    hint: str | None = None
    code: str = CODE_YAML

    @property
    def ok(self) -> bool:
        return False

    def location(self) -> str:
        where = self.source or "<stdin>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def as_diagnostic(self) -> Diagnostic:
        return Diagnostic("error", self.code, f"document {self.doc_index}: {self.message}",
                          self.source, self.line, self.column, None, self.hint)

    def render(self) -> str:
        return self.as_diagnostic().render()


# --------------------------------------------------------------------------- YAML loader

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"

# go-yaml v2 resolve table (resolve.go): plain scalars that are not strings.
_GO_BOOL = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"),
                    True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off",
                     "OFF"), False),
}
_GO_NULL = frozenset(("", "~", "null", "Null", "NULL"))
_GO_SPECIAL_FLOAT = frozenset((
    ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
    ".nan", ".NaN", ".NAN",
))
# strconv.ParseInt(s, 0, 64) after go-yaml removed every "_".
_GO_INT_RE = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)\Z")
# go-yaml's yamlStyleFloat, tried after the integer forms.
_GO_FLOAT_RE = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_GO_DOT_FLOAT_RE = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?\Z")
_NUMERIC_START = frozenset("0123456789+-")


def _go_yaml_tag(value: str) -> str:
    """The tag go-yaml v2 gives a plain scalar when decoding into interface{}."""
    if not value or value in _GO_NULL:
        return _NULL
    first = value[0]
    if first in "yYnNtTfFoO":
        return _BOOL if value in _GO_BOOL else _STR
    if first == ".":
        if value in _GO_SPECIAL_FLOAT:
            return _FLOAT
        return _FLOAT if _GO_DOT_FLOAT_RE.match(value) else _STR
    if first in _NUMERIC_START:
        if value in _GO_SPECIAL_FLOAT:
            return _FLOAT
        plain = value.replace("_", "") if "_" in value else value
        if _GO_INT_RE.match(plain):
            return _INT
        if _GO_FLOAT_RE.match(plain):
            return _FLOAT
        return _STR  # timestamps included: go-yaml keeps them as strings for interface{}
    if first == "<" and value == "<<":
        return _MERGE
    return _STR


_LOADER: type | None = None


def _loader_class() -> type:
    """A safe loader (libyaml's when present) with go-yaml v2 scalar resolution."""
    global _LOADER
    if _LOADER is not None:
        return _LOADER
    import yaml
    from yaml.constructor import ConstructorError, SafeConstructor
    from yaml.nodes import MappingNode, ScalarNode

    base = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader

    class KubeLoader(base):  # type: ignore[misc,valid-type]
        bool_values = {**SafeConstructor.bool_values, "y": True, "n": False}

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            if kind is ScalarNode:
                return _go_yaml_tag(value) if implicit[0] else _STR
            return _MAP if kind is MappingNode else _SEQ

        def construct_go_int(self, node: Any) -> Any:
            text = str(self.construct_scalar(node)).replace("_", "")
            try:
                try:
                    return int(text, 0)
                except ValueError:
                    digits = text.lstrip("+-")
                    if digits[:1] == "0" and digits.isdigit():
                        return int(text, 8) if set(digits) <= set("01234567") else float(text)
                    raise
            except ValueError:
                raise ConstructorError(None, None, f"invalid integer {text!r}",
                                       node.start_mark) from None

        def construct_go_float(self, node: Any) -> Any:
            text = str(self.construct_scalar(node))
            if text in _GO_SPECIAL_FLOAT:
                return SafeConstructor.construct_yaml_float(self, node)
            try:
                return float(text.replace("_", ""))
            except ValueError:
                raise ConstructorError(None, None, f"invalid float {text!r}",
                                       node.start_mark) from None

        def construct_go_bool(self, node: Any) -> Any:
            text = str(self.construct_scalar(node))
            try:
                return self.bool_values[text.lower()]
            except KeyError:
                raise ConstructorError(None, None, f"invalid boolean {text!r}",
                                       node.start_mark) from None

    KubeLoader.add_constructor(_INT, KubeLoader.construct_go_int)
    KubeLoader.add_constructor(_FLOAT, KubeLoader.construct_go_float)
    KubeLoader.add_constructor(_BOOL, KubeLoader.construct_go_bool)
    _LOADER = KubeLoader
    return KubeLoader


# --------------------------------------------------------------------------- splitting

# A document marker: "---" or "..." at column 0, followed by a blank or the end of line.
_MARKER_RE = re.compile(r"^(?:---|\.\.\.)(?=[ \t\r\n]|\Z)", re.M)


@dataclass(slots=True)
class _Chunk:
    text: str
    first_line: int  # 0-based line of text[0] in the stream


def _meaningful(text: str) -> bool:
    """True if the text has something besides blank lines and comments."""
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith("#"):
            return True
    return False


def _only_directives(text: str) -> bool:
    has = False
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if line.startswith("%"):
            has = True
            continue
        return False
    return has


def _directive_tail(text: str) -> int:
    """Length of the trailing run of directive (and comment/blank) lines of a piece."""
    lines = text.splitlines(keepends=True)
    size = 0
    found = False
    for line in reversed(lines):
        s = line.strip()
        if line.startswith("%"):
            found = True
        elif s and not s.startswith("#"):
            break
        size += len(line)
    return size if found else 0


def _split_documents(text: str) -> Iterator[_Chunk]:
    """Cut a stream at its document markers; each piece parses on its own.

    A marker at column 0 always ends the document before it (YAML forbids it inside a
    scalar), so one broken document cannot swallow the next. `---` opens a chunk; `...`
    closes one (what follows it, up to the next `---`, is directives or nothing).
    """
    pos = 0
    line = 0
    pending = ""  # directives waiting for their `---`
    pending_line = 0
    for m in _MARKER_RE.finditer(text):
        start = m.start()
        piece = text[pos:start]
        is_end = text.startswith("...", start)
        chunk_line = line
        line += piece.count("\n")
        if pending:
            piece, chunk_line = pending + piece, pending_line
            pending = ""
        if _only_directives(piece) and not is_end:
            pending, pending_line = piece, chunk_line
        else:
            tail = _directive_tail(piece) if "\n%" in piece and not is_end else 0
            if tail:  # directives written after an empty `---` belong to the next one
                pending_line = chunk_line + piece.count("\n", 0, len(piece) - tail)
                piece, pending = piece[:len(piece) - tail], piece[len(piece) - tail:]
            if piece and (piece.startswith("---") or _meaningful(piece)):
                yield _Chunk(piece, chunk_line)
        if is_end:
            # drop the "..." line itself
            nl = text.find("\n", start)
            pos = len(text) if nl < 0 else nl + 1
            line += 1 if nl >= 0 else 0
        else:
            pos = start
    piece = text[pos:]
    if pending:
        piece, line = pending + piece, pending_line
    if piece and (piece.startswith("---") or _meaningful(piece)):
        yield _Chunk(piece, line)


# --------------------------------------------------------------------------- extraction


def go_json_kind(value: object) -> str:
    """How Go's encoding/json names a JSON value's type in `cannot unmarshal X into ...`."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"  # dates, binary: sent to the API server as JSON strings


def _a(noun: str) -> str:
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def _go_string(value: object) -> str:
    """The string a user meant by an unquoted scalar (what quoting the source gives)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


_NAME_RE = re.compile(r"(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\Z")
_DNS1123_SUBDOMAIN_RE = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*\Z")
_NAME_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must "
             "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
             "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
_PREFIX_MSG = ("prefix part a lowercase RFC 1123 subdomain must consist of lower case "
               "alphanumeric characters, '-' or '.', and must start and end with an "
               "alphanumeric character (e.g. 'example.com', regex used for validation is "
               "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
_QUALIFIED_MSG = ("a qualified name must consist of alphanumeric characters, '-', '_' or "
                  "'.', and must start and end with an alphanumeric character (e.g. "
                  "'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
                  "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain "
                  "prefix and '/' (e.g. 'example.com/MyName')")
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def qualified_name_errors(key: str) -> list[str]:
    """apimachinery IsQualifiedName on the lower-cased key (as ValidateAnnotations does)."""
    k = key.lower()
    parts = k.split("/")
    if len(parts) == 1:
        name, prefix = parts[0], None
    elif len(parts) == 2:
        prefix, name = parts
    else:
        return [_QUALIFIED_MSG]
    errs: list[str] = []
    if prefix is not None:
        if not prefix:
            errs.append("prefix part must be non-empty")
        elif len(prefix) > 253:
            errs.append("prefix part must be no more than 253 characters")
        elif not _DNS1123_SUBDOMAIN_RE.match(prefix):
            errs.append(_PREFIX_MSG)
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if name and not _NAME_RE.match(name):
        errs.append(_NAME_MSG)
    return errs


def _find_node(node: Any, path: tuple[str | int, ...]) -> Any:
    """Follow mapping keys through a composed YAML node tree (None if absent)."""
    for key in path:
        if node is None or not isinstance(getattr(node, "value", None), list):
            return None
        if isinstance(key, int):  # a sequence item
            node = node.value[key] if key < len(node.value) else None
            continue
        found = None
        for pair in node.value:
            if isinstance(pair, tuple) and getattr(pair[0], "value", None) == key:
                found = pair[1]  # the last one wins, as in the constructed dict
        node = found
    return node


@dataclass(slots=True)
class _Ctx:
    source: str | None
    doc_index: int
    line_offset: int
    root_node: Any


def _diag(ctx: _Ctx, severity: str, code: str, msg: str, line: int | None,
          key: str | None = None, hint: str | None = None) -> Diagnostic:
    return Diagnostic(severity, code, msg, ctx.source, line, None, key, hint)


def _node_line(ctx: _Ctx, node: Any) -> int | None:
    if node is None:
        return None
    return node.start_mark.line + 1 + ctx.line_offset


def _extract(obj: dict, ctx: _Ctx, node_path: tuple[str | int, ...], item_path: str | None,
             out: list[ManifestObject | ManifestError]) -> None:
    """Turn one decoded Kubernetes object into ManifestObject(s) (recursing into Lists)."""
    obj_node = _find_node(ctx.root_node, node_path) if node_path else ctx.root_node
    line = _node_line(ctx, obj_node) or ctx.line_offset + 1
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    where = f" ({item_path})" if item_path else ""
    missing = [f"{n} not set" for n, v in (("apiVersion", api_version), ("kind", kind))
               if v is None or v == ""]
    if missing:
        keys = ", ".join(sorted(str(k) for k in obj)[:5])
        out.append(ManifestError(
            f"not a Kubernetes object{where}: {', '.join(missing)}"
            + (f" (top-level keys: {keys})" if keys else ""),
            ctx.source, ctx.doc_index, line, None,
            "a Kubernetes manifest needs `apiVersion` and `kind`, e.g. apiVersion: v1, "
            "kind: Pod", CODE_NOT_K8S))
        return
    if not isinstance(kind, str) or not isinstance(api_version, str):
        bad = "kind" if not isinstance(kind, str) else "apiVersion"
        out.append(ManifestError(
            f"not a Kubernetes object{where}: `{bad}` is {_a(go_json_kind(obj.get(bad)))}, "
            "not a string", ctx.source, ctx.doc_index, line, None, None, CODE_NOT_K8S))
        return

    if kind in LIST_KINDS or (kind.endswith("List") and "items" in obj):
        items = obj.get("items")
        if items is None:
            return
        if not isinstance(items, list):
            out.append(ManifestError(
                f"{kind}{where}: json: cannot unmarshal {go_json_kind(items)} into Go struct "
                "field List.items of type []runtime.RawExtension",
                ctx.source, ctx.doc_index, line, None, None, CODE_DECODE))
            return
        for i, item in enumerate(items):
            sub = f"{item_path + '.' if item_path else ''}items[{i}]"
            if not isinstance(item, dict):
                out.append(ManifestError(
                    f"{kind} {sub}: not a Kubernetes object ({_a(go_json_kind(item))})",
                    ctx.source, ctx.doc_index, line, None, None, CODE_NOT_K8S))
                continue
            _extract(item, ctx, node_path + ("items", i), sub, out)
        return

    errors: list[Diagnostic] = []
    warnings: list[Diagnostic] = []
    meta = obj.get("metadata")
    name = namespace = None
    if isinstance(meta, dict):
        n, ns = meta.get("name"), meta.get("namespace")
        name = n if isinstance(n, str) else None
        namespace = ns if isinstance(ns, str) else None
        for fname, fvalue in (("name", n), ("namespace", ns)):
            if fvalue is not None and not isinstance(fvalue, str):
                errors.append(_diag(
                    ctx, "error", CODE_DECODE,
                    f"json: cannot unmarshal {go_json_kind(fvalue)} into Go struct field "
                    f"ObjectMeta.metadata.{fname} of type string", line, f"metadata.{fname}",
                    f'quote it: {fname}: "{_go_string(fvalue)}"'))
                if fname == "name":
                    name = _go_string(fvalue)
        if name is None and isinstance(meta.get("generateName"), str):
            name = meta["generateName"] + "*"
    elif meta is not None:
        errors.append(_diag(ctx, "error", CODE_DECODE,
                            f"json: cannot unmarshal {go_json_kind(meta)} into Go struct field "
                            f"{kind}.metadata of type v1.ObjectMeta", line, "metadata"))

    handler = None
    if kind == RUNTIME_CLASS_KIND:
        h = obj.get("handler")
        handler = h if isinstance(h, str) else None
        if h is not None and handler is None:
            errors.append(_diag(ctx, "error", CODE_DECODE,
                                f"json: cannot unmarshal {go_json_kind(h)} into Go struct field "
                                "RuntimeClass.handler of type string", line, "handler"))

    tpath = POD_TEMPLATE_PATHS.get(kind)
    if tpath is None:
        out.append(ManifestObject(kind, api_version, name, namespace, ctx.source,
                                  ctx.doc_index, line, handler=handler, errors=tuple(errors),
                                  item_path=item_path))
        return

    pod_path = ".".join(tpath)
    prefix = pod_path + "." if pod_path else ""
    template: Any = obj
    for i, key in enumerate(tpath):
        nxt = template.get(key) if isinstance(template, dict) else None
        if not isinstance(nxt, dict):
            here = ".".join(tpath[: i + 1])
            if nxt is None:
                errors.append(_diag(ctx, "error", CODE_INVALID,
                                    f"{kind} has no `{here}`: it creates no pod", line, here,
                                    "add the pod template"))
            else:
                errors.append(_diag(ctx, "error", CODE_DECODE,
                                    f"json: cannot unmarshal {go_json_kind(nxt)} into Go struct "
                                    f"field of `{here}` (an object is expected)", line, here))
            template = None
            break
        template = nxt

    runtime_class = None
    annotations: dict[str, str] = {}
    suggested: dict[str, str] = {}
    ann_lines: dict[str, int] = {}
    labels: dict[str, str] = {}
    if template is not None:
        pmeta = template.get("metadata") if kind != "Pod" else meta
        spec = template.get("spec")
        if isinstance(spec, dict):
            rc = spec.get("runtimeClassName")
            if isinstance(rc, str):
                runtime_class = rc or None
            elif rc is not None:
                errors.append(_diag(
                    ctx, "error", CODE_DECODE,
                    f"json: cannot unmarshal {go_json_kind(rc)} into Go struct field "
                    f"PodSpec.{prefix}spec.runtimeClassName of type string", line,
                    f"{prefix}spec.runtimeClassName", f'write runtimeClassName: "{_go_string(rc)}"'))
        elif spec is None and kind == "Pod":
            errors.append(_diag(ctx, "error", CODE_INVALID,
                                "spec.containers: Required value", line, "spec"))
        elif spec is not None:
            errors.append(_diag(ctx, "error", CODE_DECODE,
                                f"json: cannot unmarshal {go_json_kind(spec)} into Go struct "
                                f"field {kind}.{prefix}spec of type v1.PodSpec", line,
                                f"{prefix}spec"))
        if isinstance(pmeta, dict):
            raw = pmeta.get("annotations")
            if raw is not None:
                ann_path = f"{prefix}metadata.annotations"
                node_ann = _find_node(obj_node, (*tpath, "metadata", "annotations"))
                _check_annotations(raw, ann_path, node_ann, ctx, line, annotations, suggested,
                                   ann_lines, errors, warnings)
            lab = pmeta.get("labels")
            if isinstance(lab, dict):
                labels = {str(k): v for k, v in lab.items() if isinstance(v, str)}
        elif pmeta is not None and kind != "Pod":
            errors.append(_diag(ctx, "error", CODE_DECODE,
                                f"json: cannot unmarshal {go_json_kind(pmeta)} into Go struct "
                                f"field {kind}.{prefix}metadata of type v1.ObjectMeta", line,
                                f"{prefix}metadata"))

    out.append(ManifestObject(
        kind, api_version, name, namespace, ctx.source, ctx.doc_index, line, pod_path,
        runtime_class, annotations, ann_lines, suggested, labels, handler, tuple(errors),
        tuple(warnings), item_path))


def _check_annotations(raw: object, path: str, node: Any, ctx: _Ctx, line: int,
                       annotations: dict[str, str], suggested: dict[str, str],
                       ann_lines: dict[str, int], errors: list[Diagnostic],
                       warnings: list[Diagnostic]) -> None:
    """Keep the string->string entries; say precisely why the API server refuses others."""
    if not isinstance(raw, dict):
        errors.append(_diag(ctx, "error", CODE_DECODE,
                            f"json: cannot unmarshal {go_json_kind(raw)} into Go struct field "
                            f"ObjectMeta.{path} of type map[string]string",
                            _node_line(ctx, node) or line, path,
                            "annotations are a mapping of strings: key: \"value\""))
        return
    # Source positions and the source text of each value, from the composed nodes.
    value_nodes: dict[str, Any] = {}
    key_count: dict[str, int] = {}
    if node is not None and isinstance(getattr(node, "value", None), list):
        for k, v in node.value:
            kv = getattr(k, "value", None)
            if isinstance(kv, str):
                value_nodes[kv] = v
                key_count[kv] = key_count.get(kv, 0) + 1
                ann_lines[kv] = _node_line(ctx, k) or line
    total = 0
    for key, value in raw.items():
        skey = key if isinstance(key, str) else _go_string(key)
        kline = ann_lines.get(skey, line)
        if not isinstance(key, str):
            warnings.append(_diag(ctx, "warning", CODE_WARN,
                                  f"annotation key {key!r} is {_a(go_json_kind(key))}; it is sent "
                                  f"as the string {skey!r}", kline, skey))
        if isinstance(value, str):
            annotations[skey] = value
            suggested[skey] = value
        elif value is None:
            annotations[skey] = ""
            suggested[skey] = ""
            warnings.append(_diag(
                ctx, "warning", CODE_WARN,
                f"annotation {skey} has no value (null): the API server stores the empty "
                "string, and `kubectl apply` treats null as 'remove this annotation'",
                kline, skey, f'write {skey}: ""'))
        else:
            vnode = value_nodes.get(skey)
            src = vnode.value if vnode is not None and isinstance(vnode.value, str) else None
            meant = src if src is not None else _go_string(value)
            suggested[skey] = meant
            kind = go_json_kind(value)
            hint = (f'quote the value: {skey}: "{meant}"' if kind in ("bool", "number")
                    else "an annotation value is one string")
            errors.append(_diag(
                ctx, "error", CODE_DECODE,
                f"json: cannot unmarshal {kind} into Go struct field ObjectMeta.{path} of "
                "type string", _node_line(ctx, vnode) or kline, skey, hint))
        for msg in qualified_name_errors(skey):
            errors.append(_diag(ctx, "error", CODE_INVALID,
                                f"{path}: Invalid value: \"{skey}\": {msg}", kline, skey))
        total += len(skey) + len(suggested.get(skey, ""))
        if key_count.get(skey, 1) > 1:
            warnings.append(_diag(
                ctx, "warning", CODE_WARN,
                f"annotation {skey} is given {key_count[skey]} times; only the last value "
                "is kept", kline, skey))
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errors.append(_diag(ctx, "error", CODE_INVALID,
                            f"{path}: Too long: must have at most "
                            f"{TOTAL_ANNOTATION_SIZE_LIMIT} bytes", line, path))


# --------------------------------------------------------------------------- entry points


def _yaml_error(exc: Exception, ctx_source: str | None, doc_index: int,
                line_offset: int) -> ManifestError:
    problem_mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    mark = problem_mark or context_mark
    if problem and "end of stream" in problem and context_mark is not None:
        mark = context_mark  # an unclosed quote or bracket: point at where it opened
    line = col = None
    if mark is not None:
        line = mark.line + 1 + line_offset
        col = mark.column + 1
    if problem:
        msg = f"invalid YAML: {problem}"
        if context:
            msg += f" {context}" if context.startswith("while") else f" ({context})"
            if context_mark is not None and mark is not context_mark and (
                    context_mark.line != mark.line):
                msg += f" started at line {context_mark.line + 1 + line_offset}"
    else:
        msg = f"invalid YAML: {type(exc).__name__}: {exc}".splitlines()[0]
    return ManifestError(msg, ctx_source, doc_index, line or line_offset + 1, col,
                         "fix this document; the other documents are still read", CODE_YAML)


def load_manifests_text(text: str, source: str | None = None
                        ) -> list[ManifestObject | ManifestError]:
    """Read every document of a YAML stream; see `load_manifests`."""
    loader_cls = _loader_class()
    import yaml

    out: list[ManifestObject | ManifestError] = []
    if text.startswith("\ufeff"):
        text = text[1:]
    for index, chunk in enumerate(_split_documents(text), start=1):
        loader = loader_cls(chunk.text)
        try:
            try:
                node = loader.get_single_node()
                data = loader.construct_document(node) if node is not None else None
            finally:
                loader.dispose()
        except yaml.YAMLError as exc:
            out.append(_yaml_error(exc, source, index, chunk.first_line))
            continue
        except Exception as exc:  # libyaml/constructor oddities: still one error, no traceback
            out.append(ManifestError(f"invalid YAML: {type(exc).__name__}: {exc}", source,
                                     index, chunk.first_line + 1, None, None, CODE_YAML))
            continue
        if data is None:
            continue  # an empty document: kubectl skips it too
        ctx = _Ctx(source, index, chunk.first_line, node)
        if not isinstance(data, dict):
            out.append(ManifestError(
                f"not a Kubernetes object: the document is {_a(go_json_kind(data))}, "
                "not a mapping", source, index, _node_line(ctx, node), None,
                "a Kubernetes manifest is a mapping with apiVersion, kind, metadata",
                CODE_NOT_K8S))
            continue
        try:
            _extract(data, ctx, (), None, out)
        except Exception as exc:  # never a traceback for one odd object
            out.append(ManifestError(f"cannot read this object: {type(exc).__name__}: {exc}",
                                     source, index, _node_line(ctx, node), None, None,
                                     CODE_NOT_K8S))
    return out


def _is_path(arg: object) -> bool:
    """A PathLike, `-`, an existing file, or one line that cannot be a YAML mapping."""
    if isinstance(arg, os.PathLike):
        return True
    if not isinstance(arg, str) or "\n" in arg or not arg.strip():
        return False
    return arg == "-" or os.path.exists(arg) or ": " not in arg and not arg.endswith(":")


def load_manifests(text_or_path: str | os.PathLike[str], *, source: str | None = None
                   ) -> list[ManifestObject | ManifestError]:
    """Every object of a Kubernetes YAML stream, in order, or an error per bad document.

    `text_or_path`: a path (str or PathLike) to a file, or `-` for stdin, or YAML text
    (a str containing a newline is always taken as text). Never raises for bad content;
    a file that cannot be read gives one ManifestError.
    """
    if _is_path(text_or_path):
        path = os.fspath(text_or_path)
        name = source or ("<stdin>" if path == "-" else path)
        try:
            if path == "-":
                import sys
                text = sys.stdin.read()
            else:
                with open(path, encoding="utf-8") as fh:
                    text = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return [ManifestError(f"cannot read {path}: {reason}", name, 0, None, None, None,
                                  CODE_IO)]
        return load_manifests_text(text, name)
    return load_manifests_text(str(text_or_path), source)


def runtime_class_handlers(results: list[ManifestObject | ManifestError]) -> dict[str, str]:
    """RuntimeClass name -> handler, from the RuntimeClass objects of a stream."""
    return {o.name: o.handler for o in results
            if isinstance(o, ManifestObject) and o.kind == RUNTIME_CLASS_KIND
            and o.name is not None and o.handler is not None}


def handler_for(runtime_class_name: str | None, handlers: Mapping[str, str] | None = None
                ) -> str | None:
    """The CRI runtime handler a pod asks for: its RuntimeClass's handler.

    Without a known RuntimeClass object, a class named X is assumed to have handler X (the
    usual setup: kata-deploy creates RuntimeClass `kata` with handler `kata`). None: no
    runtimeClassName, so the CRI's default runtime.
    """
    if not runtime_class_name:
        return None
    if handlers and runtime_class_name in handlers:
        return handlers[runtime_class_name]
    return runtime_class_name
