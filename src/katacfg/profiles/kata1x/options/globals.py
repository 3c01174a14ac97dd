"""Annotations that set no configuration key: global names (spec 5.9, 7).

Asset hash annotations come from the registry (`Annotation.asset`: `<asset>_hash`).
"""
from __future__ import annotations

from katacfg.config.registry import KATA_PREFIX

CONFIG_PATH_ANNOTATION = KATA_PREFIX + "config_path"
BUNDLE_PATH_ANNOTATION = KATA_PREFIX + "pkg.oci.bundle_path"
CONTAINER_TYPE_ANNOTATION = KATA_PREFIX + "pkg.oci.container_type"
ASSET_HASH_TYPE_ANNOTATION = KATA_PREFIX + "asset_hash_type"

# Global annotations the overlay reads or deliberately ignores: name -> what it means.
GLOBAL_ANNOTATIONS: dict[str, str] = {
    CONFIG_PATH_ANNOTATION: "shim v2 only: another configuration file for this pod",
    BUNDLE_PATH_ANNOTATION: "set by the runtime; a value in the spec is ignored",
    CONTAINER_TYPE_ANNOTATION: "set by the runtime; a value in the spec is ignored",
    ASSET_HASH_TYPE_ANNOTATION: "never used: asset hashes are always SHA-512",
}
