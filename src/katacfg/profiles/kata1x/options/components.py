"""[factory], [proxy.kata], [shim.kata] and [netmon] (spec/config-keys.md 7, 9, 10, 11)."""
from __future__ import annotations

from katacfg.config.records import Record
from katacfg.config.registry import opt, section
from katacfg.profiles.kata1x.normalise import or_default

DEFAULT_PROXY_PATH = "/usr/libexec/kata-containers/kata-proxy"
DEFAULT_SHIM_PATH = "/usr/libexec/kata-containers/kata-shim"
DEFAULT_NETMON_PATH = "/usr/libexec/kata-containers/kata-netmon"
DEFAULT_TEMPLATE_PATH = "/run/vc/vm/template"
DEFAULT_VM_CACHE_ENDPOINT = "/var/run/kata-containers/cache.sock"

KATA_PROXY, NO_PROXY, BUILTIN_PROXY = "kataProxy", "noProxy", "kataBuiltInProxy"
KATA_SHIM, BUILTIN_SHIM = "kataShim", "kataBuiltInShim"
COMPONENT_TABLE = "kata"  # the only [proxy.*], [shim.*], [agent.*] name the CLI accepts


@section("factory")
class FactoryConfig(Record):
    """VM factory: templating and VM cache."""

    enable_template: bool = opt("bool", False, "create VMs from a template (needs an initrd)")
    template_path: str = opt("string", DEFAULT_TEMPLATE_PATH, "template folder; not checked",
                             normalise=or_default)
    vm_cache_number: int = opt("uint", 0, "number of cached VMs (qemu only); 0 disables")
    vm_cache_endpoint: str = opt("string", DEFAULT_VM_CACHE_ENDPOINT, "VM cache socket",
                                 normalise=or_default)


@section("proxy")
class ProxyConfig(Record):
    """The proxy between shim and agent (none when vsock is used)."""

    type: str = opt("string", KATA_PROXY, "kataProxy, noProxy or kataBuiltInProxy", toml=False,
                    zero=KATA_PROXY, env="Type")
    path: str = opt("string", DEFAULT_PROXY_PATH, "kata-proxy binary; resolved, must exist",
                    normalise=or_default, env="Path")
    enable_debug: bool = opt("bool", False, "proxy messages to the system log", env="Debug")


@section("shim")
class ShimConfig(Record):
    """The shim; `configured` is False when Go holds no shim configuration at all."""

    type: str = opt("string", KATA_SHIM, "kataShim or kataBuiltInShim", toml=False,
                    zero=KATA_SHIM, env="Type")
    path: str = opt("string", DEFAULT_SHIM_PATH, "kata-shim binary; resolved, must exist",
                    normalise=or_default, env="Path")
    enable_debug: bool = opt("bool", False, "shim messages to the system log", env="Debug")
    enable_tracing: bool = opt("bool", False, "shim opentracing spans (needs disable_new_netns)")
    configured: bool = opt("bool", False, "a shim configuration exists", toml=False)


@section("netmon")
class NetmonConfig(Record):
    """The network monitor."""

    path: str = opt("string", DEFAULT_NETMON_PATH, "kata-netmon binary; not checked",
                    normalise=or_default, env="Path")
    enable_debug: bool = opt("bool", False, "netmon messages to the system log", env="Debug")
    enable_netmon: bool = opt("bool", False, "watch the pod network for changes", env="Enable")
