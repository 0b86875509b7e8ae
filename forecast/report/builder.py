"""A small multi-page PDF builder: fixed A4-landscape pages, margins, heading, caption and footer.

Only this module creates figures; plotting functions take an ``ax``.
"""
from __future__ import annotations

import datetime as dt
import io
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

from forecast.records import atomic_write_bytes  # noqa: E402

logging.getLogger("fontTools").setLevel(logging.WARNING)  # font subsetting chatter

PAGE = (11.69, 8.27)  # A4 landscape, inches
MARGIN = 0.06  # left/right margin as a fraction of the page width
BODY_TOP, BODY_BOTTOM = 0.86, 0.10  # the band pages draw into (figure fractions)
STYLE = {"pdf.fonttype": 42, "ps.fonttype": 42, "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9,
         "legend.fontsize": 8, "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False,
         "axes.spines.right": False}


@dataclass
class Page:
    heading: str
    draw: Callable[[plt.Figure], None]
    caption: str = ""


def created_at() -> dt.datetime:
    """Now, or SOURCE_DATE_EPOCH when set (reproducible bytes)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.timezone.utc)
    return dt.datetime.now(tz=dt.timezone.utc).replace(microsecond=0)


def body_axes(fig: plt.Figure, rect: tuple[float, float, float, float]) -> plt.Axes:
    """Axes at ``rect`` = (left, bottom, width, height) in fractions of the body band."""
    left, bottom, width, height = rect
    span_w, span_h = 1 - 2 * MARGIN, BODY_TOP - BODY_BOTTOM
    return fig.add_axes((MARGIN + left * span_w, BODY_BOTTOM + bottom * span_h, width * span_w,
                         height * span_h))


def draw_table(ax: plt.Axes, frame: pd.DataFrame, *, decimals: int | dict[str, int] = 3,
               bold_min: list[str] = (), bold_max: list[str] = (), fontsize: float = 8,
               col_widths: list[float] | None = None):
    """A table of ``frame`` on ``ax``: numbers right-aligned with fixed decimals, text left-aligned;
    the best value of each ``bold_min``/``bold_max`` column in bold. Returns the Table artist."""
    ax.axis("off")
    cells, aligns = [], []
    for col in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[col]) and not pd.api.types.is_bool_dtype(frame[col])
        d = decimals.get(col, 3) if isinstance(decimals, dict) else decimals
        if numeric:
            cells.append(["" if pd.isna(v) else (f"{v:.{d}f}" if isinstance(v, (float, np.floating)) else f"{v}")
                          for v in frame[col]])
        else:
            cells.append([str(v) for v in frame[col]])
        aligns.append("right" if numeric else "left")
    rows = [list(r) for r in zip(*cells)] if len(frame) else []
    table = ax.table(cellText=rows or [[""] * len(frame.columns)], colLabels=[str(c) for c in frame.columns],
                     loc="upper center", cellLoc="right", colWidths=col_widths)
    table.auto_set_font_size(False)
    table.set_fontsize(fontsize)
    for (r, c), cell in table.get_celld().items():
        cell.set_linewidth(0.3)
        cell.get_text().set_horizontalalignment("center" if r == 0 else aligns[c])
        if r == 0:
            cell.get_text().set_fontweight("bold")
            cell.set_facecolor("#eeeeee")
    for cols, pick in ((bold_min, np.nanargmin), (bold_max, np.nanargmax)):
        for col in cols:
            values = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
            if col in frame and np.isfinite(values).any():
                table[(int(pick(values)) + 1, list(frame.columns).index(col))].get_text().set_fontweight("bold")
    table.scale(1, 1.25)
    return table


def text_block(fig: plt.Figure, lines: list[str], *, top: float = 1.0, size: float = 10,
               family: str = "sans-serif", spacing: float = 1.5) -> None:
    """Lines of text from ``top`` of the body band downwards."""
    ax = body_axes(fig, (0, 0, 1, top))
    ax.axis("off")
    ax.text(0, 1, "\n".join(lines), va="top", ha="left", fontsize=size, family=family, linespacing=spacing,
            transform=ax.transAxes, wrap=True)


class ReportBuilder:
    """Collect pages, then write them to one PDF with page furniture and metadata."""

    def __init__(self, title: str, subject: str, keywords: str, run_id: str, model: str):
        self.title, self.subject, self.keywords = title, subject, keywords
        self.run_id, self.model = run_id, model
        self.pages: list[Page] = []

    def add(self, heading: str, draw: Callable[[plt.Figure], None], caption: str = "") -> None:
        self.pages.append(Page(heading, draw, caption))

    def add_text_pages(self, heading: str, lines: list[str], *, per_page: int = 48, size: float = 7.5) -> None:
        """Long monospaced text (config, versions) split over as many pages as needed."""
        chunks = [lines[i:i + per_page] for i in range(0, max(len(lines), 1), per_page)]
        for i, chunk in enumerate(chunks):
            suffix = f" ({i + 1}/{len(chunks)})" if len(chunks) > 1 else ""
            self.add(heading + suffix, lambda fig, c=chunk: text_block(fig, c, size=size, family="monospace",
                                                                        spacing=1.25))

    def _furniture(self, fig: plt.Figure, page: Page, number: int, total: int) -> None:
        fig.text(MARGIN, 0.935, page.heading, fontsize=15, fontweight="bold", va="bottom")
        fig.add_artist(plt.Line2D([MARGIN, 1 - MARGIN], [0.925, 0.925], color="#888888", lw=0.6))
        if page.caption:
            fig.text(MARGIN, 0.905, page.caption, fontsize=9, style="italic", color="#333333", va="top")
        fig.add_artist(plt.Line2D([MARGIN, 1 - MARGIN], [0.055, 0.055], color="#bbbbbb", lw=0.4))
        fig.text(MARGIN, 0.03, f"{self.title}  ·  run {self.run_id}  ·  model {self.model}", fontsize=7,
                 color="#555555")
        fig.text(1 - MARGIN, 0.03, f"page {number}/{total}", fontsize=7, color="#555555", ha="right")

    def render(self) -> bytes:
        created = created_at()
        buffer = io.BytesIO()
        metadata = {"Title": self.title, "Subject": self.subject, "Keywords": self.keywords,
                    "Author": "forecast", "Creator": f"forecast (run {self.run_id})", "CreationDate": created}
        with plt.rc_context(STYLE), PdfPages(buffer, metadata=metadata) as pdf:
            for i, page in enumerate(self.pages, start=1):
                fig = plt.figure(figsize=PAGE)
                try:
                    self._furniture(fig, page, i, len(self.pages))
                    page.draw(fig)
                    pdf.savefig(fig)
                finally:
                    plt.close(fig)
        return buffer.getvalue()

    def save(self, path: str | Path) -> Path:
        """Render and write atomically (a killed run never leaves a half-written PDF)."""
        return atomic_write_bytes(path, self.render())
