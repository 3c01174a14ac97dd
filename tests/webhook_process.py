"""A real `katacfg webhook` process for tests: TLS on 127.0.0.1, a free port, bounded waits."""
from __future__ import annotations

import base64
import http.client
import json
import queue
import signal
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

START_TIMEOUT = 60.0


class WebhookProcess:
    """Start with --self-signed on 127.0.0.1:0; read the port and caBundle it prints."""

    def __init__(self, tmp: Path, args: list[str], global_args: list[str] | None = None) -> None:
        cmd = [sys.executable, "-m", "katacfg", *(global_args or []), "webhook", *args,
               "--listen", "127.0.0.1:0", "--self-signed"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, cwd=tmp)
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.log: list[dict[str, Any]] = []
        self._out: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read_err, daemon=True).start()
        threading.Thread(target=self._read_out, daemon=True).start()
        ca_b64 = self._stdout_line("caBundle: ")
        listening = self._stdout_line("listening on ")
        self.port = int(listening.rsplit(":", 1)[1].split("/")[0])
        # the CA is taken from the caBundle the server printed, as a cluster would
        self.ca_pem = base64.b64decode(ca_b64).decode()
        self.ctx = ssl.create_default_context(cadata=self.ca_pem)
        self._conn: http.client.HTTPSConnection | None = None

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            try:
                record = json.loads(line)
            except ValueError:
                record = {"event": "text", "line": line.rstrip("\n")}
            self.log.append(record)
            self.events.put(record)

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._out.put(line.rstrip("\n"))

    def _stdout_line(self, prefix: str) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = self._out.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"webhook exited {self.proc.returncode}: {self.log}")
                continue
            if line.startswith(prefix):
                return line[len(prefix):]
        self.stop()
        raise RuntimeError(f"webhook did not print {prefix!r} in {START_TIMEOUT} s: {self.log}")

    # -- requests -----------------------------------------------------------------------------

    def connection(self) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=20)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """On one keep-alive connection (reopened when the server closed it)."""
        for attempt in range(2):
            if self._conn is None:
                self._conn = self.connection()
            try:
                self._conn.request(method, path, body=body, headers=headers or {})
                resp = self._conn.getresponse()
                data = resp.read()
                if resp.getheader("connection", "").lower() == "close":
                    self._conn.close()
                    self._conn = None
                return resp.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._conn.close()
                self._conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def review(self, review: dict[str, Any]) -> dict[str, Any]:
        status, data = self.request("POST", "/validate", json.dumps(review).encode(),
                                    {"content-type": "application/json"})
        assert status == 200, (status, data)
        out = json.loads(data)
        assert out["apiVersion"] == "admission.k8s.io/v1" and out["kind"] == "AdmissionReview"
        return out["response"]  # type: ignore[no-any-return]

    # -- signals ------------------------------------------------------------------------------

    def wait_event(self, name: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                record = self.events.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if record.get("event") == name:
                return record
        raise AssertionError(f"no {name!r} event within {timeout} s: {self.log[-20:]}")

    def reload(self) -> dict[str, Any]:
        while not self.events.empty():
            self.events.get_nowait()
        self.proc.send_signal(signal.SIGHUP)
        return self.wait_event("reload")

    def stop(self, timeout: float = 20.0) -> int:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def __enter__(self) -> WebhookProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
