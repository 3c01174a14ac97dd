"""Kata 1.x's registry as plain tables, for callers that do not take a profile yet.

The registry itself is the sections of katacfg.config.registry, gathered by the 1.x profile
(katacfg.profiles.kata1x.profile); new code takes a KataProfile and reads
`profile.options` / `profile.annotations` instead, so that it works for every profile.
"""
from __future__ import annotations

from katacfg.profiles import get_profile

_P = get_profile("1.x")
SECTIONS = _P.sections
MAP_SECTIONS = _P.map_sections
OPTIONS = _P.options
ANNOTATIONS_BY_NAME = _P.annotations
ALL_ANNOTATIONS = tuple(_P.annotations.values())
