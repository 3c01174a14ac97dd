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
from collections import namedtuple

from katacfg.config.errors import Diagnostic, KataError
from katacfg.config.records import Record
from katacfg.config.registry import KATA_PREFIX
from katacfg.profiles.kata1x.options import CONFIG_PATH_ANNOTATION

TYPE_CHECKING = False  # dataclasses and typing cost explain's start-up milliseconds
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

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
        if file and message.startswith(file + ": "):
            message = message[len(file) + 2:]  # the location already names the file
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


class CrioWorkload(Record):
    """A `[crio.runtime.workloads.NAME]` table: more allowed annotations for some pods."""

    name: str
    activation_annotation: str
    annotation_prefix: str = ""
    allowed_annotations: tuple[str, ...] = ()


class RuntimeHandler(Record):
    """One runtime of the CRI configuration, as the RuntimeClass `handler` names it."""

    name: str
    manager: str  # CONTAINERD or CRIO
    runtime_type: str  # "io.containerd.kata.v2"; CRI-O: "oci" / "vm"
    pod_annotations: tuple[str, ...] = ()  # containerd: path.Match patterns
    container_annotations: tuple[str, ...] = ()  # containerd: for containers, not the pod
    allowed_annotations: tuple[str, ...] = ()  # CRI-O: restricted annotations unlocked
    default_annotations: dict[str, str] = {}  # CRI-O (never mutated: shared default)
    options: dict[str, Any] = {}  # containerd runtime options (never mutated)
    config_path: str | None = None  # Kata configuration file given by the runtime
    binary: str | None = None  # BinaryName / runtime_engine / runtime_path
    file: str | None = None
    line: int | None = None  # line of the runtime's table header
    implicit: bool = False  # not in the file: the CRI's built-in default
    workloads: tuple[CrioWorkload, ...] = ()  # CRI-O: the configuration's workloads
    runtime_path: str | None = None  # containerd: the shim binary, instead of its derived name

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


class CRIConfig(Record):
    """The runtime handlers of a containerd or CRI-O configuration file."""

    manager: str  # CONTAINERD or CRIO
    file: str | None
    layout: str  # "containerd-v1" ([plugins.cri]), "containerd-v2", "crio"
    version: int | None
    default_runtime_name: str
    runtimes: dict[str, RuntimeHandler]
    diagnostics: tuple[Diagnostic, ...] = ()
    workloads: tuple[CrioWorkload, ...] = ()
    files: tuple[str, ...] = ()  # every file read (containerd: the root, then its imports)

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
            table = _runtimes_table(int(self.layout[-1])) + f".{name}]"
        else:
            table = f"[crio.runtime.runtimes.{name}]"
        return f"add {table} (configured runtimes: {known})"


# A pod annotation the CRI layer does not pass down, and why.
Dropped = namedtuple("Dropped", ["key", "reason"])


class SandboxAnnotations(Record):
    """The annotations of the pod sandbox's OCI spec, as Kata receives them."""

    annotations: dict[str, str]  # everything Kata sees
    passed: dict[str, str]  # pod annotations the CRI passed down
    dropped: list[Dropped]  # pod annotations the CRI kept back
    added: dict[str, str]  # what the CRI itself sets
    overridden: list[str]  # pod annotations replaced by a CRI value of the same key


# ----------------------------------------------------------------------------- Kata front end

# containerd's shim v2 naming: runtime_type io.containerd.<name>.<version> runs the binary
# containerd-shim-<name>-<version> (kata-deploy: io.containerd.kata-qemu.v2 and friends).
_SHIM_TYPE_RE = re.compile(r"io\.containerd\.([^.]+)\.(v[0-9]+)\Z")


def shim_binary(runtime: RuntimeHandler) -> str | None:
    """The containerd shim a runtime runs: runtime_path if set, else the name containerd
    derives from runtime_type (io.containerd.kata-qemu.v2 -> containerd-shim-kata-qemu-v2)."""
    if runtime.manager != CONTAINERD:
        return None
    if runtime.runtime_path:
        return runtime.runtime_path
    m = _SHIM_TYPE_RE.match(runtime.runtime_type)
    return f"containerd-shim-{m.group(1)}-{m.group(2)}" if m else None


def kata_front_end(runtime: RuntimeHandler | None) -> str:
    """Which Kata front end loads the configuration: "shimv2" or "cli".

    containerd: a shim v2 whose name is Kata's (io.containerd.kata.v2, kata-deploy's
    io.containerd.kata-<name>.v2) is containerd-shim-kata-v2; any other runtime type runs
    kata-runtime (the CLI) as its OCI runtime binary. CRI-O: runtime_type "vm" is the shim
    v2. No CRI configuration: the shim v2, as every current install.
    """
    if runtime is None:
        return "shimv2"
    kind = runtime.runtime_type.lower()
    if runtime.manager == CRIO:
        return "shimv2" if kind == "vm" else "cli"
    m = _SHIM_TYPE_RE.match(kind)
    if m is not None and m.group(2) == "v2" and m.group(1).startswith("kata"):
        return "shimv2"
    return "cli"


