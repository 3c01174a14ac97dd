"""The per-pod overlay: io.katacontainers.* annotations on top of a loaded configuration.

Three stages, as in the reference (spec/annotations.md): `annotations` (gate every name by
enable_annotations, then apply overrides in the registry's order), `assets` (asset paths and
their SHA-512 hashes), `hypervisor` (the hypervisor's zero-value replacement). Values are
parsed with Go's rules and refused, never clamped. Every annotation gets an outcome
(applied, refused, ignored) for the human view of `resolve` and for `explain`.
"""
from __future__ import annotations

from collections.abc import Mapping

from katacfg.errors import KataError
from katacfg.gocompat import strconv
from katacfg.gocompat.glob import path_in_globs
from katacfg.gocompat.re2 import regexp_contains
from katacfg.model import AnnotationOutcome, Config, deserialize_kernel_params
from katacfg.options import EXPERIMENTAL_FEATURES, HYPERVISOR_PREFIX, KATA_PREFIX, Annotation
from katacfg.options import globals as g
from katacfg.options import hypervisor as hv
from katacfg.options.runtime import NETWORK_MODELS
from katacfg.registry import ANNOTATIONS_BY_NAME

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Values = dict[str, dict[str, Any]]  # "hypervisor" | "runtime" | "agent" -> field -> value

_SECTION_OF = {"hypervisor": "hypervisor", "runtime": "runtime", "agent": "agent"}


class Refusal(KataError):
    """A refused annotation: the reference's text plus which annotation it was."""


def gate(cfg: Config, annotations: Mapping[str, str]) -> None:
    """Refuse the first hypervisor annotation whose name enable_annotations does not enable."""
    allowed = cfg.hypervisor.enable_annotations
    for name in annotations:
        if name.startswith(HYPERVISOR_PREFIX):
            if not regexp_contains(allowed, name[len(HYPERVISOR_PREFIX):]):
                raise Refusal(
                    f"annotation {name} is not enabled", "annotations", key=name,
                    file=cfg.path, line=cfg.line_of("hypervisor", cfg.hypervisor_type,
                                                    "enable_annotations"),
                    hint="add a regular expression matching "
                         f"{name[len(HYPERVISOR_PREFIX):]!r} to enable_annotations",
                    code="KC200")


def section_values(cfg: Config) -> Values:
    """The sections annotations can change, as mutable dicts."""
    return {"hypervisor": _as_dict(cfg.hypervisor), "runtime": _as_dict(cfg.runtime),
            "agent": _as_dict(cfg.agent)}


def apply_overrides(cfg: Config, values: Values, annotations: Mapping[str, str],
                    host_cpus: int, outcomes: dict[str, AnnotationOutcome] | None = None) -> None:
    """Apply every field annotation in the reference's order; raise on the first refusal.

    `values` (from section_values) is updated in place. `host_cpus` is the CPU count the
    vCPU annotations are checked against (refused, not clamped, when above it).
    """
    present = sorted((a for a in (ANNOTATIONS_BY_NAME.get(n) for n in annotations)
                      if a is not None and a.order), key=lambda a: a.order)
    checked = False
    for ann in present:
        if not checked and ann.order > VIRTIO_FS_CHECK_AFTER:
            _check_virtio_fs(values)
            checked = True
        name = ann.name
        target = values[ann.family]
        old = target[ann.target]
        try:
            new = _parse(ann, annotations[name], cfg, target, host_cpus)
        except Refusal as exc:
            if outcomes is not None:
                outcomes[name] = AnnotationOutcome(name, annotations[name], "refused",
                                                   exc.text, _key(ann), old)
            raise
        if new is _UNCHANGED:
            status, reason, new = "ignored", _ignored_reason(ann, annotations[name]), old
        else:
            target[ann.target] = new
            status, reason = "applied", ""
        if outcomes is not None:
            outcomes[name] = AnnotationOutcome(name, annotations[name], status, reason,
                                               _key(ann), old, new)
    if not checked:
        _check_virtio_fs(values)


# The reference checks virtio-fs has a daemon right after the virtio_fs_daemon annotation.
VIRTIO_FS_CHECK_AFTER = ANNOTATIONS_BY_NAME[HYPERVISOR_PREFIX + "virtio_fs_daemon"].order


def _check_virtio_fs(values: Values) -> None:
    h = values["hypervisor"]
    if h["shared_fs"] == "virtio-fs" and not h["virtio_fs_daemon"]:
        raise Refusal("cannot enable virtio-fs without daemon path", "annotations",
                      key=HYPERVISOR_PREFIX + "shared_fs", code="KC201",
                      hint="set the virtio_fs_daemon annotation or configuration key")


_UNCHANGED = object()


