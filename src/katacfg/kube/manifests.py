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

from katacfg.config.errors import Diagnostic
from katacfg.config.records import Record
from katacfg.kube import kubeyaml

TYPE_CHECKING = False  # dataclasses and typing cost explain's start-up milliseconds
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import Any

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
CODE_TOO_BIG = "KM007"  # beyond a bound (size, depth, aliases): nothing is guessed

# Bounds: every input is hostile (a 10-line pod must not exhaust a CI runner).
MAX_MANIFEST_BYTES = 16 * 1024 * 1024  # a whole file (safeio.MAX_MANIFEST_BYTES)
MAX_DOCUMENT_BYTES = 3 * 1024 * 1024  # the API server's request body limit (3 MiB)
MAX_DOCUMENTS = 10_000
MAX_LIST_ITEMS = 10_000
MAX_FINDINGS = 20  # errors (and warnings) listed per object; the rest are counted


class ManifestObject(Record):
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
    annotations: dict[str, str] = {}  # (defaults are shared: never mutated)
    annotation_lines: dict[str, int] = {}
    suggested_annotations: dict[str, str] = {}
    labels: dict[str, str] = {}
    handler: str | None = None  # RuntimeClass only
    errors: tuple[Diagnostic, ...] = ()
    warnings: tuple[Diagnostic, ...] = ()
    item_path: str | None = None  # "items[3]" when the object came from a List
    fixes: tuple[str, ...] = ()  # what `suggested_annotations` / the suggested pod change

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


class ManifestError(Record):
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
        if self.source is None and self.line is None:
            return ""
        where = self.source or "<stdin>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def as_diagnostic(self) -> Diagnostic:
        doc = f"document {self.doc_index}: " if self.doc_index else ""
        return Diagnostic("error", self.code, doc + self.message, self.source, self.line,
                          self.column, None, self.hint)

    def render(self) -> str:
        return self.as_diagnostic().render()


# --------------------------------------------------------------------------- splitting

# A document marker: "---" or "..." at column 0, followed by a blank or the end of line.
_MARKER_RE = re.compile(r"^(?:---|\.\.\.)(?=[ \t\r\n]|\Z)", re.M)


class _Chunk:
    __slots__ = ("text", "first_line")

    def __init__(self, text: str, first_line: int) -> None:
        self.text = text
        self.first_line = first_line  # 0-based line of text[0] in the stream


_CONTENT_RE = re.compile(r"^[ \t]*[^\s#]", re.M)


def _meaningful(text: str) -> bool:
    """True if the text has something besides blank lines and comments."""
    return _CONTENT_RE.search(text) is not None


def _only_directives(text: str) -> bool:
    if not text.startswith("%") and "\n%" not in text:
        return False
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
    """The string a user meant by an unquoted scalar (what quoting the source gives).

    Bounded: a list or mapping (possibly shared through aliases) gives a short summary."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return _summary(value)
    return str(value)


def _summary(value: object, depth: int = 0) -> str:
    """A short, bounded text of a YAML value (at most 3 levels, 5 items each)."""
    if isinstance(value, list):
        if depth >= 3:
            return "[...]"
        items = [_summary(v, depth + 1) for v in value[:5]]
        return "[" + ", ".join(items) + (", ..." if len(value) > 5 else "") + "]"
    if isinstance(value, dict):
        if depth >= 3:
            return "{...}"
        items = [f"{str(k)[:40]}: {_summary(v, depth + 1)}" for k, v in list(value.items())[:5]]
        return "{" + ", ".join(items) + (", ..." if len(value) > 5 else "") + "}"
    text = _go_string(value)
    return text if len(text) <= 60 else text[:57] + "..."


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


_QUALIFIED_CACHE: dict[str, list[str]] = {}


def qualified_name_errors(key: str) -> list[str]:
    """apimachinery IsQualifiedName on the lower-cased key (as ValidateAnnotations does)."""
    found = _QUALIFIED_CACHE.get(key)
    if found is None:
        found = _qualified_name_errors(key)
        if len(_QUALIFIED_CACHE) < 10_000:
            _QUALIFIED_CACHE[key] = found
    return list(found)


def _qualified_name_errors(key: str) -> list[str]:
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


_LABEL_RE = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?\Z")
_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                  "characters, '-' or '.', and must start and end with an alphanumeric character "
                  "(e.g. 'example.com', regex used for validation is "
                  "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
              "or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  "
              "or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
_PLACEHOLDER_RE = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\{\{.*?\}\}|<[A-Za-z_-]+>")


def _name_problem(value: str, label: bool) -> str | None:
    """apimachinery's DNS-1123 subdomain (or label) check: the message, or None."""
    limit = 63 if label else 253
    if len(value) > limit:
        return f"must be no more than {limit} characters"
    ok = _LABEL_RE.match(value) if label else _DNS1123_SUBDOMAIN_RE.match(value)
    return None if ok else (_LABEL_MSG if label else _SUBDOMAIN_MSG)


