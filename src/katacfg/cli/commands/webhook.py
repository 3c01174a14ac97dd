"""katacfg webhook: serve admission verdicts over HTTPS, or print its Kubernetes manifests."""
from __future__ import annotations

import argparse
import sys

from katacfg.cli.commands.common import add_host_flags, host_from_args


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 3600 seconds")
    return value


def _count(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def configure(p: argparse.ArgumentParser) -> None:
    from katacfg.admission.selection import add_selection_flags

    p.add_argument("action", nargs="?", choices=("serve", "manifests"), default="serve",
                   help="serve (default): run the webhook; manifests: print its Deployment, "
                        "Service and ValidatingWebhookConfiguration")
    add_selection_flags(p)
    add_host_flags(p)
    p.add_argument("--assume-node-files", action="store_true",
                   help="the Kata configuration belongs to the nodes: assume the paths it "
                        "names exist instead of checking them here")
    s = p.add_argument_group("serve")
    s.add_argument("--listen", metavar="HOST:PORT", default="127.0.0.1:8443",
                   help="address to listen on (default 127.0.0.1:8443; port 0: any free port)")
    s.add_argument("--tls-cert", metavar="FILE", help="server certificate chain (PEM)")
    s.add_argument("--tls-key", metavar="FILE", help="its private key (PEM)")
    s.add_argument("--self-signed", action="store_true",
                   help="development: make a CA and a certificate, print the caBundle")
    s.add_argument("--self-signed-dir", metavar="DIR",
                   help="keep the --self-signed ca.crt, tls.crt, tls.key in DIR")
    s.add_argument("--tls-san", metavar="NAME", action="append", default=[],
                   help="a DNS name or IP address for the --self-signed certificate "
                        "(repeatable; 127.0.0.1 and localhost are always included)")
    s.add_argument("--header-timeout", type=_seconds, default=10.0, metavar="S",
                   help="close a connection whose request headers take longer (408)")
    s.add_argument("--body-timeout", type=_seconds, default=10.0, metavar="S",
                   help="answer 408 when a request body takes longer")
    s.add_argument("--idle-timeout", type=_seconds, default=30.0, metavar="S",
                   help="close idle keep-alive connections after S seconds")
    s.add_argument("--max-connections", type=_count, default=1000, metavar="N",
                   help="answer 503 beyond N concurrent connections")
    s.add_argument("--verdict-cache", type=_count, default=4096, metavar="N",
                   help="remember N verdicts by pod annotations (0: judge every review)")
    s.add_argument("--no-access-log", dest="access_log", action="store_false",
                   help="log only events (start, reload, shutdown), not each request")
    m = p.add_argument_group("manifests")
    m.add_argument("--image", metavar="IMAGE", help="the katacfg image (see Containerfile)")
    m.add_argument("--namespace", default="katacfg-system", help="namespace of the webhook")
    m.add_argument("--name", default="katacfg-webhook", help="name of its objects")
    m.add_argument("--failure-policy", choices=("Ignore", "Fail"), default="Ignore",
                   help="what the API server does when the webhook cannot answer "
                        "(default Ignore: see the README)")
    m.add_argument("--timeout-seconds", type=int, default=5, choices=range(1, 31),
                   metavar="1-30", help="the API server's timeout for one review")
    m.add_argument("--replicas", type=int, default=2, help="webhook replicas")


def run(args: argparse.Namespace) -> int:
    if args.action == "manifests":
        from katacfg.admission.deploy import run_manifests

        return run_manifests(args)
    return _serve(args)


def _fail(message: str) -> int:
    sys.stderr.write(f"katacfg: {message}\n")
    return 1


def _serve(args: argparse.Namespace) -> int:
    import os
    import tempfile

    try:
        from katacfg.admission import webhook
    except ImportError as exc:
        return _fail(f"the webhook needs its server stack ({exc.name}): "
                     "pip install 'katacfg[webhook]'")
    from katacfg.admission.admit import Admitter
    from katacfg.admission.selection import SelectionError, selection_from_args

    if args.self_signed == bool(args.tls_cert or args.tls_key):
        return _fail("give --tls-cert FILE --tls-key FILE, or --self-signed (development)")
    if not args.self_signed and not (args.tls_cert and args.tls_key):
        return _fail("--tls-cert and --tls-key go together")
    try:
        host, port = webhook.parse_listen(args.listen)
    except ValueError as exc:
        return _fail(str(exc))
    log = webhook.Log(access=args.access_log)
    host_facts = host_from_args(args)

    def build() -> Admitter:
        selection = selection_from_args(args)
        admitter = Admitter(selection, host=host_facts, assume_files=args.assume_node_files,
                            cache_size=args.verdict_cache)
        # Kata refusing a node's file is a verdict (its Kata pods are denied), not a
        # reason to stop serving or to keep an older configuration: log it loudly.
        for problem in admitter.preload():
            log.event("node-config-refused", error=problem)
        for t in selection.targets:
            log.event("target", target=t.describe(), runtime_classes=list(t.runtime_classes),
                      filter=t.filter_kind)
        return admitter

    try:
        node = webhook.Node(build, log)
    except SelectionError as exc:
        return _fail(str(exc))

    tmp = None
    if args.self_signed:
        from katacfg.admission.tls import make_certificates

        names = ["localhost", "127.0.0.1", *args.tls_san]
        if host not in names and host not in ("0.0.0.0", "::"):
            names.append(host)
        bundle = make_certificates(names)
        directory = args.self_signed_dir
        if directory is None:
            tmp = tempfile.TemporaryDirectory(prefix="katacfg-webhook-")
            directory = tmp.name
        _, cert, key = bundle.write(directory)
        sys.stdout.write(f"caBundle: {bundle.ca_bundle}\n")
        sys.stdout.flush()
    else:
        cert, key = args.tls_cert, args.tls_key
    try:
        ctx = webhook.tls_context(cert, key)
    except (OSError, ValueError) as exc:
        return _fail(f"cannot use the TLS certificate {cert} / key {key}: "
                     f"{getattr(exc, 'strerror', None) or exc}")

    def on_hup() -> None:
        node.reload()
        try:
            ctx.load_cert_chain(cert, key)  # renewed certificates, for new connections
        except (OSError, ValueError) as exc:
            log.event("reload-tls", ok=False, error=str(exc), kept="previous certificate")

    def listening(h: str, p: int) -> None:
        shown = f"[{h}]" if ":" in h else h
        sys.stdout.write(f"listening on https://{shown}:{p}/validate\n")
        sys.stdout.flush()
        log.event("listening", address=f"{shown}:{p}", pid=os.getpid())

    app = webhook.WebhookApp(node, log)
    try:
        webhook.serve(app, host=host, port=port, ssl_context=ctx,
                      header_timeout=args.header_timeout, body_timeout=args.body_timeout,
                      idle_timeout=args.idle_timeout,
                      max_connections=args.max_connections or 1000,
                      on_listening=listening, on_hup=on_hup, log=log)
    except OSError as exc:
        return _fail(f"cannot listen on {args.listen}: {exc.strerror or exc}")
    finally:
        if tmp is not None:
            tmp.cleanup()
    return 0
