"""`katacfg webhook manifests`: the Kubernetes objects that run the webhook in a cluster.

Printed as one YAML stream: a Namespace, a ConfigMap with the node's files (the CRI
configuration, the RuntimeClasses, each Kata configuration file, mounted where the CRI
configuration says the node keeps it), a TLS Secret and its CA (made here, unless
--ca-bundle-file and an existing Secret are given), the Deployment, its Service and the
ValidatingWebhookConfiguration.

failurePolicy defaults to Ignore, and why: the webhook only moves a verdict earlier. A Kata
pod admitted while the webhook is unreachable is no worse off than without it (Kata
refuses it at sandbox creation, as today), whereas Fail would block every matching pod in
every selected namespace for as long as the webhook is down. `matchConditions` limit the
webhook to Kata runtime classes when they are known, so --failure-policy Fail is a
reasonable choice for a cluster that wants a guarantee rather than an early warning.
"""
from __future__ import annotations

import argparse
import errno
import posixpath
import sys
from typing import Any

from katacfg.admission.selection import Selection

WEBHOOK_NAME = "validate.katacfg.katacontainers.io"
CONFIG_DIR = "/etc/katacfg"
TLS_DIR = "/etc/katacfg/tls"
PORT = 8443
MAX_NODE_FILE = 1024 * 1024  # a ConfigMap holds at most 1 MiB in all

# What creates pods, by API group: the webhook is asked about these on CREATE (and the
# workload kinds on UPDATE too, since a new template makes new pods).
RULES = [
    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
     "resources": ["pods"], "scope": "Namespaced"},
    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
     "resources": ["replicationcontrollers", "podtemplates"], "scope": "Namespaced"},
    {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
     "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"],
     "scope": "Namespaced"},
    {"apiGroups": ["batch"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
     "resources": ["jobs", "cronjobs"], "scope": "Namespaced"},
]
# Where each kind keeps runtimeClassName, for the CEL matchCondition.
_CLASS_PATHS = (("spec",), ("spec", "template", "spec"), ("template", "spec"),
                ("spec", "jobTemplate", "spec", "template", "spec"))

FAILURE_POLICY_REASON = {
    "Ignore": "the webhook moves Kata's verdict earlier; when it is unreachable, pods are "
              "admitted and Kata still refuses bad ones at sandbox creation, as without it",
    "Fail": "no Kata pod is admitted unjudged; while the webhook is down, matching pods "
            "cannot be created",
}


def match_expression(classes: tuple[str, ...]) -> str:
    """CEL: the object's pod template asks for one of these runtime classes."""
    quoted = "[" + ", ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"'
                             for c in classes) + "]"
    parts = []
    for path in _CLASS_PATHS:
        steps = ["object"]
        checks = []
        for p in (*path, "runtimeClassName"):
            checks.append(f"has({'.'.join(steps)}.{p})")
            steps.append(p)
        parts.append("(" + " && ".join(checks) + f" && {'.'.join(steps)} in {quoted})")
    return "object != null && (" + " || ".join(parts) + ")"


def _read_small(path: str, what: str) -> str:
    """A node file for the ConfigMap, through katacfg's bounded reader (regular files only:
    a FIFO or device is refused, never opened; at most the ConfigMap's 1 MiB)."""
    from katacfg.host import safeio

    try:
        data = safeio.read_bytes(path, limit=MAX_NODE_FILE, what=what)
    except safeio.FileRefused as exc:
        if exc.errno == errno.ENOENT:
            raise FileNotFoundError(exc.errno, exc.text, path) from None
        raise ValueError(f"{exc.text} ({exc.hint})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{what} {path} is not UTF-8 ({exc.reason} at byte {exc.start})") \
            from None


