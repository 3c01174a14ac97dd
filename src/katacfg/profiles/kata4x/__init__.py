"""The Kata 4.x profile (Go runtime tag 4.1.0, src/runtime): its registry, TOML decoder,
config.d drop-ins, annotations, loader and reports, behind the same KataProfile seam as
the 1.x profile (katacfg.profiles)."""
