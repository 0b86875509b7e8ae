"""Errors a user can act on: bad input files, bad config, models that cannot be fitted."""
from __future__ import annotations

from pathlib import Path


class ForecastInputError(ValueError):
    """Bad input the user can fix: names the file, line and column (or the config key).

    The command line turns it into one line on standard error and exit status 2.
    """

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None,
                 column: str | None = None, hint: str | None = None):
        self.path, self.line, self.column, self.hint = path, line, column, hint
        where = ""
        if path is not None:
            where = f"{path}" + (f":{line}" if line is not None else "")
            where += (f": column '{column}'" if column is not None else "") + ": "
        elif column is not None:
            where = f"{column}: "
        text = where + message.rstrip(".")
        super().__init__(_one_line(text + (f". {hint[0].upper()}{hint[1:]}" if hint else "")))


def _one_line(text: str) -> str:
    """Escape line breaks and other control characters (echoed from bad input, e.g. a quoted value with
    a newline) so the message stays one line on standard error."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class ModelFitError(RuntimeError):
    """A model could not be fitted (degenerate data, optimiser failure); the run records it."""


class RunInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived: the run is recorded as ``interrupted`` and the command exits 128 + signum."""

    def __init__(self, signum: int):
        import signal

        self.signum = int(signum)
        super().__init__(f"interrupted by {signal.Signals(self.signum).name}")
