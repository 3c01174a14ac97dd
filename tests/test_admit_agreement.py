"""One verdict, three ways: resolve, admit and the webhook agree on every conformance case.

Each case of the real Go runtime (tests/data/conformance) becomes a pod: the case's
annotations on a Pod with runtimeClassName `kata`, the case's configuration as the node's
Kata file, its host facts and mode as the node's. `resolve` (the annotations as a
sandbox), `admit` (the pod as an AdmissionReview) and the webhook (the same review over
real TLS, one server per host-facts group, SIGHUP between cases) must all say what the Go
runtime said: refused where expected.json is an error, allowed otherwise.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from katacfg.cli.app import main
from tests.test_admit import a_pod, review_json
from tests.test_conformance import CASES, FIXTURE_ROOT, make_fixtures
from tests.webhook_process import WebhookProcess

CONFIG = str(FIXTURE_ROOT / "configuration.toml")


def cases() -> dict[tuple[str, int, bool], list[Path]]:
    groups: dict[tuple[str, int, bool], list[Path]] = defaultdict(list)
    for d in sorted(p for p in CASES.iterdir() if p.is_dir()):
        c = json.loads((d / "case.json").read_text())
        groups[(c.get("mode", "cli"), c["host_cpus"], c["host_vhost_vsock"])].append(d)
    return groups


GROUPS = cases()


def host_flags(cpus: int, vsock: bool) -> list[str]:
    return ["--host-cpus", str(cpus), "--host-vhost-vsock" if vsock else "--no-host-vhost-vsock"]


@pytest.mark.parametrize("group", sorted(GROUPS), ids=lambda g: f"{g[0]}-cpus{g[1]}-vsock{g[2]}")
def test_resolve_admit_and_webhook_agree(group, tmp_path, capsys):
    mode, cpus, vsock = group
    flags = ["--runtime-class", "kata", "--mode", mode, *host_flags(cpus, vsock)]
    first = GROUPS[group][0]
    make_fixtures(json.loads((first / "case.json").read_text()), first / "config.toml")
    disagree = []
    counts = defaultdict(int)
    with WebhookProcess(tmp_path, flags, ["--kata-config", CONFIG]) as hook:
        for case_dir in GROUPS[group]:
            case = json.loads((case_dir / "case.json").read_text())
            make_fixtures(case, case_dir / "config.toml")
            annotations = json.loads((case_dir / "annotations.json").read_text())
            expected_ok = "error" not in json.loads((case_dir / "expected.json").read_text())

            code = main(["--kata-config", CONFIG, "resolve", "--json", "--annotations-file",
                         str(case_dir / "annotations.json"), "--mode", mode,
                         *host_flags(cpus, vsock)])
            capsys.readouterr()
            resolved = code == 0

            review = review_json(a_pod(annotations), uid=case_dir.name)
            rfile = tmp_path / "review.json"
            rfile.write_text(json.dumps(review))
            code = main(["--kata-config", CONFIG, "admit", str(rfile), *flags])
            out = capsys.readouterr()
            assert "Traceback" not in out.err
            admitted = json.loads(out.out)["response"]["allowed"]
            assert admitted == (code == 0)

            event = hook.reload()
            assert event["ok"] is True, event
            hooked = hook.review(review)["allowed"]

            verdicts = (expected_ok, resolved, admitted, hooked)
            counts["cases"] += 1
            counts["allowed" if expected_ok else "refused"] += 1
            if len(set(verdicts)) != 1:
                disagree.append((case_dir.name, dict(zip(
                    ("go", "resolve", "admit", "webhook"), verdicts))))
        assert hook.stop() == 0
    print(f"{group}: {dict(counts)}")
    assert disagree == [], disagree
