"""The webhook's short paths give the verdicts and bytes of the general ones.

The uncached webhook takes shortcuts on the path of every review (issue 11): without a
CRI layer the pod's Kata annotations reach Kata as they are (no sandbox copy), an allowed
verdict with nothing to say is one shared value, a pod none of whose annotations reach
Kata gets the node's verdict judged once by preload(), the overlay rebuilds no section when no
annotation changes it and skips the asset stage when no asset annotation is present, the
allowed answer and the access record are written without json's encoder. Each is checked
here against the general path: the full `resolve` pipeline (every section rebuilt), a
CRI target (the sandbox path), `rv.response` + json for the bytes, `Log.access` for the
log line.
"""
from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from katacfg.admission import review as rv
from katacfg.admission import webhook
from katacfg.admission.admit import Admitter, pod_of_request
from katacfg.admission.selection import build_selection
from katacfg.config.errors import KataError
from katacfg.config.load import load
from katacfg.config.pipeline import overlay, overlay_outcomes, resolve
from katacfg.kube import cri
from katacfg.profiles.kata1x.options import CONFIG_PATH_ANNOTATION
from tests.helpers import config_text, host, make_install, write_config
from tests.test_admit import a_pod, review_json
from tests.test_conformance import CASES, FIXTURE_ROOT, make_fixtures

H = "io.katacontainers.config.hypervisor."
A = "io.katacontainers.config.agent."
KATA = "io.katacontainers."
CONFIG = str(FIXTURE_ROOT / "configuration.toml")


def _ignored_warnings(outcomes: Any, annotations: dict[str, str]) -> list[str]:
    return [f"{o.name}: Kata ignores it ({o.reason})" for o in outcomes
            if o.status == "ignored" and o.name.startswith(KATA) and o.name in annotations
            and o.name != CONFIG_PATH_ANNOTATION]


def _containerd(tmp_path: Path) -> cri.CRIConfig:
    """A containerd whose Kata runtime passes every pod annotation down (the CRI path)."""
    f = tmp_path / "containerd.toml"
    f.write_text('version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata]\n'
                 'runtime_type = "io.containerd.kata.v2"\npod_annotations = ["*"]\n')
    return cri.load_containerd_config(str(f))


def _through_cri(annotations: dict[str, str]) -> bool:
    """Whether the CRI path must agree: containerd sets its own container type (the
    sandbox's), so a pod's container-type annotation means something else there."""
    return not any(k in annotations for k in cri.CONTAINER_TYPE_KEYS)


@pytest.mark.parametrize("case_dir", sorted(p for p in CASES.iterdir() if p.is_dir()),
                         ids=lambda p: p.name)
def test_uncached_verdict_is_the_full_pipelines(case_dir: Path, tmp_path: Path) -> None:
    """Every conformance case: the webhook's uncached verdict (no CRI: the short path) is
    what the full resolve pipeline decides, with the same stage and warnings, and the same
    as through a CRI layer that passes every annotation (the sandbox path)."""
    case = json.loads((case_dir / "case.json").read_text())
    make_fixtures(case, case_dir / "config.toml")
    annotations = json.loads((case_dir / "annotations.json").read_text())
    mode = case.get("mode", "cli")
    facts = host(case["host_cpus"], case["host_vhost_vsock"])
    try:
        cfg = resolve(CONFIG, annotations, host=facts, mode=mode)
        refused: KataError | None = None
    except KataError as exc:
        refused = exc
    pod = rv.PodView("Pod", "p", "default", "kata", dict(annotations))
    fast = Admitter(build_selection(runtime_class="kata", kata_config=CONFIG, mode=mode),
                    host=facts, cache_size=0).verdict(pod)
    assert fast.kata and fast.allowed == (refused is None), (fast, refused)
    preloaded = Admitter(build_selection(runtime_class="kata", kata_config=CONFIG, mode=mode),
                         host=facts, cache_size=0)
    preloaded.preload()
    assert preloaded.verdict(pod) == fast
    assert preloaded.verdict(rv.PodView("Pod", "q", "default", "kata", {})) == Admitter(
        build_selection(runtime_class="kata", kata_config=CONFIG, mode=mode), host=facts,
        cache_size=0).verdict(rv.PodView("Pod", "q", "default", "kata", {}))
    if refused is not None:
        assert fast.stage == refused.stage
    else:
        kata = {k: v for k, v in annotations.items() if k.startswith(KATA)}
        expected = _ignored_warnings(cfg.annotations, kata)
        assert [w for w in fast.warnings if "Kata ignores it" in w] == expected
    if not _through_cri(annotations):
        return
    sel = build_selection(cri_config=_containerd(tmp_path), kata_config=CONFIG, mode=mode)
    slow = Admitter(sel, host=facts, cache_size=0).verdict(
        rv.PodView("Pod", "p", "default", "kata", dict(annotations)))
    assert (slow.allowed, slow.stage, slow.warnings) == (fast.allowed, fast.stage,
                                                          fast.warnings)


