"""Load a configuration.toml exactly as Kata 1.x's LoadConfiguration does.

Order of work and every refusal follow spec/config-keys.md section 2. Every section is
built by one generic loop over the registry (`build_section`): each option's value, or Go's
zero value, through its normaliser; what is left to a section or a hypervisor are the
steps that can refuse, in the reference's order (the hypervisor's live in its profile).
Each refusal is recorded with its file, line and key; with strict=True the first one (the
one kata-runtime prints) is raised, with strict=False loading goes on with best-effort
values so that reports and lint can show every problem at once.
"""
from __future__ import annotations

import os

from katacfg.config.decode import RawConfig
from katacfg.config.errors import Diagnostic, KataError
from katacfg.config.model import AdjustedValue, Config
from katacfg.profiles.kata1x import options as opts
from katacfg.profiles.kata1x.options import (
    NETWORK_MODELS,
    AgentConfig,
    HypervisorConfig,
    ProxyConfig,
    ShimConfig,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from os import PathLike
    from typing import Any, Protocol

    from katacfg.config.registry import Adjustment, Option
    from katacfg.profiles import HypervisorProfile, KataProfile

    class HostFacts(Protocol):
        """What loading needs to know about the host (see katacfg.host.facts.Host)."""

        @property
        def cpus(self) -> int: ...

        @property
        def vhost_vsock(self) -> bool: ...

        def stat(self, path: str) -> os.stat_result: ...

        def executable(self, path: str) -> bool: ...

MODES = ("cli", "shimv2")
_MISSING = object()


def load(path: str | PathLike[str] | None = None, *, host: HostFacts | None = None,
         mode: str = "cli", strict: bool = True, fallback: bool = False,
         assume_files: bool = False, profile: KataProfile | None = None) -> Config:
    """Load and normalise a configuration file as kata-runtime (cli) or the shim v2 does.

    `path` None means the profile's default paths; with `fallback` the embedded default
    configuration is used when none exists (noted in `diagnostics`). Raises KataError on a
    refusal when `strict`; otherwise returns the configuration with `problems` filled.
    `assume_files` treats every path the file names as present (a node's configuration read
    elsewhere). `profile` is the Kata generation (default: 1.x).
    """
    from os import fspath

    from katacfg.config import discovery

    path = None if path is None else fspath(path)
    if profile is None:
        from katacfg.profiles import get_profile

        profile = get_profile()
    own = profile.extra.get("load")
    if own is not None:  # a generation with its own loader (4.x: config.d, dict sections)
        return own(path, host=host, mode=mode, strict=strict, assume_files=assume_files)  # type: ignore[no-any-return]
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    notes: list[Diagnostic] = []
    try:
        resolved = discovery.find_config(path, profile.config_paths)
    except KataError as exc:
        if path or not fallback:
            raise
        resolved = discovery.embedded_default_path()
        notes.append(Diagnostic(
            "note", "KC004", "no configuration file in the default paths "
            f"({', '.join(profile.config_paths)}); using katacfg's embedded default "
            "configuration", resolved, hint=f"kata-runtime would refuse: {exc.text}"))
    text = read_config(resolved)
    raw = profile.decode(text, resolved, profile)
    if host is None:
        from katacfg.host.facts import Host

        host = Host.real()
    cfg = profile.build(raw, host, mode, profile, assume_files=assume_files)
    if notes:
        cfg = cfg.replace(diagnostics=tuple(notes) + cfg.diagnostics)
    if strict and cfg.problems:
        raise cfg.problems[0]
    return cfg


def read_config(path: str) -> str:
    """Read the file as Go's ioutil.ReadFile would (its error texts), bounded (safeio)."""
    from katacfg.host.safeio import FileRefused, read_bytes

    try:
        data = read_bytes(path, what="configuration file")
    except FileRefused as exc:
        raise KataError(exc.text, "load", file=path, code="KC005",
                        hint=exc.hint) from None
    # Go keeps invalid UTF-8 bytes as they are; the TOML lexer then sees U+FFFD.
    return data.decode("utf-8", errors="replace")


def build_section(cls: type, values: Mapping[str, Any], host: HostFacts,
                  hypervisor: HypervisorProfile | None = None,
                  ) -> tuple[dict[str, Any], list[tuple[str, Any, Any, Adjustment]]]:
    """One section from its decoded values: every TOML option (of those `hypervisor` reads),
    its value or Go's zero value, through its normaliser. Returns the field values and, for
    each value the file gave that the normaliser changed, (key, given, loaded, why)."""
    out: dict[str, Any] = {}
    adjusted: list[tuple[str, Any, Any, Adjustment]] = []
    for key, zero, normalise, default in _plan(cls, hypervisor):
        given = values.get(key, _MISSING)
        if normalise is None:
            out[key] = zero if given is _MISSING else given
            continue
        value, why = normalise(zero if given is _MISSING else given, default, host, hypervisor)
        if why is not None and given is not _MISSING:
            adjusted.append((key, given, value, why))
        out[key] = value
    return out, adjusted


# (section class, id of the hypervisor profile) -> (profile kept alive, plan): the options
# a section reads, each as (key, Go zero value, normaliser, default); built once.
_PLANS: dict[tuple[type, int], tuple[Any, tuple[tuple[str, Any, Any, Any], ...]]] = {}


def _plan(cls: type, hypervisor: HypervisorProfile | None) -> tuple[tuple[str, Any, Any, Any], ...]:
    found = _PLANS.get((cls, id(hypervisor)))
    if found is not None and found[0] is hypervisor:
        return found[1]
    options: tuple[Option, ...] = cls.OPTIONS  # type: ignore[attr-defined]
    plan = tuple(
        (option.key, option.zero, option.normalise,
         option.default if hypervisor is None else hypervisor.default(option))
        for option in options
        if option.toml and (hypervisor is None or option.read_by(hypervisor.name)))
    _PLANS[(cls, id(hypervisor))] = (hypervisor, plan)
    return plan


def builtin_section(cls: type) -> Any:
    """The section as Go's built-in defaults hold it (GetDefaultHypervisorConfig)."""
    return cls(**{o.key: o.builtin_value for o in cls.OPTIONS  # type: ignore[attr-defined]
                  if o.builtin is not None})


def build(raw: RawConfig, host: HostFacts, mode: str, profile: KataProfile, *,
          assume_files: bool = False) -> Config:
    """The 1.x profile's loader: decoded values + host facts -> Config."""
    return Loader(raw, host, mode, profile, assume_files=assume_files).run()


class Loader:
    """One 1.x load: raw decoded values + host facts -> Config, collecting refusals in order."""

    def __init__(self, raw: RawConfig, host: HostFacts, mode: str,
                 profile: KataProfile | None = None, *, assume_files: bool = False) -> None:
        if profile is None:
            from katacfg.profiles import get_profile

            profile = get_profile()
        self.raw = raw
        self.host = host
        self.mode = mode
        self.profile = profile
        self.assume_files = assume_files
        self.builtin = mode == "shimv2"
        self.problems: list[KataError] = list(raw.errors)
        self.diagnostics: list[Diagnostic] = list(raw.diagnostics)
        self.adjusted: list[AdjustedValue] = []

    # -- recording --------------------------------------------------------------------
    def fail(self, text: str, where: tuple[str, ...] = (), *, prefix: bool = False,
             hint: str | None = None, code: str = "KC020", host: bool = False) -> None:
        """Record a refusal; `prefix` adds "<cfg>: " as the reference does for some."""
        pos = self.raw.positions.get(where) if where else None
        if pos is None and len(where) > 1:
            pos = self.raw.positions.get(where[:-1])  # the table, when the key is absent
        if prefix:
            text = f"{self.raw.path}: {text}"
        self.problems.append(KataError(
            text, "load", file=self.raw.path, line=pos[0] if pos else None,
            column=pos[1] if pos and where in self.raw.positions else None,
            key=".".join(where) if where else None, hint=hint, code=code, host=host))

    def note(self, severity: str, code: str, message: str, where: tuple[str, ...] = (),
             hint: str | None = None) -> None:
        pos = self.raw.positions.get(where) if where else None
        self.diagnostics.append(Diagnostic(
            severity, code, message, self.raw.path, pos[0] if pos else None,
            pos[1] if pos else None, ".".join(where) if where else None, hint))

    def resolve(self, value: str, where: tuple[str, ...], *, prefix: bool = True,
                hint: str = "") -> str:
        """Kata's ResolvePath; on failure record the refusal and keep the absolute path."""
        from katacfg.gocompat.fspath import GoPathError, abs_path, resolve_path

        if self.assume_files:
            return abs_path(value)
        try:
            return resolve_path(value)
        except GoPathError as exc:
            self.fail(str(exc), where, prefix=prefix, code="KC030", host=True,
                      hint=hint or f"{where[-1]} must name an existing file")
            return abs_path(value) if value else value

    # -- the load ---------------------------------------------------------------------
    def section(self, name: str, values: Mapping[str, Any], where: tuple[str, ...],
                hypervisor: HypervisorProfile | None = None) -> dict[str, Any]:
        """The generic loop over the registry for one table; remembers what it adjusted."""
        out, adjusted = build_section(self.profile.sections[name], values, self.host,
                                      hypervisor)
        for key, given, loaded, why in adjusted:
            self.adjusted.append(AdjustedValue(where + (key,), given, loaded, why))
        return out

    def run(self) -> Config:
        raw = self.raw
        rt = raw.structs.get("runtime", {})
        self.check_network_model(rt.get("internetworking_model", ""))
        hv_type, hyp = self.hypervisor()
        runtime_debug = bool(rt.get("enable_debug", False))
        proxy = self.proxy(runtime_debug)
        agent = self.agent(hyp)
        shim = self.shim()
        factory = self.struct("factory")
        netmon = self.struct("netmon")
        hyp = self.kernel_params(hyp, agent)
        if hyp.use_vsock:  # vsock means no proxy process, in both front ends
            proxy = ProxyConfig(type=opts.NO_PROXY, path="", enable_debug=runtime_debug)
        runtime = self.struct("runtime")
        runtime = runtime.replace(experimental=self.experimental(runtime.experimental))
        cfg = Config(
            path=raw.path, mode=self.mode, hypervisor_type=hv_type, hypervisor=hyp,
            agent=agent, runtime=runtime, factory=factory, proxy=proxy, shim=shim,
            netmon=netmon, positions=raw.positions, assume_files=self.assume_files,
            profile=self.profile, adjusted=tuple(self.adjusted),
        )
        from katacfg.config import validate

        facts = validate.LoadFacts(
            host=self.host, refused=frozenset(p.key for p in self.problems if p.key),
            has_hypervisor_table=bool(raw.tables.get("hypervisor")),
            hypervisor_tables=tuple(name for name, _ in raw.tables.get("hypervisor", ())))
        for finding in validate.check(cfg, facts):
            if finding.severity == "error":
                self.fail(finding.text, finding.where, code=finding.code, hint=finding.hint,
                          host=finding.host)
            else:
                self.note(finding.severity, finding.code, finding.text, finding.where,
                          hint=finding.hint)
        return cfg.replace(problems=tuple(self.problems), diagnostics=tuple(self.diagnostics))

    def struct(self, name: str) -> Any:
        """A plain [section] table (Go struct): always built, from defaults when absent."""
        cls = self.profile.sections[name]
        return cls(**self.section(name, self.raw.structs.get(name, {}), (name,)))

    def check_network_model(self, model: str) -> None:
        if model and model not in NETWORK_MODELS:
            self.fail(f"Unknown type {model}", ("runtime", "internetworking_model"),
                      code="KC040", hint="internetworking_model must be one of "
                      + ", ".join(m for m in NETWORK_MODELS if m != "default")
                      + " (bridged was removed in Kata 1.x)")

    # -- hypervisor ---------------------------------------------------------------------
    def hypervisor(self) -> tuple[str, HypervisorConfig]:
        tables = self.raw.tables.get("hypervisor", [])
        default = self.profile.default_hypervisor
        if not tables:
            self.note("warning", "KC104", "no [hypervisor.*] table: Kata uses its built-in "
                      "defaults (qemu-lite, both an image and an initrd) without checking them",
                      hint=f"add a [hypervisor.{default}] table")
            return default, builtin_section(HypervisorConfig)
        hv_type, hyp = default, builtin_section(HypervisorConfig)
        if len(tables) > 1:
            # Go ranges over a map here: which table wins changes from run to run. That is
            # no configuration to guess about (the other tables are still checked below).
            names = ", ".join(f"[hypervisor.{name}]" for name, _ in tables)
            self.fail(f"several hypervisor tables ({names}): kata-runtime would use one of "
                      "them at random", ("hypervisor", tables[1][0]), code="KC105",
                      hint="keep exactly one [hypervisor.<name>] table")
        known = self.profile.hypervisors
        for name, values in tables:
            # only the table that is used says what loading adjusted
            self.adjusted = [a for a in self.adjusted if a.where[0] != "hypervisor"]
            if name in known:
                hv_type = name
                hyp = self.build_hypervisor(known[name], values)
            else:
                import difflib

                later = _later_hypervisor(self.profile, name)
                if later:
                    self.note("error", "KC141", later, ("hypervisor", name),
                              hint="this is a Kata 2.x+ configuration: `--profile 4.x` reads "
                              "it as Kata 4.1.0 does; Kata 1.x knows " + ", ".join(known))
                    hyp = HypervisorConfig()
                    continue
                close = difflib.get_close_matches(name.lower(), list(known), n=1)
                self.note("error", "KC106",
                          f"unknown hypervisor [hypervisor.{name}]: Kata loads an all-zero "
                          "hypervisor configuration and refuses it later (VM memory cannot be "
                          "zero)", ("hypervisor", name),
                          hint=(f"did you mean [hypervisor.{close[0]}]? " if close else "")
                          + "names are case-sensitive: " + ", ".join(known))
                hyp = HypervisorConfig()
        return hv_type, hyp

    def build_hypervisor(self, profile: HypervisorProfile, values: dict[str, Any],
                         ) -> HypervisorConfig:
        kind = profile.name
        at = ("hypervisor", kind)
        v = self.section("hypervisor", values, at, profile)
        for key in values:
            if key not in v:
                self.note("warning", "KC107", f"`{key}` means nothing for {kind}: Kata ignores "
                          "it", at + (key,))
        for step in profile.steps:
            step(self, kind, values, v)
        v.update(profile.forced)
        return HypervisorConfig(**v)

    # -- components ---------------------------------------------------------------------
    def proxy(self, runtime_debug: bool) -> ProxyConfig:
        tables = self.raw.tables.get("proxy", [])
        if self.builtin:
            self._ignored_in_shimv2("proxy", tables)
            return ProxyConfig(type=opts.BUILTIN_PROXY, path="", enable_debug=runtime_debug)
        proxy = ProxyConfig(type=opts.KATA_PROXY, path="", enable_debug=False)
        for name, values in self._kata_tables("proxy", "{} proxy type not supported"):
            v = self.section("proxy", values, ("proxy", name))
            v["path"] = self.resolve(v["path"], ("proxy", name, "path"), prefix=False)
            proxy = ProxyConfig(type=opts.KATA_PROXY, **v)
        return proxy

    def agent(self, hyp: HypervisorConfig) -> AgentConfig:
        tables = self.raw.tables.get("agent", [])
        if self.builtin:
            self._ignored_in_shimv2("agent", tables)
            return AgentConfig(long_live_conn=True, use_vsock=hyp.use_vsock)
        agent = AgentConfig()
        for name, values in self._kata_tables("agent", "{} agent type is not supported"):
            agent = AgentConfig(use_vsock=hyp.use_vsock,
                                **self.section("agent", values, ("agent", name)))
        return agent

    def shim(self) -> ShimConfig:
        tables = self.raw.tables.get("shim", [])
        if self.builtin:
            self._ignored_in_shimv2("shim", tables)
            return ShimConfig(type=opts.BUILTIN_SHIM, path="", configured=True)
        shim = ShimConfig(type=opts.KATA_SHIM, path="", configured=False)
        for name, values in self._kata_tables("shim", "{} shim is not supported"):
            v = self.section("shim", values, ("shim", name))
            v["path"] = self.resolve(v["path"], ("shim", name, "path"))
            shim = ShimConfig(type=opts.KATA_SHIM, configured=True, **v)
        return shim

    def _kata_tables(self, section: str, refusal: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """The [section.kata] tables; any other name is refused with `refusal` (the CLI)."""
        for name, values in self.raw.tables.get(section, []):
            if name != opts.COMPONENT_TABLE:
                self.fail(refusal.format(name), (section, name), code="KC041",
                          hint=f"the only {section} table is [{section}.{opts.COMPONENT_TABLE}]")
                continue
            yield name, values

    def _ignored_in_shimv2(self, section: str, tables: list[tuple[str, dict[str, Any]]]) -> None:
        for name, values in tables:
            if values:
                self.note("note", "KC108", f"[{section}.{name}] is ignored by the shim v2 "
                          "(containerd-shim-kata-v2)", (section, name))

    # -- kernel parameters (spec 5) ---------------------------------------------------------
    def kernel_params(self, hyp: HypervisorConfig, agent: AgentConfig) -> HypervisorConfig:
        from katacfg.profiles.kata1x.hypervisors import runtime_kernel_params

        params = runtime_kernel_params(hyp)
        params += self.agent_params(agent)
        table = self._hv_table()
        for key, value in hyp.kernel_params:
            if not key:
                self.fail("Empty kernel parameter", ("hypervisor", table, "kernel_params"),
                          code="KC031", hint=f"`={value}` has no name before '='")
                continue
            params.append((key, value))
        return hyp.replace(kernel_params=tuple(params))

    def agent_params(self, agent: AgentConfig) -> list[tuple[str, str]]:
        mode, kind = agent.trace_mode, agent.trace_type
        at = ("agent", opts.AGENT_TYPE)
        if agent.enable_tracing:
            if mode == "":
                mode = "dynamic"
            elif mode not in opts.TRACE_MODES:
                self.fail(f'invalid kata agent trace mode: "{mode}" (need "dynamic" or "static")',
                          at + ("trace_mode",), code="KC032",
                          hint="trace_mode must be dynamic or static")
                return []
            if kind == "":
                kind = "isolated"
            elif kind not in opts.TRACE_TYPES:
                self.fail(f'invalid kata agent trace type: "{kind}" (need "isolated" or '
                          '"collated")', at + ("trace_type",), code="KC032",
                          hint="trace_type must be isolated or collated")
                return []
        out = []
        if agent.enable_debug:
            out.append(("agent.log", "debug"))
        if agent.enable_tracing and mode == "static":
            out.append(("agent.trace", kind))
        return out

    def _hv_table(self) -> str:
        tables = self.raw.tables.get("hypervisor", [])
        return tables[-1][0] if tables else "qemu"

    def experimental(self, given: tuple[str, ...]) -> tuple[str, ...]:
        from katacfg.config.registry import EXPERIMENTAL_FEATURES
        from katacfg.gocompat.strconv import quote

        names = []
        for name in given:
            if name not in EXPERIMENTAL_FEATURES:
                self.fail(f"Unsupported experimental feature {quote(name)}",
                          ("runtime", "experimental"), code="KC042",
                          hint="known features: " + ", ".join(EXPERIMENTAL_FEATURES))
                continue
            names.append(name)
        return tuple(names)


def _later_hypervisor(profile: Any, name: str) -> str | None:
    """The verdict on [hypervisor.<name>] when a later Kata generation knows that name."""
    if not profile.extra.get("later_generation"):
        return None
    from katacfg.profiles.kata4x.vocabulary import GENERATION, later_hypervisor

    if not later_hypervisor(name):
        return None
    return (f"[hypervisor.{name}] is a {GENERATION} hypervisor: Kata 1.x does not know it, "
            "loads an all-zero hypervisor configuration and refuses it later (VM memory "
            "cannot be zero)")
