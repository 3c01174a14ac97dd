"""katacfg webhook: a real server over real TLS on 127.0.0.1, and clients that misbehave."""
from __future__ import annotations

import json
import socket
import ssl
import time
from pathlib import Path

import pytest

from tests.helpers import config_text, make_install, write_config
from tests.test_admit import a_pod, review_json
from tests.webhook_process import WebhookProcess

DATA = Path(__file__).resolve().parent / "data"
H = "io.katacontainers.config.hypervisor."


@pytest.fixture(scope="module")
def install(tmp_path_factory) -> tuple[Path, str]:
    tmp = tmp_path_factory.mktemp("webhook")
    root = make_install(tmp)
    node = write_config(root, config_text(root, hypervisor_qemu={
        "enable_annotations": ["default_vcpus", "default_memory"]}))
    return tmp, node


@pytest.fixture(scope="module")
def server(install):
    tmp, node = install
    # kata-plain has no pod_annotations (drops every annotation), kata-strict hypervisor only
    with WebhookProcess(tmp, ["--containerd-config",
                              str(DATA / "cri/containerd-1.6.20-kata-v2.toml"),
                              "--host-cpus", "4", "--header-timeout", "1",
                              "--body-timeout", "1", "--idle-timeout", "2"],
                        ["--kata-config", node]) as w:
        yield w


def tls_socket(server: WebhookProcess) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return server.ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def read_all(sock: ssl.SSLSocket, limit: float = 10.0) -> bytes:
    sock.settimeout(limit)
    out = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            out += chunk
    except (TimeoutError, ssl.SSLError, ConnectionResetError):
        pass
    return out


# ------------------------------------------------------------------------------- TLS, health


def test_serves_tls_verified_by_the_printed_ca_bundle(server):
    with tls_socket(server) as s:
        assert s.version() in ("TLSv1.2", "TLSv1.3")
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_all(s).startswith(b"HTTP/1.1 200")
    assert server.request("GET", "/readyz")[0] == 200


def test_refuses_tls_below_1_2_and_plain_http(server):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            ctx.wrap_socket(raw).do_handshake()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        raw.settimeout(10)
        try:
            data = raw.recv(1024)
        except (ConnectionResetError, TimeoutError):
            data = b""
        assert not data.startswith(b"HTTP/1.1 200")


# ------------------------------------------------------------------------------- verdicts


def test_allows_and_denies_as_admit_does(server):
    ok = server.review(review_json(a_pod({H + "default_vcpus": "4"}), uid="u-ok"))
    assert ok == {"uid": "u-ok", "allowed": True}
    bad = server.review(review_json(a_pod({H + "default_vcpus": "5"}), uid="u-bad"))
    assert bad["uid"] == "u-bad" and bad["allowed"] is False and bad["status"]["code"] == 403
    assert ('"Number of cpus 5 specified in annotation default_vcpus is greater than the '
            'number of CPUs 4 on the system"') in bad["status"]["message"]
    assert "containerd runtime 'kata'" in bad["status"]["message"]


def test_cri_drop_is_a_warning(server):
    r = server.review(review_json(a_pod({H + "default_vcpus": "99"}, "kata-plain")))
    assert r["allowed"] is True
    assert r["warnings"][0].startswith(f"{H}default_vcpus: dropped before Kata")


def test_objects_that_are_not_kata_pods_are_allowed_untouched(server):
    for review in (review_json(a_pod({H + "default_vcpus": "99"}, "runc")),
                   review_json(a_pod({H + "default_vcpus": "99"}, None)),
                   review_json({"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "c"}}, kind="ConfigMap"),
                   {**review_json(a_pod({})), "request": {
                       **review_json(a_pod({}))["request"], "operation": "DELETE",
                       "object": None}}):
        r = server.review(review)
        assert r == {"uid": "u-1", "allowed": True}


def test_workload_template_is_judged(server):
    pod = a_pod({H + "default_vcpus": "99"})
    dep = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": "default"},
           "spec": {"template": {"metadata": {"annotations": pod["metadata"]["annotations"]},
                                 "spec": pod["spec"]}}}
    r = server.review(review_json(dep, kind="Deployment", group="apps"))
    assert r["allowed"] is False


# ------------------------------------------------------------------------------- bad requests


def post(server, body: bytes, headers=None) -> tuple[int, dict]:
    status, data = server.request("POST", "/validate", body, headers)
    return status, json.loads(data)


@pytest.mark.parametrize("body, words", [
    (b"not json", "not JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"[1, 2]", "got a JSON array"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (json.dumps({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview",
                 "request": {"uid": "x"}}).encode(), "admissionReviewVersions: [v1]"),
    (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "Pod"}).encode(),
     "kind 'Pod'"),
    (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                 "request": {"kind": {"kind": "Pod"}}}).encode(), "no uid"),
    (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                 "request": {"uid": 7}}).encode(), "no uid"),
    (json.dumps(review_json({"kind": "Pod", "metadata": {"annotations": {"a": 1}},
                             "spec": {"runtimeClassName": "kata"}})).encode(),
     "not a string"),
    (json.dumps(review_json({"kind": "Pod", "spec": {"runtimeClassName": 5}})).encode(),
     "runtimeClassName must be a string"),
])
def test_malformed_reviews_get_400(server, body, words):
    status, out = post(server, body)
    assert status == 400 and out["code"] == 400 and words in out["message"], out


