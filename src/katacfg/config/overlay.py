"""The per-pod overlay: io.katacontainers.* annotations on top of a loaded configuration.

Three stages, as in the reference (spec/annotations.md): `annotations` (gate every name by
enable_annotations, then apply overrides in the registry's order), `assets` (asset paths and
their SHA-512 hashes), `hypervisor` (the hypervisor's zero-value replacement). Values are
parsed with Go's rules and refused, never clamped. Every annotation gets an outcome
(applied, refused, ignored) for the human view of `resolve` and for `explain`.
"""
from __future__ import annotations

from collections.abc import Mapping

from katacfg.config.errors import KataError
from katacfg.config.model import AnnotationOutcome, Config, deserialize_kernel_params
from katacfg.config.registry import KATA_PREFIX, Annotation
from katacfg.gocompat import strconv
from katacfg.gocompat.glob import path_in_globs
from katacfg.gocompat.re2 import regexp_contains

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from katacfg.config.records import Record
    from katacfg.profiles import KataProfile

    Outcomes = dict[str, AnnotationOutcome]


class Refusal(KataError):
    """A refused annotation: the reference's text plus which annotation it was."""


def gate(cfg: Config, annotations: Mapping[str, str]) -> None:
    """Refuse the first gated annotation whose name enable_annotations does not enable."""
    allowed = cfg.hypervisor.enable_annotations
    prefix = cfg.kata.gated_prefix
    for name in annotations:
        if name.startswith(prefix):
            if not regexp_contains(allowed, name[len(prefix):]):
                hint = ("add a regular expression matching "
                        f"{name[len(prefix):]!r} to enable_annotations")
                if name not in cfg.kata.annotations:
                    later = _later_annotation(cfg.kata, name)
                    if later:
                        hint = (f"a Kata 2.x+ annotation (4.x: {later}): Kata 1.x refuses it "
                                "unless enable_annotations matches it, and then ignores it")
                raise Refusal(
                    f"annotation {name} is not enabled", "annotations", key=name,
                    file=cfg.path, line=cfg.line_of("hypervisor", cfg.hypervisor_type,
                                                    "enable_annotations"),
                    hint=hint, code="KC200")


def apply_overrides(cfg: Config, annotations: Mapping[str, str], host_cpus: int, *,
                    only: str | None = None) -> tuple[dict[str, Record], Outcomes]:
    """Every field annotation in the reference's order, on a copy of the configuration.

    Returns the sections they changed (section name -> new record) and an outcome per
    annotation applied or ignored. `host_cpus` is the CPU count the vCPU annotations are
    checked against (refused, not clamped, when above it). The first refusal is raised,
    carrying the outcomes so far and its own. `only`: return the changes of that one
    section (the others are still parsed and checked, just not rebuilt).
    """
    profile = cfg.kata
    by_name = profile.annotations
    present: list[Annotation] = []
    for n in annotations:
        a = by_name.get(n)
        if a is not None and a.order:
            present.append(a)
    outcomes: Outcomes = {}
    if not present:
        _check_virtio_fs(cfg, {}, outcomes)
        return {}, outcomes
    if len(present) > 1:
        present.sort(key=_order)
    # this call's changes, by section: only the fields annotations set (the sections
    # themselves are copied once, at the end, and only when a value really changed)
    changes: dict[str, dict[str, Any]] = {}
    virtio_fs_after = _virtio_fs_check_order(profile)
    checked = False
    for ann in present:
        if not checked and ann.order > virtio_fs_after:
            _check_virtio_fs(cfg, changes, outcomes)
            checked = True
        family, field = ann.family, ann.target
        target = changes.get(family)
        if target is None:
            target = changes[family] = {}
        name = ann.name
        value = annotations[name]
        old = target[field] if field in target else getattr(getattr(cfg, family), field)
        try:
            new = _parse(ann, value, cfg, old, host_cpus)
        except Refusal as exc:
            outcomes[name] = AnnotationOutcome(name, value, "refused", exc.text,
                                               f"{family}.{field}", old)
            raise exc.with_location(outcomes=tuple(outcomes.values())) from None
        if new is _UNCHANGED:
            outcomes[name] = AnnotationOutcome(name, value, "ignored",
                                               _ignored_reason(ann, value),
                                               f"{family}.{field}", old, old)
        else:
            target[field] = new
            outcomes[name] = AnnotationOutcome(name, value, "applied", "",
                                               f"{family}.{field}", old, new)
    if not checked:
        _check_virtio_fs(cfg, changes, outcomes)
    changed: dict[str, Record] = {}
    for family, fields in changes.items():
        if only is not None and family != only:
            continue
        section = getattr(cfg, family)
        for k, v in fields.items():
            if getattr(section, k) != v:
                changed[family] = section.replace(**fields)
                break
    return changed, outcomes


