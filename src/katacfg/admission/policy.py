"""katacfg policy: Kata's annotation rules as a Kubernetes ValidatingAdmissionPolicy.

For each Kata target (the runtime classes whose pods reach one Kata configuration through
one CRI filter), two policies and their bindings are generated:

- `katacfg-<name>`: the refusals Kata would make that can be decided without the node:
  the enable_annotations gate, the value parsers (Go ParseBool, ParseUint(v, 10, 32),
  enums), the path allow-lists as string checks, the asset paths that must be absolute,
  virtio-fs without a daemon, and the CPU bounds when the node's CPU count is given.
  Actions: [Warn, Audit], or [Deny] with `deny=True`.
- `katacfg-<name>-notices`: what the pod asks for that never reaches Kata (annotations the
  CRI filter drops) or that only the node can decide. Always [Warn, Audit]: never denials.

Every validation is self-contained CEL (no composition variables), guarded so that a pod
without annotations, a pod container, or (shim v2) a pod that chooses its own Kata
configuration file is never refused. The rules come from the annotation registry and the
Go-compatibility modules; nothing here restates a rule.

failurePolicy is Ignore: Kata itself enforces every rule when the sandbox is created, so
the policy only moves the verdict earlier. If the policy cannot be evaluated (an API server
without a CEL function, a cost limit reached by a pathological pod), the pod must not be
refused: the worst outcome is then today's (Kata refuses at sandbox creation).
"""
from __future__ import annotations

from katacfg.admission import celcost as c
from katacfg.admission import celgen as g
from katacfg.admission.celgen import lit, lit_list
from katacfg.admission.selection import Target
from katacfg.config.model import Config
from katacfg.config.records import Record
from katacfg.config.registry import EXPERIMENTAL_FEATURES, HYPERVISOR_PREFIX, KATA_PREFIX, Annotation
from katacfg.gocompat import strconv
from katacfg.gocompat.re2 import compile_go, regexp_contains
from katacfg.kube import cri
from katacfg.profiles.kata1x import options as glob_ann
from katacfg.profiles.kata1x.tables import ALL_ANNOTATIONS, ANNOTATIONS_BY_NAME

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

A = "object.metadata.annotations"
HAS = "has(object.metadata.annotations)"
HP_LEN = len(HYPERVISOR_PREFIX)
API_VERSION = "admissionregistration.k8s.io/v1"
# Longest value quoted in a message (longer ones are cut): the API server falls back to
# `message` when a messageExpression gives more than 5 KiB.
MESSAGE_VALUE_MAX = 512

# A kernel_params word with no name: '=' at the start or after Go white space
# (unicode.IsSpace: \t-\r, U+0085 and the Unicode separators, Z).
EMPTY_PARAM = "(?:^|[\\t-\\r\\x{85}\\p{Z}])="
# Go strconv.ParseBool's spellings, from gocompat (one definition).
BOOL_SPELLINGS = sorted(strconv._TRUE | strconv._FALSE)


class Validation(Record):
    expression: str
    message: str
    message_expression: str | None = None
    rule: str = ""  # what it checks, for the report and tests
    annotation: str = ""  # the annotation it is about ("" = several)
    node_dependent: bool = False
    cost: int = 0  # worst-case cel-go cost of `expression` (celcost)

    def as_dict(self) -> dict[str, Any]:
        # The API server refuses a message with a line break (a file name could hold one).
        message = self.message.replace("\n", "\\n").replace("\r", "\\r")
        # reason Forbidden (HTTP 403): kubectl then prints the message; with Invalid (422)
        # and no field causes it prints only `The pods "x" is invalid`.
        d: dict[str, Any] = {"expression": self.expression, "message": message,
                             "reason": "Forbidden"}
        if self.message_expression:
            d["messageExpression"] = self.message_expression
        return d