def test_wrong_method_and_path(server):
    assert server.request("GET", "/validate")[0] == 405
    assert server.request("GET", "/nope")[0] == 404
    assert server.request("POST", "/healthz", b"{}")[0] == 200


def test_announced_body_over_the_limit_gets_413_without_being_read(server):
    with tls_socket(server) as s:
        s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100000000\r\n\r\n{")
        data = read_all(s)
    assert data.startswith(b"HTTP/1.1 413") and b"over the limit" in data


def test_streamed_body_over_the_limit_gets_413(server):
    with tls_socket(server) as s:
        s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 1_000_000
        try:
            for _ in range(8):
                s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        data = read_all(s)
    assert data.startswith(b"HTTP/1.1 413"), data[:200]


def test_huge_headers_get_431_and_malformed_http_400(server):
    with tls_socket(server) as s:
        s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\n")
        try:
            for i in range(100):
                s.sendall(b"X-Filler-%d: %s\r\n" % (i, b"a" * 4000))
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        data = read_all(s)
    assert data.startswith(b"HTTP/1.1 431") and b"over 65536 bytes" in data
    with tls_socket(server) as s:
        s.sendall(b"GARBAGE\x00\x01 / HTTP/9\r\n\r\n")
        data = read_all(s)
    assert data.startswith(b"HTTP/1.1 400") and b"malformed HTTP request" in data


def test_slow_headers_get_408_and_the_connection_is_closed(server):
    with tls_socket(server) as s:
        s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\n")  # ... and never the rest
        start = time.monotonic()
        data = read_all(s, limit=15)
    assert data.startswith(b"HTTP/1.1 408") and time.monotonic() - start < 10


def test_slow_body_gets_408(server):
    with tls_socket(server) as s:
        s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"a\"")
        start = time.monotonic()
        data = read_all(s, limit=15)
    assert data.startswith(b"HTTP/1.1 408") and b"not received within" in data
    assert time.monotonic() - start < 10


def test_silent_connection_is_closed(server):
    with tls_socket(server) as s:
        start = time.monotonic()
        read_all(s, limit=15)
    assert time.monotonic() - start < 10


def test_server_survived_everything(server):
    assert server.proc.poll() is None
    assert server.request("GET", "/healthz")[0] == 200
    errors = [e for e in server.log if e.get("status", 0) >= 500]
    assert errors == []
    assert [e for e in server.log if e.get("event") == "text"] == []  # only JSON lines
    assert any(e.get("status") == 431 for e in server.log)
    assert any(e.get("event") == "request" and e.get("status") == 400 for e in server.log)
    record = next(e for e in server.log if e.get("event") == "request" and e.get("allowed")
                  is False)
    assert {"ts", "remote", "method", "path", "status", "ms", "uid", "kind"} <= set(record)


def test_keep_alive_connection_serves_many_reviews(server):
    conn = server.connection()
    try:
        for i in range(50):
            conn.request("POST", "/validate",
                         json.dumps(review_json(a_pod({H + "default_memory": str(1024 + i)}),
                                                uid=f"k{i}")).encode())
            resp = conn.getresponse()
            assert resp.status == 200 and json.loads(resp.read())["response"]["uid"] == f"k{i}"
        assert conn.sock is not None  # still the same connection
    finally:
        conn.close()


# ------------------------------------------------------------------------------- reload, stop


def test_sighup_reload_and_broken_reload_keeps_the_last_good(tmp_path):
    root = make_install(tmp_path)
    node = write_config(root, config_text(root, hypervisor_qemu={
        "enable_annotations": ["default_vcpus"]}))
    crio = tmp_path / "crio.conf"
    crio.write_text((DATA / "cri/crio-kata.conf").read_text())
    review = review_json(a_pod({H + "default_memory": "4096"}))
    with WebhookProcess(tmp_path, ["--crio-config", str(crio), "--host-cpus", "2"],
                        ["--kata-config", node]) as w:
        assert w.review(review)["allowed"] is False  # default_memory is not enabled
        Path(node).write_text(config_text(root, hypervisor_qemu={
            "enable_annotations": ["default_vcpus", "default_memory"]}))
        ev = w.reload()
        assert ev["ok"] is True and ev["generation"] == 2
        assert w.review(review)["allowed"] is True
        crio.write_text("[crio\nbroken")
        Path(node).write_text(config_text(root, hypervisor_qemu={
            "enable_annotations": ["default_vcpus"]}))
        ev = w.reload()
        assert ev["ok"] is False and "not valid TOML" in ev["error"] and "kept" in ev
        assert w.review(review)["allowed"] is True  # still generation 2
        assert w.request("GET", "/readyz")[0] == 200
        assert w.stop() == 0
        assert any(e.get("event") == "shutdown" for e in w.log)