@pytest.fixture
def node(tmp_path: Path) -> str:
    root = make_install(tmp_path)
    return write_config(root, config_text(root, hypervisor_qemu={
        "enable_annotations": [".*"], "valid_hypervisor_paths": None,
        "default_memory": 2048, "enable_iommu": False}))


SHORT_PATH_PODS = {
    "no annotations": {},
    "no Kata annotation": {"prometheus.io/scrape": "true", "app": "web"},
    "only ones that change nothing": {H + "default_memory": "0", H + "default_vcpus": "0"},
    "an empty module list": {A + "kernel_modules": ""},  # Go's Split: [""], a change
    "the configured value again": {H + "default_memory": "2048", H + "enable_iommu": "false"},
    "ignored by Kata 1.x": {"io.katacontainers.config.runtime.experimental": "x",
                            "io.katacontainers.pkg.oci.bundle_path": "/b"},
    "applied": {H + "default_memory": "4096", H + "default_vcpus": "2",
                A + "kernel_modules": "e1000e EEE=1; i915", "other": "x"},
    "refused": {H + "default_vcpus": "64"},
    "refused late": {H + "default_memory": "4096", H + "block_device_driver": "nvme"},
    "relative asset": {H + "kernel": "vmlinuz"},
    "container, not sandbox": {"io.kubernetes.cri.container-type": "container",
                               H + "default_vcpus": "64"},
}


@pytest.mark.parametrize("name", sorted(SHORT_PATH_PODS))
def test_short_paths_agree_with_the_full_pipeline(name: str, node: str, tmp_path: Path
                                                  ) -> None:
    annotations = SHORT_PATH_PODS[name]
    facts = host(4)
    cfg = load(node, host=facts, mode="shimv2")
    kata = {k: v for k, v in annotations.items()
            if k.startswith(KATA) or k in cri.CONTAINER_TYPE_KEYS}
    try:
        full = overlay(cfg, kata, host_cpus=4)
        refused = None
    except KataError as exc:
        full, refused = None, exc
    if refused is None:
        assert full is not None
        assert overlay_outcomes(cfg, kata, host_cpus=4) == full.annotations
        if name in ("no annotations", "no Kata annotation", "the configured value again",
                    "only ones that change nothing"):
            assert full.hypervisor == cfg.hypervisor and full.agent == cfg.agent
    else:
        with pytest.raises(KataError) as again:
            overlay_outcomes(cfg, kata, host_cpus=4)
        assert (again.value.text, again.value.stage, again.value.outcomes) == (
            refused.text, refused.stage, refused.outcomes)
    pod = rv.PodView("Pod", "p", "default", "kata", dict(annotations))
    fast = Admitter(build_selection(runtime_class="kata", kata_config=node), host=facts,
                    cache_size=0).verdict(pod)
    assert fast.allowed == (refused is None)
    # preloaded (as the webhook is): a pod without Kata annotations gets the node's verdict
    # judged once by preload(); every pod gets the same verdict as without preload
    preloaded = Admitter(build_selection(runtime_class="kata", kata_config=node),
                         host=facts, cache_size=0)
    assert preloaded.preload() == []
    assert preloaded.verdict(pod) == fast
    if not kata:
        assert preloaded.verdict(pod) is preloaded._bare[id(preloaded.selection.targets[0])]
    if full is not None:
        assert list(fast.warnings) == _ignored_warnings(full.annotations, kata)
    if not _through_cri(annotations):
        return
    sel = build_selection(cri_config=_containerd(tmp_path), kata_config=node, mode="shimv2")
    slow = Admitter(sel, host=facts, cache_size=0).verdict(pod)
    assert (slow.allowed, slow.stage, slow.warnings) == (fast.allowed, fast.stage,
                                                          fast.warnings)


