"""The generated policy against the real Go runtime's verdicts (the conformance cases).

Each case becomes a pod: its annotations on a pod with `runtimeClassName: kata`, its
configuration as the node's (`--runtime-class kata`, every annotation reaching Kata, the
case's CPU count as `--node-cpus`). The policy must never deny a pod Kata accepts, and must
deny every refusal that can be decided without the node. Refusals that need the node:
a path allowed by pattern but maybe missing, asset hashes and other files, the zero-value
step, and a container type the CRI sets itself.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from katacfg.admission import policy
from katacfg.admission.selection import build_selection
from katacfg.config.errors import KataError
from katacfg.config.load import load
from katacfg.gocompat.glob import BadPattern, match
from katacfg.host.facts import Host
from katacfg.profiles.kata1x.tables import ANNOTATIONS_BY_NAME
from tests.test_conformance import CASES, FIXTURE_ROOT, make_fixtures
from tests.test_policy_cel import evaluate

pytest.importorskip("cel_expr_python.cel")

CONTAINER_TYPE_FIRST = "io.kubernetes.cri.container-type"


def _case_dirs() -> list[Path]:
    dirs = sorted(p for p in CASES.iterdir() if p.is_dir())
    shared = Path(os.environ.get("KATACFG_SHARED_DIR", "/work/shared")) / "conformance" / "cases"
    if shared.is_dir():  # newer shared cases, when present
        have = {p.name for p in dirs}
        dirs += sorted(p for p in shared.iterdir() if p.is_dir() and p.name not in have)
    return dirs


def _existence_only(exc: KataError, annotations: dict[str, str], cfg) -> bool:  # type: ignore[no-untyped-def]
    """A restricted-path refusal of a value some pattern matches: only the node can tell."""
    ann = ANNOTATIONS_BY_NAME.get(exc.key or "")
    if ann is None or ann.kind != "restricted":
        return False
    value = annotations.get(ann.name, "")
    if exc.text != ann.error.replace("{v}", value):
        return False  # refused before the allow-list (the gate)
    for pattern in getattr(cfg.hypervisor, ann.allowlist):
        try:
            if pattern and match(pattern, value):
                return True
        except BadPattern:
            continue
    return False


def decidable(expected: dict, case: dict, annotations: dict[str, str], cfg, path: str) -> bool:  # type: ignore[no-untyped-def]
    stage, text = expected["stage"], expected["error"]
    if stage == "container_type":
        return CONTAINER_TYPE_FIRST in annotations
    if stage == "annotations":
        from katacfg.config.pipeline import overlay

        try:
            overlay(cfg, annotations, host_cpus=case["host_cpus"])
        except KataError as exc:
            return not _existence_only(exc, annotations, cfg)
        return True
    if stage == "assets":
        return text.endswith(" is not an absolute path")
    return False


def test_policy_over_conformance_cases(capsys: pytest.CaptureFixture[str]) -> None:
    counts = {"cases": 0, "accepted": 0, "accepted_denied": 0, "refused": 0,
              "decidable": 0, "decidable_denied": 0, "undecidable_denied": 0,
              "no_policy": 0, "eval_errors": 0}
    wrong: list[str] = []
    for case_dir in _case_dirs():
        case = json.loads((case_dir / "case.json").read_text())
        if case.get("profile", "1.x") != "1.x":
            continue
        counts["cases"] += 1
        make_fixtures(case, case_dir / "config.toml")
        annotations = json.loads((case_dir / "annotations.json").read_text())
        expected = json.loads((case_dir / "expected.json").read_text())
        mode = case.get("mode", "cli")
        path = str(FIXTURE_ROOT / "configuration.toml")
        host = Host.real().with_facts(cpus=case["host_cpus"],
                                      vhost_vsock=case["host_vhost_vsock"])
        try:
            cfg = load(path, host=host, mode=mode)
        except KataError:
            counts["no_policy"] += 1  # the node's own file is refused: nothing to generate
            continue
        target = build_selection(runtime_class="kata", kata_config=path, mode=mode).targets[0]
        objs = policy.objects(policy.build(cfg, target, node_cpus=case["host_cpus"]))
        verdict = evaluate(objs, {"metadata": {"name": case_dir.name,
                                               "annotations": annotations},
                                  "spec": {"runtimeClassName": "kata"}})
        counts["eval_errors"] += len(verdict.errors)
        if verdict.errors:
            wrong.append(f"{case_dir.name}: evaluation errors {verdict.errors}")
        if "error" not in expected:
            counts["accepted"] += 1
            if verdict.denied:
                counts["accepted_denied"] += 1
                wrong.append(f"{case_dir.name}: Kata accepts, policy denies: {verdict.failures}")
            continue
        counts["refused"] += 1
        if decidable(expected, case, annotations, cfg, path):
            counts["decidable"] += 1
            if verdict.denied:
                counts["decidable_denied"] += 1
                if not any(expected["error"] in f for f in verdict.failures):
                    # the verdict is right; say when Kata's first words are not among ours
                    print(f"note {case_dir.name}: Kata says {expected['error']!r}, "
                          f"policy {verdict.failures[0][:120]!r}")
            else:
                wrong.append(f"{case_dir.name}: decidable refusal not denied: "
                             f"{expected['error']}")
        elif verdict.denied:
            counts["undecidable_denied"] += 1
    with capsys.disabled():
        print("\npolicy over conformance cases:", json.dumps(counts))
    assert not wrong, "\n".join(wrong)