class PolicySet(Record):
    """The validations generated for one target, before they become API objects."""

    target: Target
    match_condition: str
    kata_file: str  # the Kata configuration the rules come from ("" when none)
    # builders: the generator appends to these lists (always given, never shared defaults)
    refusals: list[Validation]
    notices: list[Validation]
    notes: list[str]  # what the generator could not express


# ----------------------------------------------------------------------------- helpers


# What strconv.Quote escapes and a message shows escaped: backslash and quote first, then
# the controls and spaces most likely in a value. (Each `replace` nests one level deeper;
# CEL parsers cap nesting, cel-cpp at 32, so the list stays short. Other non-printable
# characters are shown as they are.)
QUOTE_ESCAPED = ("\\", '"', "\n", "\t", "\r", "\x00", "\a", "\b", "\f", "\v", "\x1b",
                 "\x7f", "\x85", "\xa0", "\u2028", "\u2029", "\u3000")


def _quote_escapes() -> list[tuple[str, str]]:
    """(character, Go's escape of it) for QUOTE_ESCAPED, from gocompat's strconv.Quote."""
    return [(ch, strconv.quote(ch)[1:-1]) for ch in QUOTE_ESCAPED]


def _quote_go(v: str) -> str:
    """CEL for Go's strconv.Quote(v): exact unless the value holds a non-printable
    character outside QUOTE_ESCAPED (shown as it is)."""
    cut = f"(size({v}) > {MESSAGE_VALUE_MAX} ? {v}.substring(0, {MESSAGE_VALUE_MAX}) : {v})"
    chain = "".join(f".replace({lit(ch)}, {lit(esc)})" for ch, esc in _quote_escapes())
    return f"'\"' + {cut}{chain} + '\"'"


def _raw(v: str) -> str:
    return f"(size({v}) > {MESSAGE_VALUE_MAX} ? {v}.substring(0, {MESSAGE_VALUE_MAX}) + '...' : {v})"


def _val(key: str) -> str:
    return f"{A}[{lit(key)}]"


