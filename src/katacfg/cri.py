"""What the CRI layer (containerd, CRI-O, dockershim) tells Kata about a container.

Container type detection follows spec/annotations.md section 2: the first CRI key present
decides, its value is compared with one shared list whatever the key was.

The rest models what reaches Kata at all: which pod annotations containerd (1.3-1.7) and
CRI-O copy into the pod sandbox's OCI spec, read from their own configuration files, and
the annotations they add themselves.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from katacfg.errors import Diagnostic, KataError
from katacfg.options import KATA_PREFIX

POD_SANDBOX = "pod_sandbox"
POD_CONTAINER = "pod_container"

# Looked up in this order; the first key present decides.
CONTAINER_TYPE_KEYS: tuple[str, ...] = (
    "io.kubernetes.cri.container-type",  # containerd CRI
    "io.kubernetes.cri-o.ContainerType",  # CRI-O
    "io.kubernetes.docker.type",  # dockershim
)
# One list shared by every key (so containerd's key also accepts "podsandbox").
CONTAINER_TYPE_VALUES: dict[str, str] = {
    "sandbox": POD_SANDBOX,
    "container": POD_CONTAINER,
    "podsandbox": POD_SANDBOX,
}


def container_type(annotations: Mapping[str, str]) -> str:
    """Return pod_sandbox or pod_container; refuse an unknown value as Kata does."""
    for key in CONTAINER_TYPE_KEYS:
        if key in annotations:
            value = annotations[key]
            kind = CONTAINER_TYPE_VALUES.get(value)
            if kind is None:
                raise KataError(
                    f"Unknown container type {value}", "container_type", key=key,
                    hint="allowed values: " + ", ".join(CONTAINER_TYPE_VALUES),
                )
            return kind
    return POD_SANDBOX


# =========================================================================================
# What the CRI layer passes down: containerd's pod_annotations, CRI-O's allowed_annotations.
# =========================================================================================
#
# containerd (CRI plugin, 1.3-1.7): a pod annotation is copied into the sandbox's OCI spec
# only if its key matches one of the runtime's `pod_annotations` with Go path.Match; an
# error from path.Match (malformed pattern) counts as no match (`ok, _ := path.Match(...)`).
# containerd then sets its own io.kubernetes.cri.* annotations, which win over pod ones.
#
# CRI-O: every pod annotation is passed down, except CRI-O's own special annotations
# (a fixed list; a key is dropped when it STARTS WITH one of them) that the runtime
# handler's (or the matched workload's) `allowed_annotations` does not list. So
# allowed_annotations only unlocks CRI-O features; it never restricts io.katacontainers.*.

CONTAINERD = "containerd"
CRIO = "crio"

# containerd annotation keys (pkg/cri/annotations).
CONTAINERD_CONTAINER_TYPE = "io.kubernetes.cri.container-type"
CONTAINERD_SANDBOX_ID = "io.kubernetes.cri.sandbox-id"
CONTAINERD_SANDBOX_NAMESPACE = "io.kubernetes.cri.sandbox-namespace"
CONTAINERD_SANDBOX_NAME = "io.kubernetes.cri.sandbox-name"
CONTAINERD_SANDBOX_LOG_DIR = "io.kubernetes.cri.sandbox-log-directory"
CONTAINERD_UNTRUSTED_WORKLOAD = "io.kubernetes.cri.untrusted-workload"
# CRI-O annotation keys (pkg/annotations, internal/annotations).
CRIO_CONTAINER_TYPE = "io.kubernetes.cri-o.ContainerType"
CRIO_SANDBOX_ID = "io.kubernetes.cri-o.SandboxID"
CRIO_KUBE_NAME = "io.kubernetes.cri-o.KubeName"
CRIO_NAMESPACE = "io.kubernetes.cri-o.Namespace"
CRIO_RUNTIME_HANDLER = "io.kubernetes.cri-o.RuntimeHandler"
CRIO_ANNOTATIONS = "io.kubernetes.cri-o.Annotations"
CRIO_LABELS = "io.kubernetes.cri-o.Labels"

SANDBOX_ID_PLACEHOLDER = "<sandbox-id>"
LOG_DIR_PLACEHOLDER = "/var/log/pods/<namespace>_<name>_<uid>"

# CRI-O's AllAllowedAnnotations (CRI-O 1.30): the annotations a runtime handler must
# list in allowed_annotations; any pod annotation starting with an unlisted one is dropped.
CRIO_RESTRICTED_ANNOTATIONS: tuple[str, ...] = (
    "io.kubernetes.cri-o.userns-mode",
    "io.kubernetes.cri-o.cgroup2-mount-hierarchy-rw",
    "io.kubernetes.cri-o.UnifiedCgroup",
    "io.kubernetes.cri-o.ShmSize",
    "io.kubernetes.cri-o.Devices",
    "cpu-load-balancing.crio.io",
    "cpu-quota.crio.io",
    "irq-load-balancing.crio.io",
    "io.containers.trace-syscall",
    "io.kubernetes.cri.rdt-class",
    "io.kubernetes.cri-o.TrySkipVolumeSELinuxLabel",
    "cpu-c-states.crio.io",
    "cpu-freq-governor.crio.io",
    "io.kubernetes.cri-o.seccompNotifierAction",
    "io.kubernetes.cri-o.umask",
    "io.kubernetes.cri-o.PodLinuxOverhead",
    "io.kubernetes.cri-o.PodLinuxResources",
    "io.kubernetes.cri-o.LinkLogs",
    "cpu-shared.crio.io",
    "seccomp-profile.kubernetes.cri-o.io",
    "io.kubernetes.cri-o.DisableFIPS",
    "bundle",
    "org.systemd.property.",
    "org.criu.config",
    "module.wasm.image/variant",
    "io.kubernetes.cri.container-type",
    "run.oci.",
)

# Codes of the findings of this module.
CODE_CONFIG = "KR001"  # the CRI configuration cannot be used (syntax, layout)
CODE_RUNTIME = "KR002"  # no such runtime handler
CODE_PATTERN = "KR003"  # a pod_annotations pattern is malformed
CODE_CONFIG_WARN = "KR004"  # accepted, but probably not what was meant


class CRIConfigError(ValueError):
    """A containerd / CRI-O configuration that katacfg cannot read, or a missing handler."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 column: int | None = None, hint: str | None = None,
                 code: str = CODE_CONFIG) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.hint = hint
        self.code = code

    def as_diagnostic(self) -> Diagnostic:
        return Diagnostic("error", self.code, self.message, self.file, self.line,
                           self.column, None, self.hint)

    def render(self) -> str:
        return self.as_diagnostic().render()


