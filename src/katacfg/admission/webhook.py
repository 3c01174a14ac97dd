"""katacfg webhook: a validating admission webhook serving the `admit` verdict over HTTPS.

Server stack: uvicorn with httptools (and uvloop when installed) running a plain ASGI app
(three routes need no framework). Chosen by measurement on this project's 2-CPU machine,
allow-all handlers over TLS with keep-alive (h2load, 8 connections, 20,000 reviews):
aiohttp 3.14 about 10,000 reviews/s; uvicorn + Starlette 7,000-10,000; uvicorn + raw ASGI
with h11 5,500; uvicorn + raw ASGI with httptools and uvloop 14,000-18,000.

Hostile clients: bodies over MAX_REVIEW_BYTES get 413 (announced or streamed), headers
over MAX_HEAD_BYTES 431, malformed HTTP 400 (in the JSON log, not uvicorn's), a request
whose headers do not arrive within `header_timeout` or whose body does not arrive within
`body_timeout` gets 408 and the connection is closed, idle keep-alive connections are
closed after `idle_timeout`, and connections beyond `max_connections` get 503. Malformed
reviews get 400 with one line; nothing a client sends gives a 500 or stops the server.

SIGHUP reloads the node's configurations: a reload katacfg cannot read (CRI
configuration, RuntimeClasses) keeps the last good one and logs why; a Kata file that Kata
refuses is the node's truth and is applied (its Kata pods are denied) and logged.
SIGTERM/SIGINT stop accepting, finish the requests in flight, then exit.
"""
from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from katacfg.admission import review as rv
from katacfg.admission.admit import Admitter, pod_of_request

JSON_HEADERS = [(b"content-type", b"application/json")]
# one encoder: json.dumps(..., separators=...) would build a new one for every call
_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode
_json_string = json.encoder.encode_basestring_ascii  # a str as a JSON string, ASCII only
_ALLOWED_HEAD = _compact({"apiVersion": rv.API_VERSION, "kind": rv.KIND}).encode()[:-1] \
    + b',"response":'
TEXT_HEADERS = [(b"content-type", b"text/plain; charset=utf-8")]


_SECOND: list[Any] = [-1, ""]


def _now() -> str:
    t = time.time()
    sec = int(t)
    if sec != _SECOND[0]:
        _SECOND[0], _SECOND[1] = sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    return f"{_SECOND[1]}.{int((t - sec) * 1000):03d}Z"


class Log:
    """Structured (JSON lines) access and event log.

    Events are written at once; access records are buffered and written together at most
    `FLUSH_AFTER` seconds later (one write for many requests under load).
    """

    FLUSH_AFTER = 0.2
    FLUSH_RECORDS = 256

    def __init__(self, stream: Any = None, *, access: bool = True) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.access_enabled = access
        self._buf: list[str] = []
        self._scheduled = False

    def event(self, event: str, **fields: Any) -> None:
        self._buf.append(self._line({"ts": _now(), "event": event, **fields}))
        self.flush()

    def access(self, **fields: Any) -> None:
        if self.access_enabled:
            self._buffer(self._line({"ts": _now(), "event": "request", **fields}))

    def request(self, remote: str | None, method: str, path: str, status: int, ms: float,
                fields: dict[str, Any]) -> None:
        """Buffer the access record of one HTTP request: the line access() would write
        with these fields, built without setting up json's encoder for each request."""
        line = ('{"ts":"%s","event":"request","remote":%s,"method":%s,"path":%s,"status":%d,'
                '"ms":%r' % (_now(), "null" if remote is None else _json_string(remote),
                             _json_string(method), _json_string(path), status, ms))
        for key, value in fields.items():  # str and bool values, plain identifiers as keys
            line += ',"%s":%s' % (key, _json_string(value) if value.__class__ is str else
                                  "true" if value is True else "false" if value is False
                                  else _compact(value))
        self._buffer(line + "}\n")

    def _buffer(self, line: str) -> None:
        self._buf.append(line)
        if len(self._buf) >= self.FLUSH_RECORDS:
            self.flush()
        elif not self._scheduled:
            try:
                asyncio.get_running_loop().call_later(self.FLUSH_AFTER, self.flush)
                self._scheduled = True
            except RuntimeError:  # no event loop: write now
                self.flush()

    @staticmethod
    def _line(record: dict[str, Any]) -> str:
        return _compact(record) + "\n"

    def flush(self) -> None:
        self._scheduled = False
        if not self._buf:
            return
        text, self._buf = "".join(self._buf), []
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a closed log must not stop the server


