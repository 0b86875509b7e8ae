"""Command-line entry points: thin wrappers over :func:`forecast.pipeline.run` and
:func:`forecast.compare.compare`.

Bad input or config exits 2 with one line on stderr and no traceback; SIGINT / SIGTERM exit 130 / 143
with the run recorded as ``interrupted``. Only light modules are imported before the signal handlers
are set, so an interrupt during start-up is one line too.
"""
from __future__ import annotations

import argparse
import difflib
import logging
import os
import re
import signal
import sys

from forecast.errors import ForecastInputError, ModelFitError, RunInterrupted

log = logging.getLogger("forecast")
_failure: list[BaseException] = []  # a single run's exception, re-raised after Hydra returns
# config groups a user picks options from on the command line; an option is a file name, never a path
CHOICE_GROUPS = ("model", "data", "backtest", "risk", "report", "scenario", "experiment", "sweep", "paths")
_OPTION = re.compile(r"^(?:glob\([^/]*\)|[A-Za-z0-9_.\-]+(?:,[A-Za-z0-9_.\-]+)*)$")


def _raise_interrupted(signum, frame) -> None:
    raise RunInterrupted(signum)


def install_signal_handlers() -> None:
    """SIGINT and SIGTERM (what Ctrl-C, SLURM, docker and systemd send) raise RunInterrupted."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _raise_interrupted)


def check_choices(argv: list[str]) -> None:
    """Config-group choices name files of ``configs/<group>/``: no paths, no ``..``."""
    for arg in argv:
        key, sep, value = arg.lstrip("+~").partition("=")
        if sep and key in CHOICE_GROUPS and value not in ("null", "") and (
                ".." in value or not _OPTION.match(value)):
            raise ForecastInputError(f"'{value}' is not an option name (options are files of configs/{key}/, "
                                     "named without a path)", column=key, hint="see `forecast --help`")


def _hydra_app():
    import hydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from forecast import config

    config.register()

    @hydra.main(version_base="1.3", config_path=config.config_dir(), config_name="run")
    def app(cfg) -> None:
        from forecast.pipeline import run

        multirun = HydraConfig.get().mode == RunMode.MULTIRUN
        try:
            result = run(cfg)
        except (ForecastInputError, ModelFitError) as e:
            if multirun:  # recorded in the job's metrics.json; the other sweep jobs go on
                log.error("job failed; recorded in metrics.json: %s", e)
                return
            _failure.append(e)  # raised by main() without Hydra's extra stderr line
            return
        except Exception as e:
            if multirun:
                raise
            _failure.append(e)
            return
        if cfg.task.value == "data":
            print(result.data_summary)
        print(result.folder)
        print(result.report_path if result.report_path else "no report (report=none or task=data)")

    return app


_NOISE = ("reference_type", "object_type", "Set the environment", "To append to your config", "Config search path",
          "provider=", "invalid literal")


def _one_line(exc: BaseException) -> str:
    """The messages of an exception chain on one line, keeping the offending config key."""
    parts, key, seen = [], None, set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        for line in str(exc).splitlines():
            line = line.strip()
            if line.startswith("full_key:"):
                key = key or line.split(":", 1)[1].strip()
            elif line and not line.startswith(_NOISE) and "$VALUE" not in line and line not in parts:
                parts.append(line)
        exc = exc.__cause__ or exc.__context__
    text = "; ".join(p.rstrip(".:;") for p in parts).replace("'model':; ", "'model': ")
    return f"{text} (config key: {key})" if key and key not in text else text


def _is_config_error(exc: BaseException) -> bool:
    import yaml
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    return isinstance(exc, (HydraException, OmegaConfBaseException, yaml.YAMLError))


def did_you_mean(message: str) -> str:
    """' Did you mean risk.horizons?' for the unknown key a config error names ('' if none is close)."""
    found = re.search(r"(?:Key|override|key) '([\w.]+)'", message)
    if not found:
        return ""
    from forecast.config import known_keys

    wrong = found.group(1)
    keys = known_keys()
    leaf = wrong.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(wrong, keys, n=3, cutoff=0.75)
    close += [k for k in keys if k not in close and difflib.get_close_matches(leaf, [k.rsplit(".", 1)[-1]], cutoff=0.8)]
    return f" Did you mean {' or '.join(close[:3])}?" if close else ""


def _in_chain(exc: BaseException | None, types_: tuple) -> BaseException | None:
    """The first exception of one of ``types_`` in ``exc``'s cause/context chain."""
    seen = set()
    while exc is not None and id(exc) not in seen and not isinstance(exc, types_):
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return exc if isinstance(exc, types_) else None


