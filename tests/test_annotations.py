"""Every io.katacontainers.* annotation of Kata 1.x: valid, invalid and boundary values.

Expected texts are written out from shared/spec/annotations.md, not derived from katacfg's
registry, so a wrong registry entry fails here. Every case runs katacfg.resolve() on a real
configuration with real files.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

import katacfg
from katacfg import KataError
from katacfg.profiles import get_profile

ANNOTATIONS_BY_NAME = get_profile("1.x").annotations
from tests.helpers import config_text, host, make_install, write_config

H = "io.katacontainers.config.hypervisor."
R = "io.katacontainers.config.runtime."
A = "io.katacontainers.config.agent."
BOOL = "Please specify boolean value 'true|false'"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_install(tmp_path)


def resolve(root: Path, annotations: dict[str, str], *, cpus: int = 4, text: str | None = None,
            mode: str = "cli", **changes):
    path = write_config(root, text if text is not None else config_text(root, **changes))
    return katacfg.resolve(path, annotations, host=host(cpus), mode=mode)


def refused(root: Path, annotations: dict[str, str], **kw) -> KataError:
    with pytest.raises(KataError) as info:
        resolve(root, annotations, **kw)
    return info.value


def field(cfg, key: str):
    section, name = key.split(".")
    return getattr(getattr(cfg, section), name)


# (annotation, accepted value, field, expected value after resolve)
VALID = [
    (H + "default_vcpus", "3", "hypervisor.default_vcpus", 3),
    (H + "default_vcpus", "0", "hypervisor.default_vcpus", 1),  # zero-value stage
    (H + "default_vcpus", "004", "hypervisor.default_vcpus", 4),
    (H + "default_max_vcpus", "2", "hypervisor.default_maxvcpus", 2),
    (H + "default_max_vcpus", "0", "hypervisor.default_maxvcpus", 240),
    (H + "default_memory", "512", "hypervisor.default_memory", 512),
    (H + "default_memory", "0", "hypervisor.default_memory", 2048),
    (H + "default_memory", "4294967295", "hypervisor.default_memory", 4294967295),
    (H + "memory_slots", "20", "hypervisor.memory_slots", 20),
    (H + "memory_slots", "0", "hypervisor.memory_slots", 10),
    (H + "memory_offset", "1024", "hypervisor.memory_offset", 1024),
    (H + "enable_virtio_mem", "true", "hypervisor.enable_virtio_mem", True),
    (H + "enable_mem_prealloc", "1", "hypervisor.enable_mem_prealloc", True),
    (H + "enable_swap", "T", "hypervisor.enable_swap", True),
    (H + "enable_hugepages", "TRUE", "hypervisor.enable_hugepages", True),
    (H + "enable_iommu", "True", "hypervisor.enable_iommu", True),
    (H + "enable_iommu_platform", "t", "hypervisor.enable_iommu_platform", True),
    (H + "block_device_driver", "virtio-blk", "hypervisor.block_device_driver", "virtio-blk"),
    (H + "block_device_driver", "nvdimm", "hypervisor.block_device_driver", "nvdimm"),
    (H + "disable_block_device_use", "true", "hypervisor.disable_block_device_use", True),
    (H + "enable_iothreads", "true", "hypervisor.enable_iothreads", True),
    (H + "block_device_cache_set", "true", "hypervisor.block_device_cache_set", True),
    (H + "block_device_cache_direct", "true", "hypervisor.block_device_cache_direct", True),
    (H + "block_device_cache_noflush", "true", "hypervisor.block_device_cache_noflush", True),
    (H + "shared_fs", "virtio-fs", "hypervisor.shared_fs", "virtio-fs"),
    (H + "virtio_fs_cache", "", "hypervisor.virtio_fs_cache", ""),
    (H + "virtio_fs_cache", "whatever", "hypervisor.virtio_fs_cache", "whatever"),
    (H + "virtio_fs_cache_size", "1024", "hypervisor.virtio_fs_cache_size", 1024),
    (H + "msize_9p", "16384", "hypervisor.msize_9p", 16384),
    (H + "machine_type", "q35", "hypervisor.machine_type", "q35"),
    (H + "machine_type", "", "hypervisor.machine_type", "pc"),
    (H + "machine_accelerators", " a , b", "hypervisor.machine_accelerators", " a , b"),
    (H + "cpu_features", "", "hypervisor.cpu_features", "pmu=off"),
    (H + "disable_vhost_net", "true", "hypervisor.disable_vhost_net", True),
    (H + "guest_hook_path", "/usr/share/oci/hooks", "hypervisor.guest_hook_path",
     "/usr/share/oci/hooks"),
    (H + "guest_hook_path", "", "hypervisor.guest_hook_path", ""),
    (H + "use_vsock", "true", "hypervisor.use_vsock", True),
    (H + "disable_image_nvdimm", "true", "hypervisor.disable_image_nvdimm", True),
    (H + "hotplug_vfio_on_root_bus", "true", "hypervisor.hotplug_vfio_on_root_bus", True),
    (H + "pcie_root_port", "2", "hypervisor.pcie_root_port", 2),
    (H + "entropy_source", "/dev/random", "hypervisor.entropy_source", "/dev/random"),
    (H + "entropy_source", "", "hypervisor.entropy_source", "/dev/urandom"),
    (H + "enable_vhost_user_store", "true", "hypervisor.enable_vhost_user_store", False),
    (H + "virtio_fs_extra_args", "-o foo", "hypervisor.virtio_fs_extra_args", ()),
    (H + "kernel", "/any/absolute/kernel", "hypervisor.kernel", "/any/absolute/kernel"),
    (H + "image", "/any/image", "hypervisor.image", "/any/image"),
    (H + "firmware", "/any/firmware", "hypervisor.firmware", "/any/firmware"),
    (H + "initrd", "", "hypervisor.initrd", ""),
    (R + "disable_guest_seccomp", "false", "runtime.disable_guest_seccomp", False),
    (R + "sandbox_cgroup_only", "true", "runtime.sandbox_cgroup_only", True),
    (R + "experimental", "newstore", "runtime.experimental", ("newstore",)),
    (R + "disable_new_netns", "true", "runtime.disable_new_netns", True),
    (R + "internetworking_model", "macvtap", "runtime.internetworking_model", "macvtap"),
    (R + "internetworking_model", "default", "runtime.internetworking_model", "tcfilter"),
    (R + "internetworking_model", "none", "runtime.internetworking_model", "none"),
    (A + "kernel_modules", "e1000e EEE=1; i915", "agent.kernel_modules",
     ("e1000e EEE=1", " i915")),
    (A + "kernel_modules", "", "agent.kernel_modules", ("",)),
    (A + "kernel_modules", "a;b;", "agent.kernel_modules", ("a", "b", "")),
    (A + "enable_tracing", "true", "agent.enable_tracing", True),
    (A + "trace_mode", "anything", "agent.trace_mode", "anything"),
    (A + "trace_type", "", "agent.trace_type", ""),
    (A + "container_pipe_size", "4096", "agent.container_pipe_size", 4096),
]


@pytest.mark.parametrize("name,value,key,expected", VALID,
                         ids=[f"{v[0].split('.')[-1]}={v[1]!r}" for v in VALID])
def test_annotation_accepted(root, name, value, key, expected):
    cfg = resolve(root, {name: value})
    assert field(cfg, key) == expected
    [outcome] = [o for o in cfg.annotations if o.name == name]
    assert outcome.status in ("applied", "ignored")


# (annotation, refused value, exact reference text)
INVALID = [
    (H + "default_vcpus", "", 'Error encountered parsing annotation default_vcpus: '
     'strconv.ParseUint: parsing "": invalid syntax, please specify numeric value'),
    (H + "default_vcpus", "-1", 'Error encountered parsing annotation default_vcpus: '
     'strconv.ParseUint: parsing "-1": invalid syntax, please specify numeric value'),
    (H + "default_vcpus", "4294967296", 'Error encountered parsing annotation default_vcpus: '
     'strconv.ParseUint: parsing "4294967296": value out of range, please specify numeric value'),
    (H + "default_vcpus", "5", "Number of cpus 5 specified in annotation default_vcpus is "
     "greater than the number of CPUs 4 on the system"),
    (H + "default_max_vcpus", "+1", 'Error encountered parsing annotation for default_maxvcpus: '
     'strconv.ParseUint: parsing "+1": invalid syntax, please specify positive numeric value'),
    (H + "default_max_vcpus", "5", "Number of cpus 5 in annotation default_maxvcpus is greater "
     "than the number of CPUs 4 on the system"),
    (H + "default_memory", " 1", 'Error encountered parsing annotation for default_memory: '
     'strconv.ParseUint: parsing " 1": invalid syntax'),
    (H + "memory_slots", "1_0", 'Error parsing annotation for memory_slots: strconv.ParseUint: '
     'parsing "1_0": invalid syntax, please specify positive numeric value'),
    (H + "memory_offset", "0x10", 'Error parsing annotation for memory_offset: '
     'strconv.ParseUint: parsing "0x10": invalid syntax, please specify positive numeric value'),
    (H + "enable_virtio_mem", "yes", f"Error parsing annotation for enable_virtio_mem: {BOOL}"),
    (H + "enable_mem_prealloc", "", f"Error parsing annotation for enable_mem_prealloc: {BOOL}"),
    (H + "enable_swap", "2", f"Error parsing annotation for enable_swap: {BOOL}"),
    (H + "file_mem_backend", "", "file_mem_backend value  required from annotation is not valid"),
    (H + "enable_hugepages", "on", f"Error parsing annotation for enable_hugepages: {BOOL}"),
    (H + "enable_iommu", "TrUe", f"Error parsing annotation for iommu: {BOOL}"),
    (H + "enable_iommu_platform", "no",
     f"Error parsing annotation for enable_iommu_platform: {BOOL}"),
    (H + "block_device_driver", "ide", "Invalid hypervisor block storage driver ide specified in "
     "annotation (supported drivers: [virtio-scsi virtio-blk virtio-mmio nvdimm "
     "virtio-blk-ccw])"),
    (H + "disable_block_device_use", "x",
     f"Error parsing annotation for disable_block_device_use: {BOOL}"),
    (H + "enable_iothreads", "x", f"Error parsing annotation for enable_iothreads: {BOOL}"),
    (H + "block_device_cache_set", "x",
     f"Error parsing annotation for block_device_cache_set: {BOOL}"),
    (H + "block_device_cache_direct", "x",
     f"Error parsing annotation for block_device_cache_direct: {BOOL}"),
    (H + "block_device_cache_noflush", "x",
     f"Error parsing annotation for block_device_cache_noflush: {BOOL}"),
    (H + "shared_fs", "virtio-FS", "Invalid hypervisor shared file system virtio-FS specified for "
     "annotation shared_fs, (supported file systems: [virtio-9p virtio-fs])"),
    (H + "virtio_fs_daemon", "/usr/bin/virtiofsd",
     "virtiofs daemon /usr/bin/virtiofsd required from annotation is not valid"),
    (H + "virtio_fs_cache_size", "-5", 'Error parsing annotation for virtio_fs_cache_size: '
     'strconv.ParseUint: parsing "-5": invalid syntax, please specify positive numeric value'),
    (H + "msize_9p", "0", "Error parsing annotation for msize_9p, please specify positive "
     "numeric value"),
    (H + "msize_9p", "x", "Error parsing annotation for msize_9p, please specify positive "
     "numeric value"),
    (H + "path", "/usr/bin/qemu-system-x86_64",
     "hypervisor /usr/bin/qemu-system-x86_64 required from annotation is not valid"),
    (H + "jailer_path", "/usr/bin/jailer",
     "jailer /usr/bin/jailer required from annotation is not valid"),
    (H + "ctlpath", "/usr/bin/acrnctl",
     "hypervisor control /usr/bin/acrnctl required from annotation is not valid"),
    (H + "kernel_params", "quiet =x", "Error adding kernel parameters in annotation "
     "kernel_params : Empty kernel parameter"),
    (H + "disable_vhost_net", "x", f"Error parsing annotation for disable_vhost_net: {BOOL}"),
    (H + "vhost_user_store_path", "/tmp",
     "vhost store path /tmp required from annotation is not valid"),
    (H + "use_vsock", "yes", f"Error parsing annotation for use_vsock: {BOOL}"),
    (H + "disable_image_nvdimm", "x", f"Error parsing annotation for use_nvdimm: {BOOL}"),
    (H + "hotplug_vfio_on_root_bus", "x",
     f"Error parsing annotation for hotplug_vfio_on_root_bus: {BOOL}"),
    (H + "pcie_root_port", "-1", 'Error parsing annotation for pcie_root_port: '
     'strconv.ParseUint: parsing "-1": invalid syntax, Please specify an integer greater than or '
     'equal to 0'),
    (R + "disable_guest_seccomp", "x",
     f"Error parsing annotation for disable_guest_seccomp: {BOOL}"),
    (R + "sandbox_cgroup_only", "x", f"Error parsing annotation for sandbox_cgroup_only: {BOOL}"),
    (R + "experimental", "", "Unsupported experimental feature  specified in annotation "
     "io.katacontainers.config.runtime.experimental"),
    (R + "experimental", "newstore,newstore", "Unsupported experimental feature "
     "newstore,newstore specified in annotation io.katacontainers.config.runtime.experimental"),
    (R + "experimental", "newstore  newstore", "Unsupported experimental feature  specified in "
     "annotation io.katacontainers.config.runtime.experimental"),
    (R + "disable_new_netns", "x", f"Error parsing annotation for experimental: {BOOL}"),
    (R + "internetworking_model", "bridged", "Unknown network model specified in annotation "
     "io.katacontainers.config.runtime.internetworking_model"),
    (A + "enable_tracing", "x", f"Error parsing annotation for agent.trace: {BOOL}"),
    (A + "container_pipe_size", "x", "Error parsing annotation for "
     "io.katacontainers.config.agent.container_pipe_size: Please specify uint32 value"),
    (H + "kernel", "relative/kernel", "relative/kernel is not an absolute path"),
]


@pytest.mark.parametrize("name,value,text", INVALID,
                         ids=[f"{v[0].split('.')[-1]}={v[1]!r}" for v in INVALID])
def test_annotation_refused(root, name, value, text):
    e = refused(root, {name: value})
    assert e.text == text
    assert e.stage == ("assets" if name == H + "kernel" else "annotations")


def test_every_registry_annotation_is_covered_by_these_tests():
    covered = {v[0] for v in VALID} | {v[0] for v in INVALID}
    covered |= {H + "file_mem_backend", H + "kernel_params"}
    assert set(ANNOTATIONS_BY_NAME) <= covered | {H + "jailer_path", H + "ctlpath"}


# -- gate ---------------------------------------------------------------------------------------

def test_gate_refuses_hypervisor_annotations_without_enable_annotations(root):
    e = refused(root, {H + "default_memory": "1024"}, hypervisor_qemu={"enable_annotations": []})
    assert e.text == f"annotation {H}default_memory is not enabled"


def test_gate_patterns_are_unanchored(root):
    cfg = resolve(root, {H + "kernel_params": "quiet", H + "kernel_hash": ""},
                  hypervisor_qemu={"enable_annotations": ["kernel"]})
    assert cfg.hypervisor.kernel_params[-1] == ("quiet", "")


def test_gate_anchors_are_honoured(root):
    e = refused(root, {H + "kernel_params": "quiet"},
                hypervisor_qemu={"enable_annotations": ["^kernel$"]})
    assert e.text == f"annotation {H}kernel_params is not enabled"


def test_gate_invalid_pattern_matches_nothing(root):
    e = refused(root, {H + "default_memory": "1"},
                hypervisor_qemu={"enable_annotations": ["(?=default)", "["]})
    assert e.text == f"annotation {H}default_memory is not enabled"


def test_gate_does_not_apply_to_runtime_agent_and_global_annotations(root):
    cfg = resolve(root, {R + "sandbox_cgroup_only": "true", A + "trace_mode": "static",
                         "io.katacontainers.asset_hash_type": "md5"},
                  hypervisor_qemu={"enable_annotations": []})
    assert cfg.runtime.sandbox_cgroup_only is True


def test_gate_passes_unknown_names_then_ignores_them(root):
    cfg = resolve(root, {H + "no_such_option": "1", H + "default_maxvcpus": "1"})
    assert cfg.hypervisor.default_maxvcpus == 4
    statuses = {o.name: o.status for o in cfg.annotations}
    assert statuses == {H + "no_such_option": "ignored", H + "default_maxvcpus": "ignored"}


# -- restricted paths ----------------------------------------------------------------------------

def test_restricted_path_allowed_by_glob_is_stored_verbatim(root):
    (root / "bin/qemu-7").write_text("#!/bin/sh\n")
    cfg = resolve(root, {H + "path": f"{root}/bin/qemu-7"},
                  hypervisor_qemu={"valid_hypervisor_paths": [f"{root}/bin/qemu-[0-9]"]})
    assert cfg.hypervisor.path == f"{root}/bin/qemu-7"


def test_restricted_path_symlink_must_be_named_by_its_link(root):
    os.symlink("qemu-system-x86_64", root / "bin/qemu-link")
    allowed = {"valid_hypervisor_paths": [f"{root}/bin/qemu-link"]}
    cfg = resolve(root, {H + "path": f"{root}/bin/qemu-link"}, hypervisor_qemu=allowed)
    assert cfg.hypervisor.path == f"{root}/bin/qemu-link"
    e = refused(root, {H + "path": f"{root}/bin/qemu-system-x86_64"}, hypervisor_qemu=allowed)
    assert "required from annotation is not valid" in e.text


def test_restricted_path_must_exist(root):
    e = refused(root, {H + "file_mem_backend": f"{root}/hugepages"},
                hypervisor_qemu={"valid_file_mem_backends": [f"{root}/huge*"]})
    assert e.text == f"file_mem_backend value {root}/hugepages required from annotation is not valid"
    (root / "hugepages").mkdir()
    cfg = resolve(root, {H + "file_mem_backend": f"{root}/hugepages"},
                  hypervisor_qemu={"valid_file_mem_backends": [f"{root}/huge*"]})
    assert cfg.hypervisor.file_mem_backend == f"{root}/hugepages"


def test_virtio_fs_daemon_from_its_list_enables_virtio_fs(root):
    cfg = resolve(root, {H + "shared_fs": "virtio-fs", H + "virtio_fs_daemon":
                         f"{root}/bin/virtiofsd"})
    assert (cfg.hypervisor.shared_fs, cfg.hypervisor.virtio_fs_daemon) == (
        "virtio-fs", f"{root}/bin/virtiofsd")


def test_virtio_fs_without_daemon_is_refused(root):
    e = refused(root, {H + "shared_fs": "virtio-fs"}, hypervisor_qemu={"virtio_fs_daemon": ""})
    assert e.text == "cannot enable virtio-fs without daemon path"


# -- assets ---------------------------------------------------------------------------------------

def sha512(path: Path) -> str:
    return hashlib.sha512(path.read_bytes()).hexdigest()


def test_asset_hash_ok_replaces_the_path(root):
    kernel = root / "share/vmlinux.container"
    cfg = resolve(root, {H + "kernel": str(kernel), H + "kernel_hash": sha512(kernel)})
    assert cfg.hypervisor.kernel == str(kernel)


def test_asset_hash_mismatch_quotes_both_and_ends_with_a_bracket(root):
    kernel = root / "share/vmlinux.container"
    e = refused(root, {H + "kernel": str(kernel), H + "kernel_hash": "AB"})
    assert e.text == f"Invalid hash for {kernel}: computed {sha512(kernel)}, expecting AB]"
    assert e.stage == "assets"


def test_asset_hash_is_case_sensitive_and_always_sha512(root):
    kernel = root / "share/vmlinux.container"
    e = refused(root, {H + "kernel": str(kernel), H + "kernel_hash": sha512(kernel).upper(),
                       "io.katacontainers.asset_hash_type": "sha256"})
    assert e.text.startswith("Invalid hash for")


def test_asset_hash_on_missing_and_empty_files(root):
    e = refused(root, {H + "initrd": f"{root}/none", H + "initrd_hash": "00"})
    assert e.text == f"open {root}/none: no such file or directory"
    (root / "empty").write_bytes(b"")
    e = refused(root, {H + "image": f"{root}/empty", H + "image_hash": "00"})
    assert e.text == f"Empty asset file at {root}/empty"
    e = refused(root, {H + "firmware": f"{root}/share", H + "firmware_hash": "00"})
    assert e.text == f"read {root}/share: is a directory"


def test_hash_checks_run_after_all_overrides(root):
    e = refused(root, {H + "kernel": "/x", H + "kernel_hash": "00", H + "default_memory": "x"})
    assert e.stage == "annotations"


def test_assets_are_checked_in_reference_order(root):
    e = refused(root, {H + "kernel": "rel-kernel", H + "firmware": "rel-firmware"})
    assert e.text == "rel-firmware is not an absolute path"


def test_hypervisor_annotation_with_hash(root):
    qemu = root / "bin/qemu-system-x86_64"
    cfg = resolve(root, {H + "path": str(qemu), H + "hypervisor_hash": sha512(qemu)})
    assert cfg.hypervisor.path == str(qemu)


# -- hypervisor stage and container type ---------------------------------------------------

def test_zero_values_are_replaced_for_qemu_but_not_firecracker(root):
    from tests.test_config_keys import fc_text

    cfg = resolve(root, {H + "default_memory": "0", H + "default_vcpus": "0"})
    assert (cfg.hypervisor.default_memory, cfg.hypervisor.default_vcpus) == (2048, 1)
    path = write_config(root, fc_text(root, enable_annotations=[".*"]))
    cfg = katacfg.resolve(path, {H + "default_memory": "0"}, host=host(4, True))
    assert cfg.hypervisor.default_memory == 0


@pytest.mark.parametrize("key,value,kind", [
    ("io.kubernetes.cri.container-type", "container", "pod_container"),
    ("io.kubernetes.cri.container-type", "sandbox", "pod_sandbox"),
    ("io.kubernetes.cri.container-type", "podsandbox", "pod_sandbox"),
    ("io.kubernetes.cri-o.ContainerType", "container", "pod_container"),
    ("io.kubernetes.docker.type", "podsandbox", "pod_sandbox"),
])
def test_container_type_detection(root, key, value, kind):
    cfg = resolve(root, {key: value, H + "default_vcpus": "99"} if kind == "pod_container"
                  else {key: value})
    assert cfg.container_type == kind


def test_unknown_container_type_is_refused(root):
    e = refused(root, {"io.kubernetes.cri-o.ContainerType": ""})
    assert (e.text, e.stage) == ("Unknown container type ", "container_type")


def test_first_present_cri_key_decides(root):
    cfg = resolve(root, {"io.kubernetes.cri.container-type": "container",
                         "io.kubernetes.cri-o.ContainerType": "bogus"})
    assert cfg.container_type == "pod_container"


# -- globals ------------------------------------------------------------------------------------

def test_config_path_is_honoured_only_by_shimv2(root):
    other = write_config(root, config_text(root, runtime={"enable_debug": True}), "other.toml")
    base = write_config(root, config_text(root))
    ann = {"io.katacontainers.config_path": other}
    assert katacfg.resolve(base, ann, host=host(), mode="cli").runtime.enable_debug is False
    assert katacfg.resolve(base, ann, host=host(), mode="shimv2").runtime.enable_debug is True
    assert katacfg.resolve(base, {"io.katacontainers.config_path": ""}, host=host(),
                           mode="shimv2").path == base


def test_internal_oci_annotations_from_the_spec_are_ignored(root):
    cfg = resolve(root, {"io.katacontainers.pkg.oci.container_type": "pod_container",
                         "io.katacontainers.pkg.oci.bundle_path": "/x"})
    assert cfg.container_type == "pod_sandbox"
    assert {o.status for o in cfg.annotations} == {"ignored"}


def test_overlay_does_not_rerun_load_checks(root):
    cfg = resolve(root, {R + "disable_new_netns": "true", H + "machine_type": "microvm",
                         H + "machine_accelerators": " a, ,b"})
    assert cfg.runtime.disable_new_netns is True
    assert cfg.hypervisor.disable_image_nvdimm is False
    assert cfg.hypervisor.machine_accelerators == " a, ,b"


def test_kernel_params_are_appended_after_the_loaded_ones(root):
    cfg = resolve(root, {H + "kernel_params": "quiet a=b=c", H + "block_device_driver":
                         "virtio-blk"})
    assert cfg.hypervisor.kernel_params[-3:] == (("scsi_mod.scan", "none"), ("quiet", ""),
                                                 ("a", "b=c"))


def test_use_vsock_annotation_changes_only_the_hypervisor_flag(root):
    cfg = resolve(root, {H + "use_vsock": "true"})
    assert cfg.hypervisor.use_vsock is True
    assert (cfg.agent.use_vsock, cfg.proxy.type) == (False, "kataProxy")


def test_config_path_is_reported_as_the_pods_choice(root):
    other = write_config(root, config_text(root), "other.toml")
    cfg = resolve(root, {"io.katacontainers.config_path": other}, mode="shimv2")
    [o] = cfg.annotations
    assert o.status == "applied" and "not gated" in o.reason
    assert any(d.code == "KC240" and d.severity == "warning" for d in cfg.diagnostics)
    cfg = resolve(root, {"io.katacontainers.config_path": other})
    assert cfg.annotations[0].status == "ignored"


def test_a_refusal_keeps_what_each_annotation_did(root):
    with pytest.raises(KataError) as info:
        resolve(root, {H + "default_memory": "1024", H + "default_vcpus": "99"})
    statuses = {o.name: o.status for o in info.value.outcomes}
    assert statuses == {H + "default_vcpus": "refused", H + "default_memory": "not reached"}


def test_shimv2_reads_kata_conf_file_when_nothing_else_names_a_file(root, monkeypatch):
    other = write_config(root, config_text(root, runtime={"enable_debug": True}), "env.toml")
    monkeypatch.setenv("KATA_CONF_FILE", other)
    assert katacfg.resolve(None, {}, host=host(), mode="shimv2").path == other
    base = write_config(root, config_text(root))
    assert katacfg.resolve(base, {}, host=host(), mode="shimv2").path == base  # CRI option wins
    assert katacfg.load(None, host=host(), mode="cli", fallback=True, strict=False).path != other