class Node:
    """The verdict engine in force, rebuilt on reload; a broken reload keeps the old one."""

    def __init__(self, build: Callable[[], Admitter], log: Log) -> None:
        self._build = build
        self.log = log
        self.admitter = build()  # startup: errors propagate to the command
        self.generation = 1
        self.loaded_at = _now()

    def reload(self) -> bool:
        try:
            admitter = self._build()
        except Exception as exc:  # any failure keeps serving with the last good engine
            self.log.event("reload", ok=False, error=_one_line(exc),
                           generation=self.generation,
                           kept=f"configuration {self.generation} loaded at {self.loaded_at}")
            return False
        self.admitter = admitter
        self.generation += 1
        self.loaded_at = _now()
        self.log.event("reload", ok=True, generation=self.generation)
        return True


def _one_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())


class WebhookApp:
    """The ASGI application: POST /validate, GET /healthz, GET /readyz."""

    def __init__(self, node: Node, log: Log, *, max_body: int = rv.MAX_REVIEW_BYTES,
                 on_startup: Callable[[], None] | None = None) -> None:
        self.node = node
        self.log = log
        self.max_body = max_body
        self.on_startup = on_startup
        self.ready = False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                if self.on_startup is not None:
                    self.on_startup()
                self.ready = True
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                self.ready = False
                self.log.event("shutdown")
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        start = time.perf_counter()
        path, method = scope["path"], scope["method"]
        fields: dict[str, Any] = {}
        if path == "/validate":
            if method != "POST":
                status = await _reply(send, 405, b"use POST\n", TEXT_HEADERS, allow=b"POST")
            else:
                status = await self._validate(scope, receive, send, fields)
        elif path in ("/healthz", "/livez"):
            status = await _reply(send, 200, b"ok\n", TEXT_HEADERS)
        elif path == "/readyz":
            ok = self.ready
            status = await _reply(send, 200 if ok else 503,
                                  b"ok\n" if ok else b"not ready\n", TEXT_HEADERS)
        else:
            status = await _reply(send, 404, b"not found: POST /validate, GET /healthz, "
                                             b"GET /readyz\n", TEXT_HEADERS)
        if self.log.access_enabled:
            client = scope.get("client")
            self.log.request(f"{client[0]}:{client[1]}" if client else None, method, path,
                             status, round((time.perf_counter() - start) * 1000, 3), fields)

    async def _validate(self, scope: dict[str, Any], receive: Any, send: Any,
                        fields: dict[str, Any]) -> int:
        try:
            body = await self._read_body(scope, receive)
            request = rv.parse_review(body)
            fields["uid"] = request.uid
            fields["kind"] = request.kind
            if request.namespace:
                fields["namespace"] = request.namespace
            pod = pod_of_request(request)
            if pod is None:
                fields["allowed"] = True
                return await _reply(send, 200, _allowed(request.uid), JSON_HEADERS)
            if pod.name:
                fields["name"] = pod.name
            admitter = self.node.admitter
            if admitter.needs_io(pod):  # file reads (hashes) off the event loop
                v = await asyncio.to_thread(admitter.verdict, pod)
            else:
                v = admitter.verdict(pod)
            if v.kata:
                fields["kata"] = True
            fields["allowed"] = v.allowed
            if v.allowed and not v.message and not v.warnings:  # the common answer
                data = _allowed(request.uid)
            else:
                if not v.allowed:
                    fields["reason"] = v.message
                data = _compact(rv.response(request.uid, v.allowed,
                                            code=None if v.allowed else v.code,
                                            message=v.message, warnings=v.warnings)).encode()
            return await _reply(send, 200, data, JSON_HEADERS)
        except rv.ReviewError as exc:
            fields["error"] = exc.message
            close = exc.code in (408, 413)
            return await _reply(send, exc.code, _status_json(exc.code, exc.message),
                                JSON_HEADERS, close=close)
        except _Disconnected:
            fields["error"] = "client disconnected"
            return 499
        except Exception as exc:  # a bug of ours: answer, log, keep serving
            fields["error"] = f"internal error: {type(exc).__name__}: {_one_line(exc)}"
            return await _reply(send, 500, _status_json(500, "internal error in katacfg "
                                                              "webhook; see its log"),
                                JSON_HEADERS)

    async def _read_body(self, scope: dict[str, Any], receive: Any) -> bytes:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    announced = int(value)
                except ValueError:
                    raise rv.ReviewError(400, "Content-Length is not a number") from None
                if announced > self.max_body:
                    raise rv.ReviewError(413, f"request body of {announced} bytes is over "
                                              f"the limit of {self.max_body} bytes")
        chunks: list[bytes] = []
        size = 0
        # the body's deadline is the protocol's (guarded_protocol): it answers 408 and
        # closes the connection, and receive() then reports the disconnect
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                raise _Disconnected()
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise rv.ReviewError(413, f"request body is over the limit of "
                                          f"{self.max_body} bytes")
            chunks.append(chunk)
            if not msg.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class _Disconnected(Exception):
    pass


