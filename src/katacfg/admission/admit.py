"""The admission verdict: would Kata start this pod's sandbox on this node?

One engine for `katacfg admit` (offline, files) and `katacfg webhook` (online): the pod's
runtimeClassName picks a Kata target of the node (admission.selection), the CRI layer's
filter decides which annotations reach Kata (drops are warnings, never denials), and
katacfg's own loader and overlay decide as Kata does, with everything a policy cannot see
(asset hashes, files on the node, the node's CPU count). A refusal denies the pod with
Kata's exact text, the annotation, the rule, and the Kata file and line.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any

from katacfg.admission import review as rv
from katacfg.admission.selection import FILTER_CRIO, Selection, Target
from katacfg.config.codes import CODES
from katacfg.config.errors import KataError
from katacfg.config.pipeline import overlay_outcomes
from katacfg.config.records import Record
from katacfg.config.registry import KATA_PREFIX
from katacfg.kube.cri import CONTAINER_TYPE_KEYS
from katacfg.profiles.kata1x.options import CONFIG_PATH_ANNOTATION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from katacfg.config.load import HostFacts
    from katacfg.config.model import Config

__all__ = ["Verdict", "Admitter", "DENY_CODE", "INVALID_CODE"]

DENY_CODE = 403  # Kata would refuse the pod
INVALID_CODE = 422  # the API server itself would refuse the object (offline files only)
# A configuration file a pod names with io.katacontainers.config_path is read only if it is
# a regular file of at most this size (Kata's own files are a few tens of KiB).
MAX_POD_CONFIG_BYTES = 4 * 1024 * 1024


class Verdict(Record):
    """allowed or not, the HTTP-style code and message of a denial, and warnings."""

    allowed: bool
    code: int = 200
    message: str = ""
    warnings: tuple[str, ...] = ()
    kata: bool = False  # the pod runs Kata on this node (it was judged)
    stage: str = ""  # the stage that refuses: api-server, load, annotations, assets ...
    target: Target | None = None


NOT_KATA = Verdict(True)


class _Unknown:
    """A configuration file a pod chose that cannot be checked from here."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class Admitter:
    """Verdicts for one node (a Selection), with its Kata files loaded once.

    Verdicts are cached by (target, pod annotations[, labels for CRI-O]): everything else
    a verdict depends on is fixed for the life of an Admitter (build a new one to reload).
    """

    def __init__(self, selection: Selection, *, host: HostFacts, assume_files: bool = False,
                 cache_size: int = 4096) -> None:
        self.selection = selection
        self.host = host
        self.assume_files = assume_files
        self.cache_size = cache_size
        self._lock = threading.Lock()
        self._configs: OrderedDict[tuple[str | None, str], Any] = OrderedDict()
        self._verdicts: OrderedDict[tuple[Any, ...], Verdict] = OrderedDict()
        self._host_cpus = host.cpus  # a fact of the node, fixed like the Kata files
        # the most common answer, one immutable value per target
        self._allowed = {id(t): Verdict(True, kata=True, target=t) for t in selection.targets}
        # the verdict on a pod none of whose annotations reach Kata, by target without a CRI
        # layer: a fact of the node's Kata file alone, judged by preload()
        self._bare: dict[int, Verdict] = {}

    # -- configurations ---------------------------------------------------------------------

    def preload(self) -> list[str]:
        """Load every target's Kata file now; one line per file Kata would refuse."""
        out = []
        for t in self.selection.targets:
            cfg = self._config(t, t.kata_config, pod_chosen=False)
            if not isinstance(cfg, KataError):  # warm up: the overlay's imports, one judgement
                bare = self._judge(t, rv.PodView("Pod", "warm-up", "default", None, {}), {}, {})
                if t.runtime is None:
                    self._bare[id(t)] = bare
            else:
                out.append(f"{t.describe()}: Kata refuses the configuration: {cfg.text}"
                           + ("" if self.assume_files or not cfg.host else
                              " (if it is the node's file, not this machine's, add "
                              "--assume-node-files)"))
        return out

    def _config(self, target: Target, path: str | None, *, pod_chosen: bool
                ) -> Config | KataError | _Unknown:
        key = (path, target.mode)
        hit = self._configs.get(key)  # one lookup is atomic (the GIL); writers hold the lock
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        loaded: Any
        if pod_chosen and path:
            problem = self._unreadable(path)
            if problem is not None:
                return problem
        try:
            loaded = target.load(host=self.host, assume_files=self.assume_files,
                                 config_path=path)
        except KataError as exc:
            loaded = exc
        with self._lock:
            self._configs[key] = loaded
            if len(self._configs) > 64:  # pods may name any file: keep the node's, bound the rest
                for k in list(self._configs):
                    if k[0] not in {t.kata_config for t in self.selection.targets}:
                        del self._configs[k]
                        break
        return loaded  # type: ignore[no-any-return]

    def _unreadable(self, path: str) -> _Unknown | KataError | None:
        """Refuse to read a pod-named file that is not a small regular file."""
        import stat

        try:
            st = os.stat(path)
        except OSError:
            if self.assume_files:
                return _Unknown(f"the pod chooses the Kata configuration file {path}, which "
                                "is not on this machine; it cannot be checked here")
            return None  # the loader says what Kata says
        if not stat.S_ISREG(st.st_mode):
            return KataError(f"{path} is not a regular file", "load", file=path, code="KC005",
                             key=CONFIG_PATH_ANNOTATION,
                             hint="io.katacontainers.config_path must name a configuration.toml")
        if st.st_size > MAX_POD_CONFIG_BYTES:
            return KataError(f"{path} is larger than {MAX_POD_CONFIG_BYTES} bytes", "load",
                             file=path, code="KC005", key=CONFIG_PATH_ANNOTATION)
        return None

    # -- verdicts ---------------------------------------------------------------------------

    def verdict(self, pod: rv.PodView) -> Verdict:
        """The verdict on one pod (or pod template)."""
        target = self.selection.target_for(pod.runtime_class_name, pod.annotations)
        if target is None:
            return NOT_KATA
        # Kata reads only its own annotations and the CRI's container type: the verdict
        # (and every warning) depends on nothing else, so nothing else is judged or keyed.
        kata = {k: v for k, v in pod.annotations.items()
                if k.startswith(KATA_PREFIX) or k in CONTAINER_TYPE_KEYS}
        labels = ({k: v for k, v in pod.labels.items()
                   if k.startswith(KATA_PREFIX) or k in CONTAINER_TYPE_KEYS}
                  if target.runtime is not None and target.filter_kind == FILTER_CRIO
                  else {})
        if not kata and target.runtime is None:  # nothing reaches Kata but its own file
            bare = self._bare.get(id(target))
            if bare is not None:
                return bare
        if not self.cache_size:
            return self._judge(target, pod, kata, labels)
        key = (id(target), tuple(kata.items()), tuple(labels.items()))
        with self._lock:
            hit = self._verdicts.get(key)
            if hit is not None:
                self._verdicts.move_to_end(key)
                return hit
        result = self._judge(target, pod, kata, labels)
        with self._lock:
            self._verdicts[key] = result
            if len(self._verdicts) > self.cache_size:
                self._verdicts.popitem(last=False)
        return result

    @staticmethod
    def needs_io(pod: rv.PodView) -> bool:
        """Whether judging this pod may read files (asset hashes, a pod-chosen file)."""
        for k in pod.annotations:
            if k.endswith("_hash") or k == CONFIG_PATH_ANNOTATION:
                return True
        return False

    def _judge(self, target: Target, pod: rv.PodView, kata: dict[str, str],
               labels: dict[str, str]) -> Verdict:
        """The verdict on `pod` whose Kata annotations (and CRI-O labels) are `kata`
        (`labels`): only these reach the judgement."""
        warnings: list[str]
        if target.runtime is None:  # no CRI layer: the annotations reach Kata as they are
            annotations, warnings = kata, []
        else:
            sandbox = target.sandbox(kata, name=pod.name or "",
                                     namespace=pod.namespace or "default", labels=labels)
            warnings = [f"{d.key}: dropped before Kata, so it has no effect: {d.reason}"
                        for d in sandbox.dropped if d.key.startswith(KATA_PREFIX)]
            annotations = sandbox.annotations
        path = target.kata_config
        chosen = False
        if target.mode == "shimv2" and annotations.get(CONFIG_PATH_ANNOTATION):
            path, chosen = annotations[CONFIG_PATH_ANNOTATION], True
            warnings.append(f"{CONFIG_PATH_ANNOTATION}: the pod chooses its Kata configuration "
                            f"file {path}; enable_annotations does not restrict this")
        base = self._configs.get((path, target.mode))  # as _config(), once it is loaded
        if base is None:
            base = self._config(target, path, pod_chosen=chosen)
        if isinstance(base, _Unknown):
            return Verdict(True, warnings=(*warnings, base.reason), kata=True, target=target)
        if isinstance(base, KataError):
            return self._deny(base, target, warnings, node_file=not chosen)
        try:
            outcomes = overlay_outcomes(base, annotations, host_cpus=self._host_cpus)
        except KataError as exc:
            line, what = annotation_line(base, exc)
            return self._deny(exc.with_location(file=exc.file or base.path, line=line),
                              target, warnings, what=what)
        for o in outcomes:
            if o.status == "ignored" and o.name.startswith(KATA_PREFIX) and \
                    o.name in kata and o.name != CONFIG_PATH_ANNOTATION:
                warnings.append(f"{o.name}: Kata ignores it ({o.reason})")
        if not warnings:
            return self._allowed[id(target)]
        return Verdict(True, warnings=tuple(warnings), kata=True, target=target)

    def _deny(self, exc: KataError, target: Target, warnings: list[str], *,
              node_file: bool = False, what: str = "") -> Verdict:
        return Verdict(False, DENY_CODE, deny_message(exc, target, node_file=node_file,
                                                      assume_files=self.assume_files,
                                                      what=what),
                       tuple(warnings), kata=True, stage=exc.stage, target=target)

    def review(self, request: rv.Request) -> dict[str, Any]:
        """The AdmissionReview answering one request (ReviewError for a malformed object)."""
        v = self.request_verdict(request)
        return rv.response(request.uid, v.allowed, code=None if v.allowed else v.code,
                           message=v.message, warnings=v.warnings)

    def request_verdict(self, request: rv.Request) -> Verdict:
        pod = pod_of_request(request)
        return NOT_KATA if pod is None else self.verdict(pod)