def _placeholder_hint(value: str) -> str | None:
    m = _PLACEHOLDER_RE.search(value)
    if m is None:
        return None
    return (f"{m.group(0)} is an unexpanded placeholder: substitute it (envsubst, helm "
            "template, kustomize) before applying")


class _Ctx:
    __slots__ = ("source", "doc_index", "line_offset", "infos", "doc_errors")

    def __init__(self, source: str | None, doc_index: int, line_offset: int,
                 infos: dict[int, kubeyaml.Info]) -> None:
        self.source, self.doc_index, self.line_offset = source, doc_index, line_offset
        self.infos = infos
        self.doc_errors: tuple[Diagnostic, ...] = ()  # refusals of the whole document


def _diag(ctx: _Ctx, severity: str, code: str, msg: str, line: int | None,
          key: str | None = None, hint: str | None = None) -> Diagnostic:
    return Diagnostic(severity, code, msg, ctx.source, line, None, key, hint)


def _info(ctx: _Ctx, value: object) -> kubeyaml.Info | None:
    return ctx.infos.get(id(value)) if isinstance(value, dict) else None


def _line_of(ctx: _Ctx, value: object, default: int) -> int:
    """1-based line where a mapping starts."""
    info = _info(ctx, value)
    return info.line + 1 + ctx.line_offset if info is not None else default


def _key_line(ctx: _Ctx, mapping: object, key: str, default: int) -> int:
    """1-based line of a key of a mapping."""
    info = _info(ctx, mapping)
    if info is None or key not in info.keys:
        return default
    return info.keys[key] + 1 + ctx.line_offset


def _document_errors(ctx: _Ctx) -> tuple[Diagnostic, ...]:
    """What makes kubectl refuse the whole document: duplicate and unsupported keys."""
    out: list[Diagnostic] = []
    for info in ctx.infos.values():
        for what, key, line in info.odd or ():
            n = line + 1 + ctx.line_offset
            if what == "duplicate":
                out.append(_diag(ctx, "error", CODE_DECODE,
                                 f'yaml: unmarshal errors: line {n}: key "{key}" already set '
                                 "in map", n, key, "remove one of the two entries"))
            elif what == "key-unsupported":
                out.append(_diag(ctx, "error", CODE_DECODE,
                                 f"error converting YAML to JSON: unsupported map key ({key})",
                                 n, None, "mapping keys are strings"))
            if len(out) >= 20:
                return tuple(out)
    return tuple(out)


def _extract(obj: dict[str, Any], ctx: _Ctx, item_path: str | None,
             out: list[ManifestObject | ManifestError]) -> None:
    """Turn one decoded Kubernetes object into ManifestObject(s) (recursing into Lists)."""
    line = _line_of(ctx, obj, ctx.line_offset + 1)
    kind = _object_kind(obj, ctx, item_path, line, out)
    if kind is None:
        return
    if kind in LIST_KINDS or (kind.endswith("List") and "items" in obj):
        _extract_list(obj, kind, ctx, item_path, line, out)
        return
    _Object(obj, kind, ctx, item_path, line).read(out)


def _object_kind(obj: dict[str, Any], ctx: _Ctx, item_path: str | None, line: int,
                 out: list[ManifestObject | ManifestError]) -> str | None:
    """The object's kind, or None after reporting why it is not a Kubernetes object."""
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
        return None
    if not isinstance(kind, str) or not isinstance(api_version, str):
        bad = "kind" if not isinstance(kind, str) else "apiVersion"
        out.append(ManifestError(
            f"not a Kubernetes object{where}: `{bad}` is {_a(go_json_kind(obj.get(bad)))}, "
            "not a string", ctx.source, ctx.doc_index, line, None, None, CODE_NOT_K8S))
        return None
    return kind


