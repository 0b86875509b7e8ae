"""Command-line entry points: thin wrappers over :func:`forecast.pipeline.run` and
:func:`forecast.compare.compare`. Bad input or config exits 2 with one line on stderr, no traceback."""
from __future__ import annotations

import argparse
import logging
import os
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from forecast import config
from forecast.errors import ForecastInputError, ModelFitError

log = logging.getLogger("forecast")
config.register()
_failure: list[BaseException] = []  # a single run's exception, re-raised after Hydra returns


@hydra.main(version_base="1.3", config_path=config.config_dir(), config_name="run")
def _hydra_run(cfg: DictConfig) -> None:
    from forecast.pipeline import run

    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    try:
        result = run(cfg)
    except Exception as e:
        if multirun and isinstance(e, ModelFitError):
            log.error("model failed; recorded in metrics.json: %s", e)  # the other sweep jobs go on
            return
        if multirun:
            raise
        _failure.append(e)  # raised by main() without Hydra's extra stderr line
        return
    if cfg.task.value == "data":
        print(result.data_summary)
    print(result.folder)
    print(result.report_path if result.report_path else "no report (report=none or task=data)")


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
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    return isinstance(exc, (HydraException, OmegaConfBaseException))


def _guarded(entry, prog: str) -> None:
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let exceptions reach us; we print one line instead
    try:
        entry()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as e:  # noqa: BLE001 - the last line of defence of a command-line tool
        cause = e
        while cause is not None and not isinstance(cause, (ForecastInputError, ModelFitError)):
            cause = cause.__cause__ or cause.__context__
        if cause is not None:
            print(f"{prog}: error: {cause}", file=sys.stderr)
            sys.exit(2)
        if _is_config_error(e):
            print(f"{prog}: config error: {_one_line(e)}. See `{prog} --help` and configs/ for valid keys "
                  "and options.", file=sys.stderr)
            sys.exit(2)
        log.debug("internal error", exc_info=True)
        print(f"{prog}: internal error: {type(e).__name__}: {e} (please report it with the run's run.log)",
              file=sys.stderr)
        sys.exit(1)


def main() -> None:
    """``forecast``: the Hydra app."""
    def entry():
        _failure.clear()
        _hydra_run()
        if _failure:
            raise _failure[0]

    _guarded(entry, "forecast")


def compare_main(argv: list[str] | None = None) -> None:
    """``forecast-compare DIR [DIR ...]``: leaderboard CSV and comparison PDF of run or sweep folders."""
    parser = argparse.ArgumentParser(prog="forecast-compare", description=compare_main.__doc__)
    parser.add_argument("dirs", nargs="+", help="run folders or sweep folders holding run folders")
    parser.add_argument("--reports-dir", default=None, help="where the comparison PDF goes (default: reports/)")
    parser.add_argument("--out-dir", default=None,
                        help="where leaderboard.csv goes (default: experiments/comparisons/<id>)")
    parser.add_argument("--no-report", action="store_true", help="write the leaderboard CSV only")
    args = parser.parse_args(argv)

    def entry():
        from forecast.compare import compare

        result = compare(args.dirs, reports_dir=args.reports_dir, out_dir=args.out_dir,
                         report=not args.no_report)
        print(result.leaderboard_path)
        print(result.report_path if result.report_path else "no report (--no-report)")

    _guarded(entry, "forecast-compare")
