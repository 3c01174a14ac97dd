"""Property tests: whatever the configuration or the annotations, the user gets a result or
one refusal — never an internal error (exit 70) and never a traceback."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from katacfg.cli.app import main
from katacfg.profiles import get_profile

OPTIONS = get_profile("1.x").options
ANNOTATIONS_BY_NAME = get_profile("1.x").annotations
from tests.helpers import config_text, make_install, toml_value

KEYS = sorted({(section, key) for section, opts in OPTIONS.items() for key in opts})
TABLES = {"hypervisor": "hypervisor.qemu", "proxy": "proxy.kata", "shim": "shim.kata",
          "agent": "agent.kata", "runtime": "runtime", "factory": "factory", "netmon": "netmon"}

VALUES = st.one_of(
    st.integers(-(2**40), 2**40).map(str),
    st.booleans().map(lambda b: "true" if b else "false"),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text(max_size=12).map(lambda t: toml_value(t)),
    st.lists(st.text(alphabet="abc/.* -", max_size=6), max_size=3).map(toml_value),
    st.sampled_from(["1979-05-27T07:32:00Z", "{a = 1}", "[1, \"x\"]", "[[1]]", "'lit'",
                     '"""multi\nline"""', "0x10", "1_000", "inf", "-", '"\\q"', "nan"]),
)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return make_install(tmp_path_factory.mktemp("robust"))


def run_resolve(root: Path, text: str, annotations: dict[str, str], mode: str,
                capsys) -> None:
    cfg = root / "configuration.toml"
    cfg.write_text(text)
    ann = root / "ann.json"
    ann.write_text(json.dumps(annotations))
    code = main(["--kata-config", str(cfg), "resolve", "--json", "--annotations-file", str(ann),
                 "--mode", mode, "--host-cpus", "2", "--no-host-vhost-vsock"])
    out = capsys.readouterr()
    assert code in (0, 1), out.err
    assert "Traceback" not in out.err and "internal error" not in out.err
    data = json.loads(out.out)
    assert ("error" in data) == (code == 1)
    if code == 1:
        assert data["stage"] in ("load", "container_type", "annotations", "assets",
                                 "hypervisor", "input")


@settings(max_examples=250, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.sampled_from(KEYS), VALUES), max_size=4),
       junk=st.sampled_from(["", "\n[runtime\n", "\n[[hypervisor.qemu]]\n", "\nx.y = 1\n",
                             "\n\ufeff", "\n[hypervisor.qemu]\n", "\r\n", "\n= 1\n"]),
       mode=st.sampled_from(["cli", "shimv2"]))
def test_any_configuration_gives_a_result_or_one_refusal(root, capsys, edits, junk, mode):
    text = config_text(root)
    for (section, key), value in edits:
        header = f"[{TABLES[section]}]"
        text = text.replace(header, f"{header}\n{key} = {value}", 1)
    run_resolve(root, text + junk, {}, mode, capsys)


NAMES = sorted(ANNOTATIONS_BY_NAME) + [
    "io.katacontainers.config.hypervisor.", "io.katacontainers.config_path",
    "io.katacontainers.config.hypervisor.kernel_hash", "io.kubernetes.cri.container-type",
    "io.kubernetes.cri-o.ContainerType", "io.katacontainers.asset_hash_type"]


@settings(max_examples=250, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(annotations=st.dictionaries(
    st.sampled_from(NAMES),
    st.one_of(st.text(max_size=20), st.sampled_from(
        ["0", "1", "true", "4294967296", "-1", "/", "/dev/null", "sandbox", "container",
         "virtio-fs", "a;b", "newstore", ""])), max_size=5),
       mode=st.sampled_from(["cli", "shimv2"]))
def test_any_annotations_give_a_result_or_one_refusal(root, capsys, annotations, mode):
    run_resolve(root, config_text(root), annotations, mode, capsys)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.sampled_from(KEYS), VALUES), max_size=4),
       junk=st.sampled_from(["", "\n[runtime\n", "\nx.y = 1\n", "\n[foo]\nbar = [1, 2]\n"]))
def test_lint_reports_instead_of_crashing(root, edits, junk):
    from katacfg.reports.lint import lint_file, render_sarif
    from tests.helpers import host

    text = config_text(root)
    for (section, key), value in edits:
        header = f"[{TABLES[section]}]"
        text = text.replace(header, f"{header}\n{key} = {value}", 1)
    path = root / "lint.toml"
    path.write_text(text + junk)
    result = lint_file(str(path), host())
    json.loads(render_sarif([result]))
    for d in result.diagnostics:
        assert d.severity in ("error", "warning", "note") and d.code