def _extract_list(obj: dict[str, Any], kind: str, ctx: _Ctx, item_path: str | None,
                  line: int, out: list[ManifestObject | ManifestError]) -> None:
    items = obj.get("items")
    if items is None:
        return
    if not isinstance(items, list):
        out.append(ManifestError(
            f"{kind}{' (' + item_path + ')' if item_path else ''}: json: cannot unmarshal "
            f"{go_json_kind(items)} into Go struct field List.items of type "
            "[]runtime.RawExtension", ctx.source, ctx.doc_index, line, None, None, CODE_DECODE))
        return
    if len(items) > MAX_LIST_ITEMS:
        out.append(ManifestError(
            f"{kind} has {len(items)} items; katacfg reads at most {MAX_LIST_ITEMS}",
            ctx.source, ctx.doc_index, line, None, "split the list", CODE_TOO_BIG))
        return
    for i, item in enumerate(items):
        sub = f"{item_path + '.' if item_path else ''}items[{i}]"
        if not isinstance(item, dict):
            out.append(ManifestError(
                f"{kind} {sub}: not a Kubernetes object ({_a(go_json_kind(item))})",
                ctx.source, ctx.doc_index, line, None, None, CODE_NOT_K8S))
            continue
        if item_path is not None and item_path.count("items[") >= 8:
            out.append(ManifestError(f"{kind} {sub}: Lists nested too deeply", ctx.source,
                                     ctx.doc_index, line, None, None, CODE_NOT_K8S))
            return
        _extract(item, ctx, sub, out)


