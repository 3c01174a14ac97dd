"""[agent.kata] keys (spec/config-keys.md section 8) and agent annotations (5.8)."""
from __future__ import annotations

from katacfg.config.records import Record
from katacfg.config.registry import Annotation as A
from katacfg.config.registry import opt, section

AGENT_TYPE = "kata"
KERNEL_MODULES_SEPARATOR = ";"
TRACE_MODES = ("dynamic", "static")
TRACE_TYPES = ("isolated", "collated")


@section("agent")
class AgentConfig(Record):
    """The loaded agent configuration (Go KataAgentConfig)."""

    type: str = opt("string", AGENT_TYPE, "agent type; always kata", toml=False,
                    zero=AGENT_TYPE, env="Type")
    enable_debug: bool = opt("bool", False, "agent debug messages (adds agent.log=debug)",
                            env="Debug")
    enable_tracing: bool = opt(
        "bool", False, "agent tracing (static mode adds agent.trace=<type>)",
        annotation=A("bool",
                     "Error parsing annotation for agent.trace: Please specify boolean value "
                     "'true|false'", 201),
        env="Trace")
    trace_mode: str = opt(
        "string", "", "trace mode: dynamic (default when tracing) or static",
        annotation=A("string", order=202), env="TraceMode")
    trace_type: str = opt(
        "string", "", "trace type: isolated (default when tracing) or collated",
        annotation=A("string", order=203), env="TraceType")
    kernel_modules: tuple[str, ...] = opt(
        "[]string", (), "guest kernel modules to load, each with its parameters",
        annotation=A("split", order=200, sep=KERNEL_MODULES_SEPARATOR))
    container_pipe_size: int = opt(
        "uint32", 0, "size of containers' stdio pipes (annotation only)", toml=False,
        annotation=A("uint32",
                     "Error parsing annotation for "
                     "io.katacontainers.config.agent.container_pipe_size: Please specify uint32 "
                     "value", 204))
    use_vsock: bool = opt("bool", False, "copied from the hypervisor at load time", toml=False)
    long_live_conn: bool = opt("bool", False, "keep the agent connection (shim v2)", toml=False)
