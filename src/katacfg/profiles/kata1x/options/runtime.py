"""[runtime] keys (spec/config-keys.md section 12) and runtime annotations (5.7)."""
from __future__ import annotations

from katacfg.config.records import Record
from katacfg.config.registry import EXPERIMENTAL_FEATURES, opt, section
from katacfg.config.registry import Annotation as A
from katacfg.profiles.kata1x.normalise import mapped

# internetworking_model values: "default" resolves to tcfilter; "bridged" was removed in 1.x.
NETWORK_MODELS = {"default": "tcfilter", "macvtap": "macvtap", "tcfilter": "tcfilter",
                  "none": "none"}
DEFAULT_NETWORK_MODEL = "tcfilter"
EXPERIMENTAL_SEPARATOR = " "

_BOOL = "Error parsing annotation for {}: Please specify boolean value 'true|false'"


@section("runtime")
class RuntimeConfig(Record):
    """The loaded runtime options."""

    enable_debug: bool = opt("bool", False, "runtime debug messages", env="Debug")
    enable_tracing: bool = opt("bool", False, "runtime opentracing spans", env="Trace")
    disable_guest_seccomp: bool = opt(
        "bool", False, "do not apply container seccomp profiles inside the guest",
        annotation=A("bool", _BOOL.format("disable_guest_seccomp"), 100),
        env="DisableGuestSeccomp")
    sandbox_cgroup_only: bool = opt(
        "bool", False, "put all Kata processes in the sandbox cgroup",
        annotation=A("bool", _BOOL.format("sandbox_cgroup_only"), 101),
        env="SandboxCgroupOnly")
    enable_agent_pidns: bool = opt(
        "bool", False, "let containers share the agent's PID namespace (debug only)")
    disable_new_netns: bool = opt(
        "bool", False, "do not create a network namespace (needs internetworking_model none)",
        annotation=A("bool", _BOOL.format("experimental"), 103),
        env="DisableNewNetNs")
    experimental: tuple[str, ...] = opt(
        "[]string", (), "experimental features to enable (known: newstore)",
        annotation=A("split",
                     "Unsupported experimental feature {v} specified in annotation "
                     "io.katacontainers.config.runtime.experimental", 102,
                     sep=EXPERIMENTAL_SEPARATOR, choices=tuple(EXPERIMENTAL_FEATURES)))
    internetworking_model: str = opt(
        "string", DEFAULT_NETWORK_MODEL, "how the VM joins the pod network: macvtap, tcfilter, none",
        zero=DEFAULT_NETWORK_MODEL, normalise=mapped(NETWORK_MODELS, DEFAULT_NETWORK_MODEL),
        annotation=A("enum",
                     "Unknown network model specified in annotation "
                     "io.katacontainers.config.runtime.internetworking_model", 104,
                     choices=NETWORK_MODELS))