class _Object:
    """One non-List object being read: its metadata, its pod template, what is wrong."""

    def __init__(self, obj: dict[str, Any], kind: str, ctx: _Ctx, item_path: str | None,
                 line: int) -> None:
        self.obj, self.kind, self.ctx, self.item_path, self.line = obj, kind, ctx, item_path, line
        self.errors: list[Diagnostic] = list(ctx.doc_errors)
        self.warnings: list[Diagnostic] = []
        self.name: str | None = None
        self.namespace: str | None = None
        self.fixes: list[str] = []  # what the suggested version of the object changes
        self.more = [0, 0]  # errors, warnings left out (beyond MAX_FINDINGS)

    def error(self, code: str, msg: str, line: int | None = None, key: str | None = None,
              hint: str | None = None) -> None:
        if len(self.errors) >= MAX_FINDINGS:  # a hostile object: say how many, not each
            self.more[0] += 1
            return
        self.errors.append(_diag(self.ctx, "error", code, msg, line or self.line, key, hint))

    def warn(self, msg: str, line: int | None = None, key: str | None = None,
             hint: str | None = None) -> None:
        if len(self.warnings) >= MAX_FINDINGS:
            self.more[1] += 1
            return
        self.warnings.append(_diag(self.ctx, "warning", CODE_WARN, msg, line or self.line, key,
                                   hint))

    def findings(self) -> tuple[tuple[Diagnostic, ...], tuple[Diagnostic, ...]]:
        """(errors, warnings), each list ending with how many more were left out."""
        out = []
        for found, more, severity in ((self.errors, self.more[0], "error"),
                                      (self.warnings, self.more[1], "warning")):
            if more:
                found = found + [_diag(self.ctx, severity, found[-1].code,
                                       f"... and {more} more like these", self.line)]
            out.append(tuple(found))
        return out[0], out[1]

    def read(self, out: list[ManifestObject | ManifestError]) -> None:
        obj, kind, ctx = self.obj, self.kind, self.ctx
        meta = obj.get("metadata")
        self._metadata(meta)
        handler = self._handler() if kind == RUNTIME_CLASS_KIND else None
        tpath = POD_TEMPLATE_PATHS.get(kind)
        if tpath is None:
            errors, warnings = self.findings()
            out.append(ManifestObject(kind, obj["apiVersion"], self.name, self.namespace,
                                      ctx.source, ctx.doc_index, self.line, handler=handler,
                                      errors=errors, warnings=warnings,
                                      item_path=self.item_path))
            return
        self._misplaced(obj, "", "annotations", "labels")
        template = self._template(tpath)
        pod = _Pod()
        if template is not None:
            self._pod(template, ".".join(tpath), meta if kind == "Pod" else None, pod)
        errors, warnings = self.findings()
        out.append(ManifestObject(
            kind, obj["apiVersion"], self.name, self.namespace, ctx.source, ctx.doc_index,
            self.line, ".".join(tpath), pod.runtime_class, pod.annotations, pod.lines,
            pod.suggested, pod.labels, handler, errors, warnings,
            self.item_path, tuple(self.fixes)))

    # -- metadata -----------------------------------------------------------------------

    def _metadata(self, meta: object) -> None:
        if meta is None:
            return
        if not isinstance(meta, dict):
            self.error(CODE_DECODE, f"json: cannot unmarshal {go_json_kind(meta)} into Go "
                       f"struct field {self.kind}.metadata of type v1.ObjectMeta",
                       key="metadata")
            return
        for fname in ("name", "namespace"):
            value = meta.get(fname)
            if value is None:
                continue
            line = _key_line(self.ctx, meta, fname, self.line)
            if not isinstance(value, str):
                self.error(CODE_DECODE, f"json: cannot unmarshal {go_json_kind(value)} into Go "
                           f"struct field ObjectMeta.metadata.{fname} of type string", line,
                           f"metadata.{fname}", f'quote it: {fname}: "{_go_string(value)}"')
                value = _go_string(value)
            elif value:
                self._check_name(value, f"metadata.{fname}", fname == "namespace", line)
            setattr(self, fname, value)
        if self.name is None and isinstance(meta.get("generateName"), str):
            self.name = meta["generateName"] + "*"

    def _check_name(self, value: str, field_path: str, label: bool, line: int) -> None:
        problem = _name_problem(value, label)
        if problem is not None:
            self.error(CODE_INVALID, f'{field_path}: Invalid value: "{value[:100]}": {problem}',
                       line, field_path, _placeholder_hint(value))

    def _handler(self) -> str | None:
        h = self.obj.get("handler")
        if h is None or isinstance(h, str):
            if isinstance(h, str):
                self._check_name(h, "handler", True, _key_line(self.ctx, self.obj, "handler",
                                                               self.line))
            return h
        self.error(CODE_DECODE, f"json: cannot unmarshal {go_json_kind(h)} into Go struct field "
                   "RuntimeClass.handler of type string", key="handler")
        return None

    def _misplaced(self, mapping: dict[str, Any], prefix: str, *fields: str) -> None:
        """`annotations:` where Kubernetes has no such field: strict decoding refuses it."""
        for fname in fields:
            if fname in mapping:
                path = prefix + fname
                meta_path = (prefix.rsplit("spec.", 1)[0] if prefix.endswith("spec.")
                             else prefix) + "metadata." + fname
                self.error(CODE_INVALID, f'strict decoding error: unknown field "{path}"',
                           _key_line(self.ctx, mapping, fname, self.line), path,
                           f"{fname} belong under {meta_path}; here Kubernetes refuses the "
                           "object (kubectl --validate=strict), or drops them")

    # -- the pod template ---------------------------------------------------------------

    def _template(self, tpath: tuple[str, ...]) -> dict[str, Any] | None:
        template: Any = self.obj
        for i, key in enumerate(tpath):
            nxt = template.get(key)
            if not isinstance(nxt, dict):
                here = ".".join(tpath[: i + 1])
                if nxt is None:
                    self.error(CODE_INVALID, f"{self.kind} has no `{here}`: it creates no pod",
                               key=here, hint="add the pod template")
                else:
                    self.error(CODE_DECODE, f"json: cannot unmarshal {go_json_kind(nxt)} into Go "
                               f"struct field of `{here}` (an object is expected)", key=here)
                return None
            template = nxt
        if tpath:
            self._misplaced(template, ".".join(tpath) + ".", "annotations", "labels")
        return template  # type: ignore[no-any-return]

    def _pod(self, template: dict[str, Any], pod_path: str, pod_meta: object,
             pod: _Pod) -> None:
        prefix = pod_path + "." if pod_path else ""
        pmeta = template.get("metadata") if pod_meta is None and self.kind != "Pod" else pod_meta
        spec = template.get("spec")
        if isinstance(spec, dict):
            self._runtime_class(spec, prefix, pod)
            self._misplaced(spec, prefix + "spec.", "annotations", "labels")
        elif spec is None and self.kind == "Pod":
            self.error(CODE_INVALID, "spec.containers: Required value", key="spec")
        elif spec is not None:
            self.error(CODE_DECODE, f"json: cannot unmarshal {go_json_kind(spec)} into Go struct "
                       f"field {self.kind}.{prefix}spec of type v1.PodSpec", key=f"{prefix}spec")
        if isinstance(pmeta, dict):
            raw = pmeta.get("annotations")
            if raw is not None:
                _Annotations(self, f"{prefix}metadata.annotations", pod).check(raw)
            lab = pmeta.get("labels")
            if isinstance(lab, dict):
                pod.labels = {str(k): v for k, v in lab.items() if isinstance(v, str)}
        elif pmeta is not None and self.kind != "Pod":
            self.error(CODE_DECODE, f"json: cannot unmarshal {go_json_kind(pmeta)} into Go "
                       f"struct field {self.kind}.{prefix}metadata of type v1.ObjectMeta",
                       key=f"{prefix}metadata")
        if isinstance(spec, dict):
            self._suggest_moved(spec, pod)

    def _runtime_class(self, spec: dict[str, Any], prefix: str, pod: _Pod) -> None:
        rc = spec.get("runtimeClassName")
        if rc is None:
            return
        field_path = f"{prefix}spec.runtimeClassName"
        line = _key_line(self.ctx, spec, "runtimeClassName", self.line)
        if isinstance(rc, str):
            pod.runtime_class = rc or None
            if rc:
                self._check_name(rc, field_path, False, line)
            return
        text = _go_string(rc)
        self.error(CODE_DECODE, f"json: cannot unmarshal {go_json_kind(rc)} into Go struct "
                   f"field PodSpec.{field_path} of type string", line, field_path,
                   f'write runtimeClassName: "{text}"')
        if isinstance(rc, (bool, int, float)):
            pod.runtime_class = text  # what the user meant, for the suggested pod
            self.fixes.append(f'runtimeClassName: "{text}"')

    def _suggest_moved(self, spec: dict[str, Any], pod: _Pod) -> None:
        """Annotations written under spec: the suggested pod has them under metadata."""
        moved = spec.get("annotations")
        if not isinstance(moved, dict):
            return
        added = False
        for k, v in moved.items():
            if isinstance(k, str) and k not in pod.suggested:
                pod.suggested[k] = v if isinstance(v, str) else _go_string(v)
                added = True
        if added:
            self.fixes.append("the annotations under spec moved to metadata")


