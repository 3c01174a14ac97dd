#!/usr/bin/env python3
"""Run every benchmark in one process run and print measured ratios against their targets.

    .venv/bin/python benchmarks/run.py            # all
    .venv/bin/python benchmarks/run.py load       # only benchmarks whose name contains "load"

Each bench_*.py module exposes run() -> list of {name, ratio, target, detail}. Ratios are
measured side by side in this run (interleaved repetitions, medians), never stored.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main(argv: list[str]) -> int:
    wanted = [a for a in argv if not a.startswith("-")]
    rows = []
    for path in sorted(HERE.glob("bench_*.py")):
        module = importlib.import_module(path.stem)
        for row in module.run():
            if wanted and not any(w in row["name"] for w in wanted):
                continue
            rows.append(row)
            ok = "ok  " if row["ratio"] <= row["target"] else "MISS"
            print(f"{ok} {row['name']:<58} ratio {row['ratio']:5.2f}  (target <= "
                  f"{row['target']:.2f})  {row['detail']}", flush=True)
    missed = [r for r in rows if r["ratio"] > r["target"]]
    print(f"{len(rows) - len(missed)}/{len(rows)} within target")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