@dataclass(frozen=True, slots=True)
class CrioWorkload:
    """A `[crio.runtime.workloads.NAME]` table: more allowed annotations for some pods."""

    name: str
    activation_annotation: str
    annotation_prefix: str = ""
    allowed_annotations: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RuntimeHandler:
    """One runtime of the CRI configuration, as the RuntimeClass `handler` names it."""

    name: str
    manager: str  # CONTAINERD or CRIO
    runtime_type: str  # "io.containerd.kata.v2"; CRI-O: "oci" / "vm"
    pod_annotations: tuple[str, ...] = ()  # containerd: path.Match patterns
    container_annotations: tuple[str, ...] = ()  # containerd: for containers, not the pod
    allowed_annotations: tuple[str, ...] = ()  # CRI-O: restricted annotations unlocked
    default_annotations: dict[str, str] = field(default_factory=dict)  # CRI-O
    options: dict[str, Any] = field(default_factory=dict)  # containerd runtime options
    config_path: str | None = None  # Kata configuration file given by the runtime
    binary: str | None = None  # BinaryName / runtime_engine / runtime_path
    file: str | None = None
    line: int | None = None  # line of the runtime's table header
    implicit: bool = False  # not in the file: the CRI's built-in default
    workloads: tuple[CrioWorkload, ...] = ()  # CRI-O: the configuration's workloads

    @property
    def is_kata(self) -> bool:
        """A Kata runtime: the Kata shim v2, or the kata-runtime binary behind a shim."""
        text = f"{self.runtime_type} {self.binary or ''}".lower()
        return "kata" in text

    def location(self) -> str:
        if self.implicit:
            return f"{self.manager} built-in default"
        where = self.file or "<config>"
        return f"{where}:{self.line}" if self.line else where