class _Gen:
    def __init__(self, cfg: Config, target: Target, node_cpus: int | None) -> None:
        self.cfg = cfg
        self.target = target
        self.node_cpus = node_cpus
        self.file = cfg.path or "<embedded default>"
        rt = target.runtime
        self.manager = rt.manager if rt is not None else None
        self.skip = self._skip_condition()
        self.skip_cost = c.skip_cost(len(self._ctype_keys()), self._config_path_skips())

    # --- which annotations reach Kata

    def reaches(self, key: str) -> bool:
        """Whether the CRI passes a pod annotation with this key to Kata (generation time)."""
        return self.target.passes(key)

    def filter_rx(self) -> str | None:
        """containerd: anchored RE2 of the keys pod_annotations passes ("" = none; None =
        no filter on io.katacontainers.* keys)."""
        rt = self.target.runtime
        if rt is None or rt.manager != cri.CONTAINERD:
            return None
        bodies = []
        for p in rt.pod_annotations:
            rx = g.path_match_rx(p)
            if rx is not None:
                bodies.append(rx[1:-1])
        if not bodies:
            return ""
        return "^(?:" + "|".join(bodies) + ")$" if len(bodies) > 1 else "^" + bodies[0] + "$"

    def enabled(self, suffix: str) -> bool:
        return regexp_contains(self.cfg.hypervisor.enable_annotations, suffix)

    def visible(self, ann: Annotation) -> bool:
        """Kata sees it and (hypervisor family) the gate lets it through."""
        if not self.reaches(ann.name):
            return False
        return not ann.name.startswith(self.cfg.kata.gated_prefix) or self.enabled(ann.suffix)

    # --- where a rule lives in the Kata file

    def where(self, key: str, section: str = "hypervisor") -> str:
        cfg = self.cfg
        if section == "hypervisor":
            line = cfg.line_of("hypervisor", cfg.hypervisor_type, key) or cfg.line_of(
                "hypervisor", cfg.hypervisor_type)
            table = f"[hypervisor.{cfg.hypervisor_type}]"
        elif section == "agent":
            line = cfg.line_of("agent", "kata", key) or cfg.line_of("agent", "kata")
            table = "[agent.kata]"
        else:
            line = cfg.line_of(section, key) or cfg.line_of(section)
            table = f"[{section}]"
        at = f"{self.file}:{line}" if line else self.file
        return f"{at} {table} {key}"

    def suffix(self, key: str, rule: str, where: str, extra: str = "") -> str:
        s = f" [katacfg: annotation {key}; rule: {rule}; {where}"
        return s + (f"; {extra}]" if extra else "]")

    # --- guards

    def _ctype_keys(self, deny: bool = False) -> list[str]:
        """The container type keys of the pod that may reach Kata, in Kata's lookup order.

        Without a CRI configuration the CRI is unknown: a pod is skipped when Kata's own
        lookup over its annotations says pod container (never deny what Kata may accept),
        and refused (`deny`) only for an unknown value of the first key, which every
        model agrees reaches Kata first (the CRI adds its own type under a later key).
        CRI-O: the first key only when allowed_annotations lets it through; its own key
        may be replaced by the pod's (skip on `container`), never refused.
        """
        rt = self.target.runtime
        first, second = cri.CONTAINER_TYPE_KEYS[0], cri.CONTAINER_TYPE_KEYS[1]
        if rt is None:
            return [first] if deny else list(cri.CONTAINER_TYPE_KEYS)
        if rt.manager == cri.CONTAINERD:
            return []  # containerd's own io.kubernetes.cri.container-type always wins
        keys = []
        allowed = set(rt.allowed_annotations)
        for w in rt.workloads:
            allowed.update(w.allowed_annotations)
        if first in allowed:
            keys.append(first)
        if not deny:
            keys.append(second)  # a pod value may replace CRI-O's own
        return keys

    def ctype_expr(self, deny: bool = False) -> str | None:
        keys = self._ctype_keys(deny)
        if not keys:
            return None
        expr = "'sandbox'"
        for key in reversed(keys):
            expr = f"({lit(key)} in {A} ? {_val(key)} : {expr})"
        return expr

    def _skip_condition(self) -> str:
        parts = []
        ct = self.ctype_expr()
        if ct is not None:
            parts.append(f"{ct} == 'container'")
        cp = glob_ann.CONFIG_PATH_ANNOTATION
        if self._config_path_skips():
            parts.append(f"({lit(cp)} in {A} && {_val(cp)} != '')")
        return " || ".join(parts)

    def _config_path_skips(self) -> bool:
        return self.target.mode == "shimv2" and self.reaches(glob_ann.CONFIG_PATH_ANNOTATION)

    def base_cost(self, key: str | None = None) -> int:
        """Cost of the guards in front of a rule (and of `!(key in A) ||`)."""
        cost = c.GUARD + self.skip_cost
        if key is not None:
            cost += 1 + c.lookup()
        return cost

    def value_size(self, key: str) -> int:
        return c.B - len(key.encode())

    def wrap(self, rule: str) -> str:
        head = f"!{HAS} || "
        if self.skip:
            head += self.skip + " || "
        return head + rule

    def on_key(self, key: str, ok: str) -> str:
        return self.wrap(f"!({lit(key)} in {A}) || ({ok})")


# ----------------------------------------------------------------------------- the rules


def build(cfg: Config, target: Target, *, node_cpus: int | None = None) -> PolicySet:
    """Every validation Kata's configuration `cfg` implies for pods of `target`."""
    gen = _Gen(cfg, target, node_cpus)
    ps = PolicySet(target, match_condition(target), gen.file, [], [], [])
    _container_type(gen, ps)
    _gate(gen, ps)
    present = sorted((a for a in ALL_ANNOTATIONS if a.order), key=lambda a: a.order)
    fs_after = ANNOTATIONS_BY_NAME[HYPERVISOR_PREFIX + "virtio_fs_daemon"].order
    fs_done = False
    for ann in present:
        if not fs_done and ann.order > fs_after:
            _virtio_fs(gen, ps)
            fs_done = True
        if gen.visible(ann):
            _value_rules(gen, ps, ann)
    if not fs_done:
        _virtio_fs(gen, ps)
    _assets(gen, ps)
    _notices(gen, ps)
    return ps