def build_manifests(args: argparse.Namespace, selection: Selection, *,
                    ca_bundle: str, tls: tuple[str, str] | None) -> list[dict[str, Any]]:
    """The objects, in apply order. `tls`: (cert PEM, key PEM) for a new Secret, or None."""
    name, ns = args.name, args.namespace
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "katacfg"}
    data: dict[str, str] = {}
    global_args: list[str] = []
    cmd: list[str] = ["webhook", "--listen", f"0.0.0.0:{PORT}",
                      "--tls-cert", f"{TLS_DIR}/tls.crt", "--tls-key", f"{TLS_DIR}/tls.key",
                      "--assume-node-files"]
    mounts: list[dict[str, Any]] = [{"name": "config", "mountPath": CONFIG_DIR,
                                     "readOnly": True},
                                    {"name": "tls", "mountPath": TLS_DIR, "readOnly": True}]
    volumes: list[dict[str, Any]] = [
        {"name": "config", "configMap": {"name": f"{name}-node"}},
        {"name": "tls", "secret": {"secretName": f"{name}-tls"}},
    ]
    if args.containerd_config:
        data["containerd.toml"] = _read_small(args.containerd_config, "--containerd-config")
        cmd += ["--containerd-config", f"{CONFIG_DIR}/containerd.toml"]
    if args.crio_config:
        data["crio.conf"] = _read_small(args.crio_config, "--crio-config")
        cmd += ["--crio-config", f"{CONFIG_DIR}/crio.conf"]
    if args.runtime_class:
        cmd += ["--runtime-class", args.runtime_class]
    if args.runtime_classes:
        data["runtimeclasses.yaml"] = _read_small(args.runtime_classes, "--runtime-classes")
        cmd += ["--runtime-classes", f"{CONFIG_DIR}/runtimeclasses.yaml"]
    if args.mode:
        cmd += ["--mode", args.mode]
    if args.host_cpus:
        cmd += ["--host-cpus", str(args.host_cpus)]
    if args.host_vhost_vsock is not None:
        cmd.append("--host-vhost-vsock" if args.host_vhost_vsock else "--no-host-vhost-vsock")
    if args.kata_config:
        data["kata.toml"] = _read_small(args.kata_config, "--kata-config")
        global_args = ["--kata-config", f"{CONFIG_DIR}/kata.toml"]
    else:
        # each handler's Kata file, mounted where the CRI configuration says it is
        by_dir: dict[str, list[dict[str, str]]] = {}
        seen: set[str] = set()
        for i, t in enumerate(selection.targets):
            path = t.kata_config
            if not path or path in seen:
                continue
            seen.add(path)
            if not posixpath.isabs(path):
                raise ValueError(f"handler {t.handler!r}: Kata configuration path {path!r} "
                                 "is not absolute")
            key = f"kata-{i}-{posixpath.basename(path)}"
            try:
                data[key] = _read_small(path, f"the Kata configuration of handler {t.handler!r}")
            except FileNotFoundError:
                raise ValueError(f"handler {t.handler!r} loads {path}, which is not on this "
                                 "machine: run this on a node, or give a copy with "
                                 "--kata-config FILE") from None
            by_dir.setdefault(posixpath.dirname(path), []).append(
                {"key": key, "path": posixpath.basename(path)})
        for j, (directory, items) in enumerate(sorted(by_dir.items())):
            vol = f"kata-{j}"
            volumes.append({"name": vol, "configMap": {"name": f"{name}-node", "items": items}})
            mounts.append({"name": vol, "mountPath": directory, "readOnly": True})
    if sum(len(v) for v in data.values()) > MAX_NODE_FILE:
        raise ValueError("the node's files together are over 1 MiB, the most a ConfigMap holds")

    objs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": f"{name}-node", "namespace": ns, "labels": labels},
         "data": data},
    ]
    if tls is not None:
        objs.append({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                     "metadata": {"name": f"{name}-tls", "namespace": ns, "labels": labels},
                     "stringData": {"tls.crt": tls[0], "tls.key": tls[1]}})
    def probe(path: str, period: int) -> dict[str, Any]:
        return {"httpGet": {"path": path, "port": "https", "scheme": "HTTPS"},
                "periodSeconds": period, "timeoutSeconds": 2}

    objs.append({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "replicas": args.replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 65532,
                                        "runAsGroup": 65532,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{
                        "name": "webhook", "image": args.image,
                        "args": global_args + cmd,
                        "ports": [{"name": "https", "containerPort": PORT}],
                        "readinessProbe": probe("/readyz", 5),
                        "livenessProbe": probe("/healthz", 10),
                        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                                      "limits": {"memory": "256Mi"}},
                        "securityContext": {"allowPrivilegeEscalation": False,
                                            "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}},
                        "volumeMounts": mounts,
                    }],
                    "volumes": volumes,
                },
            },
        },
    })
    objs.append({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"selector": {"app.kubernetes.io/name": name},
                 "ports": [{"name": "https", "port": 443, "targetPort": "https"}]},
    })
    hook: dict[str, Any] = {
        "name": WEBHOOK_NAME,
        "clientConfig": {"service": {"namespace": ns, "name": name, "path": "/validate",
                                     "port": 443},
                         "caBundle": ca_bundle},
        "rules": RULES,
        "failurePolicy": args.failure_policy,
        "matchPolicy": "Equivalent",
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "timeoutSeconds": args.timeout_seconds,
        "namespaceSelector": {"matchExpressions": [{
            "key": "kubernetes.io/metadata.name", "operator": "NotIn",
            "values": sorted({"kube-system", ns})}]},
    }
    classes = selection.runtime_classes
    if classes and not any(t.default for t in selection.targets):
        hook["matchConditions"] = [{"name": "kata-runtime-class",
                                    "expression": match_expression(classes)}]
    objs.append({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name, "labels": labels, "annotations": {
            "katacfg.katacontainers.io/failure-policy-reason":
                FAILURE_POLICY_REASON[args.failure_policy]}},
        "webhooks": [hook],
    })
    return objs