@dataclass(frozen=True, slots=True)
class CRIConfig:
    """The runtime handlers of a containerd or CRI-O configuration file."""

    manager: str  # CONTAINERD or CRIO
    file: str | None
    layout: str  # "containerd-v1" ([plugins.cri]), "containerd-v2", "crio"
    version: int | None
    default_runtime_name: str
    runtimes: dict[str, RuntimeHandler]
    diagnostics: tuple[Diagnostic, ...] = ()
    workloads: tuple[CrioWorkload, ...] = ()

    @property
    def kata_runtimes(self) -> list[RuntimeHandler]:
        return [r for r in self.runtimes.values() if r.is_kata]

    def runtime(self, handler: str | None,
                pod_annotations: Mapping[str, str] | None = None) -> RuntimeHandler:
        """The runtime a pod sandbox gets for this RuntimeClass handler (None: no class).

        Raises CRIConfigError with the CRI's own refusal when there is none.
        """
        name = handler or ""
        if self.manager == CONTAINERD:
            if pod_annotations and pod_annotations.get(CONTAINERD_UNTRUSTED_WORKLOAD) == "true":
                if name and name != "untrusted":
                    raise CRIConfigError(
                        "untrusted workload with explicit runtime handler is not allowed",
                        file=self.file, code=CODE_RUNTIME,
                        hint=f"remove the {CONTAINERD_UNTRUSTED_WORKLOAD} annotation or the "
                             "runtimeClassName")
                name = "untrusted"
            if not name:
                name = self.default_runtime_name
            found = self.runtimes.get(name)
            if found is None:
                raise CRIConfigError(
                    f'no runtime for "{name}" is configured', file=self.file, code=CODE_RUNTIME,
                    hint=self._missing_hint(name))
            return found
        if not name:
            name = self.default_runtime_name
        found = self.runtimes.get(name)
        if found is None:
            raise CRIConfigError(
                f"failed to find runtime handler {name} from runtime list "
                f"[{', '.join(sorted(self.runtimes))}]", file=self.file, code=CODE_RUNTIME,
                hint=self._missing_hint(name))
        return found

    def _missing_hint(self, name: str) -> str:
        known = ", ".join(sorted(self.runtimes)) or "none"
        if self.manager == CONTAINERD:
            table = (f"[plugins.cri.containerd.runtimes.{name}]" if self.layout == "containerd-v1"
                     else f'[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{name}]')
        else:
            table = f"[crio.runtime.runtimes.{name}]"
        return f"add {table} (configured runtimes: {known})"


class Dropped(NamedTuple):
    """A pod annotation the CRI layer does not pass down, and why."""

    key: str
    reason: str


@dataclass(frozen=True, slots=True)
class SandboxAnnotations:
    """The annotations of the pod sandbox's OCI spec, as Kata receives them."""

    annotations: dict[str, str]  # everything Kata sees
    passed: dict[str, str]  # pod annotations the CRI passed down
    dropped: list[Dropped]  # pod annotations the CRI kept back
    added: dict[str, str]  # what the CRI itself sets
    overridden: list[str]  # pod annotations replaced by a CRI value of the same key


# ----------------------------------------------------------------------------- passing


def suggest_pattern(key: str) -> str:
    """The pod_annotations pattern (path.Match) a user would add to pass `key`."""
    if key.startswith(KATA_PREFIX):
        return KATA_PREFIX + "*"
    if "/" in key:  # `*` never crosses a '/'
        return key[: key.rindex("/") + 1] + "*"
    return key


_MATCH_CACHE: dict[tuple[str, str], bool | None] = {}


def _path_match(pattern: str, key: str) -> bool | None:
    """Go path.Match: True/False, or None for a malformed pattern (containerd: no match)."""
    hit = _MATCH_CACHE.get((pattern, key), 0)
    if hit != 0:
        return hit  # type: ignore[return-value]
    from katacfg.gocompat.glob import BadPattern, path_match

    try:
        result: bool | None = bool(path_match(pattern, key))
    except BadPattern:
        result = None
    if len(_MATCH_CACHE) > 100_000:
        _MATCH_CACHE.clear()
    _MATCH_CACHE[(pattern, key)] = result
    return result


def pattern_is_valid(pattern: str) -> bool:
    """Whether Go (1.16+) path.Match would accept the pattern's syntax at all."""
    from katacfg.gocompat import glob
    from katacfg.gocompat.strconv import go_bytes

    check = getattr(glob, "_pattern_ok", None)
    if check is not None:
        return bool(check(go_bytes(pattern)))
    try:  # fallback: a probe that walks the whole pattern in most cases
        glob.path_match(pattern, "")
        return True
    except glob.BadPattern:
        return False


def _crio_disallowed(runtime: RuntimeHandler, pod_annotations: Mapping[str, str],
                     workloads: tuple[CrioWorkload, ...]) -> list[str]:
    allowed = set(runtime.allowed_annotations)
    for w in workloads:
        if w.activation_annotation in pod_annotations:
            allowed.update(w.allowed_annotations)
            break  # CRI-O uses the first workload whose activation annotation is present
    return [a for a in CRIO_RESTRICTED_ANNOTATIONS if a not in allowed]


