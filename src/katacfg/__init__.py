"""katacfg: the Kata Containers 1.x configuration, exactly as the runtime loads it.

    >>> import katacfg
    >>> cfg = katacfg.load("/etc/kata-containers/configuration.toml")
    >>> pod = katacfg.resolve(annotations={"io.katacontainers.config.hypervisor.default_vcpus": "2"})

Public API: load(), resolve(), the Config types, KataError and Diagnostic. Submodules are
imported on first use so that `import katacfg` stays cheap for the command line.
"""

__version__ = "0.1.0"
__all__ = [
    "AgentConfig", "Config", "Diagnostic", "FactoryConfig", "Host", "HypervisorConfig",
    "KataError", "NetmonConfig", "ProxyConfig", "RuntimeConfig", "ShimConfig", "load",
    "resolve",
]

TYPE_CHECKING = False  # typing costs ~10 ms of start-up; mypy treats this name as True
if TYPE_CHECKING:
    from katacfg.config.errors import Diagnostic, KataError
    from katacfg.config.load import load
    from katacfg.config.model import (
        AgentConfig,
        Config,
        FactoryConfig,
        HypervisorConfig,
        NetmonConfig,
        ProxyConfig,
        RuntimeConfig,
        ShimConfig,
    )
    from katacfg.config.pipeline import resolve
    from katacfg.host.facts import Host

# katacfg's own modules take a shorter import path (katacfg/_fastimport.py: same modules,
# same pyc checks, about 40% less of importlib's interpreted work per module)
from katacfg._fastimport import install as _install_fast_import  # noqa: E402

_install_fast_import(__path__[0])

_LAZY = {
    "load": "katacfg.config.load", "resolve": "katacfg.config.pipeline", "Host": "katacfg.host.facts",
    "KataError": "katacfg.config.errors", "Diagnostic": "katacfg.config.errors",
    **{name: "katacfg.config.model" for name in (
        "AgentConfig", "Config", "FactoryConfig", "HypervisorConfig", "NetmonConfig",
        "ProxyConfig", "RuntimeConfig", "ShimConfig")},
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'katacfg' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