def _order(ann: Annotation) -> int:
    return ann.order


def _virtio_fs_check_order(profile: KataProfile) -> int:
    # The reference checks virtio-fs has a daemon right after the virtio_fs_daemon annotation.
    ann = profile.annotations.get(profile.annotation_prefixes["hypervisor"] + "virtio_fs_daemon")
    return ann.order if ann is not None else 0


def _check_virtio_fs(cfg: Config, changes: dict[str, dict[str, Any]],
                     outcomes: Outcomes) -> None:
    h = cfg.hypervisor
    c = changes.get("hypervisor") or {}
    shared_fs = c["shared_fs"] if "shared_fs" in c else h.shared_fs
    daemon = c["virtio_fs_daemon"] if "virtio_fs_daemon" in c else h.virtio_fs_daemon
    if shared_fs == "virtio-fs" and not daemon:
        raise Refusal("cannot enable virtio-fs without daemon path", "annotations",
                      key=cfg.kata.annotation_prefixes["hypervisor"] + "shared_fs",
                      code="KC201",
                      hint="set the virtio_fs_daemon annotation or configuration key",
                      outcomes=tuple(outcomes.values()))


_UNCHANGED = object()


def _pattern_allows(patterns: list[str], value: str) -> bool:
    """Allow-list check when the node's files are not here: some pattern's Go Glob could
    return the value (which is assumed to exist on the node); see glob_may_return."""
    from katacfg.gocompat.glob import pattern_in_globs

    return pattern_in_globs(patterns, value)


def _ignored_reason(ann: Annotation, value: str) -> str:
    if ann.kind == "ignored":
        return "defined by Kata 1.x but never applied"
    if value == "":
        return "an empty value keeps the configured one"
    return "0 keeps the configured value"


def _refuse(ann: Annotation, text: str, hint: str) -> Refusal:
    return Refusal(text, "annotations", key=ann.name, hint=hint, code="KC210")


