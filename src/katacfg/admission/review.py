"""AdmissionReview (admission.k8s.io/v1): reading requests and writing responses.

Every request is hostile until read: `parse_review` refuses anything that is not an
AdmissionReview v1 with a request and a string uid (ReviewError, a 4xx code and one line),
and `pod_of` finds the pod (or pod template) an object would create, with the same kinds
and template paths as `explain` (manifests.POD_TEMPLATE_PATHS).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from katacfg.config.records import Record
from katacfg.kube.manifests import POD_TEMPLATE_PATHS

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"
# The API server refuses request bodies over 3 MiB; an AdmissionReview carries the object
# (and oldObject on UPDATE), so twice that plus room for the envelope.
MAX_REVIEW_BYTES = 7 * 1024 * 1024
# Warnings: the API server truncates long ones (over 256 characters) and many of them.
MAX_WARNING_CHARS = 256
MAX_WARNINGS = 20

_DECODER = json.JSONDecoder()

# API groups whose kinds create pods (core Pod/PodTemplate/ReplicationController, apps, batch).
POD_GROUPS = {"": ("Pod", "PodTemplate", "ReplicationController"),
              "apps": ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"),
              "batch": ("Job", "CronJob")}


class ReviewError(ValueError):
    """A request katacfg cannot answer: HTTP `code` (4xx) and one line saying why."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Request(Record):
    """The parts of an AdmissionRequest a verdict needs."""

    uid: str
    kind: str  # request.kind.kind (the object's kind), "" when absent
    group: str
    operation: str  # CREATE, UPDATE, DELETE, CONNECT ("" when absent)
    namespace: str | None
    name: str | None
    sub_resource: str
    object: dict[str, Any] | None