def match_condition(target: Target) -> str:
    classes = list(target.runtime_classes)
    cond = f"has(object.spec.runtimeClassName) && object.spec.runtimeClassName in {lit_list(classes)}"
    if not classes:
        cond = "false"
    if target.default:
        cond = f"!has(object.spec.runtimeClassName) || ({cond})"
    return f"has(object.spec) && ({cond})"


def _container_type(gen: _Gen, ps: PolicySet) -> None:
    ct = gen.ctype_expr(deny=True)
    if ct is None:
        return
    keys = gen._ctype_keys(deny=True)
    choices = lit_list(list(cri.CONTAINER_TYPE_VALUES))
    text = "Unknown container type "
    where = f"Kata's container type detection ({', '.join(keys)}; allowed: " \
            f"{', '.join(cri.CONTAINER_TYPE_VALUES)})"
    ps.refusals.append(Validation(
        f"!{HAS} || {ct} in {choices}",
        text + "<value>" + gen.suffix(keys[0], "container type", where),
        f"{lit(text)} + {_raw(ct)} + {lit(gen.suffix(' or '.join(keys), 'container type', where))}",
        "container type", "",
        cost=c.GUARD + len(keys) * (2 * c.lookup() + 1) + len(cri.CONTAINER_TYPE_VALUES)))


def _gate(gen: _Gen, ps: PolicySet) -> None:
    cfg = gen.cfg
    patterns = list(cfg.hypervisor.enable_annotations)
    valid = [p for p in patterns if compile_go(p) is not None]
    bad = [p for p in patterns if compile_go(p) is None]
    if bad:
        ps.notes.append(f"{gen.where('enable_annotations')}: entries Go's regexp cannot compile "
                        "match nothing, in Kata and in the policy: "
                        + ", ".join(strconv.quote(b) for b in bad))
    if any(p in g.MATCH_ANY for p in valid):
        return  # every hypervisor annotation passes
    frx = gen.filter_rx()
    if frx == "":
        return  # containerd passes no pod annotation at all
    passes = f" && k.matches({lit(frx)})" if frx else ""
    # Standard CEL where the patterns allow and the cost stays under the limit: one regex
    # on the whole name; otherwise the name after the prefix (`substring`, Kubernetes'
    # strings extension), whichever is cheaper.
    head = f"k.startsWith({lit(HYPERVISOR_PREFIX)}){passes}"
    flen = len(frx.encode()) if frx else 0
    forms: list[tuple[int, str]] = []
    key_rx = g.gate_key_regex(HYPERVISOR_PREFIX, valid) if valid else None
    rx = g.alternation(valid) if valid else None
    if not valid:
        forms.append((_gate_cost(gen, flen, None), head))
    if key_rx is not None:
        forms.append((_gate_cost(gen, flen, ("key", len(key_rx.encode()))),
                      f"{head} && !k.matches({lit(key_rx)})"))
    if rx is not None and (not forms or forms[0][0] > c.PER_CALL_LIMIT):
        forms.append((_gate_cost(gen, flen, ("suffix", len(rx.encode()))),
                      f"{head} && !k.substring({HP_LEN}).matches({lit(rx)})"))
    cost, fails = min(forms) if forms[0][0] > c.PER_CALL_LIMIT else forms[0]
    where = gen.where("enable_annotations")
    shown = "[" + ", ".join(strconv.quote(p) for p in patterns) + "]"
    extra = (f"enable_annotations = {shown} does not match the name after "
             f"{HYPERVISOR_PREFIX}")
    sfx = gen.suffix("<name>", "enable_annotations gate", where, extra)
    msg_expr = (f"'annotation ' + {A}.filter(k, {fails})[0] + ' is not enabled' + "
                + lit(sfx.replace("annotation <name>; ", "")))
    ps.refusals.append(Validation(
        gen.wrap(f"{A}.all(k, !({fails}))"),
        "annotation <name> is not enabled" + sfx, msg_expr, "enable_annotations gate",
        cost=cost))


