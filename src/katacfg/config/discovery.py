"""Which configuration file is loaded (spec/config-files.md).

Kept free of heavy imports: `--kata-show-default-config-paths` imports only this module.
"""
from __future__ import annotations

# Priority order of a stock build: /etc overrides /usr/share/defaults.
SYSCONF_CONFIG_PATH = "/etc/kata-containers/configuration.toml"
DEFAULT_CONFIG_PATH = "/usr/share/defaults/kata-containers/configuration.toml"
DEFAULT_CONFIG_PATHS: tuple[str, ...] = (SYSCONF_CONFIG_PATH, DEFAULT_CONFIG_PATH)

EMBEDDED_DEFAULT = "data/configuration.toml"  # inside the katacfg package


def embedded_default_path() -> str:
    """The configuration shipped with katacfg, used when no file is installed."""
    import os

    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), EMBEDDED_DEFAULT)


def find_config(path: str | None, defaults: tuple[str, ...] | None = None) -> str:
    """Resolve the file to load as kata-runtime does, or raise its exact refusal.

    An explicit path is resolved alone; otherwise each default path (the profile's) is
    tried in order.
    """
    from katacfg.config.errors import KataError
    from katacfg.gocompat.fspath import GoPathError, resolve_path
    from katacfg.gocompat.strconv import quote

    if path:
        try:
            return resolve_path(path)
        except GoPathError as exc:
            raise KataError(f"Cannot find usable config file ({exc})", "load", file=path,
                            code="KC002", hint="check the --kata-config path") from None
    errors = []
    for candidate in DEFAULT_CONFIG_PATHS if defaults is None else defaults:
        try:
            return resolve_path(candidate)
        except GoPathError as exc:
            errors.append(f"config file {quote(candidate)} unresolvable: {exc}")
    raise KataError(f"Cannot find usable config file ({', '.join(errors)})", "load",
                    code="KC003",
                    hint="install a configuration.toml in one of the default paths, "
                         "or pass --kata-config")
