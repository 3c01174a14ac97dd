"""The worst-case CEL cost bounds, and the figures docs/policy-cost.md quotes from them."""
from __future__ import annotations

from pathlib import Path

from katacfg.admission import celcost as c
from katacfg.admission import policy
from katacfg.admission.selection import build_selection
from katacfg.config.load import load

ROOT = Path(__file__).resolve().parent.parent
STOCK = ROOT / "src" / "katacfg" / "data" / "configuration.toml"
DOC = (ROOT / "docs" / "policy-cost.md").read_text()
CONTAINERD = ROOT / "tests" / "data" / "cri" / "containerd-1.6.20-kata-v2.toml"


def _build(path: Path, **sel: str) -> list[policy.PolicySet]:
    cfg = load(str(path), assume_files=True)
    return [policy.build(cfg, t, node_cpus=4) for t in build_selection(**sel).targets]


def test_non_hypervisor_key_floor() -> None:
    floor = c.per_key_bound(c.all_macro(lambda n, hyp, kata: 1 + 1 + c.t(n)))
    assert floor == 62 * 6 + 3844 * 6 + (c.B - 62 - 2 * 3844) * 2 == 532_224
    assert "**532,224**" in DOC


def test_stock_figures_are_the_documented_ones_and_under_the_limits() -> None:
    (ps,) = _build(STOCK, runtime_class="kata")
    worst = max(v.cost for v in ps.refusals)
    total = sum(v.cost for v in ps.refusals)
    assert f"| {worst:,} (`experimental`) | {total:,} |" in DOC
    for ps in _build(STOCK, containerd_config=str(CONTAINERD)):
        costs = [v.cost for v in ps.refusals + ps.notices]
        assert max(costs) < c.PER_CALL_LIMIT
        assert sum(v.cost for v in ps.refusals) < c.POLICY_BUDGET
        assert sum(v.cost for v in ps.notices) < c.POLICY_BUDGET


def test_gate_figure_and_form(tmp_path: Path) -> None:
    cfg = tmp_path / "configuration.toml"
    cfg.write_text(STOCK.read_text().replace(
        'enable_annotations = [".*"]',
        'enable_annotations = ["^default_vcpus$", "^default_memory$", "kernel_params", '
        '"^enable_iommu$"]'))
    (ps,) = _build(cfg, runtime_class="kata")
    gate = next(v for v in ps.refusals if v.rule == "enable_annotations gate")
    assert "substring" not in gate.expression and f"| {gate.cost:,} |" in DOC
    (ps,) = _build(cfg, containerd_config=str(ROOT / "tests/data/cri/seed004-containerd-v1.toml"))
    gate = next(v for v in ps.refusals if v.rule == "enable_annotations gate")
    assert "substring" in gate.expression and f"| {gate.cost:,} (substring form) |" in DOC
    assert gate.cost < c.PER_CALL_LIMIT