# ----------------------------------------------------------------------- the webhook app


class _Sink:
    def __init__(self) -> None:
        self.status = 0
        self.body = b""

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        else:
            self.body += message["body"]


def _serve_one(app: webhook.WebhookApp, body: bytes) -> tuple[int, bytes]:
    scope = {"type": "http", "path": "/validate", "method": "POST",
             "client": ("127.0.0.1", 40000),
             "headers": [(b"content-length", str(len(body)).encode())]}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    sink = _Sink()
    asyncio.run(app(scope, receive, sink))
    return sink.status, sink.body


@pytest.mark.parametrize("name", sorted(SHORT_PATH_PODS))
def test_webhook_answers_are_the_general_answers(name: str, node: str) -> None:
    """The bytes the webhook sends are rv.response() as compact JSON, byte for byte, and
    its access record is what Log.access() writes."""
    stream = io.StringIO()
    log = webhook.Log(stream)
    admitter = Admitter(build_selection(runtime_class="kata", kata_config=node),
                        host=host(4), cache_size=0)
    app = webhook.WebhookApp(webhook.Node(lambda: admitter, log), log)
    allowed = []
    for obj, uid in ((a_pod(SHORT_PATH_PODS[name]), 'u-"1\u00e9\\'),
                     (a_pod(SHORT_PATH_PODS[name], runtime_class="runc"), "u-2"),
                     ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
                      "u-3")):
        review = review_json(obj, uid=uid,
                             kind="Pod" if obj["kind"] == "Pod" else obj["kind"])
        status, body = _serve_one(app, json.dumps(review).encode())
        expected = admitter.review(rv.parse_review(review))
        assert status == 200
        assert body == webhook._compact(expected).encode()
        allowed.append(expected["response"]["allowed"])
    log.flush()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["uid"] for line in lines] == ['u-"1\u00e9\\', "u-2", "u-3"]
    assert [line["allowed"] for line in lines] == allowed
    assert allowed[1:] == [True, True]


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_allowed_bytes_are_the_general_json(uid: str) -> None:
    assert webhook._allowed(uid) == webhook._compact(rv.response(uid, True)).encode()


@settings(max_examples=300, deadline=None)
@given(remote=st.none() | st.text(max_size=30), method=st.sampled_from(["POST", "GET"]),
       path=st.text(max_size=30), status=st.integers(100, 599),
       ms=st.floats(0, 1e6, allow_nan=False).map(lambda x: round(x, 3)),
       fields=st.dictionaries(st.sampled_from(["uid", "kind", "namespace", "name", "kata",
                                               "allowed", "reason", "error"]),
                              st.text(max_size=30) | st.booleans(), max_size=8))
def test_access_record_is_what_access_writes(remote: str | None, method: str, path: str,
                                              status: int, ms: float, fields: dict[str, Any]
                                              ) -> None:
    fast, general = io.StringIO(), io.StringIO()
    now = webhook._now
    webhook._now = lambda: "2026-11-30T00:00:00.500Z"  # one timestamp for both lines
    try:
        a, b = webhook.Log(fast), webhook.Log(general)
        a.request(remote, method, path, status, ms, fields)
        b.access(remote=remote, method=method, path=path, status=status, ms=ms, **fields)
        a.flush()
        b.flush()
    finally:
        webhook._now = now
    assert fast.getvalue() == general.getvalue()