def dump_yaml(objs: list[dict[str, Any]]) -> str:
    """YAML documents; file contents as literal blocks (`|`) so they stay readable."""
    import yaml

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    def text(dumper: Any, value: str) -> Any:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return yaml.dump_all(objs, Dumper=Dumper, sort_keys=False, width=100)


def run_manifests(args: argparse.Namespace) -> int:
    from katacfg.admission.selection import SelectionError, selection_from_args
    from katacfg.admission.tls import make_certificates

    if not args.image:
        sys.stderr.write("katacfg: webhook manifests needs --image IMAGE (build it with the "
                         "repository's Containerfile)\n")
        return 1
    try:
        selection = selection_from_args(args)
    except SelectionError as exc:
        sys.stderr.write(f"katacfg: {exc}\n")
        return 1
    svc = f"{args.name}.{args.namespace}.svc"
    bundle = make_certificates([svc, f"{svc}.cluster.local", f"{args.name}.{args.namespace}",
                                args.name])
    try:
        objs = build_manifests(args, selection, ca_bundle=bundle.ca_bundle,
                               tls=(bundle.cert_pem.decode(), bundle.key_pem.decode()))
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"katacfg: {getattr(exc, 'strerror', None) or exc}\n")
        return 1
    if args.host_cpus is None:
        sys.stderr.write("katacfg: note: no --host-cpus: the webhook will check vCPU "
                         "annotations against the CPU count of the node it runs on; give the "
                         "Kata nodes' count\n")
    header = (f"# katacfg webhook for {', '.join(selection.runtime_classes) or 'Kata pods'}; "
              f"apply with: kubectl apply -f -\n"
              f"# failurePolicy {args.failure_policy}: "
              f"{FAILURE_POLICY_REASON[args.failure_policy]}.\n")
    sys.stdout.write(header + dump_yaml(objs))
    return 0