class _Pod:
    __slots__ = ("runtime_class", "annotations", "suggested", "lines", "labels")

    def __init__(self) -> None:
        self.runtime_class: str | None = None
        self.annotations: dict[str, str] = {}
        self.suggested: dict[str, str] = {}
        self.lines: dict[str, int] = {}
        self.labels: dict[str, str] = {}


class _Annotations:
    """Keep the string->string entries; say precisely why the API server refuses others."""

    def __init__(self, owner: _Object, path: str, pod: _Pod) -> None:
        self.owner, self.path, self.pod = owner, path, pod
        self.ctx = owner.ctx

    def check(self, raw: object) -> None:
        owner, path = self.owner, self.path
        if not isinstance(raw, dict):
            owner.error(CODE_DECODE, f"json: cannot unmarshal {go_json_kind(raw)} into Go struct "
                        f"field ObjectMeta.{path} of type map[string]string",
                        _line_of(self.ctx, raw, owner.line), path,
                        'annotations are a mapping of strings: key: "value"')
            return
        info = _info(self.ctx, raw)
        odd_keys = {key: what for what, key, _ in (info.odd or ()) if what.startswith("key-type")
                    } if info is not None else {}
        total = 0
        for key, value in raw.items():
            kline = _key_line(self.ctx, raw, key, owner.line)
            self.pod.lines[key] = kline
            if key in odd_keys:
                owner.warn(f"annotation key {key!r} is {_a(odd_keys[key].split(':', 1)[1])} in "
                           f"YAML; it is sent as the string {key!r}", kline, key,
                           f'quote it: "{key}": ...')
            self._value(key, value, kline, info)
            for msg in qualified_name_errors(key):
                owner.error(CODE_INVALID, f'{path}: Invalid value: "{key[:100]}": {msg}', kline,
                            key, _placeholder_hint(key))
            total += len(key) + len(self.pod.suggested.get(key, ""))
        if total > TOTAL_ANNOTATION_SIZE_LIMIT:
            owner.error(CODE_INVALID, f"{path}: Too long: must have at most "
                        f"{TOTAL_ANNOTATION_SIZE_LIMIT} bytes", key=path)

    def _value(self, key: str, value: object, kline: int, info: kubeyaml.Info | None) -> None:
        owner, pod = self.owner, self.pod
        raw = info.raw.get(key) if info is not None and info.raw else None
        if isinstance(value, str):
            pod.annotations[key] = value
            pod.suggested[key] = value
            if raw is not None and raw[1] == kubeyaml.BINARY:
                owner.warn(f"annotation {key} is !!binary: kubectl sends the base64-decoded "
                           f"bytes, {_summary(value)!r}", kline, key,
                           "write the value itself as a string")
            return
        if value is None:
            pod.annotations[key] = ""
            pod.suggested[key] = ""
            owner.warn(f"annotation {key} has no value (null): the API server stores the empty "
                       "string, and `kubectl apply` treats null as 'remove this annotation'",
                       kline, key, f'write {key}: ""')
            return
        meant = raw[0] if raw is not None else _go_string(value)
        pod.suggested[key] = meant
        kind = go_json_kind(value)
        hint = (f'quote the value: {key}: "{meant}"' if kind in ("bool", "number")
                else "an annotation value is one string")
        line = raw[2] + 1 + self.ctx.line_offset if raw is not None else _line_of(
            self.ctx, value, kline)
        owner.error(CODE_DECODE, f"json: cannot unmarshal {kind} into Go struct field "
                    f"ObjectMeta.{self.path} of type string", line, key, hint)
        if not self.owner.fixes or self.owner.fixes[-1] != "annotation values quoted":
            self.owner.fixes.append("annotation values quoted")


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
            if context_mark is not None and mark is not None and mark is not context_mark and (
                    context_mark.line != mark.line):
                msg += f" started at line {context_mark.line + 1 + line_offset}"
    else:
        msg = f"invalid YAML: {type(exc).__name__}: {exc}".splitlines()[0]
    return ManifestError(msg, ctx_source, doc_index, line or line_offset + 1, col,
                         "fix this document; the other documents are still read", CODE_YAML)