def test_malformed_review_still_gets_400_from_the_app(node: str) -> None:
    log = webhook.Log(io.StringIO())
    admitter = Admitter(build_selection(runtime_class="kata", kata_config=node),
                        host=host(4), cache_size=0)
    app = webhook.WebhookApp(webhook.Node(lambda: admitter, log), log)
    bad = review_json(a_pod({"x": 1}))  # type: ignore[dict-item]
    status, body = _serve_one(app, json.dumps(bad).encode())
    assert status == 400 and b"is a JSON number, not a string" in body
    assert b"metadata.annotations[x]" in body
    request = rv.parse_review(review_json(a_pod({H + "default_vcpus": "1"})))
    assert pod_of_request(request) is not None


def _loads_as_before(body: bytes) -> Any:
    """loads_review as it was: json.loads, its errors in one line."""
    try:
        return ("ok", json.loads(body.decode("utf-8")))
    except RecursionError:
        return ("error", "request body is nested too deeply")
    except json.JSONDecodeError as exc:
        return ("error", f"request body is not JSON: {exc.msg} at line {exc.lineno} column "
                         f"{exc.colno}")


BODIES = [b'{"a": 1}', b' {"a": 1}', b'{"a": 1}\n', b'{"a": 1} \r\n\t ', b'{"a": 1} x',
          b'{"a": 1}{"b": 2}', b'{"a": 1}\x0b', b'\xef\xbb\xbf{"a": 1}', b"", b"  ", b"[1,",
          b'{"a": NaN, "b": -Infinity}', b'{"a": 1, "a": 2}', b'"\\ud800"', b"1e999",
          b"[" * 100_000 + b"]" * 100_000, '{"a": 1}\u2028'.encode()]


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_review_json_is_read_as_json_loads_reads_it(body: bytes) -> None:
    expected = _loads_as_before(body)
    try:
        got = ("ok", rv.loads_review(body))
    except rv.ReviewError as exc:
        got = ("error", exc.message)
    if expected[0] == "ok" and expected[1] != expected[1]:  # NaN
        assert got[0] == "ok"
    else:
        assert repr(got) == repr(expected)


@settings(max_examples=300, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda kids: st.lists(kids, max_size=3)
                    | st.dictionaries(st.text(max_size=5), kids, max_size=3), max_leaves=10),
       st.sampled_from(["", " ", "\n", " x", "]", "\t\r\n"]),
       st.sampled_from(["", " ", "\n"]))
def test_any_json_value_with_any_surroundings(value: Any, after: str, before: str) -> None:
    body = (before + json.dumps(value) + after).encode()
    expected = _loads_as_before(body)
    try:
        got = ("ok", rv.loads_review(body))
    except rv.ReviewError as exc:
        got = ("error", exc.message)
    assert got == expected


def test_record_built_from_every_field_in_order_is_the_checked_one() -> None:
    """Record.__init__'s short path (every field, positionally) builds what the checked
    path builds; fewer or extra values still go through the checks."""
    from katacfg.config.model import AnnotationOutcome

    short = AnnotationOutcome("n", "v", "applied", "", "hypervisor.x", 1, 2)
    checked = AnnotationOutcome("n", "v", "applied", "", "hypervisor.x", 1, new=2)
    assert short == checked and repr(short) == repr(checked) and hash(short) == hash(checked)
    assert list(short.as_dict()) == list(AnnotationOutcome.FIELDS)
    assert short.replace(new=3).new == 3
    with pytest.raises(AttributeError):
        short.status = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        AnnotationOutcome("n", "v", "applied", "", "k", 1, 2, 3)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        AnnotationOutcome("n", "v")  # type: ignore[call-arg]
    assert AnnotationOutcome("n", "v", "passed").as_dict() == {
        "name": "n", "value": "v", "status": "passed", "reason": "", "key": "", "old": None,
        "new": None}
