"""One test per rule of shared/spec/config-keys.md, named after its section and rule.

Every test writes a real configuration.toml and real asset files under tmp_path and loads
them with katacfg.load(); host facts (CPU count, /dev/vhost-vsock) are injected.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import katacfg
from katacfg import KataError
from tests.helpers import config_text, host, make_install, write_config


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_install(tmp_path)


def load(root: Path, text: str | None = None, *, cpus: int = 2, vsock: bool = False,
         mode: str = "cli", **changes):
    path = write_config(root, text if text is not None else config_text(root, **changes))
    return katacfg.load(path, host=host(cpus, vsock), mode=mode)


def refusal(root: Path, text: str | None = None, **kw) -> KataError:
    with pytest.raises(KataError) as info:
        load(root, text, **kw)
    return info.value


def cfgp(root: Path) -> str:
    return str(root / "configuration.toml")


# -- 1.2 decoder -------------------------------------------------------------------------------

def test_1_2_unknown_key_is_ignored_and_reported_with_line_and_suggestion(root):
    cfg = load(root, hypervisor_qemu={"defualt_vcpus": 4})
    assert cfg.hypervisor.default_vcpus == 1
    [d] = [d for d in cfg.diagnostics if d.code == "KC101"]
    assert d.line is not None and "defualt_vcpus" in d.message
    assert "default_vcpus" in (d.hint or "")
    text = Path(cfgp(root)).read_text().splitlines()
    assert text[d.line - 1].startswith("defualt_vcpus")


def test_1_2_unknown_top_level_table_is_ignored_and_reported(root):
    text = config_text(root) + "\n[runtim]\nenable_debug = true\n"
    cfg = load(root, text)
    assert cfg.runtime.enable_debug is False
    assert any(d.code == "KC100" and "runtime" in (d.hint or "") for d in cfg.diagnostics)


def test_1_2_struct_keys_match_case_insensitively(root):
    cfg = load(root, hypervisor_qemu={"Default_VCPUs": 2})
    assert cfg.hypervisor.default_vcpus == 2


def test_1_2_top_level_table_names_match_case_insensitively(root):
    text = config_text(root).replace("[runtime]", "[Runtime]") + "\n"
    text = text.replace("disable_guest_seccomp = true", "disable_guest_seccomp = false")
    assert load(root, text).runtime.disable_guest_seccomp is False


def test_1_2_component_table_names_are_case_sensitive(root):
    text = config_text(root).replace("[hypervisor.qemu]", "[hypervisor.QEMU]")
    assert refusal(root, text).text == "VM memory cannot be zero"


def test_1_2_int32_out_of_range(root):
    e = refusal(root, hypervisor_qemu={"default_vcpus": 2**31})
    assert e.text == "toml: value 2147483648 is out of range for int32"


def test_1_2_negative_into_uint32_is_out_of_range(root):
    e = refusal(root, hypervisor_qemu={"default_memory": -1})
    assert e.text == "toml: value -1 is out of range for uint32"
    assert e.key == "hypervisor.qemu.default_memory" and e.line is not None


def test_1_2_negative_into_64_bit_uint_wraps(root):
    cfg = load(root, factory={"vm_cache_number": -1})
    assert cfg.factory.vm_cache_number == 18446744073709551615


@pytest.mark.parametrize("table,key,value,go_type,kind", [
    ("hypervisor_qemu", "default_vcpus", "2", "string", "integer"),
    ("hypervisor_qemu", "kernel", 5, "int64", "string"),
    ("runtime", "enable_debug", "yes", "string", "boolean"),
    ("runtime", "experimental", "newstore", "string", "slice"),
    ("hypervisor_qemu", "default_memory", 2.5, "float64", "integer"),
    ("hypervisor_qemu", "enable_annotations", [1], "int64", "string"),
])
def test_1_2_wrong_toml_type_names_go_types(root, table, key, value, go_type, kind):
    if isinstance(value, float):
        text = config_text(root, **{table: {key: None}}).replace(
            "[hypervisor.qemu]", f"[hypervisor.qemu]\n{key} = {value}")
        e = refusal(root, text)
    else:
        e = refusal(root, **{table: {key: value}})
    assert e.text == f"toml: cannot load TOML value of type {go_type} into a Go {kind}"


def test_1_2_plain_value_where_a_struct_table_is_expected(root):
    text = config_text(root, runtime=None) + "runtime = 5\n"
    text = "runtime = 5\n" + config_text(root, runtime=None)
    assert refusal(root, text).text == (
        "toml: type mismatch for katautils.runtime: expected table but found int64")


def test_1_2_plain_value_where_a_map_is_expected_is_ignored_like_go(root):
    # BurntSushi's unifyMap returns nil for a non-map value: no error, no hypervisor table,
    # so the built-in defaults are used and their missing image is reported.
    text = "hypervisor = 5\n" + config_text(root, hypervisor_qemu=None)
    e = refusal(root, text)
    assert e.text == "no such file or directory"


def test_1_2_syntax_error_names_the_line(root):
    text = config_text(root) + "[runtime\nx = 1\n"
    e = refusal(root, text)
    assert e.text.startswith(f"Near line {len(text.splitlines()) - 1} ")
    assert e.stage == "load"


def test_1_2_duplicate_key(root):
    text = "[runtime]\nenable_debug = true\nenable_debug = false\n"
    assert "Key 'runtime.enable_debug' has already been defined." in refusal(root, text).text


def test_1_2_mixed_array_is_refused(root):
    text = config_text(root, runtime={"experimental": None}).replace(
        "[runtime]", '[runtime]\nexperimental = ["newstore", 1]')
    assert "arrays must be homogeneous" in refusal(root, text).text


def test_1_2_decode_errors_carry_no_file_prefix(root):
    e = refusal(root, hypervisor_qemu={"default_vcpus": "1"})
    assert not e.text.startswith(str(root))


# -- 2 order ------------------------------------------------------------------------------------

def test_2_decode_error_wins_over_every_other_check(root):
    e = refusal(root, hypervisor_qemu={"kernel": "/nonexistent", "default_bridges": "x"})
    assert e.text.startswith("toml: cannot load")


def test_2_network_model_is_checked_before_the_hypervisor(root):
    e = refusal(root, hypervisor_qemu={"kernel": "/nonexistent"},
                runtime={"internetworking_model": "bridged"})
    assert e.text == "Unknown type bridged"


def test_2_step_13_vsock_turns_the_proxy_into_no_proxy(root):
    cfg = load(root, vsock=True, hypervisor_qemu={"use_vsock": True},
               runtime={"enable_debug": True})
    assert (cfg.proxy.type, cfg.proxy.path, cfg.proxy.enable_debug) == ("noProxy", "", True)


# -- 3 built-in defaults -----------------------------------------------------------------------

def test_3_1_defaults_for_absent_keys(root):
    keep = {"path", "kernel", "image"}
    text = config_text(root, hypervisor_qemu={k: None for k in (
        "machine_type", "enable_annotations", "valid_hypervisor_paths", "kernel_params",
        "firmware", "machine_accelerators", "cpu_features", "default_vcpus", "default_maxvcpus",
        "default_bridges", "default_memory", "shared_fs", "virtio_fs_daemon",
        "valid_virtio_fs_daemon_paths", "virtio_fs_cache", "block_device_driver",
        "vhost_user_store_path", "valid_vhost_user_store_paths", "valid_file_mem_backends")})
    h = load(root, text, cpus=4).hypervisor
    assert keep
    assert (h.machine_type, h.default_vcpus, h.default_maxvcpus, h.default_memory) == (
        "pc", 1, 4, 2048)
    assert (h.memory_slots, h.default_bridges, h.msize_9p, h.block_device_driver) == (
        10, 1, 8192, "virtio-scsi")
    assert (h.entropy_source, h.virtio_fs_cache, h.shared_fs) == ("/dev/urandom", "none",
                                                                  "virtio-9p")
    assert h.vhost_user_store_path == "/var/run/kata-containers/vhost-user/"
    assert h.enable_annotations == ()


def test_3_2_no_hypervisor_table_uses_builtin_defaults_and_stats_the_default_image(root):
    e = refusal(root, hypervisor_qemu=None)
    assert e.text == "no such file or directory"


# -- 4.1 path resolution ----------------------------------------------------------------------

def test_4_1_missing_file_names_the_absolute_cleaned_path_with_prefix(root):
    e = refusal(root, hypervisor_qemu={"kernel": f"{root}/share/../share//missing"})
    assert e.text == f"{cfgp(root)}: file {root}/share/missing does not exist"
    assert e.key == "hypervisor.qemu.kernel" and e.line is not None


def test_4_1_relative_paths_are_made_absolute(root, monkeypatch):
    monkeypatch.chdir(root)
    cfg = load(root, hypervisor_qemu={"kernel": "share/vmlinuz.container"})
    assert cfg.hypervisor.kernel == f"{root}/share/vmlinuz.container"


def test_4_1_symlinks_are_resolved(root):
    os.symlink(root / "share/vmlinuz.container", root / "share/kernel-link")
    cfg = load(root, hypervisor_qemu={"kernel": f"{root}/share/kernel-link"})
    assert cfg.hypervisor.kernel == f"{root}/share/vmlinuz.container"


def test_4_1_other_failures_keep_go_raw_text(root):
    e = refusal(root, hypervisor_qemu={"kernel": f"{root}/share/vmlinuz.container/x"})
    assert e.text == f"{cfgp(root)}: lstat {root}/share/vmlinuz.container/x: not a directory" \
        or e.text.endswith("not a directory")


def test_4_1_a_directory_is_accepted_as_a_path(root):
    cfg = load(root, hypervisor_qemu={"firmware": f"{root}/share"})
    assert cfg.hypervisor.firmware == f"{root}/share"


# -- 4.2 key table ----------------------------------------------------------------------------

def test_4_2_pflashes_must_exist_and_are_stored_as_written(root):
    flash = f"{root}/share/../share/vmlinuz.container"
    assert load(root, hypervisor_qemu={"pflashes": [flash]}).hypervisor.pflashes == (flash,)
    e = refusal(root, hypervisor_qemu={"pflashes": [flash, "/no/flash"]})
    assert e.text == f"{cfgp(root)}: pflash path doesn't exist: /no/flash"


@pytest.mark.parametrize("given,expected", [
    (" a , b,", "a,b"), ("a, ,b", "a,,b"), (",,nosmm", "nosmm"), ("", "")])
def test_4_2_machine_accelerators_and_cpu_features_normalisation(root, given, expected):
    h = load(root, hypervisor_qemu={"machine_accelerators": given,
                                    "cpu_features": given}).hypervisor
    assert h.machine_accelerators == expected and h.cpu_features == expected


def test_4_2_kernel_params_split_on_white_space_and_first_equals(root):
    h = load(root, hypervisor_qemu={"kernel_params": " quiet\ta=b=c  x="}).hypervisor
    assert h.kernel_params[-3:] == (("quiet", ""), ("a", "b=c"), ("x", ""))


def test_4_2_machine_type_microvm_forces_disable_image_nvdimm(root):
    h = load(root, hypervisor_qemu={"machine_type": "microvm"}).hypervisor
    assert h.disable_image_nvdimm is True
    assert load(root).hypervisor.disable_image_nvdimm is False


def test_4_2_block_device_driver_must_be_a_supported_one(root):
    e = refusal(root, hypervisor_qemu={"block_device_driver": "VIRTIO-BLK"})
    assert e.text == (f"{cfgp(root)}: Invalid hypervisor block storage driver VIRTIO-BLK "
                      "specified (supported drivers: [virtio-scsi virtio-blk virtio-mmio nvdimm "
                      "virtio-blk-ccw])")


def test_4_2_shared_fs_must_be_virtio_9p_or_virtio_fs(root):
    e = refusal(root, hypervisor_qemu={"shared_fs": "nfs"})
    assert e.text == (f"{cfgp(root)}: Invalid hypervisor shared file system nfs specified "
                      "(supported file systems: [virtio-9p virtio-fs])")


def test_4_2_virtio_fs_needs_a_daemon_path_on_qemu(root):
    e = refusal(root, hypervisor_qemu={"shared_fs": "virtio-fs", "virtio_fs_daemon": ""})
    assert e.text == (f"{cfgp(root)}: cannot enable virtio-fs without daemon path in "
                      "configuration file")


def test_4_2_virtio_fs_daemon_is_not_checked_on_disk(root):
    h = load(root, hypervisor_qemu={"shared_fs": "virtio-fs",
                                    "virtio_fs_daemon": "/no/virtiofsd"}).hypervisor
    assert h.virtio_fs_daemon == "/no/virtiofsd"


def test_4_2_virtio_fs_cache_is_not_validated(root):
    assert load(root, hypervisor_qemu={"virtio_fs_cache": "bogus"}).hypervisor.virtio_fs_cache \
        == "bogus"


def test_4_2_memory_defaults(root):
    h = load(root, hypervisor_qemu={"default_memory": 0, "memory_slots": 0,
                                    "memory_offset": 0, "msize_9p": 0}).hypervisor
    assert (h.default_memory, h.memory_slots, h.memory_offset, h.msize_9p) == (
        2048, 10, 0, 8192)


@pytest.mark.parametrize("given,expected", [(0, 1), (1, 1), (5, 5), (6, 5), (30, 5)])
def test_4_2_default_bridges_clamp(root, given, expected):
    assert load(root, hypervisor_qemu={"default_bridges": given}).hypervisor.default_bridges \
        == expected


def test_4_2_pcie_root_port_has_no_limit(root):
    assert load(root, hypervisor_qemu={"pcie_root_port": 4000}).hypervisor.pcie_root_port \
        == 4000


def test_4_2_enable_swap_is_reported_with_its_toml_meaning(root):
    assert load(root, hypervisor_qemu={"enable_swap": True}).hypervisor.enable_swap is True


@pytest.mark.parametrize("vsock", [False, True])
def test_4_2_qemu_use_vsock_needs_the_host_device(root, vsock):
    cfg = load(root, vsock=vsock, hypervisor_qemu={"use_vsock": True})
    assert cfg.hypervisor.use_vsock is vsock
    assert (cfg.proxy.type == "noProxy") is vsock


def fc_text(root: Path, **keys) -> str:
    base = {"path": f"{root}/bin/firecracker", "kernel": f"{root}/share/vmlinux.container",
            "image": f"{root}/share/kata-containers.img", "block_device_driver": "virtio-mmio",
            "valid_jailer_paths": [f"{root}/bin/jailer"], "machine_type": "pc",
            "msize_9p": 100, "shared_fs": "virtio-fs"}
    base.update(keys)
    return config_text(root, hypervisor_qemu=None, proxy_kata=None, hypervisor_firecracker=base)


def test_4_2_firecracker_forces_vsock_and_disables_vhost_net_and_ignores_qemu_keys(root):
    cfg = load(root, fc_text(root, use_vsock=False, disable_vhost_net=False), vsock=True)
    h = cfg.hypervisor
    assert cfg.hypervisor_type == "firecracker"
    assert (h.use_vsock, h.disable_vhost_net) == (True, True)
    assert (h.machine_type, h.msize_9p, h.shared_fs, h.vhost_user_store_path) == ("", 0, "",
                                                                                  "")
    assert any(d.code == "KC107" and "machine_type" in d.message for d in cfg.diagnostics)


def test_4_2_firecracker_needs_host_vsock(root):
    e = refusal(root, fc_text(root), vsock=False)
    assert e.text == f"{cfgp(root)}: No vsock support, firecracker cannot be used"


def test_4_2_firecracker_jailer_path_is_resolved_when_set(root):
    os.symlink(root / "bin/jailer", root / "bin/jailer-link")
    h = load(root, fc_text(root, jailer_path=f"{root}/bin/jailer-link"), vsock=True).hypervisor
    assert h.jailer_path == f"{root}/bin/jailer"
    assert load(root, fc_text(root), vsock=True).hypervisor.jailer_path == ""


def clh_text(root: Path, **keys) -> str:
    base = {"path": f"{root}/bin/cloud-hypervisor", "kernel": f"{root}/share/vmlinux.container",
            "image": f"{root}/share/kata-containers.img", "block_device_driver": "virtio-blk",
            "virtio_fs_daemon": f"{root}/bin/virtiofsd", "shared_fs": "virtio-9p",
            "guest_hook_path": "/hooks", "cpu_features": "pmu=off"}
    base.update(keys)
    return config_text(root, hypervisor_qemu=None, hypervisor_clh=base)


def test_4_2_clh_forces_virtio_fs_and_vsock_and_keeps_cache_raw(root):
    h = load(root, clh_text(root)).hypervisor
    assert (h.shared_fs, h.use_vsock, h.disable_vhost_net) == ("virtio-fs", True, True)
    assert (h.virtio_fs_cache, h.guest_hook_path, h.cpu_features) == ("", "", "")


def test_4_2_clh_always_needs_a_virtio_fs_daemon(root):
    e = refusal(root, clh_text(root, virtio_fs_daemon=""))
    assert e.text == f"{cfgp(root)}: virtio-fs daemon path is missing in configuration file"


def acrn_text(root: Path, **keys) -> str:
    base = {"path": f"{root}/bin/acrn-dm", "ctlpath": f"{root}/bin/acrnctl",
            "kernel": f"{root}/share/vmlinuz.container",
            "image": f"{root}/share/kata-containers.img", "block_device_driver": "virtio-blk",
            "use_vsock": True, "disable_vhost_net": True}
    base.update(keys)
    return config_text(root, hypervisor_qemu=None, hypervisor_acrn=base)


def test_4_2_acrn_reads_ctlpath_and_ignores_vsock(root):
    h = load(root, acrn_text(root), vsock=True).hypervisor
    assert h.ctlpath == f"{root}/bin/acrnctl"
    assert (h.use_vsock, h.disable_vhost_net, h.machine_type, h.shared_fs) == (
        False, True, "", "")


def test_4_2_acrn_ctlpath_defaults_to_usr_bin_acrnctl(root):
    e = refusal(root, acrn_text(root, ctlpath=""))
    assert e.text == f"{cfgp(root)}: file /usr/bin/acrnctl does not exist"


# -- 4.3 image and initrd ---------------------------------------------------------------------

def test_4_3_both_image_and_initrd_is_refused(root):
    e = refusal(root, hypervisor_qemu={"initrd": f"{root}/share/kata-containers-initrd.img"})
    assert e.text == (f"{cfgp(root)}: having both an image and an initrd defined in the "
                      "configuration file is not supported")


def test_4_3_neither_resolving_is_refused_with_both_reasons(root):
    e = refusal(root, hypervisor_qemu={"image": f"{root}/x/missing.img"})
    assert e.text == (f"{cfgp(root)}: Either initrd or image must be set to a valid path "
                      f"(initrd: initrd is not set) (image: file {root}/x/missing.img does not "
                      "exist)")


def test_4_3_a_missing_initrd_is_silently_dropped_when_the_image_exists(root):
    cfg = load(root, hypervisor_qemu={"initrd": "/missing"})
    assert cfg.hypervisor.initrd == "" and cfg.hypervisor.image.endswith(".img")
    assert any(d.code == "KC109" for d in cfg.diagnostics)


def test_4_3_clh_refuses_an_initrd(root):
    e = refusal(root, clh_text(root, image=None,
                               initrd=f"{root}/share/kata-containers-initrd.img"))
    assert e.text == (f"{cfgp(root)}: having an initrd defined in the configuration file is "
                      "not supported")


def test_4_3_acrn_ignores_initrd_and_needs_an_image(root):
    cfg = load(root, acrn_text(root, initrd=f"{root}/share/kata-containers-initrd.img"))
    assert cfg.hypervisor.initrd == ""
    assert refusal(root, acrn_text(root, image="")).text == f"{cfgp(root)}: image is not set"


# -- 4.4 vCPU clamps --------------------------------------------------------------------------

@pytest.mark.parametrize("given,cpus,expected", [
    (-1, 8, 8), (9, 8, 8), (0, 8, 1), (3, 8, 3), (8, 8, 8), (2, 1, 1)])
def test_4_4_default_vcpus_clamp(root, given, cpus, expected):
    assert load(root, cpus=cpus, hypervisor_qemu={"default_vcpus": given}
                ).hypervisor.default_vcpus == expected


@pytest.mark.parametrize("given,cpus,expected", [
    (0, 8, 8), (8, 8, 8), (12, 8, 8), (3, 8, 3), (0, 300, 240), (250, 300, 240)])
def test_4_4_default_maxvcpus_clamp(root, given, cpus, expected):
    assert load(root, cpus=cpus, hypervisor_qemu={"default_maxvcpus": given}
                ).hypervisor.default_maxvcpus == expected


def test_4_4_vcpus_are_not_checked_against_maxvcpus(root):
    h = load(root, cpus=8, hypervisor_qemu={"default_vcpus": 4, "default_maxvcpus": 2}
             ).hypervisor
    assert (h.default_vcpus, h.default_maxvcpus) == (4, 2)


# -- 4.5 step order ---------------------------------------------------------------------------

def test_4_5_qemu_path_is_checked_before_kernel(root):
    e = refusal(root, hypervisor_qemu={"path": "/no/qemu", "kernel": "/no/kernel"})
    assert e.text == f"{cfgp(root)}: file /no/qemu does not exist"


def test_4_5_qemu_block_driver_is_checked_before_shared_fs(root):
    e = refusal(root, hypervisor_qemu={"block_device_driver": "ide", "shared_fs": "nfs"})
    assert "block storage driver ide" in e.text


# -- 5 kernel parameters ----------------------------------------------------------------------

def params(cfg) -> str:
    from katacfg.config.model import serialize_kernel_params

    return serialize_kernel_params(cfg.hypervisor.kernel_params)


def test_5_image_and_virtio_scsi_parameters(root):
    assert params(load(root)) == ("systemd.unit=kata-containers.target systemd.mask=systemd-"
                                  "networkd.service systemd.mask=systemd-networkd.socket "
                                  "scsi_mod.scan=none")


def test_5_initrd_boot_has_no_systemd_parameters(root):
    cfg = load(root, hypervisor_qemu={"image": None,
                                      "initrd": f"{root}/share/kata-containers-initrd.img",
                                      "block_device_driver": "virtio-blk"})
    assert params(cfg) == ""


def test_5_agent_debug_and_static_trace_then_user_parameters_without_dedup(root):
    cfg = load(root, hypervisor_qemu={"kernel_params": "scsi_mod.scan=all quiet"},
               agent_kata={"enable_debug": True, "enable_tracing": True, "trace_mode": "static"})
    assert params(cfg).endswith("scsi_mod.scan=none agent.log=debug agent.trace=isolated "
                                "scsi_mod.scan=all quiet")


def test_5_empty_parameter_name_is_refused(root):
    e = refusal(root, hypervisor_qemu={"kernel_params": "quiet =foo"})
    assert e.text == "Empty kernel parameter"


def test_5_2_trace_defaults_are_not_stored(root):
    cfg = load(root, agent_kata={"enable_tracing": True})
    assert (cfg.agent.trace_mode, cfg.agent.trace_type) == ("", "")
    assert "agent.trace" not in params(cfg)


def test_5_2_invalid_trace_mode_and_type(root):
    e = refusal(root, agent_kata={"enable_tracing": True, "trace_mode": "always"})
    assert e.text == 'invalid kata agent trace mode: "always" (need "dynamic" or "static")'
    e = refusal(root, agent_kata={"enable_tracing": True, "trace_type": "x"})
    assert e.text == 'invalid kata agent trace type: "x" (need "isolated" or "collated")'


def test_5_2_trace_options_are_free_text_when_tracing_is_off(root):
    assert load(root, agent_kata={"trace_mode": "always"}).agent.trace_mode == "always"


# -- 6 hypervisor table selection ---------------------------------------------------------------

def test_6_1_unknown_hypervisor_name_gives_an_all_zero_config(root):
    text = config_text(root).replace("[hypervisor.qemu]", "[hypervisor.kvm]")
    assert refusal(root, text).text == "VM memory cannot be zero"


def test_6_2_several_hypervisor_tables_are_refused_not_guessed(root):
    # Go picks one in map order (random); katacfg refuses instead of guessing.
    text = config_text(root) + "\n[hypervisor.clh]" + clh_text(root).split("[hypervisor.clh]")[1]
    e = refusal(root, text)
    assert e.text == ("several hypervisor tables ([hypervisor.qemu], [hypervisor.clh]): "
                      "kata-runtime would use one of them at random")
    assert e.line is not None and e.hint == "keep exactly one [hypervisor.<name>] table"
    path = write_config(root, text)
    cfg = katacfg.load(path, host=host(), strict=False)
    assert cfg.hypervisor_type == "clh" and cfg.problems[0].code == "KC105"


# -- 7-9 proxy, agent, shim -------------------------------------------------------------------

def test_7_proxy_table_must_be_kata(root):
    text = config_text(root).replace("[proxy.kata]", "[proxy.other]")
    assert refusal(root, text).text == "other proxy type not supported"


def test_7_missing_proxy_path_is_refused_without_prefix(root):
    e = refusal(root, proxy_kata={"path": f"{root}/libexec/none"})
    assert e.text == f"file {root}/libexec/none does not exist"


def test_7_no_proxy_table_means_kata_proxy_without_path(root):
    cfg = load(root, proxy_kata=None)
    assert (cfg.proxy.type, cfg.proxy.path) == ("kataProxy", "")


def test_7_shimv2_uses_the_builtin_proxy_with_runtime_debug(root):
    text = config_text(root, runtime={"enable_debug": True}).replace(
        "[proxy.kata]", "[proxy.other]")
    cfg = load(root, text, mode="shimv2")
    assert (cfg.proxy.type, cfg.proxy.path, cfg.proxy.enable_debug) == (
        "kataBuiltInProxy", "", True)


def test_8_agent_table_must_be_kata(root):
    text = config_text(root).replace("[agent.kata]", "[agent.grpc]")
    assert refusal(root, text).text == "grpc agent type is not supported"


def test_8_no_agent_table_in_cli_leaves_vsock_false(root):
    cfg = load(root, vsock=True, agent_kata=None, hypervisor_qemu={"use_vsock": True})
    assert cfg.hypervisor.use_vsock is True and cfg.agent.use_vsock is False


def test_8_shimv2_drops_the_agent_table(root):
    cfg = load(root, mode="shimv2", agent_kata={"enable_debug": True,
                                                "kernel_modules": ["e1000e"]})
    assert (cfg.agent.enable_debug, cfg.agent.kernel_modules, cfg.agent.long_live_conn) == (
        False, (), True)
    assert "agent.log" not in params(cfg)


def test_9_shim_table_must_be_kata(root):
    text = config_text(root).replace("[shim.kata]", "[shim.v2]")
    assert refusal(root, text).text == "v2 shim is not supported"


def test_9_missing_shim_path_is_refused_with_prefix(root):
    e = refusal(root, shim_kata={"path": "/no/shim"})
    assert e.text == f"{cfgp(root)}: file /no/shim does not exist"


def test_9_no_shim_table_means_no_shim_configuration(root):
    cfg = load(root, shim_kata=None)
    assert (cfg.shim.type, cfg.shim.configured) == ("kataShim", False)


def test_9_shimv2_uses_the_builtin_shim(root):
    cfg = load(root, mode="shimv2")
    assert (cfg.shim.type, cfg.shim.path, cfg.shim.configured) == ("kataBuiltInShim", "", True)


# -- 10-11 factory and netmon -----------------------------------------------------------------

def test_10_factory_defaults(root):
    f = load(root, factory={"template_path": "", "vm_cache_endpoint": ""}).factory
    assert (f.template_path, f.vm_cache_endpoint) == ("/run/vc/vm/template",
                                                     "/var/run/kata-containers/cache.sock")


def test_11_netmon_path_is_not_resolved(root):
    assert load(root, netmon={"path": "/no/netmon"}).netmon.path == "/no/netmon"
    assert load(root, netmon={"path": ""}).netmon.path == \
        "/usr/libexec/kata-containers/kata-netmon"


# -- 12 runtime and cross-key checks ----------------------------------------------------------

@pytest.mark.parametrize("given,expected", [
    ("", "tcfilter"), ("default", "tcfilter"), ("macvtap", "macvtap"), ("none", "none")])
def test_12_internetworking_model_values(root, given, expected):
    assert load(root, runtime={"internetworking_model": given}
                ).runtime.internetworking_model == expected


@pytest.mark.parametrize("model", ["bridged", "TCFILTER", "tc-filter"])
def test_12_unknown_internetworking_model(root, model):
    assert refusal(root, runtime={"internetworking_model": model}).text == f"Unknown type {model}"


def test_12_experimental_features(root):
    assert load(root, runtime={"experimental": ["newstore", "newstore"]}
                ).runtime.experimental == ("newstore", "newstore")
    assert refusal(root, runtime={"experimental": [""]}).text == \
        'Unsupported experimental feature ""'


def test_12_1_disable_new_netns_conflicts_with_netmon(root):
    e = refusal(root, runtime={"disable_new_netns": True, "internetworking_model": "none"},
                netmon={"enable_netmon": True})
    assert e.text == "config disable_new_netns conflicts with enable_netmon"


def test_12_1_disable_new_netns_needs_model_none(root):
    e = refusal(root, runtime={"disable_new_netns": True})
    assert e.text == "config disable_new_netns only works with 'none' internetworking_model"
    assert load(root, runtime={"disable_new_netns": True, "internetworking_model": "none"})


def test_12_1_shim_tracing_needs_disable_new_netns(root):
    e = refusal(root, shim_kata={"enable_tracing": True})
    assert e.text == "Shim tracing requires disable_new_netns for Jaeger agent communication"
    assert load(root, mode="shimv2", shim_kata={"enable_tracing": True})


def test_12_2_empty_image_is_refused(root):
    (root / "share/empty.img").write_bytes(b"")
    e = refusal(root, hypervisor_qemu={"image": f"{root}/share/empty.img"})
    assert e.text == f'image "{root}/share/empty.img" is empty'


def test_12_2_initrd_larger_than_memory_is_refused_image_only_warned(root):
    big = root / "share/big.img"
    with open(big, "wb") as f:
        f.truncate(5 * 1024 * 1024)
    e = refusal(root, hypervisor_qemu={"image": None, "initrd": str(big),
                                       "default_memory": 4})
    assert e.text == f'VM memory (4MB) smaller than image "{big}" size (5MB)'
    cfg = load(root, hypervisor_qemu={"image": str(big), "default_memory": 4})
    assert any(d.code == "KC111" for d in cfg.diagnostics)


def test_12_3_template_needs_an_initrd(root):
    e = refusal(root, factory={"enable_template": True})
    assert e.text == "Factory option enable_template requires an initrd image"


def test_12_3_vm_cache_needs_qemu(root):
    e = refusal(root, clh_text(root).replace("[factory]", "[factory]\nvm_cache_number = 1"))
    assert e.text == "VM cache just support qemu"


# -- 13 front ends ----------------------------------------------------------------------------

def test_13_shimv2_ignores_unknown_component_tables(root):
    text = (config_text(root).replace("[proxy.kata]", "[proxy.x]")
            .replace("[shim.kata]", "[shim.x]").replace("[agent.kata]", "[agent.x]"))
    cfg = load(root, text, mode="shimv2")
    assert cfg.proxy.type == "kataBuiltInProxy"


# -- strict=False: every problem at once --------------------------------------------------------

def test_lenient_load_collects_problems_in_reference_order(root):
    path = write_config(root, config_text(root, hypervisor_qemu={"kernel": "/no/kernel"},
                                          proxy_kata={"path": "/no/proxy"}))
    cfg = katacfg.load(path, host=host(), strict=False)
    texts = [p.text for p in cfg.problems]
    assert texts == [f"{path}: file /no/kernel does not exist", "file /no/proxy does not exist"]
    with pytest.raises(KataError) as info:
        katacfg.load(path, host=host())
    assert info.value.text == texts[0]


def test_refusals_say_whether_this_host_or_the_file_is_at_fault(root):
    path = write_config(root, config_text(root, hypervisor_qemu={"kernel": "/no/kernel",
                                                                 "block_device_driver": "ide"}))
    cfg = katacfg.load(path, host=host(), strict=False)
    assert [(p.code, p.host) for p in cfg.problems] == [("KC030", True), ("KC034", False)]
