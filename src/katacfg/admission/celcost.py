"""Worst-case CEL cost of the generated validations, by hand, from cel-go's cost model.

No CEL engine here tracks cost, so every generated expression carries an upper bound
computed from the model of cel-go v0.17 (interpreter/runtimecost.go, the version
Kubernetes 1.29 and 1.30 use) and Kubernetes' own estimator for the strings extension:

- reading a variable, a field or a map entry: 1 each (SelectAndIdentCost)
- a constant: 0; `&&`, `||`, `?:`: 0 themselves (only their operands count)
- a call without a size-dependent cost (`!`, `in` on a map, `int()`, `size()`, `has()`,
  comparisons of numbers, `@not_strictly_false` of the `all` macro): 1
- `s.startsWith(p)`: ceil(0.1 * size(s)) (v0.17 sizes the receiver)
- `s == t`, `s != t`: ceil(0.1 * min(size(s), size(t)))
- `s.matches(re)`: ceil(0.1 * (1 + size(s))) * ceil(0.25 * size(re))
- `x in list`: size(list)
- `s.substring(i)` (Kubernetes' estimator): ceil(0.1 * size(s))
- creating a list: 10

A pod's annotations are at most 256 KiB, keys plus values (ANNOTATIONS_SIZE_LIMIT). Sizes
are counted in bytes, which is never less than CEL's size in code points, so every bound
here is an over-estimate. Kubernetes stops an expression above 1,000,000
(PerCallLimit) and a policy above 10,000,000 (RuntimeCELCostBudget); see
docs/policy-cost.md for the derivation and the figures of the stock configuration.
"""
from __future__ import annotations

import math

from katacfg.admission.celgen import ANNOTATIONS_SIZE_LIMIT

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

PER_CALL_LIMIT = 1_000_000
POLICY_BUDGET = 10_000_000
B = ANNOTATIONS_SIZE_LIMIT

# Annotation keys are qualified names: [prefix/]name, the name 1-63 characters that begin
# and end with a letter or digit. So there are only 62 keys of one byte and 62 * 62 of two.
KEYS_OF_LENGTH = {1: 62, 2: 62 * 62}
MAX_KEY = 253 + 1 + 63
HV_KEY_MIN = len("io.katacontainers.config.hypervisor.") + 1
KATA_KEY_MIN = len("io.katacontainers.") + 1

ANNOTATIONS_READ = 3  # object.metadata.annotations
GUARD = ANNOTATIONS_READ + 2  # !has(object.metadata.annotations)


def t(n: int) -> int:
    """ceil(0.1 * n): cel-go's string traversal factor."""
    return -(-n // 10)


def rx(pattern_len: int) -> int:
    """ceil(0.25 * size(re)): cel-go's regex length factor."""
    return math.ceil(pattern_len / 4)


def matches(size: int, pattern_len: int) -> int:
    return 1 + t(1 + size) * rx(pattern_len)


def lookup() -> int:
    """object.metadata.annotations['key']."""
    return ANNOTATIONS_READ + 1


def skip_cost(ctype_keys: int, config_path: bool) -> int:
    """The guard that lets pod containers and pods with their own config file through."""
    cost = 0
    if ctype_keys:
        cost += ctype_keys * (lookup() + 1 + lookup()) + 1  # k in A ? A[k] : ...; == 'container'
    if config_path:
        cost += (lookup() + 1) + lookup() + 1
    return cost


def per_key_bound(cost_of: Callable[[int, bool, bool], int]) -> int:
    """Upper bound of sum(cost_of(len(k), is_hypervisor, is_kata)) over the keys of any
    valid annotation map of at most 256 KiB: a fractional knapsack over key lengths."""
    classes = []  # (rate, length, available)
    for length in range(1, MAX_KEY + 1):
        best = cost_of(length, False, False)
        if length >= KATA_KEY_MIN:
            best = max(best, cost_of(length, False, True))
        if length >= HV_KEY_MIN:
            best = max(best, cost_of(length, True, True))
        classes.append((best / length, length, KEYS_OF_LENGTH.get(length, B)))
    classes.sort(reverse=True)
    left, total = B, 0.0
    for rate, length, available in classes:
        take = min(available * length, left)
        total += take * rate
        left -= take
        if left <= 0:
            break
    return math.ceil(total)


def all_macro(pred: Callable[[int, bool, bool], int]) -> Callable[[int, bool, bool], int]:
    """Per-key cost of `A.all(k, pred)`: loop condition (2), accumulator (1), predicate."""
    return lambda n, hv, kata: 2 + 1 + pred(n, hv, kata)


def worst_case(validations: Iterable[object]) -> list[int]:
    return [int(getattr(v, "cost", 0)) for v in validations]