def _allowed(uid: str) -> bytes:
    """The AdmissionReview allowing `uid` with nothing to say: rv.response(uid, True) as
    compact JSON, without json's machinery."""
    return b'%s{"uid":%s,"allowed":true}}' % (_ALLOWED_HEAD,
                                             _json_string(uid).encode("ascii"))


def _status_json(code: int, message: str) -> bytes:
    return json.dumps({"apiVersion": "v1", "kind": "Status", "status": "Failure",
                       "code": code, "message": message}).encode()


async def _reply(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]], *,
                 close: bool = False, allow: bytes | None = None) -> int:
    hdrs = [*headers, (b"content-length", str(len(body)).encode())]
    if close:
        hdrs.append((b"connection", b"close"))
    if allow:
        hdrs.append((b"allow", allow))
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})
    return status


# --------------------------------------------------------------------------- server


MAX_HEAD_BYTES = 64 * 1024  # request line and headers: an API server sends about 1 KiB


class _HeadTooLarge(Exception):
    pass


def guarded_protocol(header_timeout: float, body_timeout: float,
                     log: Log | None = None) -> type:
    """uvicorn's httptools protocol with deadlines for each request's headers and body.

    uvicorn times out idle keep-alive connections but not a client that sends a request
    slowly (or connects and sends nothing). This arms one timer when a connection opens
    or a request begins (headers deadline), moves it to the body deadline when the headers
    are complete but the body is not, and cancels it when the request is complete. When it
    fires, the client gets 408 (unless a response has started) and the connection closes.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[misc]
        _guard: asyncio.TimerHandle | None = None
        _in_body = False
        _why = b""
        _head = 0  # bytes of request line and headers so far
        _answered = False

        def _refuse(self, status: bytes, message: str) -> None:
            """Answer a request uvicorn cannot hand to the app, and close."""
            self._answered = True
            self._disarm()
            transport = self.transport
            if transport is not None and not transport.is_closing():
                body = json.dumps({"apiVersion": "v1", "kind": "Status", "status": "Failure",
                                   "code": int(status[:3]), "message": message}).encode()
                transport.write(b"HTTP/1.1 %s\r\ncontent-type: application/json\r\n"
                                b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
                                % (status, len(body), body))
                transport.close()
            if log is not None:
                client = self.client
                log.access(remote=f"{client[0]}:{client[1]}" if client else None,
                           status=int(status[:3]), error=message)

        def _count(self, n: int) -> None:
            self._head += n
            if self._head > MAX_HEAD_BYTES:
                if not self._answered:
                    self._refuse(b"431 Request Header Fields Too Large",
                                 f"request line and headers over {MAX_HEAD_BYTES} bytes")
                raise _HeadTooLarge()

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value) + 4)
            super().on_header(name, value)

        def send_400_response(self, msg: str) -> None:
            if not self._answered:  # malformed HTTP: uvicorn's 400, in our log and format
                self._refuse(b"400 Bad Request", f"malformed HTTP request: {msg}")

        def _arm(self, seconds: float, why: bytes) -> None:
            if self._guard is not None:
                self._guard.cancel()
            self._why = why
            self._guard = self.loop.call_later(seconds, self._expire)

        def _disarm(self) -> None:
            if self._guard is not None:
                self._guard.cancel()
                self._guard = None

        def _expire(self) -> None:
            self._guard = None
            transport = self.transport
            if transport is None or transport.is_closing():
                return
            cycle = self.cycle
            if cycle is None or cycle.response_complete or not cycle.response_started:
                msg = self._why
                body = json.dumps({"apiVersion": "v1", "kind": "Status", "status": "Failure",
                                   "code": 408, "message": msg.decode()}).encode()
                transport.write(
                    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
            transport.close()

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm(header_timeout, b"request headers not received within %g s"
                      % header_timeout)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._in_body and self._why[:12] != b"request body":
                self._arm(body_timeout, b"request body not received within %g s"
                          % body_timeout)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._head = 0
            if self._guard is None:
                self._arm(header_timeout, b"request headers not received within %g s"
                          % header_timeout)

        def on_headers_complete(self) -> None:
            self._in_body = True
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._in_body = False
            self._disarm()
            super().on_message_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return GuardedHttpToolsProtocol


def _server_class() -> type:
    import contextlib

    import uvicorn

    class Server(uvicorn.Server):  # type: ignore[misc]
        """uvicorn's server, but a SIGTERM/SIGINT shutdown exits 0 instead of re-raising."""

        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            handled = (signal.SIGINT, signal.SIGTERM)
            original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    return Server