def pod_of_request(request: rv.Request) -> rv.PodView | None:
    """The pod a request would create, or None when Kata has nothing to say about it."""
    if request.object is None or request.sub_resource:
        return None
    if not rv.creates_pods(request.kind, request.group):
        return None
    if request.operation in ("DELETE", "CONNECT"):
        return None
    if request.kind == "Pod" and request.operation not in ("CREATE", ""):
        return None  # a running pod's annotations never reach Kata again
    return rv.pod_of(request.object, request.kind, namespace=request.namespace)


def annotation_line(cfg: Config, exc: KataError) -> tuple[int | None, str]:
    """The Kata file line behind a refused annotation, and what is on it.

    The refusal's own line when it has one (enable_annotations for a gated name); else
    the key the annotation overrides; else, for a hypervisor annotation, the
    enable_annotations line that let it through.
    """
    if exc.line is not None or not exc.key:
        return exc.line, ("enable_annotations" if exc.code == "KC200" else "")
    from katacfg.profiles.kata1x.tables import ANNOTATIONS_BY_NAME

    ann = ANNOTATIONS_BY_NAME.get(exc.key)
    if ann is None or not ann.family:
        return None, ""
    table = {"hypervisor": ("hypervisor", cfg.hypervisor_type), "agent": ("agent", "kata"),
             "runtime": ("runtime",)}.get(ann.family, (ann.family,))
    if ann.target:
        line = cfg.line_of(*table, ann.target)
        if line is not None:
            return line, f"{ann.target} = ..., which the annotation overrides"
    if ann.family == "hypervisor":
        line = cfg.line_of(*table, "enable_annotations")
        if line is not None:
            return line, "enable_annotations, which lets the annotation through"
    line = cfg.line_of(*table)
    return line, (f"[{'.'.join(table)}]" if line is not None else "")