def _parse(ann: Annotation, value: str, cfg: Config, old: Any, host_cpus: int) -> Any:
    """The new value of the target field (now `old`), or _UNCHANGED; raise Refusal with
    Go's text."""
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
            later = _later_float_form(cfg.kata, ann, value)
            if ann.nonzero:
                raise _refuse(ann, ann.error, "a positive decimal number" + later) from None
            raise _refuse(ann, ann.error.replace("{err}", str(exc)),
                          "a decimal number from 0 to 4294967295" + later) from None
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
        if isinstance(ann.choices, dict):
            return ann.choices[value]  # e.g. internetworking_model "default" -> "tcfilter"
        return value
    if kind == "params":
        if value == "":
            return _UNCHANGED
        params = list(old)  # appended to
        for key, val in deserialize_kernel_params(value):
            if not key:
                raise _refuse(ann, ann.error.replace("{err}", "Empty kernel parameter"),
                              f"`={val}` has no parameter name")
            params.append((key, val))
        return tuple(params)
    if kind == "split":
        items = tuple(value.split(ann.sep))
        if ann.choices:
            for item in items:
                if item not in ann.choices:
                    raise _refuse(ann, ann.error.replace("{v}", item),
                                  "known features: " + ", ".join(ann.choices)
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
        hv = cfg.kata.hypervisor(cfg.hypervisor_type)
        limit = hv.annotation_max_vcpus if hv is not None else 0
        if hv is not None and limit and number > limit:
            raise _refuse(ann, f"Number of cpus {number} in annotation default_maxvcpus is "
                          f"greater than max no of CPUs {limit} supported for {hv.name}",
                          f"at most {limit}")


def assets(profile: KataProfile) -> list[tuple[Annotation, str]]:
    """(path annotation, hash annotation name) of each asset, in the order Kata checks them
    (by asset kind); the registry's `asset` field says which annotations are assets."""
    return list(profile.assets)


def hash_annotations(profile: KataProfile) -> dict[str, str]:
    """Hash annotation name -> asset kind."""
    return {hash_name: ann.asset for ann, hash_name in assets(profile)}


def apply_assets(cfg: Config, hyp: Record, annotations: Mapping[str, str],
                 ) -> tuple[Record, Outcomes]:
    """Asset paths and hashes (spec 7): absolute paths, SHA-512 always, after all overrides.

    Returns the hypervisor section with the asset paths set, and their outcomes.
    """
    profile = cfg.kata
    if len(annotations) < len(profile.assets):  # cheaper to look for one among the pod's
        by_name = profile.annotations
        for name in annotations:
            found = by_name.get(name)
            if found is not None and found.asset:
                break
        else:
            return hyp, {}
    changes: dict[str, str] = {}
    outcomes: Outcomes = {}
    for ann, hash_name in profile.assets:
        path_name = ann.name
        path = annotations.get(path_name, "")
        if not path:
            continue
        if not path.startswith("/"):
            raise Refusal(f"{path} is not an absolute path", "assets", key=path_name,
                          hint="asset annotations need absolute paths", code="KC220",
                          outcomes=tuple(outcomes.values()))
        digest = annotations.get(hash_name, "")
        if digest:
            computed = _sha512(path, path_name, outcomes)
            if computed != digest:
                raise Refusal(f"Invalid hash for {path}: computed {computed}, expecting "
                              f"{digest}]", "assets", key=hash_name,
                              hint="the hash is the lower-case hex SHA-512 of the file "
                                   "(asset_hash_type is ignored)", code="KC221",
                              outcomes=tuple(outcomes.values()))
        old = getattr(hyp, ann.target)
        changes[ann.target] = path
        reason = "hash verified (SHA-512)" if digest else "no hash given: not verified"
        outcomes[path_name] = AnnotationOutcome(path_name, path, "applied", reason,
                                                f"hypervisor.{ann.target}", old, path)
        if digest:
            outcomes[hash_name] = AnnotationOutcome(hash_name, digest, "applied",
                                                    f"SHA-512 of {path} matches")
    return (hyp.replace(**changes) if changes else hyp), outcomes


def _sha512(path: str, key: str, outcomes: Outcomes) -> str:
    """The asset's SHA-512, read in chunks (Go reads it whole: a huge file never fits)."""
    from katacfg.host.safeio import FileRefused, sha512_hex

    try:
        digest, size = sha512_hex(path, "asset")
    except FileRefused as exc:
        raise Refusal(exc.text, "assets", key=key, code="KC222", hint=exc.hint,
                      outcomes=tuple(outcomes.values())) from None
    if not size:
        raise Refusal(f"Empty asset file at {path}", "assets", key=key, code="KC222",
                      hint="the asset file is empty", outcomes=tuple(outcomes.values()))
    return digest


def classify(profile: KataProfile, annotations: Mapping[str, str],
             decided: Mapping[str, AnnotationOutcome]) -> Outcomes:
    """Outcomes of the annotations no stage decided: ignored by Kata, or not Kata's."""
    hashes: dict[str, str] | None = None  # built only if a name needs it
    out: Outcomes = {}
    for name, value in annotations.items():
        if name in decided:
            continue
        ann = profile.annotations.get(name)
        if ann is not None:
            if ann.kind == "ignored":
                out[name] = AnnotationOutcome(name, value, "ignored",
                                              "defined by Kata 1.x but never applied")
            elif ann.kind in ("asset", "restricted"):
                out[name] = AnnotationOutcome(name, value, "ignored",
                                              "an empty asset path is ignored")
            continue
        if hashes is None:
            hashes = hash_annotations(profile)
        if name in hashes:
            out[name] = AnnotationOutcome(name, value, "ignored",
                                          "a hash without its asset path is ignored")
        elif name in profile.global_annotations:
            out[name] = AnnotationOutcome(name, value, "ignored",
                                          profile.global_annotations[name])
        elif name.startswith(KATA_PREFIX):
            later = _later_annotation(profile, name)
            out[name] = AnnotationOutcome(
                name, value, "ignored", f"a Kata 2.x+ annotation Kata 1.x does not know (4.x: "
                f"{later})" if later else "not an annotation Kata 1.x knows")
        else:
            out[name] = AnnotationOutcome(name, value, "passed", "not a Kata annotation")
    return out


def _later_annotation(profile: KataProfile, name: str) -> str | None:
    """What a later Kata generation does with an annotation this profile does not know."""
    if not profile.extra.get("later_generation"):
        return None
    from katacfg.profiles.kata4x.vocabulary import later_annotation

    return later_annotation(name)


def _later_float_form(profile: KataProfile, ann: Annotation, value: str) -> str:
    """` (Kata 2.x+ reads ... as a float ...)` when a fractional value fails 1.x's parse."""
    if not profile.extra.get("later_generation") or not ann.target:
        return ""
    try:
        float(value)
    except ValueError:
        return ""
    from katacfg.profiles.kata4x.vocabulary import float_form_hint

    later = float_form_hint(ann.family, ann.target)
    return f" ({later})" if later else ""