def _gate_cost(gen: _Gen, flen: int, form: tuple[str, int] | None) -> int:
    """Worst case of the gate's `all` over the annotations, for one way of writing it."""

    def per_key(n: int, hyp: bool, _kata: bool) -> int:
        cost = 1 + 1 + c.t(n)  # !( k.startsWith(prefix)
        if hyp:
            if flen:
                cost += 1 + c.matches(n, flen)
            if form is not None and form[0] == "key":
                cost += 1 + 1 + c.matches(n, form[1])
            elif form is not None:
                cost += 1 + 1 + c.t(n) + c.matches(n - HP_LEN, form[1])
        return cost

    return gen.base_cost() + c.ANNOTATIONS_READ + c.per_key_bound(c.all_macro(per_key))


def _uint_ok(v: str) -> str:
    return f"{v}.matches({lit(g.UINT_GUARD)}) && int({v}) <= {g.UINT32_MAX}"


def _value_rules(gen: _Gen, ps: PolicySet, ann: Annotation) -> None:
    key, kind = ann.name, ann.kind
    v = _val(key)
    where = gen.where(ann.target, ann.family)

    size = gen.value_size(key)
    lk = c.lookup()

    def add(ok: str, text: str, rule: str, msg_expr: str | None = None, *,
            node: bool = False, extra: str = "", cost: int = 0) -> None:
        sfx = gen.suffix(key, rule, where, extra)
        ps.refusals.append(Validation(gen.on_key(key, ok), text + sfx,
                                      (msg_expr + " + " + lit(sfx)) if msg_expr else None,
                                      rule, key, node, gen.base_cost(key) + cost))

    uint_cost = lk + c.matches(size, len(g.UINT_GUARD)) + lk + 2

    if kind == "bool":
        add(f"{v} in {lit_list(BOOL_SPELLINGS)}", ann.error,
            "Go strconv.ParseBool: " + ", ".join(BOOL_SPELLINGS),
            cost=lk + len(BOOL_SPELLINGS))
    elif kind == "uint32":
        ok = _uint_ok(v)
        rule = "Go strconv.ParseUint(v, 10, 32): decimal digits only, at most 4294967295"
        if ann.nonzero:
            add(f"{ok} && int({v}) != 0", ann.error, rule + ", not 0", cost=uint_cost + lk + 2)
        elif "{err}" in ann.error:
            head, tail = ann.error.split("{err}")
            err = (f"'strconv.ParseUint: parsing ' + {_quote_go(v)} + ': ' + "
                   f"({v}.matches({lit(g.UINT32_OVERFLOW_PREFIX)}) ? 'value out of range' "
                   f": 'invalid syntax')")
            add(ok, ann.error.replace("{err}", 'strconv.ParseUint: parsing "<value>": '
                                      "invalid syntax|value out of range"), rule,
                f"{lit(head)} + {err} + {lit(tail)}", cost=uint_cost)
        else:
            add(ok, ann.error, rule, cost=uint_cost)
        if ann.check in ("vcpus", "maxvcpus"):
            _cpu_rules(gen, ps, ann, add, 1 + uint_cost + lk + 2)
    elif kind == "enum":
        head, _, tail = ann.error.partition("{v}")
        add(f"{v} in {lit_list(list(ann.choices))}", ann.error.replace("{v}", "<value>"),
            "one of " + ", ".join(ann.choices),
            f"{lit(head)} + {_raw(v)} + {lit(tail)}" if "{v}" in ann.error else None,
            cost=lk + len(ann.choices))
    elif kind == "restricted":
        _restricted(gen, ann, v, add)
    elif kind == "params":
        add(f"!{v}.matches({lit(EMPTY_PARAM)})",
            ann.error.replace("{err}", "Empty kernel parameter"),
            "every word (split on white space) needs a name before '='",
            cost=1 + lk + c.matches(size, len(EMPTY_PARAM)))
    elif kind == "split" and ann.target == "experimental":
        feats = list(EXPERIMENTAL_FEATURES)
        alt = "|".join(g.re_escape(f) for f in feats)
        head, tail = ann.error.split("{v}")
        feat_rx = f"^(?:{alt})(?: (?:{alt}))*$"
        add(f"{v}.matches({lit(feat_rx)})",
            ann.error.replace("{v}", "<item>"),
            "single-space separated features, each one of " + ", ".join(feats),
            f"{lit(head)} + {v}.split(' ').filter(i, !(i in {lit_list(feats)}))[0] + {lit(tail)}",
            cost=lk + c.matches(size, len(feat_rx)))