def deny_message(exc: KataError, target: Target, *, node_file: bool = False,
                 assume_files: bool = False, what: str = "") -> str:
    """One line: the annotation, Kata's exact text, the rule, the Kata file and line."""
    who = f"annotation {exc.key}: " if exc.key and exc.key.startswith(KATA_PREFIX) else ""
    if node_file:
        head = "Kata refuses this node's configuration, so every Kata pod fails: "
    else:
        head = "Kata would refuse this pod (FailedCreatePodSandBox): "
    where = ":".join(str(p) for p in (exc.file, exc.line) if p is not None)
    rule = f"rule {exc.code}"
    if exc.code in CODES:
        rule += f" ({CODES[exc.code]})"
    facts = [rule, f"stage {exc.stage}"]
    if where:
        facts.append(f"Kata file {where}" + (f" ({what})" if what else ""))
    if exc.hint:
        facts.append(f"hint: {exc.hint}")
    if node_file and exc.host and not assume_files:
        facts.append("if the file's paths exist on the node but not here, run katacfg with "
                     "--assume-node-files")
    facts.append(f"node: {target.describe()}")
    return f'{head}{who}"{exc.text}" [{"; ".join(facts)}]'


class ObjectAnswer(Record):
    """The AdmissionReview answering one object of a YAML stream (offline `admit`)."""

    what: str  # "Pod default/web", "document 3"
    where: str  # file:line
    review: dict[str, Any]
    kata: bool  # a Kata pod was judged (or the object could not be read)

    @property
    def allowed(self) -> bool:
        return bool(self.review["response"]["allowed"])