def test_graceful_shutdown_finishes_the_request_in_flight(tmp_path, install):
    _, node = install
    with WebhookProcess(tmp_path, ["--runtime-class", "kata", "--body-timeout", "20"],
                        ["--kata-config", node]) as w:
        body = json.dumps(review_json(a_pod({}), uid="inflight")).encode()
        s = tls_socket(w)
        s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                  % len(body) + body[:10])
        time.sleep(0.3)
        w.proc.send_signal(15)
        time.sleep(0.3)
        s.sendall(body[10:])
        data = read_all(s)
        s.close()
        assert data.startswith(b"HTTP/1.1 200") and b'"inflight"' in data
        assert w.proc.wait(20) == 0


def test_bad_startup_is_one_line(tmp_path):
    import os
    import subprocess
    import sys

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # never opened: a read would block forever

    for args, words in [
        (["--runtime-class", "kata", "--listen", "127.0.0.1:0"], "--self-signed"),
        (["--runtime-class", "kata", "--self-signed", "--listen", "nope"], "HOST:PORT"),
        (["--self-signed", "--listen", "127.0.0.1:0"], "--runtime-class"),
        (["--runtime-class", "kata", "--tls-cert", "/nonexistent", "--tls-key", "/x",
          "--listen", "127.0.0.1:0"], "cannot use the TLS certificate"),
        (["--runtime-class", "kata", "--tls-cert", str(fifo), "--tls-key", str(fifo),
          "--listen", "127.0.0.1:0"], "not a regular file (FIFO)"),
        (["manifests", "--image", "x", "--runtime-class", "kata", "--runtime-classes",
          str(fifo)], "not a regular file (FIFO)"),
    ]:
        p = subprocess.run([sys.executable, "-m", "katacfg", "webhook", *args],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert p.returncode == 1 and words in p.stderr and "Traceback" not in p.stderr, \
            (args, p.stderr)


def test_manifests(tmp_path, install):
    import subprocess
    import sys

    import yaml

    _, node = install
    p = subprocess.run([sys.executable, "-m", "katacfg", "--kata-config", node, "webhook",
                        "manifests", "--image", "example.org/katacfg:1",
                        "--containerd-config", str(DATA / "cri/containerd-1.6.20-kata-v2.toml"),
                        "--host-cpus", "16", "--failure-policy", "Fail"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    docs = list(yaml.safe_load_all(p.stdout))
    kinds = [d["kind"] for d in docs]
    assert kinds == ["Namespace", "ConfigMap", "Secret", "Deployment", "Service",
                     "ValidatingWebhookConfiguration"]
    vwc = docs[-1]
    [hook] = vwc["webhooks"]
    assert hook["sideEffects"] == "None" and hook["admissionReviewVersions"] == ["v1"]
    assert hook["failurePolicy"] == "Fail" and 1 <= hook["timeoutSeconds"] <= 30
    assert {"key": "kubernetes.io/metadata.name", "operator": "NotIn",
            "values": ["katacfg-system", "kube-system"]} in \
        hook["namespaceSelector"]["matchExpressions"]
    assert '"kata-strict"' in hook["matchConditions"][0]["expression"]
    assert "failure-policy-reason" in str(vwc["metadata"]["annotations"])
    dep = docs[3]
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "example.org/katacfg:1"
    assert container["args"][:3] == ["--kata-config", "/etc/katacfg/kata.toml", "webhook"]
    assert "--host-cpus" in container["args"]
    assert docs[1]["data"]["kata.toml"] == Path(node).read_text()
    # the Secret's certificate is for the Service and signed by the caBundle's CA
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(docs[2]["stringData"]["tls.crt"].encode())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "katacfg-webhook.katacfg-system.svc" in sans.get_values_for_type(x509.DNSName)
    import base64

    ca = x509.load_pem_x509_certificate(base64.b64decode(hook["clientConfig"]["caBundle"]))
    cert.verify_directly_issued_by(ca)
    assert (Path(__file__).resolve().parent.parent / "Containerfile").is_file()
