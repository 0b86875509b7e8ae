"""Speed of the continuous-time exponential Hawkes likelihood and MLE against hawkesbook and tick.

Run from the repository root:  python benchmarks/bench_hawkes_continuous.py [--out PATH] [--quick]

On paths simulated with (baseline 0.5, adjacency 0.6, decay 1.5) holding about 300, 3,000 and 30,000
events, it times (median of repeats) one log-likelihood + gradient evaluation per event and a full
maximum-likelihood fit, ours and, when importable, hawkesbook's (numba; the ``bench`` extra) and
tick's (at fixed decay, its HawkesExpKern vocabulary). It prints a table with the ratios
ours / reference and the relative difference of the maximised log-likelihoods (both evaluated with
our exact likelihood, positive when ours is higher), and writes the table to
``benchmarks/results_hawkes_continuous.md``. Single-threaded: thread variables are set to 1 first.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import interleaved, median  # noqa: E402
from forecast.models.hawkes_continuous import (  # noqa: E402
    fit_mle,
    loglik,
    loglik_and_grad,
    simulate_timestamps,
)

TRUTH = (0.5, 0.6, 1.5)
SIZES = (300, 3_000, 30_000)


def median_times(fns: dict, repeats: int) -> dict:
    """Median wall time of each function, run round-robin so that all see the same machine load."""
    return {name: median(times) for name, times in interleaved(fns, repeats, warmup=0).items()}


def load_hawkesbook():
    try:
        from hawkesbook import hawkes as hb
        return hb, None
    except Exception as exc:  # optional
        return None, f"{type(exc).__name__}: {exc}"


def load_tick(t: np.ndarray, end_time: float):
    """tick's fixed-decay likelihood model, or the reason it cannot be used."""
    try:
        from tick.hawkes import HawkesExpKern
        from tick.hawkes.model import ModelHawkesExpKernLogLik
        ModelHawkesExpKernLogLik(TRUTH[2]).fit([t], end_times=end_time)
        return (ModelHawkesExpKernLogLik, HawkesExpKern), None
    except Exception as exc:  # optional; tick 0.8's Base class fails on Python >= 3.11 (tick issue #521)
        return None, f"{type(exc).__name__}: {exc}"