def kata_config_path(runtime: RuntimeHandler | None, sandbox: Mapping[str, str], mode: str,
                     *, override: str | None = None) -> tuple[str | None, bool]:
    """(the Kata configuration file a sandbox loads, whether the pod chose it).

    `override` (--kata-config) stands for the node's file; else the runtime's ConfigPath /
    runtime_config_path; the shim v2 then lets io.katacontainers.config_path choose (it is
    not gated by enable_annotations). None: Kata's default paths.
    """
    path = override or (runtime.config_path if runtime is not None else None)
    chosen = sandbox.get(CONFIG_PATH_ANNOTATION) if mode == "shimv2" else None
    if chosen:
        return chosen, True
    return path, False


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
    passed, dropped = passed_annotations(pod_annotations, runtime, workloads=workloads)
    added = cri_sandbox_annotations(runtime.manager, name=name, namespace=namespace,
                                    handler=runtime.name, sandbox_id=sandbox_id)
    if runtime.manager == CONTAINERD:
        overridden = [k for k in passed if k in added]
        return SandboxAnnotations({**passed, **added}, passed, dropped, added, overridden)
    import json

    kube = {**runtime.default_annotations, **passed}
    added[CRIO_ANNOTATIONS] = json.dumps(kube, sort_keys=True, separators=(",", ":"))
    added[CRIO_LABELS] = json.dumps(dict(labels or {}), sort_keys=True, separators=(",", ":"))
    extra = dict(labels or {})
    overridden = [k for k in passed if k in added]
    return SandboxAnnotations({**added, **kube, **extra}, passed, dropped, added, overridden)


# ----------------------------------------------------------------------------- TOML reading

# one containerd / CRI-O file: the configuration cap (safeio.MAX_CONFIG_BYTES, 1 MiB; a
# stock containerd config.toml is 10 KiB), which keeps the worst TOML under the memory ceiling
MAX_CRI_CONFIG_BYTES = 1024 * 1024
MAX_IMPORTED_FILES = 64  # containerd imports and drop-ins followed, in all
# all files of one containerd configuration together: 64 hostile 1 MiB imports took 110 s
# to parse; real drop-ins are a few KiB each
MAX_CRI_TOTAL_BYTES = 2 * 1024 * 1024


class _Toml:
    """One decoded TOML file, with the line of each key and table (gotoml's positions)."""

    __slots__ = ("data", "file", "positions")

    def __init__(self, data: dict[str, Any], file: str | None,
                 positions: dict[tuple[Any, ...], tuple[int, int]]) -> None:
        self.data, self.file, self.positions = data, file, positions

    def line(self, path: tuple[Any, ...], default: int | None = None) -> int | None:
        pos = self.positions.get(path)
        return pos[0] if pos else default


def _is_toml_path(text_or_path: str | os.PathLike[str]) -> bool:
    return isinstance(text_or_path, os.PathLike) or (
        isinstance(text_or_path, str) and "\n" not in text_or_path
        and "=" not in text_or_path and "[" not in text_or_path)


def _read_toml(text_or_path: str | os.PathLike[str], what: str) -> _Toml:
    """A TOML file or text, decoded; CRIConfigError when it is unusable.

    gotoml (with positions) reads what the Go TOML 0.4 decoder reads; a file it refuses
    for a TOML 1.0 feature that containerd's and CRI-O's go-toml accept (dotted keys,
    mixed arrays) is read with tomllib instead, without positions.
    """
    from katacfg.gocompat import gotoml
    from katacfg.host import safeio

    file: str | None = None
    if _is_toml_path(text_or_path):
        file = os.fspath(text_or_path)
        try:
            raw = safeio.read_bytes(file, limit=MAX_CRI_CONFIG_BYTES,
                                    what=f"{what} configuration")
        except safeio.FileRefused as exc:
            reason = exc.text.split(f"{file}: ", 1)[-1]
            raise CRIConfigError(f"cannot read {what} configuration: {reason}", file=file,
                                 hint=exc.hint) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CRIConfigError(f"{what} configuration is not UTF-8 (byte {exc.start})",
                                 file=file) from None
    else:
        text = str(text_or_path)
    try:
        doc = gotoml.parse(text)
        return _Toml(doc.data, file, doc.positions)
    except (gotoml.TomlSyntaxError, RecursionError):
        pass
    return _Toml(_tomllib_fallback(text, what, file), file, {})


_MANIFEST_RE = re.compile(r"^(?:apiVersion|kind):[ \t]*\S", re.M)
_KATA_TABLES = ("hypervisor", "agent", "factory", "netmon", "shim", "proxy")
_CONTAINERD_KEYS = ("plugins", "imports", "disabled_plugins", "required_plugins", "grpc",
                    "proxy_plugins", "stream_processors")


def looks_like_manifest(text: str) -> bool:
    """A Kubernetes YAML manifest (both `apiVersion:` and `kind:` at the start of lines)."""
    found = {m.group(0)[:4] for m in _MANIFEST_RE.finditer(text, 0, 65536)}
    return found == {"apiV", "kind"}


def config_kind(data: Mapping[str, Any]) -> str | None:
    """Which configuration a decoded TOML file is: "crio", "containerd", "kata" or None."""
    if isinstance(data.get("crio"), dict):
        return "crio"
    if any(k in data for k in _CONTAINERD_KEYS):
        return "containerd"
    if any(isinstance(data.get(k), dict) for k in _KATA_TABLES):
        return "kata"
    return None