def _pattern_allows(patterns: list[str], value: str) -> bool:
    """Allow-list check when the node's files are not here: the value must match a pattern
    (Go filepath.Match), and is assumed to exist on the node."""
    from katacfg.gocompat.glob import BadPattern, match

    for pattern in patterns:
        try:
            if pattern and match(pattern, value):
                return True
        except BadPattern:
            continue
    return False


def _key(ann: Annotation) -> str:
    return f"{ann.family}.{ann.target}"


def _ignored_reason(ann: Annotation, value: str) -> str:
    if ann.kind == "ignored":
        return "defined by Kata 1.x but never applied"
    if value == "":
        return "an empty value keeps the configured one"
    return "0 keeps the configured value"


def _refuse(ann: Annotation, text: str, hint: str) -> Refusal:
    return Refusal(text, "annotations", key=ann.name, hint=hint, code="KC210")


def _parse(ann: Annotation, value: str, cfg: Config, current: dict[str, Any],
           host_cpus: int) -> Any:
    """The new value of the target field, or _UNCHANGED; raise Refusal with Go's text."""
    kind = ann.kind
    if kind == "bool":
        try:
            return strconv.parse_bool(value)
        except ValueError:
            raise _refuse(ann, ann.error, "use true or false (Go also accepts 1, 0, t, f, "
                          "TRUE, FALSE, True, False)") from None
    if kind == "uint32":
        try:
            number = strconv.parse_uint(value, 32)
        except strconv.NumError as exc:
            if ann.nonzero:
                raise _refuse(ann, ann.error, "a positive decimal number") from None
            raise _refuse(ann, ann.error.replace("{err}", str(exc)),
                          "a decimal number from 0 to 4294967295") from None
        if ann.nonzero and number == 0:
            raise _refuse(ann, ann.error, "a positive decimal number")
        if ann.check:
            _check_cpus(ann, number, cfg, host_cpus)
        if ann.zero_keeps and number == 0:
            return _UNCHANGED
        return number
    if kind == "string":
        return value
    if kind == "nonempty":
        return value if value != "" else _UNCHANGED
    if kind == "restricted":
        allowed = list(getattr(cfg.hypervisor, ann.allowlist))
        if not (_pattern_allows(allowed, value) if cfg.assume_files
                else path_in_globs(allowed, value)):
            raise _refuse(ann, ann.error.replace("{v}", value),
                          f"the value must be an existing path matched by {ann.allowlist} "
                          f"(now {allowed})")
        return value
    if kind == "enum":
        if value not in ann.choices:
            raise _refuse(ann, ann.error.replace("{v}", value),
                          "allowed: " + ", ".join(ann.choices))
        if ann.target == "internetworking_model":
            return NETWORK_MODELS[value]
        return value
    if kind == "params":
        if value == "":
            return _UNCHANGED
        params = list(current["kernel_params"])
        for key, val in deserialize_kernel_params(value):
            if not key:
                raise _refuse(ann, ann.error.replace("{err}", "Empty kernel parameter"),
                              f"`={val}` has no parameter name")
            params.append((key, val))
        return tuple(params)
    if kind == "split":
        items = tuple(value.split(ann.sep))
        if ann.target == "experimental":
            for item in items:
                if item not in EXPERIMENTAL_FEATURES:
                    raise _refuse(ann, ann.error.replace("{v}", item),
                                  "known features: " + ", ".join(EXPERIMENTAL_FEATURES)
                                  + " (separated by single spaces)")
        return items
    if kind in ("ignored", "asset"):
        return _UNCHANGED
    raise AssertionError(f"unknown annotation kind {kind}")


def _check_cpus(ann: Annotation, number: int, cfg: Config, n: int) -> None:
    if ann.check == "vcpus" and number > n:
        raise _refuse(ann, f"Number of cpus {number} specified in annotation default_vcpus is "
                      f"greater than the number of CPUs {n} on the system",
                      f"at most {n} on this host")
    if ann.check == "maxvcpus":
        if number > n:
            raise _refuse(ann, f"Number of cpus {number} in annotation default_maxvcpus is "
                          f"greater than the number of CPUs {n} on the system",
                          f"at most {n} on this host")
        if cfg.hypervisor_type == "qemu" and number > hv.MAX_VCPUS:
            raise _refuse(ann, f"Number of cpus {number} in annotation default_maxvcpus is "
                          f"greater than max no of CPUs {hv.MAX_VCPUS} supported for qemu",
                          f"at most {hv.MAX_VCPUS}")