def _cpu_rules(gen: _Gen, ps: PolicySet, ann: Annotation, add: Any, cost: int) -> None:
    v = _val(ann.name)
    ok = _uint_ok(v)
    n = gen.node_cpus
    if n is not None:
        if ann.check == "vcpus":
            text = ("Number of cpus {n} specified in annotation default_vcpus is greater than "
                    f"the number of CPUs {n} on the system")
        else:
            text = ("Number of cpus {n} in annotation default_maxvcpus is greater than the "
                    f"number of CPUs {n} on the system")
        head, tail = text.split("{n}")
        add(f"!({ok}) || int({v}) <= {n}", text.replace("{n}", "<value>"),
            f"at most the node's {n} CPUs (--node-cpus: the smallest node of this class)",
            f"{lit(head)} + string(int({v})) + {lit(tail)}", node=True, cost=cost)
    hvp = gen.cfg.kata.hypervisor(gen.cfg.hypervisor_type)
    limit = hvp.annotation_max_vcpus if hvp is not None else 0
    if ann.check == "maxvcpus" and hvp is not None and limit:
        text = ("Number of cpus {n} in annotation default_maxvcpus is greater than max no of "
                f"CPUs {limit} supported for {hvp.name}")
        head, tail = text.split("{n}")
        extra = "" if n is not None else (
            "on a node with fewer CPUs than the value Kata reports the node's CPU count first")
        add(f"!({ok}) || int({v}) <= {limit}", text.replace("{n}", "<value>"),
            f"{hvp.name} supports at most {limit} vCPUs",
            f"{lit(head)} + string(int({v})) + {lit(tail)}", extra=extra, cost=cost)


def _restricted(gen: _Gen, ann: Annotation, v: str, add: Any) -> None:
    allowed = list(getattr(gen.cfg.hypervisor, ann.allowlist))
    literals: list[str] = []
    by_prefix: dict[str, list[g.GlobRx]] = {}
    for pattern in allowed:
        rx = g.glob_rx(pattern)
        if rx is None:
            continue
        if rx.literal is not None:
            literals.append(rx.literal)
        else:
            by_prefix.setdefault(rx.join_prefix, []).append(rx)
    alts = []
    lk, most = c.lookup(), g.GLOB_RESULT_MAX
    cost = lk + 2
    if literals:
        alts.append(f"{v} in {lit_list(literals)}")
        cost += lk + len(literals)
    for group in by_prefix.values():
        bodies = [r.regex or "" for r in group]
        body = "|".join(f"(?:{r})" for r in bodies) if len(bodies) > 1 else bodies[0]
        full = "^(?:" + body + ")$"
        bad = group[0].bad_rx
        alts.append(f"(!{v}.matches({lit(bad)}) && {v}.matches({lit(full)}))")
        cost += 1 + lk + c.matches(most, len(bad.encode())) + lk + c.matches(most, len(full.encode()))
    ok = f"size({v}) <= {g.GLOB_RESULT_MAX} && ({' || '.join(alts)})" if alts else "false"
    head, tail = ann.error.split("{v}")
    shown = "[" + ", ".join(strconv.quote(p) for p in allowed) + "]"
    add(ok, ann.error.replace("{v}", "<value>"),
        f"filepath.Glob of {ann.allowlist} = {shown} must return the value",
        f"{lit(head)} + {_raw(v)} + {lit(tail)}",
        extra=f"{gen.where(ann.allowlist)}; a value matching a pattern must also exist on "
              "the node, which cannot be checked here", cost=cost)