def bench(n_target: int, quick: bool, hb, tick_mods) -> dict:
    end_time = n_target * (1 - TRUTH[1]) / TRUTH[0]
    t = simulate_timestamps(*TRUTH, end_time=end_time, rng=np.random.default_rng(n_target))
    n = len(t)
    reps_ll = 5 if quick else max(20, int(3e6 // max(n, 1)) // 100)
    reps_fit = 1 if quick else (3 if n > 10_000 else 7)
    p = np.array(TRUTH)
    row = {"n": n, "end_time": end_time}

    ours, ll_ours, _, _ = fit_mle(t, end_time)
    row["ours_params"] = ours
    fixed, ll_fixed, _, _ = fit_mle(t, end_time, decay=TRUTH[2])
    llg = {"ours_llg": lambda: loglik_and_grad(p, t, end_time)}
    fits = {"ours_fit": lambda: fit_mle(t, end_time)}

    if hb is not None:
        theta = np.array([TRUTH[0], TRUTH[1] * TRUTH[2], TRUTH[2]])
        hb.exp_log_likelihood(t[:10], 10.0, theta)  # numba compilation outside the timing
        hb.deriv_exp_log_likelihood(t[:10], 10.0, theta)
        llg["hb_llg"] = lambda: (hb.exp_log_likelihood(t, end_time, theta),
                                 hb.deriv_exp_log_likelihood(t, end_time, theta))
        fits["hb_fit"] = lambda: hb.exp_mle_with_grad(t, end_time)
        # agreement of the two likelihoods at the true parameters
        row["hb_ll_agree"] = abs(hb.exp_log_likelihood(t, end_time, theta) - loglik(p, t, end_time)) / abs(
            loglik(p, t, end_time))
        th = hb.exp_mle_with_grad(t, end_time)
        ref = np.array([th[0], th[1] / th[2], th[2]])
        row["hb_params"] = ref
        row["hb_dll"] = (ll_ours - loglik(ref, t, end_time)) / abs(ll_ours)

    if tick_mods is not None:
        Model, Learner = tick_mods
        model = Model(TRUTH[2]).fit([t], end_times=end_time)
        coeffs = np.array(TRUTH[:2])
        llg["tick_llg"] = lambda: (model.loss(coeffs), model.grad(coeffs))

        def tick_fit():
            learner = Learner(TRUTH[2], gofit="likelihood", penalty="none", solver="bfgs", tol=1e-10,
                              max_iter=1000)
            learner.fit([t], end_times=end_time)
            return learner

        fits["tick_fit"] = tick_fit
        learner = tick_fit()
        ref = np.array([float(np.ravel(learner.baseline)[0]), float(np.ravel(learner.adjacency)[0]), TRUTH[2]])
        row["tick_dll"] = (ll_fixed - loglik(ref, t, end_time)) / abs(ll_fixed)

    row.update(median_times(llg, reps_ll))
    row.update(median_times(fits, reps_fit))
    return row


def fmt_us(seconds: float | None, n: int | None = None) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds / n * 1e9:.1f}" if n else f"{seconds * 1e3:.2f}"


def ratio(a, b) -> str:
    return "n/a" if a is None or b is None else f"{a / b:.2f}"


def table(rows: list[dict]) -> list[str]:
    cols = ["events", "ours llg ns/ev", "hawkesbook llg ns/ev", "ratio", "tick llg ns/ev", "ratio",
            "ours MLE ms", "hawkesbook MLE ms", "ratio", "Δloglik vs hawkesbook", "tick MLE ms",
            "Δloglik vs tick"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---:|" * len(cols)]
    for r in rows:
        n = r["n"]
        cells = [str(n), fmt_us(r["ours_llg"], n), fmt_us(r.get("hb_llg"), n), ratio(r["ours_llg"], r.get("hb_llg")),
                 fmt_us(r.get("tick_llg"), n), ratio(r["ours_llg"], r.get("tick_llg")),
                 fmt_us(r["ours_fit"]), fmt_us(r.get("hb_fit")), ratio(r["ours_fit"], r.get("hb_fit")),
                 f"{r['hb_dll']:.1e}" if "hb_dll" in r else "n/a",
                 fmt_us(r.get("tick_fit")), f"{r['tick_dll']:.1e}" if "tick_dll" in r else "n/a"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).with_name("results_hawkes_continuous.md")))
    parser.add_argument("--quick", action="store_true", help="one repeat, for a smoke run (no file written)")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    hb, hb_err = load_hawkesbook()
    probe = simulate_timestamps(*TRUTH, end_time=20.0, rng=np.random.default_rng(0))
    tick_mods, tick_err = load_tick(probe, 20.0)
    rows = [bench(n, args.quick, hb, tick_mods) for n in SIZES]

    lines = table(rows)
    notes = [
        "llg = one log-likelihood + analytic gradient evaluation (ours: vectorised numpy blocked scan; "
        "hawkesbook: exp_log_likelihood + deriv_exp_log_likelihood, numba, compiled before timing).",
        "MLE: ours fit_mle (L-BFGS-B on (log baseline, adjacency, log decay), analytic gradient, decay-grid "
        "start); hawkesbook exp_mle_with_grad (L-BFGS-B, its gradient, default start (1, 2, 3)).",
        "Δloglik = (ours − reference) / |ours| at the two optima, both evaluated with our exact likelihood "
        "(> 0: ours found the higher maximum). tick compares fixed-decay fits (decay 1.5).",
        f"hawkesbook: {'used' if hb is not None else 'not importable (' + str(hb_err) + ')'}; "
        f"tick: {'used' if tick_mods is not None else 'not usable (' + str(tick_err) + ')'}.",
    ]
    for r in rows:
        if "hb_ll_agree" in r:
            notes.append(f"n={r['n']}: |hawkesbook loglik − ours| / |ours| at the true parameters = "
                         f"{r['hb_ll_agree']:.1e}; ours (b, a, d) = {np.round(r['ours_params'], 5).tolist()}, "
                         f"hawkesbook = {np.round(r['hb_params'], 5).tolist()}")
    print("\n".join(lines))
    print()
    print("\n".join("- " + n for n in notes))
    if args.quick:
        return
    import numpy
    import scipy
    machine = (f"{os.cpu_count()} cores visible, single-threaded; Python {platform.python_version()}, "
               f"numpy {numpy.__version__}, scipy {scipy.__version__}")
    try:
        import numba
        machine += f", numba {numba.__version__}"
    except Exception:
        pass
    if hasattr(os, "getloadavg"):
        machine += (f"; 1-min load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
                    "(other jobs shared the machine)")
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = ["# Continuous-time Hawkes: speed against hawkesbook and tick", "",
            f"Measured {dt.date.today().isoformat()} by `python benchmarks/bench_hawkes_continuous.py` on "
            f"{cpu or 'an unnamed CPU'} ({machine}). Times are medians of repeats; ratios are ours / reference "
            "(< 1: ours faster).", "", *lines, "", *("- " + n for n in notes), ""]
    Path(args.out).write_text("\n".join(text))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