def passed_annotations(pod_annotations: Mapping[str, str], runtime: RuntimeHandler, *,
                       workloads: tuple[CrioWorkload, ...] = ()
                       ) -> tuple[dict[str, str], list[Dropped]]:
    """Split pod annotations into those the CRI passes to the sandbox and those it drops.

    containerd: a key passes if it path.Matches one of the runtime's pod_annotations.
    CRI-O: a key passes unless it starts with a CRI-O annotation that the runtime (or the
    workload the pod activates; default: the runtime's configuration's workloads) does not
    allow. Each drop says which pattern/prefix is missing.
    """
    passed: dict[str, str] = {}
    dropped: list[Dropped] = []
    if runtime.manager == CONTAINERD:
        patterns = runtime.pod_annotations
        where = runtime.location()
        for key, value in pod_annotations.items():
            bad: list[str] = []
            for pattern in patterns:
                ok = _path_match(pattern, key)
                if ok:
                    passed[key] = value
                    break
                if ok is None:
                    bad.append(pattern)
            else:
                fix = suggest_pattern(key)
                if not patterns:
                    reason = (f'runtime "{runtime.name}" ({where}) has no pod_annotations, so '
                              f'containerd passes no pod annotation; add pod_annotations = '
                              f'["{fix}"]')
                else:
                    shown = ", ".join(f'"{p}"' for p in patterns)
                    reason = (f'no pod_annotations pattern of runtime "{runtime.name}" '
                              f'({where}) matches it (patterns: {shown}); add "{fix}"')
                if bad:
                    reason += "; malformed, matching nothing: " + ", ".join(
                        f'"{p}"' for p in bad)
                dropped.append(Dropped(key, reason))
        return passed, dropped
    disallowed = _crio_disallowed(runtime, pod_annotations, workloads or runtime.workloads)
    for key, value in pod_annotations.items():
        for prefix in disallowed:
            if key.startswith(prefix):
                dropped.append(Dropped(key, (
                    f'CRI-O drops it: "{prefix}" is a CRI-O annotation that runtime '
                    f'"{runtime.name}" ({runtime.location()}) does not allow; add '
                    f'allowed_annotations = ["{prefix}"]')))
                break
        else:
            passed[key] = value
    return passed, dropped


def cri_sandbox_annotations(manager: str, *, name: str = "", namespace: str = "default",
                            handler: str = "", sandbox_id: str = SANDBOX_ID_PLACEHOLDER,
                            log_dir: str = LOG_DIR_PLACEHOLDER) -> dict[str, str]:
    """The annotations the CRI itself puts on a pod sandbox spec (those Kata reads first)."""
    if manager == CONTAINERD:
        return {
            CONTAINERD_CONTAINER_TYPE: "sandbox",
            CONTAINERD_SANDBOX_ID: sandbox_id,
            CONTAINERD_SANDBOX_NAMESPACE: namespace,
            CONTAINERD_SANDBOX_NAME: name,
            CONTAINERD_SANDBOX_LOG_DIR: log_dir,
        }
    return {
        CRIO_CONTAINER_TYPE: "sandbox",
        CRIO_SANDBOX_ID: sandbox_id,
        CRIO_KUBE_NAME: name,
        CRIO_NAMESPACE: namespace,
        CRIO_RUNTIME_HANDLER: handler,
    }


def sandbox_annotations(pod_annotations: Mapping[str, str], runtime: RuntimeHandler, *,
                        name: str = "", namespace: str = "default",
                        labels: Mapping[str, str] | None = None,
                        workloads: tuple[CrioWorkload, ...] = (),
                        sandbox_id: str = SANDBOX_ID_PLACEHOLDER) -> SandboxAnnotations:
    """The OCI annotations of the pod sandbox the CRI asks Kata to create.

    containerd: passed pod annotations, then its own io.kubernetes.cri.* (which win).
    CRI-O: its own io.kubernetes.cri-o.*, then the handler's default_annotations overlaid
    with the passed pod annotations, then the pod labels (later entries win).
    """
    import json

    passed, dropped = passed_annotations(pod_annotations, runtime, workloads=workloads)
    added = cri_sandbox_annotations(runtime.manager, name=name, namespace=namespace,
                                    handler=runtime.name, sandbox_id=sandbox_id)
    if runtime.manager == CONTAINERD:
        overridden = [k for k in passed if k in added]
        return SandboxAnnotations({**passed, **added}, passed, dropped, added, overridden)
    kube = {**runtime.default_annotations, **passed}
    added[CRIO_ANNOTATIONS] = json.dumps(kube, sort_keys=True, separators=(",", ":"))
    added[CRIO_LABELS] = json.dumps(dict(labels or {}), sort_keys=True, separators=(",", ":"))
    extra = dict(labels or {})
    overridden = [k for k in passed if k in added]
    return SandboxAnnotations({**added, **kube, **extra}, passed, dropped, added, overridden)