def _read_chunk(chunk: _Chunk, index: int, source: str | None,
                out: list[ManifestObject | ManifestError]) -> None:
    """Decode one document of the stream and extract its objects into `out`."""
    import yaml

    if len(chunk.text) > MAX_DOCUMENT_BYTES:
        out.append(ManifestError(
            f"Request entity too large: limit is {MAX_DOCUMENT_BYTES} (the document has "
            f"{len(chunk.text)} bytes)", source, index, chunk.first_line + 1, None,
            "the API server refuses a request body over 3 MiB", CODE_TOO_BIG))
        return
    try:
        found = _json_document(chunk.text)
        data, infos = found if found is not None else kubeyaml.load_document(chunk.text)
    except kubeyaml.DocumentError as exc:
        line = exc.line + 1 + chunk.first_line if exc.line is not None else chunk.first_line + 1
        col = exc.column + 1 if exc.column is not None else None
        code = CODE_TOO_BIG if exc.message.startswith(("more than", "yaml: exceeded",
                                                        "yaml: document contains")) else CODE_YAML
        out.append(ManifestError(exc.message, source, index, line, col, exc.hint, code))
        return
    except yaml.YAMLError as exc:
        out.append(_yaml_error(exc, source, index, chunk.first_line))
        return
    except (RecursionError, MemoryError) as exc:
        out.append(ManifestError(f"document too complex to read ({type(exc).__name__})",
                                 source, index, chunk.first_line + 1, None, None, CODE_TOO_BIG))
        return
    if data is None:
        return  # an empty document: kubectl skips it too
    ctx = _Ctx(source, index, chunk.first_line, infos)
    ctx.doc_errors = _document_errors(ctx)
    if not isinstance(data, dict):
        out.append(ManifestError(
            f"not a Kubernetes object: the document is {_a(go_json_kind(data))}, "
            "not a mapping", source, index, chunk.first_line + 1 + _first_content_line(chunk.text),
            None, "a Kubernetes manifest is a mapping with apiVersion, kind, metadata",
            CODE_NOT_K8S))
        return
    _extract(data, ctx, None, out)