def _guarded(entry, prog: str) -> None:
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let exceptions reach us; we print one line instead
    try:
        entry()
    except SystemExit:
        raise
    except KeyboardInterrupt as e:  # RunInterrupted (SIGINT / SIGTERM) or a plain Ctrl-C
        signum = getattr(e, "signum", signal.SIGINT)
        print(f"{prog}: interrupted ({signal.Signals(signum).name}); any run was recorded as interrupted",
              file=sys.stderr)
        sys.exit(128 + int(signum))
    except Exception as e:  # noqa: BLE001 - the last line of defence of a command-line tool
        known = _in_chain(e, (ForecastInputError, ModelFitError))
        if known is not None:
            print(f"{prog}: error: {known}", file=sys.stderr)
            sys.exit(2)
        if _is_config_error(e):
            text = _one_line(e)
            print(f"{prog}: config error: {text}.{did_you_mean(text)} See `{prog} --help` for groups, options "
                  "and keys.", file=sys.stderr)
            sys.exit(2)
        io = _in_chain(e, (OSError,))
        if io is not None:  # a folder that is read-only, full or not a folder; a file that cannot be read
            where = f"{io.filename}: " if io.filename else ""
            print(f"{prog}: error: {where}{io.strerror or io}. Check that the path exists and is writable "
                  "(paths.experiments_dir, paths.reports_dir) or readable (data.*)", file=sys.stderr)
            sys.exit(2)
        log.debug("internal error", exc_info=True)
        print(f"{prog}: internal error: {type(e).__name__}: {e} (please report it with the run's run.log)",
              file=sys.stderr)
        sys.exit(1)


def main() -> None:
    """``forecast``: the Hydra app (``--help`` lists models, experiments, scenarios and sweeps)."""
    install_signal_handlers()

    def entry():
        argv = sys.argv[1:]
        if any(a in ("--help", "-h") for a in argv):
            from forecast.config import help_text

            print(help_text())
            return
        check_choices(argv)
        _failure.clear()
        _hydra_app()()
        if _failure:
            raise _failure[0]

    _guarded(entry, "forecast")


def compare_main(argv: list[str] | None = None) -> None:
    """``forecast-compare DIR [DIR ...]``: leaderboard CSV and comparison PDF of run or sweep folders."""
    install_signal_handlers()
    parser = argparse.ArgumentParser(prog="forecast-compare", description=compare_main.__doc__)
    parser.add_argument("dirs", nargs="+", help="run folders or sweep folders holding run folders")
    parser.add_argument("--reports-dir", default=None, help="where the comparison PDF goes (default: reports/)")
    parser.add_argument("--out-dir", default=None,
                        help="where leaderboard.csv goes (default: experiments/comparisons/<id>)")
    parser.add_argument("--no-report", action="store_true", help="write the leaderboard CSV only")
    parser.add_argument("--allow-mixed", action="store_true",
                        help="rank runs on different data, backtest periods or horizons anyway (the "
                             "leaderboard's 'comparable' column flags the runs that differ)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="forecast-compare: %(levelname)s: %(message)s")

    def entry():
        from forecast.compare import compare

        result = compare(args.dirs, reports_dir=args.reports_dir, out_dir=args.out_dir,
                         report=not args.no_report, allow_mixed=args.allow_mixed)
        print(result.leaderboard_path)
        print(result.report_path if result.report_path else "no report (--no-report)")

    _guarded(entry, "forecast-compare")


def report_main(argv: list[str] | None = None) -> None:
    """``forecast-report RUN_DIR``: re-render a run's PDF from its record folder alone; prints the PDF path.

    With SOURCE_DATE_EPOCH set, the same record gives the same bytes. A folder that is not a readable run
    record exits 2 with one line on standard error.
    """
    install_signal_handlers()
    parser = argparse.ArgumentParser(
        prog="forecast-report", description="Re-render the PDF of a run from its record folder alone.",
        epilog="Default output: where the run put its PDF (metrics.json report_path, else paths.reports_dir/"
               "<run_id>.pdf of config_resolved.yaml) when that folder exists, else RUN_DIR/<run_id>.pdf.")
    parser.add_argument("run_dir", help="a run folder (holding metrics.json)")
    parser.add_argument("--out", default=None, help="where the PDF goes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="forecast-report: %(levelname)s: %(message)s")

    def entry():
        from pathlib import Path

        from forecast.report.record import RecordError, load_record
        from forecast.report.run_report import build_report, default_pdf_path

        try:
            view = load_record(args.run_dir)
            builder = build_report(view)
        except RecordError:
            raise
        except (KeyError, ValueError, TypeError, AttributeError, IndexError) as e:  # a malformed record
            raise RecordError(f"{args.run_dir}: not a readable run record ({type(e).__name__}: {e})") from None
        path = Path(args.out) if args.out else default_pdf_path(view)
        print(builder.save(path))

    _guarded(entry, "forecast-report")