def apply_assets(h: dict[str, Any], annotations: Mapping[str, str],
                 outcomes: dict[str, AnnotationOutcome] | None = None) -> None:
    """Asset paths and hashes (spec 7): absolute paths, SHA-512 always, after all overrides.

    `h` is the hypervisor section as a dict (from section_values), updated in place.
    """
    for path_suffix, hash_suffix in g.ASSETS.values():
        path_name = HYPERVISOR_PREFIX + path_suffix
        path = annotations.get(path_name, "")
        if not path:
            continue
        if not path.startswith("/"):
            raise Refusal(f"{path} is not an absolute path", "assets", key=path_name,
                          hint="asset annotations need absolute paths", code="KC220")
        digest = annotations.get(HYPERVISOR_PREFIX + hash_suffix, "")
        if digest:
            computed = _sha512(path, path_name)
            if computed != digest:
                raise Refusal(f"Invalid hash for {path}: computed {computed}, expecting "
                              f"{digest}]", "assets", key=HYPERVISOR_PREFIX + hash_suffix,
                              hint="the hash is the lower-case hex SHA-512 of the file "
                                   "(asset_hash_type is ignored)", code="KC221")
        field_name = ANNOTATIONS_BY_NAME[path_name].target
        old = h[field_name]
        h[field_name] = path
        if outcomes is not None:
            reason = "hash verified (SHA-512)" if digest else "no hash given: not verified"
            outcomes[path_name] = AnnotationOutcome(path_name, path, "applied", reason,
                                                    f"hypervisor.{field_name}", old, path)
            if digest:
                hash_name = HYPERVISOR_PREFIX + hash_suffix
                outcomes[hash_name] = AnnotationOutcome(hash_name, digest, "applied",
                                                        f"SHA-512 of {path} matches")


def _sha512(path: str, key: str) -> str:
    """The asset's SHA-512, read in chunks (Go reads it whole: a huge file never fits)."""
    from katacfg.safeio import FileRefused, sha512_hex

    try:
        digest, size = sha512_hex(path, "asset")
    except FileRefused as exc:
        raise Refusal(exc.text, "assets", key=key, code="KC222", hint=exc.hint) from None
    if not size:
        raise Refusal(f"Empty asset file at {path}", "assets", key=key, code="KC222",
                      hint="the asset file is empty")
    return digest


def apply_hypervisor_defaults(h: dict[str, Any]) -> None:
    """HypervisorConfig.valid() of qemu, acrn and clh: zero values get built-in ones."""
    if not h["kernel"]:
        raise KataError("Missing kernel path", "hypervisor", key="hypervisor.kernel",
                        code="KC230")
    if not h["image"] and not h["initrd"]:
        raise KataError("Missing image and initrd path", "hypervisor", key="hypervisor.image",
                        code="KC230")
    h["default_vcpus"] = h["default_vcpus"] or 1
    h["default_memory"] = h["default_memory"] or hv.DEFAULT_MEMORY_MIB
    h["default_bridges"] = h["default_bridges"] or hv.DEFAULT_BRIDGES
    h["block_device_driver"] = h["block_device_driver"] or hv.DEFAULT_BLOCK_DRIVER
    h["default_maxvcpus"] = h["default_maxvcpus"] or hv.MAX_VCPUS
    if not h["msize_9p"] and h["shared_fs"] != "virtio-fs":
        h["msize_9p"] = hv.DEFAULT_MSIZE_9P


def classify(annotations: Mapping[str, str], outcomes: dict[str, AnnotationOutcome]) -> None:
    """Give every annotation not yet decided an outcome: ignored by Kata, or not Kata's."""
    for name, value in annotations.items():
        if name in outcomes:
            continue
        ann = ANNOTATIONS_BY_NAME.get(name)
        if ann is not None:
            if ann.kind == "ignored":
                outcomes[name] = AnnotationOutcome(name, value, "ignored",
                                                   "defined by Kata 1.x but never applied")
            elif ann.kind in ("asset", "restricted"):
                outcomes[name] = AnnotationOutcome(name, value, "ignored",
                                                   "an empty asset path is ignored")
            continue
        if name in g.HASH_ANNOTATIONS:
            outcomes[name] = AnnotationOutcome(name, value, "ignored",
                                               "a hash without its asset path is ignored")
        elif name in g.GLOBAL_ANNOTATIONS:
            outcomes[name] = AnnotationOutcome(name, value, "ignored",
                                               g.GLOBAL_ANNOTATIONS[name])
        elif name.startswith(KATA_PREFIX):
            outcomes[name] = AnnotationOutcome(name, value, "ignored",
                                               "not an annotation Kata 1.x knows")
        else:
            outcomes[name] = AnnotationOutcome(name, value, "passed", "not a Kata annotation")


def _as_dict(obj: Any) -> dict[str, Any]:
    return obj.as_dict()