class PodView(Record):
    """The pod an object creates: what selection and Kata look at."""

    kind: str
    name: str | None
    namespace: str | None
    runtime_class_name: str | None
    annotations: dict[str, str]
    labels: Mapping[str, str] = MappingProxyType({})
    pod_path: str = ""  # "" for a Pod, "spec.template" for a Deployment ...

    @property
    def display_name(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {ns}{self.name or '<unnamed>'}"


def loads_review(body: bytes | str) -> Any:
    """JSON of a request body, bounded in size and depth; ReviewError when not JSON."""
    if len(body) > MAX_REVIEW_BYTES:
        raise ReviewError(413, f"request body of {len(body)} bytes is over the limit of "
                               f"{MAX_REVIEW_BYTES} bytes")
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as exc:
        raise ReviewError(400, f"request body is not UTF-8 JSON: {exc.reason} at byte "
                               f"{exc.start}") from None
    try:
        # the decoder json.loads uses, without its wrappers (most bodies: one value, at
        # most white space after it); anything else goes to json.loads for its own words
        value, end = _DECODER.raw_decode(text)
        if end == len(text) or not text[end:].strip(" \t\n\r"):
            return value
    except (json.JSONDecodeError, RecursionError):
        pass
    try:
        return json.loads(text)
    except RecursionError:
        raise ReviewError(400, "request body is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ReviewError(400, f"request body is not JSON: {exc.msg} at line {exc.lineno} "
                               f"column {exc.colno}") from None


def parse_review(data: Any) -> Request:
    """The request of an AdmissionReview v1 (bytes, text or already-decoded JSON)."""
    if isinstance(data, (bytes, str)):
        data = loads_review(data)
    if not isinstance(data, dict):
        raise ReviewError(400, f"expected an AdmissionReview object, got a JSON "
                               f"{_json_kind(data)}")
    api, kind = data.get("apiVersion"), data.get("kind")
    if api != API_VERSION or kind != KIND:
        raise ReviewError(400, f"expected apiVersion {API_VERSION}, kind {KIND}; got "
                               f"apiVersion {api!r}, kind {kind!r}"
                               + (" (set admissionReviewVersions: [v1])"
                                  if api == "admission.k8s.io/v1beta1" else ""))
    req = data.get("request")
    if not isinstance(req, dict):
        raise ReviewError(400, "AdmissionReview has no request object")
    uid = req.get("uid")
    if not isinstance(uid, str) or not uid:
        raise ReviewError(400, "AdmissionReview request has no uid (a non-empty string)")
    if len(uid) > 256:
        raise ReviewError(400, "AdmissionReview request uid is longer than 256 characters")
    k = req.get("kind")
    kind_name = group = ""
    if isinstance(k, dict):
        kind_name = _str(k.get("kind")) or ""
        group = _str(k.get("group")) or ""
    obj = req.get("object")
    if obj is not None and not isinstance(obj, dict):
        raise ReviewError(400, f"request.object must be an object, not a JSON "
                               f"{_json_kind(obj)}")
    if not kind_name and isinstance(obj, dict) and isinstance(obj.get("kind"), str):
        kind_name = obj["kind"]
        api_version = obj.get("apiVersion")
        group = api_version.rpartition("/")[0] if isinstance(api_version, str) else ""
    return Request(uid, kind_name, group, _str(req.get("operation")) or "",
                   _str(req.get("namespace")), _str(req.get("name")),
                   _str(req.get("subResource")) or "", obj)


def creates_pods(kind: str, group: str) -> bool:
    return kind in POD_GROUPS.get(group, ())


def pod_of(obj: Mapping[str, Any], kind: str, *, namespace: str | None = None) -> PodView:
    """The pod (template) of an object of a pod-creating kind; ReviewError when malformed."""
    path = POD_TEMPLATE_PATHS[kind]
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    name = _str(meta.get("name"))
    if not name and _str(meta.get("generateName")):
        name = meta["generateName"] + "*"
    ns = _str(meta.get("namespace")) or namespace
    template: Any = obj
    for key in path:
        template = template.get(key) if isinstance(template, dict) else None
    if not isinstance(template, dict):
        where = ".".join(path) or "object"
        raise ReviewError(400, f"{kind} {name or ''}: {where} is missing or not an object")
    pmeta = template.get("metadata") if path else meta
    pmeta = pmeta if isinstance(pmeta, dict) else {}
    spec = template.get("spec")
    rc = spec.get("runtimeClassName") if isinstance(spec, dict) else None
    if rc is not None and not isinstance(rc, str):
        raise ReviewError(400, f"{kind} {name or ''}: spec.runtimeClassName must be a string")
    annotations = _string_map(pmeta.get("annotations"), path, "annotations", kind, name)
    labels = _string_map(pmeta.get("labels"), path, "labels", kind, name)
    return PodView(kind, name, ns, rc or None, annotations, labels, ".".join(path))


def _string_map(raw: Any, path: tuple[str, ...], what: str, kind: str,
                name: str | None) -> dict[str, str]:
    if raw is None:
        return {}
    if raw.__class__ is not dict and not isinstance(raw, dict):
        raise ReviewError(400, f"{kind} {name or ''}: {_where(path, what)} must be a map of "
                               "strings")
    for key, value in raw.items():
        if value.__class__ is not str and not isinstance(value, str):
            raise ReviewError(400, f"{kind} {name or ''}: {_where(path, what)}[{key}] is a "
                                   f"JSON {_json_kind(value)}, not a string")
    return raw


def _where(path: tuple[str, ...], what: str) -> str:
    """`spec.template.metadata.annotations` (for messages)."""
    return ".".join((*path, "metadata", what))


def response(uid: str, allowed: bool, *, code: int | None = None, message: str = "",
             warnings: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """An AdmissionReview v1 carrying a response."""
    resp: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if code is not None or message:
        status: dict[str, Any] = {}
        if code is not None:
            status["code"] = code
        if message:
            status["message"] = message
        resp["status"] = status
    if warnings:
        resp["warnings"] = [_short(w) for w in warnings[:MAX_WARNINGS]]
    return {"apiVersion": API_VERSION, "kind": KIND, "response": resp}


def _short(text: str) -> str:
    return text if len(text) <= MAX_WARNING_CHARS else text[: MAX_WARNING_CHARS - 3] + "..."


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
