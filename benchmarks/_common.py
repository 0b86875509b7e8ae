"""Helpers shared by the benchmark scripts (not part of the package).

Every script sets OMP/OPENBLAS/MKL_NUM_THREADS=1 itself before importing numpy; this module only
holds data loading, timers and table printing.
"""
from __future__ import annotations

import os
import platform
import statistics
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "data" / "events.csv"
TRIGGERS = ROOT / "data" / "triggers.csv"
START, END = "2023-10-17", "2024-12-31"
PERIOD_2024 = [{"name": "2024", "start": "2024-01-01", "end": "2024-12-31"}]


def load_shipped():
    """The shipped default series (militia or unknown attackers, military sites, duplicates merged) over
    2023-10-17..2024-12-31, the window the earlier figures were measured on: (events, counts, triggers)."""
    import forecast
    from forecast.config import DataConfig
    from forecast.data import filter_events

    d = DataConfig()
    events = filter_events(forecast.load_events(EVENTS), attacker=d.attacker, target_type=d.target_type,
                           duplicates=d.duplicates)
    events = events[events["date"] <= END]
    counts = forecast.daily_counts(events, START, END)
    triggers = forecast.load_triggers(TRIGGERS)
    return events, counts, triggers


def header(title: str) -> None:
    """Title plus the machine context the figures depend on."""
    import numpy as np

    threads = {k: os.environ.get(k, "unset") for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                        "MKL_NUM_THREADS")}
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    print(f"== {title} ==")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
          f"load average {load}; threads: " + ", ".join(f"{k}={v}" for k, v in threads.items()))
    print()


def repeat(fn, n: int, warmup: int = 1) -> list[float]:
    """Wall seconds of ``n`` calls of ``fn`` (after ``warmup`` untimed calls)."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def interleaved(fns: dict, n: int, warmup: int = 1) -> dict[str, list[float]]:
    """Time several callables alternately (A B C A B C ...) so that background load on a shared
    machine hits all of them alike; returns the wall seconds of each call per name."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    out = {name: [] for name in fns}
    for _ in range(n):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            out[name].append(time.perf_counter() - t)
    return out


def median(xs) -> float:
    return float(statistics.median(xs))


def table(rows: list[dict], columns: list[str] | None = None, floatfmt: dict | None = None) -> str:
    """Plain-text table: text left-aligned, numbers right-aligned."""
    columns = columns or list(rows[0])
    floatfmt = floatfmt or {}

    def fmt(col, v):
        if isinstance(v, bool):
            return str(v)
        if isinstance(v, float):
            return format(v, floatfmt.get(col, ".4g"))
        return str(v)

    cells = [[fmt(c, r.get(c, "")) for c in columns] for r in rows]
    numeric = [all(isinstance(r.get(c), (int, float)) and not isinstance(r.get(c), bool) for r in rows)
               for c in columns]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]

    def line(values):
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric))

    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells])


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


@contextmanager
def counting_calls(module, name: str):
    """Count calls of ``module.name`` inside the block (and those passing ``hessian=True``)."""
    original = getattr(module, name)
    calls = {"n": 0, "hessian": 0}

    def counted(*args, **kwargs):
        calls["n"] += 1
        calls["hessian"] += bool(kwargs.get("hessian"))
        return original(*args, **kwargs)

    setattr(module, name, counted)
    try:
        yield calls
    finally:
        setattr(module, name, original)