def parse_listen(text: str) -> tuple[str, int]:
    """HOST:PORT or [IPv6]:PORT; ValueError with one line."""
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8443")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        number = int(port, 10)
    except ValueError:
        raise ValueError(f"--listen {text!r}: port {port!r} is not a number") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"--listen {text!r}: port must be 0-65535")
    return host, number


def tls_context(cert: str, key: str) -> Any:
    """A server SSLContext: TLS 1.2 or later, the certificate chain and its key."""
    import ssl

    from katacfg.host import safeio

    for path, what in ((cert, "TLS certificate"), (key, "TLS key")):
        try:  # a FIFO or device would block load_cert_chain: regular files only
            safeio.read_bytes(path, limit=1 << 20, what=what)
        except safeio.FileRefused as exc:
            raise ValueError(exc.text) from None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= ssl.OP_NO_COMPRESSION
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def serve(app: WebhookApp, *, host: str, port: int, ssl_context: Any,
          header_timeout: float = 10.0, body_timeout: float = 10.0,
          idle_timeout: float = 30.0,
          max_connections: int = 1000, graceful_timeout: float = 10.0,
          on_listening: Callable[[str, int], None] | None = None,
          on_hup: Callable[[], None] | None = None, log: Log | None = None) -> None:
    """Run the app with uvicorn until SIGTERM/SIGINT (then a graceful shutdown)."""
    import socket

    import uvicorn

    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:  # pragma: no cover - uvloop is part of the webhook extra
        loop = "asyncio"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    bound = sock.getsockname()

    user_startup = app.on_startup

    def startup() -> None:
        import gc

        # Everything loaded so far lives as long as the server: keep it out of the
        # collector's way (a full collection would walk all of it, many times a second).
        gc.collect()
        gc.freeze()
        if on_hup is not None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, on_hup)
        if user_startup is not None:
            user_startup()
        if on_listening is not None:
            on_listening(bound[0], bound[1])

    app.on_startup = startup
    config = uvicorn.Config(
        app, loop=loop, http=guarded_protocol(header_timeout, body_timeout, log), lifespan="on",
        access_log=False, log_level="error", timeout_keep_alive=int(max(1, idle_timeout)),
        limit_concurrency=max_connections, timeout_graceful_shutdown=int(graceful_timeout),
        server_header=False, date_header=False, proxy_headers=False, ws="none")
    config.load()
    config.ssl = ssl_context
    server = _server_class()(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