def admit_objects(objects: list[Any], admitter: Admitter) -> list[ObjectAnswer]:
    """One AdmissionReview per object of manifests.load_manifests(); uid is file:line.

    A document that is not a Kubernetes object is refused with code 400, an object the
    API server itself would refuse with 422 (it never reaches admission), a Kata pod as
    Kata would; every other object is allowed untouched.
    """
    from katacfg.kube import manifests

    out = []
    for obj in objects:
        where = obj.location()
        if isinstance(obj, manifests.ManifestError):
            out.append(ObjectAnswer(f"document {obj.doc_index}", where,
                                    rv.response(where, False, code=400,
                                                message=obj.render()), True))
            continue
        if not obj.has_pod:
            out.append(ObjectAnswer(obj.display_name, where, rv.response(where, True), False))
            continue
        warnings = [d.message for d in obj.warnings]
        if obj.errors:
            message = ("the API server refuses this object before admission: "
                       + "; ".join(d.message for d in obj.errors))
            out.append(ObjectAnswer(obj.display_name, where, rv.response(
                where, False, code=INVALID_CODE, message=message, warnings=warnings), True))
            continue
        v = admitter.verdict(pod_view_of_manifest(obj))
        out.append(ObjectAnswer(obj.display_name, where, rv.response(
            where, v.allowed, code=None if v.allowed else v.code, message=v.message,
            warnings=warnings + list(v.warnings)), v.kata or not v.allowed))
    return out


def pod_view_of_manifest(obj: Any) -> rv.PodView:
    """A manifests.ManifestObject (from YAML) as the pod view a verdict reads."""
    return rv.PodView(obj.kind, obj.name, obj.namespace, obj.runtime_class_name,
                      dict(obj.annotations), dict(obj.labels), obj.pod_path or "")
