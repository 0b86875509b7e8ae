"""PDF reports: a page builder, plotting functions, the run report and the comparison report.

``load_record(folder)`` reads a run record into a typed :class:`RunView`; ``write_run_report(folder, pdf)``
renders the run PDF from that folder alone (``forecast-report RUN_DIR`` on the command line).
"""
from __future__ import annotations

from forecast.report.record import RecordError, RunView, load_record

__all__ = ["RecordError", "RunView", "load_record", "write_run_report"]


def __getattr__(name: str):
    if name == "write_run_report":  # imports matplotlib: only when asked for
        from forecast.report.run_report import write_run_report

        return write_run_report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