_KIND_TEXT = {
    "crio": ("a CRI-O configuration ([crio] table)", "give it with --crio-config"),
    "containerd": ("a containerd configuration", "give it with --containerd-config"),
    "kata": ("a Kata configuration.toml", "give it with --kata-config"),
}


def config_kind_text(kind: str) -> tuple[str, str]:
    """(what a configuration kind is, which flag takes it), for messages."""
    return _KIND_TEXT[kind]


def _wrong_kind(doc: _Toml, name: str, expected: str) -> None:
    """Raise when the file is another kind of configuration, naming the flag that takes it."""
    kind = config_kind(doc.data)
    if kind is None or kind == {"containerd": "containerd", "CRI-O": "crio"}.get(expected):
        return
    what, fix = _KIND_TEXT[kind]
    raise CRIConfigError(f"{name}: this is {what}, not a {expected} configuration",
                         file=doc.file,
                         hint=fix)


def _tomllib_fallback(text: str, what: str, file: str | None) -> dict[str, Any]:
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        if looks_like_manifest(text):
            raise CRIConfigError(f"this is a Kubernetes manifest (YAML), not a {what} "
                                 "configuration", file=file,
                                 hint="give it as MANIFEST.yaml: katacfg explain MANIFEST.yaml "
                                      "--containerd-config CONFIG.toml") from None
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m.group(1)) if m else None
        col = int(m.group(2)) if m else None
        if m is None and "end of document" in msg:
            line = text.count("\n") + (0 if text.endswith("\n") else 1)
        raise CRIConfigError(f"{what} configuration is not valid TOML: {msg}", file=file,
                             line=line, column=col) from None
    except RecursionError:
        raise CRIConfigError(f"{what} configuration is nested too deeply to read",
                             file=file) from None