def _virtio_fs(gen: _Gen, ps: PolicySet) -> None:
    h = gen.cfg.hypervisor
    sfs = ANNOTATIONS_BY_NAME[HYPERVISOR_PREFIX + "shared_fs"]
    dmn = ANNOTATIONS_BY_NAME[HYPERVISOR_PREFIX + "virtio_fs_daemon"]
    terms = []
    for ann, current, want in ((sfs, h.shared_fs, "== 'virtio-fs'"),
                               (dmn, h.virtio_fs_daemon, "== ''")):
        if gen.visible(ann):
            terms.append(f"({lit(ann.name)} in {A} ? {_val(ann.name)} : {lit(current)}) {want}")
        else:
            terms.append(f"{lit(current)} {want}")
    text = "cannot enable virtio-fs without daemon path"
    sfx = gen.suffix(sfs.name, "virtio-fs needs virtio_fs_daemon", gen.where("virtio_fs_daemon"))
    expr = f"!{HAS} || " + (gen.skip + " || " if gen.skip else "") + f"!({' && '.join(terms)})"
    if gen.cfg.hypervisor.shared_fs != "virtio-fs" and not gen.visible(sfs):
        return  # cannot become virtio-fs
    if gen.cfg.hypervisor.virtio_fs_daemon and not gen.visible(dmn):
        return  # the daemon stays set
    ps.refusals.append(Validation(expr, text + sfx, None, "virtio-fs needs a daemon",
                                  sfs.name, cost=gen.base_cost() + 2 * (3 * c.lookup() + 2)))


def _assets(gen: _Gen, ps: PolicySet) -> None:
    from katacfg.config.overlay import assets

    for ann, _hash in assets(gen.cfg.kata):
        key = ann.name
        if not gen.visible(ann):
            continue
        v = _val(key)
        sfx = gen.suffix(key, "asset paths must be absolute",
                         f"{gen.file} (Kata's asset stage, after the overrides)")
        ps.refusals.append(Validation(
            gen.on_key(key, f"{v} == '' || {v}.startsWith('/')"),
            "<value> is not an absolute path" + sfx,
            f"{_raw(v)} + ' is not an absolute path' + {lit(sfx)}",
            "asset path absolute", key,
            cost=gen.base_cost(key) + 2 * c.lookup() + 2 + c.t(gen.value_size(key))))