# ----------------------------------------------------------------------------- TOML reading


_HEADER_RE = re.compile(r"^[ \t]*\[(?!\[)(.+?)\][ \t]*(?:#.*)?$")
_KEYLINE_RE = re.compile(r"""^[ \t]*((?:[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*')"""
                          r"""(?:[ \t]*\.[ \t]*(?:[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*'))*)[ \t]*=""")
_KEYPART_RE = re.compile(r"""[ \t]*(?:([A-Za-z0-9_-]+)|"((?:[^"\\]|\\.)*)"|'([^']*)')[ \t]*""")


def _split_key(text: str) -> tuple[str, ...] | None:
    parts: list[str] = []
    pos = 0
    while True:
        m = _KEYPART_RE.match(text, pos)
        if not m:
            return None
        bare, basic, literal = m.groups()
        parts.append(bare if bare is not None else
                     basic.encode().decode("unicode_escape") if basic is not None and "\\" in basic
                     else basic if basic is not None else literal)
        pos = m.end()
        if pos == len(text):
            return tuple(parts)
        if text[pos] != ".":
            return None
        pos += 1


def _toml_lines(text: str) -> dict[tuple[str, ...], int]:
    """1-based line of each table header and key (for messages; tomllib has no positions)."""
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for n, line in enumerate(text.splitlines(), start=1):
        m = _HEADER_RE.match(line)
        if m:
            key = _split_key(m.group(1))
            if key is not None:
                table = key
                lines.setdefault(table, n)
            continue
        k = _KEYLINE_RE.match(line)
        if k:
            key = _split_key(k.group(1))
            if key is not None:
                lines.setdefault(table + key, n)
    return lines


