"""CPU time of the run report: ``write_run_report(record_folder, pdf)`` on a default-run record.

Target (issue #15 "speed"): at most 1 s of CPU for the default run's PDF (it was about 5 s).

Without RUN_DIR the script first makes a default-run record in a temporary folder (an in-process
``forecast`` run: fit, forecast, 960-origin backtest; about a minute). Then it renders the PDF
``--repeat`` times (after one untimed warm-up that loads fonts and modules) and prints the CPU seconds
(``time.process_time``: on this shared 2-core machine other jobs inflate wall time much more than CPU
time) and wall seconds of each, the number of pages, characters drawn and the PDF size, and where the
time goes (record loading, building the pages, drawing, embedding the fonts).

``--old`` also times the previous report (``git show HEAD:forecast/report/*.py``, loaded as a separate
package) on the same run, interleaved with the new one, when the working tree differs from HEAD: a
ratio measured side by side is what survives a busy machine.

Run: ``python benchmarks/bench_report.py [RUN_DIR] [--repeat 5] [--old]``
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("SOURCE_DATE_EPOCH", "1767225600")  # reproducible bytes: sizes comparable across runs

import argparse  # noqa: E402
import io  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from _common import ROOT, header  # noqa: E402

CPU_TARGET_S = 1.0


def default_run(tmp: Path, report: bool = True):
    """The default experiment, in process, with its outputs under ``tmp``: the RunResult."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    from forecast import config
    from forecast.pipeline import run

    config.register()
    with initialize_config_dir(version_base="1.3", config_dir=config.config_dir()):
        cfg = compose(config_name="run", overrides=[f"paths.experiments_dir={tmp}/experiments",
                                                    f"paths.reports_dir={tmp}/reports",
                                                    f"paths.output_dir={tmp}/experiments/runs/bench",
                                                    f"report.enabled={str(report).lower()}"],
                      return_hydra_config=True)
    HydraConfig().set_config(cfg)
    return run(cfg)


def timed(fn) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - cpu, time.perf_counter() - wall


def breakdown(folder: Path) -> dict[str, float]:
    """CPU seconds of loading the record, building the pages, drawing them, and closing the PDF (fonts)."""
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.text import Text

    from forecast.report.builder import NO_LIGATURES, PAGE, STYLE, page_texts
    from forecast.report.record import load_record
    from forecast.report.run_report import build_report

    out = {}
    t = time.process_time()
    view = load_record(folder)
    out["load record"] = time.process_time() - t
    t = time.process_time()
    b = build_report(view)
    out["plan pages"] = time.process_time() - t
    out["lay out pages"] = out["draw pages"] = 0.0
    chars = 0
    with plt.rc_context(STYLE), PdfPages(io.BytesIO()) as pdf:
        for i, page in enumerate(b.pages, 1):
            t = time.process_time()
            fig = plt.figure(figsize=PAGE)
            b._furniture(fig, page, i, len(b.pages))
            page.draw(fig)
            for text in page_texts(fig):
                text.set_fontfeatures(NO_LIGATURES)
            out["lay out pages"] += time.process_time() - t
            t = time.process_time()
            pdf.savefig(fig)
            out["draw pages"] += time.process_time() - t
            chars += sum(len(text.get_text()) for text in fig.findobj(Text))  # after drawing: tick labels too
            plt.close(fig)
        t = time.process_time()
    out["embed fonts, close"] = time.process_time() - t
    out["characters (not time)"] = chars
    return out


def load_old_report(tmp: Path):
    """HEAD's forecast/report/{builder,figures,run_report}.py as package ``_old_report`` (None if absent)."""
    pkg = tmp / "_old_report"
    pkg.mkdir(exist_ok=True)
    for name in ("builder", "figures", "run_report"):
        try:
            src = subprocess.run(["git", "show", f"HEAD:forecast/report/{name}.py"], cwd=ROOT, capture_output=True,
                                 text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return None
        src = src.replace("from forecast.report import figures as F", "from _old_report import figures as F")
        src = src.replace("from forecast.report.builder import", "from _old_report.builder import")
        (pkg / f"{name}.py").write_text(src)
    (pkg / "__init__.py").write_text("")
    sys.path.insert(0, str(tmp))
    import importlib

    return importlib.import_module("_old_report.run_report")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", help="a run record folder (default: make a default-run record)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--old", action="store_true", help="also time HEAD's report on the same run")
    args = parser.parse_args()
    header("run report: write_run_report(record folder, pdf)")
    from pypdf import PdfReader

    from forecast.report.run_report import write_run_report

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        result = None
        if args.run_dir:
            folder = Path(args.run_dir)
        else:
            print("making a default-run record (in-process forecast run) ...", flush=True)
            t = time.perf_counter()
            result = default_run(tmp, report=True)
            folder = result.folder
            print(f"  done in {time.perf_counter() - t:.0f} s: {folder}\n")
        pdf = tmp / "report.pdf"
        write_run_report(folder, pdf)  # warm-up: fonts, modules, caches
        old = None
        if args.old:
            if result is None:
                print("--old needs the in-process run (no RUN_DIR): skipped\n")
            else:
                old = load_old_report(tmp)
                if old is None:
                    print("--old: HEAD's report not found: skipped\n")
                else:
                    try:
                        old.write_run_report(result, tmp / "old.pdf")
                    except Exception as e:  # noqa: BLE001 - the old report may not fit the new record
                        print(f"--old: HEAD's report fails on this run ({type(e).__name__}: {e}): skipped\n")
                        old = None
        new_cpu, new_wall, old_cpu, old_wall = [], [], [], []
        for _ in range(args.repeat):
            c, w = timed(lambda: write_run_report(folder, pdf))
            new_cpu.append(c), new_wall.append(w)
            if old is not None:
                c, w = timed(lambda: old.write_run_report(result, tmp / "old.pdf"))
                old_cpu.append(c), old_wall.append(w)
        pages = len(PdfReader(pdf).pages)
        size = pdf.stat().st_size
        print(f"record: {folder}")
        print(f"new report: {pages} pages, {size / 1024:.0f} KiB")
        print(f"  CPU  s: median {statistics.median(new_cpu):.3f}  min {min(new_cpu):.3f}  "
              f"(all: {', '.join(f'{x:.3f}' for x in new_cpu)})")
        print(f"  wall s: median {statistics.median(new_wall):.3f}  min {min(new_wall):.3f}")
        if old_cpu:
            old_pages = len(PdfReader(tmp / "old.pdf").pages)
            print(f"old report (HEAD): {old_pages} pages, {(tmp / 'old.pdf').stat().st_size / 1024:.0f} KiB")
            print(f"  CPU  s: median {statistics.median(old_cpu):.3f}  min {min(old_cpu):.3f}")
            print(f"  wall s: median {statistics.median(old_wall):.3f}")
            print(f"  new / old CPU: {statistics.median(new_cpu) / statistics.median(old_cpu):.2f}")
        print("\nwhere the CPU time goes (one render):")
        for k, v in breakdown(folder).items():
            print(f"  {k:<24} {v:.3f}" if isinstance(v, float) else f"  {k:<24} {v}")
        best = min(new_cpu)
        print(f"\ntarget <= {CPU_TARGET_S:.1f} s CPU: {'met' if best <= CPU_TARGET_S else 'NOT met'} "
              f"(best {best:.3f} s; median {statistics.median(new_cpu):.3f} s)")


if __name__ == "__main__":
    main()