def _notices(gen: _Gen, ps: PolicySet) -> None:
    rt = gen.target.runtime
    frx = gen.filter_rx()
    if rt is not None and frx is not None:
        kp = lit(KATA_PREFIX)
        drops = f"k.startsWith({kp})" + (f" && !k.matches({lit(frx)})" if frx else "")
        pats = "[" + ", ".join(strconv.quote(p) for p in rt.pod_annotations) + "]"
        text = (f"is dropped by containerd: no pod_annotations pattern of runtime "
                f"\"{rt.name}\" ({rt.location()}) matches it (patterns: {pats}), so Kata "
                f"never sees it; add \"{KATA_PREFIX}*\" to pod_annotations")
        flen = len(frx.encode()) if frx else 0

        def per_key(n: int, _hyp: bool, kata: bool) -> int:
            return 1 + 1 + c.t(n) + ((2 + c.matches(n, flen)) if kata and frx else 0)

        ps.notices.append(Validation(
            f"!{HAS} || {A}.all(k, !({drops}))",
            "an io.katacontainers.* annotation " + text,
            f"'annotation ' + {A}.filter(k, {drops})[0] + ' ' + {lit(text)}",
            "dropped by the CRI", "",
            cost=c.GUARD + c.ANNOTATIONS_READ + c.per_key_bound(c.all_macro(per_key))))
    cp = glob_ann.CONFIG_PATH_ANNOTATION
    if gen.target.mode == "shimv2" and gen.reaches(cp):
        ps.notices.append(Validation(
            f"!{HAS} || !({lit(cp)} in {A}) || {_val(cp)} == ''",
            f"the pod chooses its own Kata configuration file with {cp}: the shim v2 loads "
            f"it instead of {gen.file}, so katacfg's checks of this pod are skipped",
            None, "config_path", cp, cost=c.GUARD + 2 * c.lookup() + 3))
    from katacfg.config.overlay import assets

    hashes = [h for _ann, h in assets(gen.cfg.kata)]
    hashes = [h for h in hashes if gen.reaches(h) and gen.enabled(h[HP_LEN:])]
    if hashes:
        ps.notices.append(Validation(
            f"!{HAS} || !(" + " || ".join(f"{lit(h)} in {A}" for h in hashes) + ")",
            "an asset hash annotation is checked by Kata against the file on the node "
            "(SHA-512, lower-case hex); this policy cannot read it", None,
            "asset hash", "", cost=c.GUARD + 1 + len(hashes) * (c.lookup() + 1)))


# ----------------------------------------------------------------------------- objects


def objects(ps: PolicySet, *, deny: bool = False, name: str | None = None
            ) -> list[dict[str, Any]]:
    """The ValidatingAdmissionPolicy and binding objects of one target (named
    katacfg-<handler>, or `name`)."""
    from katacfg.admission import celcost

    base = name or object_name(ps.target)
    out = []
    for suffix, validations, actions in (
            ("", ps.refusals, ["Deny"] if deny else ["Warn", "Audit"]),
            ("-notices", ps.notices, ["Warn", "Audit"])):
        if not validations:
            continue
        name = base + suffix
        cost = celcost.worst_case(validations)
        policy = {
            "apiVersion": API_VERSION,
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {
                "name": name,
                "labels": {"app.kubernetes.io/managed-by": "katacfg"},
                "annotations": {
                    "katacfg.io/kata-config": ps.kata_file,
                    "katacfg.io/runtime-handler": ps.target.handler or "",
                    "katacfg.io/worst-case-cost": str(max(cost, default=0)),
                },
            },
            "spec": {
                "failurePolicy": "Ignore",
                "matchConstraints": {
                    "resourceRules": [{
                        "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                        "resources": ["pods"]}],
                },
                "matchConditions": [{"name": "kata-runtime-class",
                                     "expression": ps.match_condition}],
                "validations": [v.as_dict() for v in validations],
            },
        }
        binding = {
            "apiVersion": API_VERSION,
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "katacfg"}},
            "spec": {"policyName": name, "validationActions": actions},
        }
        out += [policy, binding]
    return out


def target_name(target: Target) -> str:
    """The handler, or the runtime class when no CRI configuration names one."""
    return target.handler or (target.runtime_classes[0] if target.runtime_classes else "kata")


def object_name(target: Target) -> str:
    """A DNS subdomain name: katacfg-<handler>, lower case, invalid characters replaced."""
    import re

    clean = re.sub(r"[^a-z0-9.-]+", "-", target_name(target).lower()).strip("-.") or "default"
    return ("katacfg-" + clean)[:240].rstrip("-.")

