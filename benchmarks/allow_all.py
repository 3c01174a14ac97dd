"""The baseline of the webhook benchmark: an allow-all handler on the webhook's own stack.

Same server code path as `katacfg webhook` (katacfg.admission.webhook.serve: uvicorn,
httptools, uvloop, the header deadline, the same TLS context), with the most trivial
correct handler: read the body, parse the JSON, answer allowed with the request's uid.

    python benchmarks/allow_all.py CERT KEY     (prints "listening on https://HOST:PORT/")
"""
from __future__ import annotations

import json
import sys

from katacfg.admission import webhook


class AllowAll:
    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    if self.on_startup is not None:
                        self.on_startup()
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        uid = json.loads(body)["request"]["uid"]
        out = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                          "response": {"uid": uid, "allowed": True}},
                         separators=(",", ":")).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})

    on_startup = None


def main() -> None:
    cert, key = sys.argv[1], sys.argv[2]

    def listening(host: str, port: int) -> None:
        print(f"listening on https://{host}:{port}/validate", flush=True)

    webhook.serve(AllowAll(), host="127.0.0.1", port=0,  # type: ignore[arg-type]
                  ssl_context=webhook.tls_context(cert, key), on_listening=listening)


if __name__ == "__main__":
    main()