def _json_document(text: str) -> tuple[Any, dict[int, kubeyaml.Info]] | None:
    """A JSON document decoded as kubectl decodes JSON (Go's encoding/json: a lone
    surrogate escape becomes U+FFFD, where YAML refuses it); None: read it as YAML."""
    if not text.lstrip().startswith("{"):
        return None
    from katacfg.gocompat import gojson

    try:
        return _from_json(gojson.loads(text)), {}
    except (ValueError, RecursionError):
        return None  # not JSON after all (or too deep for it): the YAML reader says why


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if value.__class__.__name__ == "JSONNumber":
        text = value.text
        try:
            return int(text)
        except ValueError:
            return float(text)
    return value


def _first_content_line(text: str) -> int:
    """0-based line of the first line that is not blank, a comment, a directive or `---`."""
    for n, line in enumerate(text.splitlines()):
        s = line.strip()
        if s and not s.startswith("#") and not line.startswith("%") and s != "---":
            return n
        if line.startswith("--- ") and s[4:].strip() and not s[4:].strip().startswith("#"):
            return n
    return 0


def document_texts(text: str) -> list[tuple[int, str]]:
    """The documents of a YAML stream as (1-based line of their start, text), cut as
    load_manifests_text cuts them (at most MAX_DOCUMENTS)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    out: list[tuple[int, str]] = []
    for chunk in _split_documents(text):
        if len(out) == MAX_DOCUMENTS:
            break
        out.append((chunk.first_line + 1, chunk.text))
    return out


def load_manifests_text(text: str, source: str | None = None
                        ) -> list[ManifestObject | ManifestError]:
    """Read every document of a YAML stream; see `load_manifests`."""
    out: list[ManifestObject | ManifestError] = []
    if len(text) > MAX_MANIFEST_BYTES:
        return [ManifestError(f"the manifest has {len(text)} characters; katacfg reads at "
                              f"most {MAX_MANIFEST_BYTES}", source, 0, None, None,
                              "split the file", CODE_TOO_BIG)]
    if text.startswith("\ufeff"):
        text = text[1:]
    for index, chunk in enumerate(_split_documents(text), start=1):
        if index > MAX_DOCUMENTS:
            out.append(ManifestError(f"more than {MAX_DOCUMENTS} documents; the rest is not "
                                     "read", source, index, chunk.first_line + 1, None,
                                     "split the file", CODE_TOO_BIG))
            break
        _read_chunk(chunk, index, source, out)
    return out


_YAML_START_RE = re.compile(r"^(?:---|%|[A-Za-z_\"'][^\n=\[]*:(?:[ \t]|$))", re.M)


def looks_like_yaml_stream(text: str) -> bool:
    """Plausibly YAML rather than TOML: a `key:` or `---` line before any `[table]` or
    `key = value` line."""
    for line in text[:65536].splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if _YAML_START_RE.match(s):
            return True
        if s.startswith("[") or re.match(r"[\w.\"'-]+\s*=", s):
            return False
    return True


def _is_path(arg: object) -> bool:
    """A PathLike, `-`, an existing file, or one line that cannot be a YAML mapping."""
    if isinstance(arg, os.PathLike):
        return True
    if not isinstance(arg, str) or "\n" in arg or not arg.strip():
        return False
    return arg == "-" or os.path.exists(arg) or ": " not in arg and not arg.endswith(":")


def read_manifest_file(path: str) -> str:
    """The text of a manifest file (`-`: standard input), bounded (katacfg.host.safeio).

    Raises safeio.FileRefused: one line naming the file, and a hint."""
    from katacfg.host import safeio

    if path == "-":
        import sys

        data = sys.stdin.buffer.read(MAX_MANIFEST_BYTES + 1)
        if len(data) > MAX_MANIFEST_BYTES:
            raise safeio.FileRefused(f"read <stdin>: larger than {MAX_MANIFEST_BYTES >> 20} MiB "
                                     "(katacfg's limit for a manifest)", "-",
                                     "a real manifest is far smaller")
    else:
        data = safeio.read_bytes(path, limit=MAX_MANIFEST_BYTES, what="manifest")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise safeio.FileRefused(f"read {'<stdin>' if path == '-' else path}: not UTF-8 (byte "
                                 f"{exc.start})", path, "Kubernetes manifests are UTF-8 text"
                                 ) from None


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
        from katacfg.host.safeio import FileRefused

        try:
            text = read_manifest_file(path)
        except FileRefused as exc:
            return [ManifestError(exc.text, None, 0, None, None, exc.hint, CODE_IO)]
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
