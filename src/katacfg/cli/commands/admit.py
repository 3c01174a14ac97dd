"""katacfg admit: the admission verdict on pods, offline (AdmissionReview or YAML)."""
from __future__ import annotations

import argparse
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from katacfg.cli.commands.common import add_host_flags, host_from_args


def configure(p: argparse.ArgumentParser) -> None:
    from katacfg.admission.selection import add_selection_flags

    p.add_argument("file", metavar="FILE",
                   help="an AdmissionReview (admission.k8s.io/v1, JSON or YAML; a YAML stream "
                        "may hold several) or Kubernetes YAML (Pods, workload templates, "
                        "RuntimeClasses); - for stdin")
    add_selection_flags(p)
    add_host_flags(p)
    p.add_argument("--assume-node-files", action="store_true",
                   help="the Kata configuration belongs to another machine: assume the paths "
                        "it names exist instead of checking them here")


def read_input(path: str) -> str:
    """The file's text through katacfg's bounded reader (regular files, size cap)."""
    from katacfg.host import safeio

    if path == "-":
        data = sys.stdin.buffer.read(safeio.MAX_MANIFEST_BYTES + 1)
        if len(data) > safeio.MAX_MANIFEST_BYTES:
            raise ValueError(f"<stdin>: larger than {safeio.MAX_MANIFEST_BYTES} bytes")
    else:
        data = safeio.read_bytes(path, limit=safeio.MAX_MANIFEST_BYTES, what="manifest")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None


def _is_review(data: Any) -> bool:
    return isinstance(data, dict) and (data.get("kind") == "AdmissionReview"
                                       or str(data.get("apiVersion", "")).startswith("admission."))


def _looks_like_review(text: str) -> list[tuple[int, Any]] | None:
    """The AdmissionReviews the text holds, each with its line: one in JSON, or a YAML
    stream whose every document is one. None when the text is something else (Kubernetes
    objects, which `admit` judges as the API server would pass them on)."""
    import json

    head = text.lstrip()
    if head.startswith("{"):
        try:
            data = json.loads(head)
        except (ValueError, RecursionError):
            return None
        return [(text.count("\n", 0, len(text) - len(head)) + 1, data)] \
            if _is_review(data) else None
    import re

    if not re.search(r"(?m)^kind:[ \t]*[\"']?AdmissionReview\b", text):
        return None
    from katacfg.kube import kubeyaml, manifests

    reviews = []
    for line, doc in manifests.document_texts(text):
        try:
            data, _ = kubeyaml.load_document(doc)
        except Exception:  # noqa: BLE001 - a broken document: read as manifests, which say why
            return None
        if data is None:
            continue  # an empty document
        if not _is_review(data):
            return None
        reviews.append((line, data))
    return reviews or None


def run(args: argparse.Namespace) -> int:
    import json

    from katacfg.admission import review as rv
    from katacfg.admission.admit import Admitter, admit_objects
    from katacfg.admission.selection import SelectionError, selection_from_args
    from katacfg.host.safeio import FileRefused
    from katacfg.kube import manifests

    try:
        text = read_input(args.file)
    except FileRefused as exc:
        return _fail(f"{exc.text} ({exc.hint})")
    except (OSError, ValueError) as exc:
        return _fail(f"cannot read {args.file}: {getattr(exc, 'strerror', None) or exc}")
    reviews = _looks_like_review(text)
    objects: list[Any] = []
    if reviews is None:
        objects = manifests.load_manifests_text(text, "<stdin>" if args.file == "-"
                                                else args.file)
    try:
        selection = selection_from_args(args, manifests.runtime_class_handlers(objects))
    except SelectionError as exc:
        return _fail(str(exc))
    for d in selection.notes:
        sys.stderr.write(f"katacfg: {d.render()}\n")
    admitter = Admitter(selection, host=host_from_args(args),
                        assume_files=args.assume_node_files)

    if reviews is not None:
        answers_: list[Any] = []
        for line, data in reviews:
            where = args.file if len(reviews) == 1 else f"{args.file}:{line}"
            try:
                request = rv.parse_review(data)
                answer = admitter.review(request)
            except rv.ReviewError as exc:
                return _fail(f"{where}: {exc.message}")
            resp = answer["response"]
            _summary(resp, request.kind + (f" {request.namespace}/" if request.namespace
                                           else " ")
                     + (request.name or _name_of(request.object)), where)
            answers_.append(answer)
        _notes(admitter)
        out = answers_[0] if len(answers_) == 1 else {"apiVersion": "v1", "kind": "List",
                                                      "items": answers_}
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return 0 if all(a["response"]["allowed"] for a in answers_) else 1

    answers = admit_objects(objects, admitter)
    for a in answers:
        if a.kata:
            _summary(a.review["response"], a.what, a.where)
    _notes(admitter)
    sys.stdout.write(json.dumps({"apiVersion": "v1", "kind": "List",
                                 "items": [a.review for a in answers]}, indent=2) + "\n")
    return 0 if all(a.allowed for a in answers) else 1


def _name_of(obj: Any) -> str:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else "<unnamed>"


def _summary(resp: dict[str, Any], what: str, where: str) -> None:
    word = "allowed" if resp["allowed"] else "DENIED "
    line = f"{word} {what} [{where}]"
    if not resp["allowed"]:
        message = resp.get("status", {}).get("message", "")
        line += f": {message.removeprefix(where + ': ')}"  # the place once per line
    sys.stderr.write(line + "\n")
    for w in resp.get("warnings", ()):
        sys.stderr.write(f"  warning: {w}\n")


def _notes(admitter: Any) -> None:
    for cfg in list(admitter._configs.values()):
        for d in getattr(cfg, "diagnostics", ()):
            if d.code == "KC004":
                sys.stderr.write(f"katacfg: note: {d.message}\n")


def _fail(message: str) -> int:
    sys.stderr.write(f"katacfg: {message}\n")
    return 1
