"""The registry executes: every option of every section and hypervisor is loaded from it.

- every option, set to a valid non-default value, survives `load` (or is reported as
  adjusted, with the normaliser's reason);
- adding a 1.x-style key takes one registry entry and nothing else;
- profiles are values: two of them load in one process without touching each other.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import katacfg
from katacfg.config.registry import Option, opt, section
from katacfg.profiles import get_profile, vary
from katacfg.profiles.kata1x.options import BLOCK_DRIVERS, RuntimeConfig
from tests.helpers import config_text, host, make_install, toml_value, write_config

P = get_profile("1.x")
CPUS = 4

# One [hypervisor.<name>] table each hypervisor loads cleanly from.
BASE: dict[str, dict[str, Any]] = {
    "qemu": {"path": "{root}/bin/qemu-system-x86_64", "kernel": "{root}/share/vmlinuz.container",
             "image": "{root}/share/kata-containers.img", "virtio_fs_daemon": "{root}/bin/virtiofsd"},
    "firecracker": {"path": "{root}/bin/firecracker", "kernel": "{root}/share/vmlinux.container",
                    "image": "{root}/share/kata-containers.img"},
    "acrn": {"path": "{root}/bin/acrn-dm", "ctlpath": "{root}/bin/acrnctl",
             "kernel": "{root}/share/vmlinuz.container", "image": "{root}/share/kata-containers.img"},
    "clh": {"path": "{root}/bin/cloud-hypervisor", "kernel": "{root}/share/vmlinux.container",
            "image": "{root}/share/kata-containers.img", "virtio_fs_daemon": "{root}/bin/virtiofsd"},
}
# Keys whose value is a file Kata resolves: the non-default value is another real file.
FILES = {"path": "{root}/bin/virtiofsd", "jailer_path": "{root}/bin/jailer",
         "ctlpath": "{root}/bin/acrn-dm", "kernel": "{root}/share/vmlinux.container",
         "image": "{root}/share/kata-containers-initrd.img",
         "initrd": "{root}/share/kata-containers-initrd.img", "firmware": "{root}/bin/jailer",
         "virtio_fs_daemon": "{root}/bin/acrnctl"}
# Values with a fixed vocabulary, and keys another key must accompany (cross-key rules).
CHOICES = {"block_device_driver": "virtio-blk", "shared_fs": "virtio-fs",
           "internetworking_model": "macvtap", "experimental": ["newstore"],
           "trace_mode": "static", "trace_type": "collated", "virtio_fs_cache": "always",
           "pflashes": ["{root}/share/vmlinuz.container"], "kernel_params": "foo=bar quiet"}
COMPANIONS: dict[str, dict[str, dict[str, Any]]] = {
    "initrd": {"hv": {"image": None}},
    "enable_template": {"hv": {"image": None, "initrd": "{root}/share/kata-containers-initrd.img"}},
    "disable_new_netns": {"runtime": {"internetworking_model": "none"}},
    "enable_tracing@shim": {"runtime": {"disable_new_netns": True,
                                        "internetworking_model": "none"}},
    "enable_netmon": {},
}
# No valid non-default value exists: the hypervisor refuses every one.
NO_VALID_VALUE = {("clh", "initrd")}


def non_default(option: Option) -> Any:
    if option.key in FILES:
        return FILES[option.key]
    if option.key in CHOICES:
        return CHOICES[option.key]
    t, d = option.gotype, option.default
    if t == "bool":
        return not d
    if t in ("int32", "uint32", "uint"):
        return (d or 0) + 3
    if t == "[]string":
        return ["^x$"]
    return "/some/where/" + option.key


def cases() -> list[tuple[str, str, str]]:
    out = []
    for name, hv in P.hypervisors.items():
        for key, option in P.options["hypervisor"].items():
            if option.read_by(name) and (name, key) not in NO_VALID_VALUE \
                    and key not in hv.forced:
                out.append((name, "hypervisor", key))
    for name, options in P.options.items():
        if name != "hypervisor":
            out += [("qemu", name, key) for key in options]
    return out


def table_of(section: str, hv: str) -> str:
    if section == "hypervisor":
        return f"hypervisor.{hv}"
    return f"{section}.kata" if section in P.map_sections else section


def render(root: Path, tables: dict[str, dict[str, Any]]) -> str:
    lines = []
    for name, values in tables.items():
        lines.append(f"[{name}]")
        for k, v in values.items():
            if v is None:
                continue
            if isinstance(v, str):
                v = v.replace("{root}", str(root))
            elif isinstance(v, list):
                v = [x.replace("{root}", str(root)) for x in v]
            lines.append(f"{k} = {toml_value(v)}")
    return "\n".join(lines) + "\n"


def load_with(root: Path, hv: str, section: str, key: str, value: Any):
    tables: dict[str, dict[str, Any]] = {
        f"hypervisor.{hv}": dict(BASE[hv]), "proxy.kata": {"path": "{root}/libexec/kata-proxy"},
        "shim.kata": {"path": "{root}/libexec/kata-shim"}, "agent.kata": {},
        "runtime": {}, "factory": {}, "netmon": {"path": "{root}/libexec/kata-netmon"}}
    companions = COMPANIONS.get(f"{key}@{section}", COMPANIONS.get(key, {}))
    for where, values in companions.items():
        tables[f"hypervisor.{hv}" if where == "hv" else where].update(values)
    tables[table_of(section, hv)][key] = value
    if section == "agent" and key == "trace_mode":
        tables["agent.kata"]["enable_tracing"] = True
    path = write_config(root, render(root, tables))
    return katacfg.load(path, host=host(CPUS, vsock=True), strict=False)


def expected(value: Any, root: Path, key: str) -> Any:
    if isinstance(value, str):
        value = value.replace("{root}", str(root))
        return os.path.realpath(value) if key in FILES and key != "virtio_fs_daemon" else value
    if isinstance(value, list):
        return tuple(x.replace("{root}", str(root)) for x in value)
    return value


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_install(tmp_path_factory.mktemp("install"))


@pytest.mark.parametrize("hv,section,key", cases(), ids=[f"{h}-{s}.{k}" for h, s, k in cases()])
def test_every_option_set_to_a_valid_non_default_value_survives_load(root, hv, section, key):
    option = P.option(section, key)
    value = non_default(option)
    cfg = load_with(root, hv, section, key, value)
    assert not cfg.problems, [p.text for p in cfg.problems]
    loaded = getattr(getattr(cfg, section), key)
    want = expected(value, root, key)
    if key == "kernel_params":
        assert loaded[-2:] == (("foo", "bar"), ("quiet", "")), loaded
        return
    if loaded != want:
        adjusted = {a.where[-1]: a for a in cfg.adjusted}
        assert key in adjusted, f"{key} = {value!r} loaded as {loaded!r} with no reason"
        assert adjusted[key].given == want and adjusted[key].loaded == loaded
        assert adjusted[key].why.reason or adjusted[key].why.kind == "default"


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from([k for k, o in P.options["hypervisor"].items()
                            if o.gotype in ("int32", "uint32") and o.read_by("qemu")]),
       value=st.integers(min_value=-3, max_value=300))
def test_any_number_is_kept_or_adjusted_with_its_reason(root, key, value):
    if P.option("hypervisor", key).gotype == "uint32" and value < 0:
        value = -value
    cfg = load_with(root, "qemu", "hypervisor", key, value)
    if cfg.problems:  # the memory checks refuse some sizes: that is a refusal, not a clamp
        assert all(p.code.startswith("KC05") for p in cfg.problems)
        return
    loaded = getattr(cfg.hypervisor, key)
    adjusted = {a.where[-1]: a for a in cfg.adjusted}
    assert loaded == value or (key in adjusted and adjusted[key].loaded == loaded)


def test_block_drivers_of_the_registry_all_load(root):
    for driver in BLOCK_DRIVERS:
        cfg = load_with(root, "qemu", "hypervisor", "block_device_driver", driver)
        assert cfg.hypervisor.block_device_driver == driver


# -- adding a key takes one registry entry ---------------------------------------------------

@section("runtime")
class RuntimeWithPprof(RuntimeConfig):
    """RuntimeConfig plus the one line a new 1.x-style key needs."""

    enable_pprof: bool = opt("bool", False, "serve pprof on the shim's debug socket")


def test_a_new_key_takes_one_registry_entry_and_nothing_else(tmp_path):
    profile = vary(P, sections={**P.sections, "runtime": RuntimeWithPprof})
    make_install(tmp_path)
    path = write_config(tmp_path, config_text(tmp_path, runtime={"enable_pprof": True}))
    cfg = katacfg.load(path, host=host(), strict=False, profile=profile)
    assert cfg.runtime.enable_pprof is True
    assert not [d for d in cfg.diagnostics if "enable_pprof" in d.message]
    # the stock profile, in the same process, still knows nothing of it
    stock = katacfg.load(path, host=host(), strict=False)
    assert not hasattr(stock.runtime, "enable_pprof")
    # (a key Kata 2.x+ reads: the stock 1.x profile says so instead of "unknown key")
    assert any(d.code == "KC140" and "enable_pprof" in d.message for d in stock.diagnostics)


def test_profiles_are_values_passed_down():
    assert get_profile() is get_profile("1.x")
    with pytest.raises(ValueError, match="unknown Kata profile"):
        get_profile("0.x")


def test_the_vcpu_clamp_has_one_home():
    """'Where is Kata's vCPU clamp?': the normaliser the registry names, with the limit from
    the hypervisor profile."""
    from katacfg.profiles.kata1x import normalise

    assert P.option("hypervisor", "default_vcpus").normalise is normalise.clamp_vcpus
    assert P.option("hypervisor", "default_maxvcpus").normalise is normalise.clamp_max_vcpus
    assert {hv.max_vcpus for hv in P.hypervisors.values()} == {240}


def test_a_declaration_with_an_unknown_field_is_refused_when_its_section_is_built():
    from katacfg.config.registry import ann, opt, section

    with pytest.raises(TypeError, match=r"Bad\.k: unknown Option field\(s\) colour"):
        @section("runtime")
        class Bad(RuntimeConfig):
            k: bool = opt("bool", False, "doc", colour="red")
    with pytest.raises(TypeError, match=r"Worse\.k: unknown Annotation field\(s\) shade"):
        @section("runtime")
        class Worse(RuntimeConfig):
            k: bool = opt("bool", False, "doc", annotation=ann("bool", shade="dark"))