def _read_toml(text_or_path: str | os.PathLike[str], what: str
               ) -> tuple[dict[str, Any], str, str | None]:
    """(data, text, file name) of a TOML file or text; CRIConfigError when unusable."""
    import tomllib

    file: str | None = None
    if isinstance(text_or_path, os.PathLike) or (
            isinstance(text_or_path, str) and "\n" not in text_or_path
            and "=" not in text_or_path and "[" not in text_or_path):
        file = os.fspath(text_or_path)
        try:
            with open(file, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            raise CRIConfigError(f"cannot read {what} configuration {file}: "
                                 f"{exc.strerror or exc}", file=file) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CRIConfigError(f"{what} configuration {file} is not UTF-8: {exc}",
                                 file=file) from None
    else:
        text = str(text_or_path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m.group(1)) if m else None
        col = int(m.group(2)) if m else None
        if m is None and "end of document" in msg:
            line = text.count("\n") + (0 if text.endswith("\n") else 1)
        raise CRIConfigError(f"{what} configuration is not valid TOML: {msg}", file=file,
                             line=line, column=col) from None
    return data, text, file


def _str_list(value: Any, where: str, file: str | None, line: int | None,
              diags: list[Diagnostic], key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    diags.append(Diagnostic("error", CODE_CONFIG,
                             f"{where}: `{key}` must be a list of strings, not {value!r}",
                             file, line, None, key))
    return ()


# ----------------------------------------------------------------------------- containerd

_V1_CRI = "cri"
_V2_CRI = "io.containerd.grpc.v1.cri"
_V3_RUNTIME = "io.containerd.cri.v1.runtime"
CONTAINERD_DEFAULT_RUNTIME = "runc"
CONTAINERD_DEFAULT_RUNTIME_TYPE = "io.containerd.runc.v2"


def load_containerd_config(text_or_path: str | os.PathLike[str]) -> CRIConfig:
    """The CRI runtimes of a containerd config.toml (1.x: version 1 or 2 layout).

    version 1 (or none) reads `[plugins.cri]`, version 2 `[plugins."io.containerd.grpc.v1.cri"]`
    (containerd reads only the table of its version). Anything else -> CRIConfigError
    naming the file. Problems containerd would refuse or ignore are in `diagnostics`.
    """
    data, text, file = _read_toml(text_or_path, "containerd")
    name = file or "containerd configuration"
    lines = _toml_lines(text)
    diags: list[Diagnostic] = []
    version = data.get("version", 1)
    plugins = data.get("plugins")
    plugins = plugins if isinstance(plugins, dict) else {}
    if not isinstance(version, int) or isinstance(version, bool):
        raise CRIConfigError(f"{name}: `version` must be an integer, not {version!r}",
                             file=file, line=lines.get(("version",)))
    if version >= 3 or _V3_RUNTIME in plugins:
        raise CRIConfigError(
            f"{name}: unknown containerd configuration layout (version {version}"
            + (f', [plugins."{_V3_RUNTIME}"]' if _V3_RUNTIME in plugins else "")
            + "): katacfg reads containerd 1.x layouts, version 1 [plugins.cri] and "
              'version 2 [plugins."io.containerd.grpc.v1.cri"]',
            file=file, line=lines.get(("version",)) or lines.get(("plugins", _V3_RUNTIME)),
            hint="containerd 2.x (version 3) keeps runtimes under "
                 '[plugins."io.containerd.cri.v1.runtime".containerd.runtimes]')
    if version not in (1, 2):
        raise CRIConfigError(f"{name}: unknown containerd configuration version {version}",
                             file=file, line=lines.get(("version",)))
    disabled = data.get("disabled_plugins") or []
    if isinstance(disabled, list) and (_V1_CRI in disabled or _V2_CRI in disabled):
        raise CRIConfigError(
            f"{name}: the CRI plugin is disabled (disabled_plugins = {disabled!r}): "
            "Kubernetes cannot run pods through this containerd", file=file,
            line=lines.get(("disabled_plugins",)),
            hint='remove "cri" from disabled_plugins (Docker\'s packaged config.toml '
                 "disables it)")
    own, other = (_V1_CRI, _V2_CRI) if version == 1 else (_V2_CRI, _V1_CRI)
    layout = "containerd-v1" if version == 1 else "containerd-v2"
    cri = plugins.get(own)
    if not isinstance(cri, dict):
        if isinstance(plugins.get(other), dict):
            if version == 1:
                msg = (f'{name}: the CRI plugin is configured as [plugins."{_V2_CRI}"] '
                       "(version 2 layout) but the file has no `version = 2`: containerd "
                       "reads [plugins.cri] and would not see these runtimes")
                hint = "add `version = 2` at the top of the file"
            else:
                msg = (f"{name}: the CRI plugin is configured as [plugins.cri] (version 1 "
                       f"layout) but the file says version = 2: containerd reads "
                       f'[plugins."{_V2_CRI}"] and would not see these runtimes')
                hint = "remove `version = 2`, or rename the tables to the version 2 layout"
            raise CRIConfigError(msg, file=file, line=lines.get(("plugins", other)),
                                 hint=hint)
        raise CRIConfigError(
            f"{name}: unknown containerd configuration layout: no CRI plugin table "
            + ("[plugins.cri]" if version == 1 else f'[plugins."{_V2_CRI}"]'),
            file=file, hint="the Kata runtime goes in [plugins.cri.containerd.runtimes.kata] "
                            '(version 1) or [plugins."io.containerd.grpc.v1.cri".containerd.'
                            "runtimes.kata] (version 2)")
    base = ("plugins", own)
    ctd = cri.get("containerd") if isinstance(cri.get("containerd"), dict) else {}
    raw_runtimes = ctd.get("runtimes") if isinstance(ctd.get("runtimes"), dict) else {}
    runtimes: dict[str, RuntimeHandler] = {}
    for rname, raw in raw_runtimes.items():
        path = base + ("containerd", "runtimes", rname)
        if not isinstance(raw, dict):
            diags.append(Diagnostic("error", CODE_CONFIG,
                                     f"runtime {rname!r} must be a table, not {raw!r}", file,
                                     lines.get(path), None, rname))
            continue
        runtimes[rname] = _containerd_runtime(rname, raw, path, file, lines, diags)

    default_name = ctd.get("default_runtime_name")
    if not isinstance(default_name, str) or not default_name:
        default_name = CONTAINERD_DEFAULT_RUNTIME
    if CONTAINERD_DEFAULT_RUNTIME not in runtimes:
        # containerd decodes the file over its defaults, which already hold runc
        runtimes[CONTAINERD_DEFAULT_RUNTIME] = RuntimeHandler(
            CONTAINERD_DEFAULT_RUNTIME, CONTAINERD, CONTAINERD_DEFAULT_RUNTIME_TYPE,
            file=file, implicit=True)
    # Deprecated tables, as containerd's ValidatePluginConfig maps them.
    for table, target in (("untrusted_workload_runtime", "untrusted"),
                          ("default_runtime", "default")):
        raw = ctd.get(table)
        if isinstance(raw, dict) and raw.get("runtime_type"):
            path = base + ("containerd", table)
            if target == "untrusted" and target in raw_runtimes:
                diags.append(Diagnostic(
                    "error", CODE_CONFIG,
                    "conflicting definitions: configuration includes both "
                    '`untrusted_workload_runtime` and `runtimes["untrusted"]`', file,
                    lines.get(path), None, table))
                continue
            runtimes[target] = _containerd_runtime(target, raw, path, file, lines, diags)
            if target == "default":
                default_name = "default"
            diags.append(Diagnostic("warning", CODE_CONFIG_WARN,
                                     f"`{table}` is deprecated; containerd uses it as runtime "
                                     f'"{target}"', file, lines.get(path), None, table))
    if default_name not in runtimes:
        diags.append(Diagnostic(
            "error", CODE_CONFIG,
            f'no corresponding runtime configured in `runtimes` for `default_runtime_name` '
            f'"{default_name}": containerd refuses to load the CRI plugin', file,
            lines.get(base + ("containerd", "default_runtime_name")), None,
            "default_runtime_name"))
    return CRIConfig(CONTAINERD, file, layout, version, default_name, runtimes, tuple(diags))


def _containerd_runtime(rname: str, raw: dict[str, Any], path: tuple[str, ...],
                        file: str | None, lines: dict[tuple[str, ...], int],
                        diags: list[Diagnostic]) -> RuntimeHandler:
    line = lines.get(path)
    where = f"runtime {rname!r}"
    pods = _str_list(raw.get("pod_annotations"), where, file,
                     lines.get(path + ("pod_annotations",), line), diags, "pod_annotations")
    ctrs = _str_list(raw.get("container_annotations"), where, file,
                     lines.get(path + ("container_annotations",), line), diags,
                     "container_annotations")
    for pattern in pods:
        if not pattern_is_valid(pattern):
            diags.append(Diagnostic(
                "warning", CODE_PATTERN,
                f'{where}: pod_annotations pattern "{pattern}" is malformed (path.Match: '
                "syntax error in pattern); containerd ignores the error, so it matches "
                "nothing", file, lines.get(path + ("pod_annotations",), line), None,
                "pod_annotations"))
    options = raw.get("options") if isinstance(raw.get("options"), dict) else {}
    rtype = raw.get("runtime_type") if isinstance(raw.get("runtime_type"), str) else ""
    config_path = options.get("ConfigPath") if isinstance(options.get("ConfigPath"), str) else None
    binary = None
    for cand in (options.get("BinaryName"), raw.get("runtime_engine"), raw.get("runtime_path")):
        if isinstance(cand, str) and cand:
            binary = cand
            break
    return RuntimeHandler(rname, CONTAINERD, rtype, pods, ctrs, options=dict(options),
                          config_path=config_path or None, binary=binary, file=file, line=line)


# ----------------------------------------------------------------------------- CRI-O

CRIO_DEFAULT_RUNTIME = "runc"


def load_crio_config(text_or_path: str | os.PathLike[str]) -> CRIConfig:
    """The runtime handlers of a crio.conf (`[crio.runtime]`, `[crio.runtime.runtimes.*]`)."""
    data, text, file = _read_toml(text_or_path, "CRI-O")
    name = file or "CRI-O configuration"
    lines = _toml_lines(text)
    diags: list[Diagnostic] = []
    crio = data.get("crio")
    if not isinstance(crio, dict):
        raise CRIConfigError(f"{name}: not a crio.conf: no [crio] table", file=file,
                             hint="CRI-O runtimes go in [crio.runtime.runtimes.NAME]")
    runtime = crio.get("runtime") if isinstance(crio.get("runtime"), dict) else {}
    base = ("crio", "runtime")
    default_name = runtime.get("default_runtime")
    if not isinstance(default_name, str) or not default_name:
        default_name = CRIO_DEFAULT_RUNTIME
    raw_runtimes = runtime.get("runtimes") if isinstance(runtime.get("runtimes"), dict) else {}
    runtimes: dict[str, RuntimeHandler] = {}
    for rname, raw in raw_runtimes.items():
        path = base + ("runtimes", rname)
        line = lines.get(path)
        if not isinstance(raw, dict):
            diags.append(Diagnostic("error", CODE_CONFIG,
                                     f"runtime {rname!r} must be a table, not {raw!r}", file,
                                     line, None, rname))
            continue
        where = f"runtime {rname!r}"
        allowed = _str_list(raw.get("allowed_annotations"), where, file,
                            lines.get(path + ("allowed_annotations",), line), diags,
                            "allowed_annotations")
        _check_crio_allowed(allowed, where, file,
                            lines.get(path + ("allowed_annotations",), line), diags)
        defaults = raw.get("default_annotations")
        defaults = ({str(k): v for k, v in defaults.items() if isinstance(v, str)}
                    if isinstance(defaults, dict) else {})
        rtype = raw.get("runtime_type") if isinstance(raw.get("runtime_type"), str) else ""
        cpath = raw.get("runtime_config_path")
        binary = raw.get("runtime_path")  # empty: CRI-O looks the handler name up in $PATH
        runtimes[rname] = RuntimeHandler(
            rname, CRIO, rtype or "oci", allowed_annotations=allowed,
            default_annotations=defaults, config_path=cpath if isinstance(cpath, str) and cpath
            else None, binary=binary if isinstance(binary, str) and binary else rname,
            file=file, line=line)
    if CRIO_DEFAULT_RUNTIME not in runtimes:
        runtimes[CRIO_DEFAULT_RUNTIME] = RuntimeHandler(
            CRIO_DEFAULT_RUNTIME, CRIO, "oci", file=file, implicit=True)
    if default_name not in runtimes:
        diags.append(Diagnostic(
            "error", CODE_CONFIG,
            f"default_runtime set to {default_name!r}, but no runtime entry table "
            f"[crio.runtime.runtimes.{default_name}] was found: CRI-O refuses to start",
            file, lines.get(base + ("default_runtime",)), None, "default_runtime"))
    if "runtime_untrusted_workload" in runtime:
        diags.append(Diagnostic(
            "warning", CODE_CONFIG_WARN,
            "runtime_untrusted_workload is the pre-RuntimeClass way to pick Kata (CRI-O < 1.14);"
            " katacfg follows RuntimeClass handlers in [crio.runtime.runtimes.*]", file,
            lines.get(base + ("runtime_untrusted_workload",)), None,
            "runtime_untrusted_workload"))
    workloads: list[CrioWorkload] = []
    raw_w = runtime.get("workloads") if isinstance(runtime.get("workloads"), dict) else {}
    for wname, raw in raw_w.items():
        if not isinstance(raw, dict) or not isinstance(raw.get("activation_annotation"), str):
            continue
        path = base + ("workloads", wname)
        allowed = _str_list(raw.get("allowed_annotations"), f"workload {wname!r}", file,
                            lines.get(path), diags, "allowed_annotations")
        _check_crio_allowed(allowed, f"workload {wname!r}", file, lines.get(path), diags)
        prefix = raw.get("annotation_prefix")
        workloads.append(CrioWorkload(wname, raw["activation_annotation"],
                                      prefix if isinstance(prefix, str) else "", allowed))
    if workloads:
        runtimes = {n: replace(r, workloads=tuple(workloads)) for n, r in runtimes.items()}
    return CRIConfig(CRIO, file, "crio", None, default_name, runtimes, tuple(diags),
                     tuple(workloads))


def _check_crio_allowed(allowed: tuple[str, ...], where: str, file: str | None,
                        line: int | None, diags: list[Diagnostic]) -> None:
    for entry in allowed:
        if entry in CRIO_RESTRICTED_ANNOTATIONS:
            continue
        kata = entry.startswith(KATA_PREFIX.rstrip("."))
        diags.append(Diagnostic(
            "warning", CODE_CONFIG_WARN,
            f"{where}: allowed_annotations entry {entry!r} is not a CRI-O annotation: recent "
            f"CRI-O refuses to start (invalid allowed_annotation: {entry}), older CRI-O "
            "ignores it" + ("; Kata annotations need no entry, CRI-O passes them down"
                            if kata else ""),
            file, line, None, "allowed_annotations",
            "list only CRI-O annotations such as io.kubernetes.cri-o.Devices"))


def load_cri_config(text_or_path: str | os.PathLike[str], manager: str) -> CRIConfig:
    """load_containerd_config or load_crio_config, by manager name."""
    if manager == CONTAINERD:
        return load_containerd_config(text_or_path)
    if manager == CRIO:
        return load_crio_config(text_or_path)
    raise ValueError(f"unknown CRI manager {manager!r}")
