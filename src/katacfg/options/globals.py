"""Annotations that set no configuration key: assets' hashes and global names (spec 5.9, 7)."""
from __future__ import annotations

from katacfg.options import HYPERVISOR_PREFIX, KATA_PREFIX

CONFIG_PATH_ANNOTATION = KATA_PREFIX + "config_path"
BUNDLE_PATH_ANNOTATION = KATA_PREFIX + "pkg.oci.bundle_path"
CONTAINER_TYPE_ANNOTATION = KATA_PREFIX + "pkg.oci.container_type"
ASSET_HASH_TYPE_ANNOTATION = KATA_PREFIX + "asset_hash_type"

# Asset kind -> (path annotation suffix, hash annotation suffix), in the order Kata checks them.
ASSETS: dict[str, tuple[str, str]] = {
    "firmware": ("firmware", "firmware_hash"),
    "hypervisor": ("path", "hypervisor_hash"),
    "hypervisorctl": ("ctlpath", "hypervisorctl_hash"),
    "image": ("image", "image_hash"),
    "initrd": ("initrd", "initrd_hash"),
    "jailer": ("jailer_path", "jailer_hash"),
    "kernel": ("kernel", "kernel_hash"),
}
HASH_ANNOTATIONS = {HYPERVISOR_PREFIX + h: kind for kind, (_, h) in ASSETS.items()}

# Global annotations the overlay reads or deliberately ignores: name -> what it means.
GLOBAL_ANNOTATIONS: dict[str, str] = {
    CONFIG_PATH_ANNOTATION: "shim v2 only: another configuration file for this pod",
    BUNDLE_PATH_ANNOTATION: "set by the runtime; a value in the spec is ignored",
    CONTAINER_TYPE_ANNOTATION: "set by the runtime; a value in the spec is ignored",
    ASSET_HASH_TYPE_ANNOTATION: "never used: asset hashes are always SHA-512",
}
