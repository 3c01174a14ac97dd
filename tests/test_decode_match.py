"""decode._match: its one-lookup path for ASCII keys agrees with Go's EqualFold scan."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from katacfg.config.decode import _match, go_equal_fold
from katacfg.profiles.kata1x.tables import OPTIONS

CANDIDATES = {"Hypervisor": 1, "Runtime": 2, "k": 3, "\u212a": 4, "path": 5}  # Kelvin sign


def naive(candidates, key):
    if key in candidates:
        return key
    return next((n for n in candidates if go_equal_fold(n, key)), None)


@given(st.sampled_from(list(OPTIONS)), st.text(alphabet="aAeEhHkKpPtT_\u212a\u017fsS", max_size=12))
def test_match_agrees_with_equal_fold(section, key):
    options = OPTIONS[section]
    assert _match(options, key) == naive(options, key)
    assert _match(CANDIDATES, key) == naive(CANDIDATES, key)


def test_match_names_a_key_case_insensitively():
    options = OPTIONS["hypervisor"]
    assert _match(options, "PATH") == "path"
    assert _match(options, "Default_VCPUs") == "default_vcpus"
    assert _match(options, "nope") is None
    assert _match(CANDIDATES, "K") == "k"  # first match in order, not the Kelvin sign