def _str_list(value: Any, where: str, file: str | None, line: int | None,
              diags: list[Diagnostic], key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    diags.append(Diagnostic("error", CODE_CONFIG,
                             f"{where}: `{key}` must be a list of strings, not {_short(value)}",
                             file, line, None, key))
    return ()


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# ----------------------------------------------------------------------------- containerd

_V1_CRI = "cri"
_V2_CRI = "io.containerd.grpc.v1.cri"
_V3_RUNTIME = "io.containerd.cri.v1.runtime"
CONTAINERD_DEFAULT_RUNTIME = "runc"
CONTAINERD_DEFAULT_RUNTIME_TYPE = "io.containerd.runc.v2"
_CRI_TABLE = {1: _V1_CRI, 2: _V2_CRI, 3: _V3_RUNTIME}  # where each layout keeps its runtimes
_LAYOUT = {1: "containerd-v1", 2: "containerd-v2", 3: "containerd-v3"}


def _plugin_table(layout_version: int) -> str:
    """`[plugins.cri]` / `[plugins."io.containerd.grpc.v1.cri"]` ... without the bracket."""
    plugin = _CRI_TABLE[layout_version]
    return f"[plugins.{plugin}" if plugin == _V1_CRI else f'[plugins."{plugin}"'


def _runtimes_table(layout_version: int) -> str:
    return _plugin_table(layout_version) + ".containerd.runtimes"


class _Merged:
    """The containerd configuration after imports, as containerd merges its files."""

    def __init__(self, version: int, layout: int) -> None:
        self.version = version  # the root file's version (1 for none)
        self.layout = layout  # 1, 2 or 3: which CRI table holds the runtimes
        self.plugins: dict[str, Any] = {}
        self.disabled: list[str] = []
        self.origin: dict[tuple[Any, ...], tuple[str | None, int]] = {}  # path -> (file, line)
        self.files: list[str] = []
        self.diags: list[Diagnostic] = []

    def line(self, path: tuple[Any, ...]) -> int | None:
        found = self.origin.get(path)
        return found[1] if found else None

    def file_of(self, path: tuple[Any, ...], default: str | None) -> str | None:
        found = self.origin.get(path)
        return found[0] if found else default


def load_containerd_config(text_or_path: str | os.PathLike[str]) -> CRIConfig:
    """The CRI runtimes of a containerd config.toml, with its imports and drop-ins.

    containerd 1.x: version 1 (or none) reads `[plugins.cri]`, version 2
    `[plugins."io.containerd.grpc.v1.cri"]`; containerd 2.x (version 3) reads
    `[plugins."io.containerd.cri.v1.runtime"]` and migrates older files it imports. Anything
    unusable -> CRIConfigError naming the file; problems containerd would refuse or ignore
    are in `diagnostics`.
    """
    root = _read_toml(text_or_path, "containerd")
    if "plugins" not in root.data:
        _wrong_kind(root, root.file or "containerd configuration", "containerd")
    merged = _merge_containerd(root)
    file = root.file
    name = file or "containerd configuration"
    for plugin in (_V1_CRI, _V2_CRI, _V3_RUNTIME):
        if plugin in merged.disabled and (plugin == _CRI_TABLE[merged.layout] or plugin == _V2_CRI
                                          or merged.layout == 1 and plugin == _V1_CRI):
            raise CRIConfigError(
                f"{name}: the CRI plugin is disabled (disabled_plugins = {merged.disabled!r}): "
                "Kubernetes cannot run pods through this containerd", file=file,
                line=root.line(("disabled_plugins",)),
                hint=f'remove "{plugin}" from disabled_plugins (Docker\'s packaged config.toml '
                     "disables it)")
    cri = merged.plugins.get(_CRI_TABLE[merged.layout])
    if not isinstance(cri, dict):
        _no_cri_table(merged, root, name)
    base = ("plugins", _CRI_TABLE[merged.layout])
    ctd = _table(_table(cri).get("containerd"))
    runtimes = _containerd_runtimes(ctd, base, merged, file)
    default_name = ctd.get("default_runtime_name")
    if not isinstance(default_name, str) or not default_name:
        default_name = CONTAINERD_DEFAULT_RUNTIME
    if CONTAINERD_DEFAULT_RUNTIME not in runtimes:
        # containerd decodes the file over its defaults, which already hold runc
        runtimes[CONTAINERD_DEFAULT_RUNTIME] = RuntimeHandler(
            CONTAINERD_DEFAULT_RUNTIME, CONTAINERD, CONTAINERD_DEFAULT_RUNTIME_TYPE,
            file=file, implicit=True)
    if merged.layout < 3:
        default_name = _deprecated_tables(ctd, base, merged, runtimes, default_name)
    if default_name not in runtimes:
        path = base + ("containerd", "default_runtime_name")
        merged.diags.append(Diagnostic(
            "error", CODE_CONFIG,
            f'no corresponding runtime configured in `runtimes` for `default_runtime_name` '
            f'"{default_name}": containerd refuses to load the CRI plugin',
            merged.file_of(path, file), merged.line(path), None, "default_runtime_name"))
    return CRIConfig(CONTAINERD, file, _LAYOUT[merged.layout], merged.version, default_name,
                     runtimes, tuple(merged.diags), files=tuple(merged.files))


def _no_cri_table(merged: _Merged, root: _Toml, name: str) -> None:
    """Raise: the layout's CRI table is missing; say which other table holds runtimes."""
    file = root.file
    for other in (_V1_CRI, _V2_CRI, _V3_RUNTIME):
        if other != _CRI_TABLE[merged.layout] and isinstance(merged.plugins.get(other), dict):
            if merged.layout == 1 and other == _V2_CRI:
                msg = (f'{name}: the CRI plugin is configured as [plugins."{_V2_CRI}"] '
                       "(version 2 layout) but the file has no `version = 2`: containerd "
                       "reads [plugins.cri] and would not see these runtimes")
                hint = "add `version = 2` at the top of the file"
            elif merged.layout == 2 and other == _V1_CRI:
                msg = (f"{name}: the CRI plugin is configured as [plugins.cri] (version 1 "
                       f"layout) but the file says version = 2: containerd reads "
                       f'[plugins."{_V2_CRI}"] and would not see these runtimes')
                hint = "remove `version = 2`, or rename the tables to the version 2 layout"
            else:
                msg = (f"{name}: the runtimes are under [plugins.\"{other}\"] but the file says "
                       f"version = {merged.version}: containerd reads "
                       f"{_plugin_table(merged.layout)}] "
                       "and would not see them")
                hint = ("containerd 2.x (version 3) keeps runtimes under "
                        f'[plugins."{_V3_RUNTIME}".containerd.runtimes]')
            raise CRIConfigError(msg, file=merged.file_of(("plugins", other), file),
                                 line=merged.line(("plugins", other)), hint=hint)
    raise CRIConfigError(
        f"{name}: unknown containerd configuration layout: no CRI plugin table "
        + f"{_plugin_table(merged.layout)}]",
        file=file, hint="the Kata runtime goes in [plugins.cri.containerd.runtimes.kata] "
                        '(version 1), [plugins."io.containerd.grpc.v1.cri".containerd.'
                        'runtimes.kata] (version 2) or [plugins."io.containerd.cri.v1.runtime"'
                        ".containerd.runtimes.kata] (version 3)")


def _containerd_runtimes(ctd: dict[str, Any], base: tuple[str, ...], merged: _Merged,
                         file: str | None) -> dict[str, RuntimeHandler]:
    runtimes: dict[str, RuntimeHandler] = {}
    for rname, raw in _table(ctd.get("runtimes")).items():
        path = base + ("containerd", "runtimes", rname)
        if not isinstance(raw, dict):
            merged.diags.append(Diagnostic(
                "error", CODE_CONFIG, f"runtime {rname!r} must be a table, not {_short(raw)}",
                merged.file_of(path, file), merged.line(path), None, rname))
            continue
        runtimes[rname] = _containerd_runtime(rname, raw, path, merged, file)
    return runtimes


def _deprecated_tables(ctd: dict[str, Any], base: tuple[str, ...], merged: _Merged,
                       runtimes: dict[str, RuntimeHandler], default_name: str) -> str:
    """containerd 1.x's ValidatePluginConfig: the pre-`runtimes` tables, as runtimes."""
    raw_runtimes = _table(ctd.get("runtimes"))
    for table, target in (("untrusted_workload_runtime", "untrusted"),
                          ("default_runtime", "default")):
        raw = ctd.get(table)
        if not (isinstance(raw, dict) and raw.get("runtime_type")):
            continue
        path = base + ("containerd", table)
        where = merged.file_of(path, None)
        if target == "untrusted" and target in raw_runtimes:
            merged.diags.append(Diagnostic(
                "error", CODE_CONFIG,
                "conflicting definitions: configuration includes both "
                '`untrusted_workload_runtime` and `runtimes["untrusted"]`', where,
                merged.line(path), None, table))
            continue
        runtimes[target] = _containerd_runtime(target, raw, path, merged, where)
        if target == "default":
            default_name = "default"
        merged.diags.append(Diagnostic("warning", CODE_CONFIG_WARN,
                                       f"`{table}` is deprecated; containerd uses it as runtime "
                                       f'"{target}"', where, merged.line(path), None, table))
    return default_name


def _containerd_runtime(rname: str, raw: dict[str, Any], path: tuple[str, ...],
                        merged: _Merged, default_file: str | None) -> RuntimeHandler:
    file = merged.file_of(path, default_file)
    line = merged.line(path)
    diags = merged.diags
    where = f"runtime {rname!r}"
    pods_line = merged.line(path + ("pod_annotations",)) or line
    pods = _str_list(raw.get("pod_annotations"), where, file, pods_line, diags,
                     "pod_annotations")
    ctrs = _str_list(raw.get("container_annotations"), where, file,
                     merged.line(path + ("container_annotations",)) or line, diags,
                     "container_annotations")
    for pattern in pods:
        if not pattern_is_valid(pattern):
            diags.append(Diagnostic(
                "warning", CODE_PATTERN,
                f'{where}: pod_annotations pattern "{pattern}" is malformed (path.Match: '
                "syntax error in pattern); containerd ignores the error, so it matches "
                "nothing", file, pods_line, None, "pod_annotations"))
    options = _table(raw.get("options"))
    rtype = raw.get("runtime_type")
    rtype = rtype if isinstance(rtype, str) else ""
    config_path = options.get("ConfigPath") if isinstance(options.get("ConfigPath"), str) else None
    binary = None
    for cand in (options.get("BinaryName"), raw.get("runtime_engine"), raw.get("runtime_path")):
        if isinstance(cand, str) and cand:
            binary = cand
            break
    rpath = raw.get("runtime_path")
    return RuntimeHandler(rname, CONTAINERD, rtype, pods, ctrs, options=dict(options),
                          config_path=config_path or None, binary=binary, file=file, line=line,
                          runtime_path=rpath if isinstance(rpath, str) and rpath else None)


# -- imports and drop-ins -----------------------------------------------------------------


def _file_version(doc: _Toml, diags: list[Diagnostic]) -> int:
    version = doc.data.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise CRIConfigError(f"{doc.file or 'containerd configuration'}: `version` must be a "
                             f"non-negative integer, not {_short(version)}", file=doc.file,
                             line=doc.line(("version",)))
    return version


def _merge_containerd(root: _Toml) -> _Merged:
    """Follow `imports` as containerd does and merge the files, later files winning.

    containerd 2.x (root version >= 3): each file is migrated from its own version to
    version 3 (`cri` -> `io.containerd.grpc.v1.cri` -> `io.containerd.cri.v1.runtime`),
    then tables merge key by key; a drop-in of a higher version is refused. containerd 1.x
    (root version 1 or 2): a drop-in without `version` takes the root's, and each plugin
    table of a later file replaces the earlier one whole.
    """
    diags: list[Diagnostic] = []
    version = _file_version(root, diags)
    if version > 3:
        diags.append(Diagnostic(
            "warning", CODE_CONFIG_WARN, f"containerd configuration version {version}: read as "
            "version 3 (the containerd 2.x layout)", root.file, root.line(("version",)), None,
            "version"))
    modern = version >= 3
    merged = _Merged(version or 1, 3 if modern else (2 if version == 2 else 1))
    merged.diags = diags
    pending: list[tuple[_Toml | str, str | None]] = [(root, None)]
    loaded: set[str] = set()
    while pending:
        item, importer = pending.pop(0)
        if not isinstance(item, _Toml) and item not in loaded and (
                sum(map(_file_size, merged.files)) + _file_size(item) > MAX_CRI_TOTAL_BYTES):
            diags.append(Diagnostic("error", CODE_CONFIG,
                                    f"imported files larger than {MAX_CRI_TOTAL_BYTES >> 20} "
                                    f"MiB in all; {item} and the rest are not read", importer,
                                    None, None, "imports"))
            break
        doc = item if isinstance(item, _Toml) else _read_import(item, importer, merged)
        if doc is None:
            continue
        if doc.file is not None:
            if doc.file in loaded:
                continue
            loaded.add(doc.file)
            merged.files.append(doc.file)
        _merge_file(doc, merged, modern, version, is_root=doc is root)
        for target in _resolve_imports(doc, merged):
            if len(merged.files) + len(pending) >= MAX_IMPORTED_FILES:
                diags.append(Diagnostic("error", CODE_CONFIG,
                                        f"more than {MAX_IMPORTED_FILES} imported files; the "
                                        "rest are not read", doc.file, doc.line(("imports",)),
                                        None, "imports"))
                break
            pending.append((target, doc.file))
    _ignored_tables(merged)
    return merged


def _file_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except (OSError, ValueError):
        return 0


def _read_import(path: str, importer: str | None, merged: _Merged) -> _Toml | None:
    try:
        from pathlib import Path

        return _read_toml(Path(path), "containerd")
    except CRIConfigError as exc:
        merged.diags.append(Diagnostic(
            "error", CODE_CONFIG, f"{exc.message} (imported by {importer}): containerd refuses "
            "to start", exc.file or path, exc.line, exc.column, "imports"))
        return None


def _resolve_imports(doc: _Toml, merged: _Merged) -> list[str]:
    """containerd's resolveImports: Clean, relative to the importing file, `*` globbed.

    containerd 1.x globs a pattern as written: a relative one against its working
    directory (`/` under systemd), not the importing file's directory."""
    from katacfg.gocompat import fspath, glob

    imports = doc.data.get("imports")
    if imports is None:
        return []
    if not isinstance(imports, list) or not all(isinstance(i, str) for i in imports):
        merged.diags.append(Diagnostic("error", CODE_CONFIG, "`imports` must be a list of "
                                       f"strings, not {_short(imports)}", doc.file,
                                       doc.line(("imports",)), None, "imports"))
        return []
    if doc.file is None:
        if imports:
            merged.diags.append(Diagnostic(
                "warning", CODE_CONFIG_WARN, "imports are not followed for a configuration "
                "given as text", None, doc.line(("imports",)), None, "imports"))
        return []
    out: list[str] = []
    for entry in imports:
        path = fspath.clean(entry)
        if merged.layout < 3 and "*" in entry and not path.startswith("/"):
            merged.diags.append(Diagnostic(
                "warning", CODE_CONFIG_WARN, f"imports: containerd 1.x globs {entry!r} against "
                "its working directory (/ under systemd), not this file's directory",
                doc.file, doc.line(("imports",)), None, "imports",
                "write the pattern as an absolute path"))
            path = fspath.join("/", path)
        elif not path.startswith("/"):
            path = fspath.join(os.path.dirname(doc.file) or ".", path)
        if "*" in path:
            try:
                out.extend(glob.glob(path))
            except glob.BadPattern:
                merged.diags.append(Diagnostic("error", CODE_CONFIG, f"imports: {entry!r}: "
                                               "syntax error in pattern", doc.file,
                                               doc.line(("imports",)), None, "imports"))
        else:
            out.append(path)
    return out


def _migrate(plugins: dict[str, Any], positions: dict[tuple[Any, ...], tuple[int, int]],
             file_version: int) -> tuple[dict[str, Any], dict[tuple[Any, ...], tuple[int, int]]]:
    """containerd 2.x's migrations of one file's plugin tables up to version 3."""
    renames: list[tuple[str, str]] = []
    if file_version < 2 and _V1_CRI in plugins:
        renames.append((_V1_CRI, _V2_CRI))
    if file_version < 3 and (_V2_CRI in plugins or (_V1_CRI, _V2_CRI) in renames):
        renames.append((_V2_CRI, _V3_RUNTIME))
    if not renames:
        return plugins, positions
    plugins = dict(plugins)
    for old, new in renames:
        if old in plugins:
            plugins[new] = plugins.pop(old)
        positions = {(p[:1] + (new,) + p[2:] if len(p) > 1 and p[0] == "plugins" and p[1] == old
                      else p): v for p, v in positions.items()}
    return plugins, positions


def _merge_file(doc: _Toml, merged: _Merged, modern: bool, root_version: int,
                is_root: bool) -> None:
    version = _file_version(doc, merged.diags)
    plugins = _table(doc.data.get("plugins"))
    positions = doc.positions
    if modern:
        if version > root_version:
            raise CRIConfigError(f"drop-in config version {version} higher than root config "
                                 f"version {root_version}", file=doc.file,
                                 line=doc.line(("version",)),
                                 hint="containerd refuses to start; lower the drop-in's version")
        plugins, positions = _migrate(plugins, positions, version)
    elif version and not is_root and version != merged.version:
        merged.version = version  # containerd 1.x: a non-zero version of a later file wins
        merged.layout = 1 if version == 1 else 2
    for name, value in plugins.items():
        if not modern and name in merged.plugins and not is_root:
            merged.diags.append(Diagnostic(
                "warning", CODE_CONFIG_WARN,
                f'{doc.file} replaces the whole [plugins."{name}"] table of the files read '
                "before it: containerd 1.x merges imported files plugin table by plugin table, "
                "so their settings for this plugin are lost (containerd 2.x merges keys)",
                doc.file, positions.get(("plugins", name), (None,))[0], None, "imports"))
            merged.origin = {p: o for p, o in merged.origin.items()
                             if not (len(p) > 1 and p[1] == name)}
        merged.plugins[name] = (_deep_merge(merged.plugins[name], value)
                                if modern and isinstance(merged.plugins.get(name), dict)
                                and isinstance(value, dict) else value)
    for path, pos in positions.items():
        if path and path[0] == "plugins":
            merged.origin[path] = (doc.file, pos[0])
    disabled = doc.data.get("disabled_plugins")
    if isinstance(disabled, list):
        merged.disabled.extend(d for d in disabled if isinstance(d, str)
                               and d not in merged.disabled)


def _deep_merge(into: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    out = dict(into)
    for k, v in value.items():
        out[k] = (_deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict)
                  else v)
    return out


def _ignored_tables(merged: _Merged) -> None:
    """Runtimes left in a CRI table this containerd does not read: say they are ignored."""
    for table in (_V1_CRI, _V2_CRI, _V3_RUNTIME):
        if table == _CRI_TABLE[merged.layout]:
            continue
        runtimes = _table(_table(_table(merged.plugins.get(table)).get("containerd"))
                          .get("runtimes"))
        shown = f"plugins.{table}" if table == _V1_CRI else f'plugins."{table}"'
        if merged.layout == 3:
            reader = (f"containerd 2.x reads runtimes from {_plugin_table(3)}] (and migrates "
                      f"older tables only from files whose version is lower than "
                      f"{'2' if table == _V1_CRI else '3'})")
        else:
            reader = (f"containerd 1.x reads only {_plugin_table(merged.layout)}] in a version "
                      f"{merged.layout} configuration")
        for rname in runtimes:
            path = ("plugins", table, "containerd", "runtimes", rname)
            merged.diags.append(Diagnostic(
                "warning", CODE_CONFIG_WARN,
                f"runtime {rname!r} ([{shown}.containerd.runtimes.{rname}]) is ignored: "
                f"{reader}", merged.file_of(path, None), merged.line(path), None, rname,
                f"move it to {_runtimes_table(merged.layout)}.{rname}]"))


# ----------------------------------------------------------------------------- CRI-O

CRIO_DEFAULT_RUNTIME = "runc"


CRIO_DROP_IN_DIR = "crio.conf.d"  # beside crio.conf (CRI-O's --config-dir default)
AUTO = "<auto>"
_MAX_DROP_IN_DEPTH = 8


def load_crio_config(text_or_path: str | os.PathLike[str],
                     config_dir: str | None = AUTO) -> CRIConfig:
    """The runtime handlers of a crio.conf (`[crio.runtime]`, `[crio.runtime.runtimes.*]`)
    and of its drop-in directory, merged as CRI-O merges them.

    `config_dir` AUTO: `crio.conf.d` beside the file (CRI-O's `--config-dir` default is
    /etc/crio/crio.conf.d, beside /etc/crio/crio.conf), when it exists; None: no drop-ins.
    CRI-O (pkg/config UpdateFromPath) walks the directory recursively in lexical order and
    decodes every file onto the configuration so far: a key a later file sets wins, and a
    `[crio.runtime.runtimes.NAME]` (or workload) table replaces that whole entry, as
    BurntSushi/toml decodes into a map. kata-deploy writes its handlers there.
    """
    main = _read_toml(text_or_path, "CRI-O")
    docs = [main]
    if config_dir == AUTO:
        config_dir = (os.path.join(os.path.dirname(os.path.abspath(main.file)),
                                   CRIO_DROP_IN_DIR) if main.file else None)
        if config_dir and not os.path.isdir(config_dir):
            config_dir = None
    diags: list[Diagnostic] = []
    if config_dir:
        total = _file_size(main.file) if main.file else 0
        for p in _crio_drop_ins(config_dir, main.file):
            total += _file_size(p)
            if total > MAX_CRI_TOTAL_BYTES:
                diags.append(Diagnostic("error", CODE_CONFIG,
                                        f"drop-in files larger than {MAX_CRI_TOTAL_BYTES >> 20} "
                                        f"MiB in all; {p} and the rest are not read",
                                        main.file, None, None, None))
                break
            docs.append(_read_toml(p, "CRI-O"))
    name = main.file or "CRI-O configuration"
    with_crio = [d for d in docs if isinstance(d.data.get("crio"), dict)]
    if not with_crio:
        _wrong_kind(main, name, "CRI-O")
        raise CRIConfigError(f"{name}: not a crio.conf: no [crio] table"
                             + (f" (nor in {config_dir})" if len(docs) > 1 else ""),
                             file=main.file,
                             hint="CRI-O runtimes go in [crio.runtime.runtimes.NAME]")
    base = ("crio", "runtime")
    default_name: Any = None
    default_doc = main
    raw_runtimes: dict[str, tuple[_Toml, Any]] = {}
    raw_workloads: dict[str, tuple[_Toml, Any]] = {}
    untrusted: _Toml | None = None
    for doc in with_crio:
        runtime = _table(doc.data["crio"].get("runtime"))
        if "default_runtime" in runtime:
            default_name, default_doc = runtime["default_runtime"], doc
        for rname, raw in _table(runtime.get("runtimes")).items():
            raw_runtimes[rname] = (doc, raw)  # a later file's entry replaces the whole entry
        for wname, raw in _table(runtime.get("workloads")).items():
            raw_workloads[wname] = (doc, raw)
        if "runtime_untrusted_workload" in runtime:
            untrusted = doc
    if not isinstance(default_name, str) or not default_name:
        default_name = CRIO_DEFAULT_RUNTIME
    runtimes: dict[str, RuntimeHandler] = {}
    for rname, (doc, raw) in raw_runtimes.items():
        handler = _crio_runtime(doc, rname, raw, diags)
        if handler is not None:
            runtimes[rname] = handler
    if CRIO_DEFAULT_RUNTIME not in runtimes:
        runtimes[CRIO_DEFAULT_RUNTIME] = RuntimeHandler(
            CRIO_DEFAULT_RUNTIME, CRIO, "oci", file=main.file, implicit=True)
    if default_name not in runtimes:
        diags.append(Diagnostic(
            "error", CODE_CONFIG,
            f"default_runtime set to {default_name!r}, but no runtime entry table "
            f"[crio.runtime.runtimes.{default_name}] was found: CRI-O refuses to start",
            default_doc.file, default_doc.line(base + ("default_runtime",)), None,
            "default_runtime"))
    if untrusted is not None:
        diags.append(Diagnostic(
            "warning", CODE_CONFIG_WARN,
            "runtime_untrusted_workload is the pre-RuntimeClass way to pick Kata (CRI-O < 1.14);"
            " katacfg follows RuntimeClass handlers in [crio.runtime.runtimes.*]", untrusted.file,
            untrusted.line(base + ("runtime_untrusted_workload",)), None,
            "runtime_untrusted_workload"))
    workloads: tuple[CrioWorkload, ...] = ()
    for wname, (doc, raw) in raw_workloads.items():
        workloads += _crio_workloads(doc, {wname: raw}, diags)
    if workloads:
        runtimes = {n: r.replace(workloads=workloads) for n, r in runtimes.items()}
    return CRIConfig(CRIO, main.file, "crio", None, default_name, runtimes, tuple(diags),
                     workloads, files=tuple(d.file for d in docs if d.file))


def _crio_drop_ins(directory: str, main: str | None) -> list[str]:
    """The files of a CRI-O drop-in directory in Go filepath.Walk's order (lexical, a
    subdirectory's files where its name sorts), bounded like containerd's imports."""
    out: list[str] = []

    def walk(d: str, depth: int) -> None:
        try:
            names = sorted(os.listdir(d))
        except OSError as exc:
            raise CRIConfigError(f"cannot read the CRI-O drop-in directory {d}: "
                                 f"{exc.strerror or exc}", file=main,
                                 hint="CRI-O refuses to start (walk path)") from None
        for n in names:
            p = os.path.join(d, n)
            try:
                is_dir = os.path.isdir(p) and not os.path.islink(p)
            except OSError:
                is_dir = False
            if is_dir:
                if depth >= _MAX_DROP_IN_DEPTH:
                    raise CRIConfigError(f"{p}: drop-in directories nested more than "
                                         f"{_MAX_DROP_IN_DEPTH} deep", file=main)
                walk(p, depth + 1)
                continue
            out.append(p)
            if len(out) > MAX_IMPORTED_FILES:
                raise CRIConfigError(f"{directory}: more than {MAX_IMPORTED_FILES} CRI-O "
                                     "drop-in files; katacfg reads at most that many",
                                     file=main, hint="no real node needs that many")

    walk(directory, 1)
    return out


def _crio_runtime(doc: _Toml, rname: str, raw: Any, diags: list[Diagnostic]
                  ) -> RuntimeHandler | None:
    file = doc.file
    path = ("crio", "runtime", "runtimes", rname)
    line = doc.line(path)
    if not isinstance(raw, dict):
        diags.append(Diagnostic("error", CODE_CONFIG,
                                f"runtime {rname!r} must be a table, not {_short(raw)}", file,
                                line, None, rname))
        return None
    where = f"runtime {rname!r}"
    allowed_line = doc.line(path + ("allowed_annotations",), line)
    allowed = _str_list(raw.get("allowed_annotations"), where, file, allowed_line, diags,
                        "allowed_annotations")
    _check_crio_allowed(allowed, where, file, allowed_line, diags)
    defaults = {str(k): v for k, v in _table(raw.get("default_annotations")).items()
                if isinstance(v, str)}
    rtype = raw.get("runtime_type")
    cpath = raw.get("runtime_config_path")
    binary = raw.get("runtime_path")  # empty: CRI-O looks the handler name up in $PATH
    return RuntimeHandler(
        rname, CRIO, rtype if isinstance(rtype, str) and rtype else "oci",
        allowed_annotations=allowed, default_annotations=defaults,
        config_path=cpath if isinstance(cpath, str) and cpath else None,
        binary=binary if isinstance(binary, str) and binary else rname, file=file, line=line)


def _crio_workloads(doc: _Toml, raw_w: dict[str, Any], diags: list[Diagnostic]
                    ) -> tuple[CrioWorkload, ...]:
    workloads: list[CrioWorkload] = []
    for wname, raw in raw_w.items():
        if not isinstance(raw, dict) or not isinstance(raw.get("activation_annotation"), str):
            continue
        line = doc.line(("crio", "runtime", "workloads", wname))
        allowed = _str_list(raw.get("allowed_annotations"), f"workload {wname!r}", doc.file,
                            line, diags, "allowed_annotations")
        _check_crio_allowed(allowed, f"workload {wname!r}", doc.file, line, diags)
        prefix = raw.get("annotation_prefix")
        workloads.append(CrioWorkload(wname, raw["activation_annotation"],
                                      prefix if isinstance(prefix, str) else "", allowed))
    return tuple(workloads)


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
