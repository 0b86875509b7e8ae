"""A small multi-page PDF builder: fixed A4-landscape pages, margins, heading, caption and footer.

Only this module creates figures; plotting functions take an ``ax``. Text is what a page costs to render
(about 40 microseconds of CPU per character with embedded TrueType fonts), so pages are drawn with few
text objects and one regular and one bold face (no italics, no monospace: each face is one more font
to subset and embed).
"""
from __future__ import annotations

import datetime as dt
import functools
import io
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.collections import LineCollection, PolyCollection  # noqa: E402
from matplotlib.transforms import Bbox, BboxTransformTo, TransformedBbox  # noqa: E402

from forecast.records import atomic_write_bytes  # noqa: E402

logging.getLogger("fontTools").setLevel(logging.WARNING)  # font subsetting chatter

PAGE = (11.69, 8.27)  # A4 landscape, inches
MARGIN = 0.06  # left/right margin as a fraction of the page width
BODY_TOP, BODY_BOTTOM = 0.86, 0.10  # the band pages draw into (figure fractions)
STYLE = {"pdf.fonttype": 42, "ps.fonttype": 42, "font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans"],
         "font.size": 9, "axes.titlesize": 9, "axes.titleweight": "bold", "axes.labelsize": 8,
         "legend.fontsize": 7.5, "xtick.labelsize": 7.5, "ytick.labelsize": 7.5, "axes.spines.top": False,
         "axes.spines.right": False, "text.parse_math": False, "axes.titlelocation": "left",
         "axes.linewidth": 0.6, "axes.unicode_minus": False, "xtick.major.width": 0.6, "ytick.major.width": 0.6,
         "legend.frameon": False}
INK, MUTED, WARN, GOOD = "#222222", "#555555", "#B2182B", "#1B7837"
# no ligatures: a ligature glyph (fi, fl, ff) has no character of its own, so the PDF would embed a second
# subset of the font for it (~0.1 s each) and text extraction would read "ﬁ" for "fi"
NO_LIGATURES = ("-liga", "-clig")
_LIGATURE = re.compile("f[fil]")  # pairs DejaVu Sans would draw as one ligature glyph
CHAR_WIDTH_EM = 0.56  # mean advance of DejaVu Sans text in ems (for wrapping without a renderer)


@dataclass
class Page:
    heading: str
    draw: Callable[[plt.Figure], None]
    caption: str = ""


def created_at() -> dt.datetime:
    """Now, or SOURCE_DATE_EPOCH when set (reproducible bytes)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC)
    return dt.datetime.now(tz=dt.UTC).replace(microsecond=0)


def body_axes(fig: plt.Figure, rect: tuple[float, float, float, float]) -> plt.Axes:
    """Axes at ``rect`` = (left, bottom, width, height) in fractions of the body band."""
    left, bottom, width, height = rect
    span_w, span_h = 1 - 2 * MARGIN, BODY_TOP - BODY_BOTTOM
    return fig.add_axes((MARGIN + left * span_w, BODY_BOTTOM + bottom * span_h, width * span_w,
                         height * span_h))


def body_box(rect: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """``rect`` in body fractions as (left, bottom, width, height) in figure fractions."""
    left, bottom, width, height = rect
    span_w, span_h = 1 - 2 * MARGIN, BODY_TOP - BODY_BOTTOM
    return MARGIN + left * span_w, BODY_BOTTOM + bottom * span_h, width * span_w, height * span_h


_PLAIN = str.maketrans({"≥": ">=", "≤": "<=", "−": "-", "–": "-", "—": "-", "…": "...", "‘": "'", "’": "'",
                        "“": '"', "”": '"', "√": "sqrt ", "μ": "µ", "→": "->", "≈": "~", "\u00a0": " "})


def plain(text: str) -> str:
    """``text`` in Latin-1 where a plain equivalent exists (>= for ≥, - for − and –, ... for …): every
    character outside Latin-1 makes the PDF embed a second subset of its font, which costs ~0.1 s."""
    return str(text).translate(_PLAIN)


@functools.cache
def _advances(bold: bool) -> dict[str, float]:
    """Advance widths (ems) of the Latin-1 characters in the report's face (for wrapping without a renderer)."""
    from matplotlib.font_manager import FontProperties, findfont, get_font

    font = get_font(findfont(FontProperties(family=STYLE["font.sans-serif"], weight="bold" if bold else "normal")))
    font.set_size(100, 72)
    out = {}
    for code in [*range(32, 127), *range(160, 256)]:
        try:
            out[chr(code)] = font.load_char(code).linearHoriAdvance / 65536 / 100
        except (RuntimeError, ValueError):
            out[chr(code)] = CHAR_WIDTH_EM
    return out


def text_width(text: str, size: float, bold: bool = False) -> float:
    """The width of one line of ``text`` at ``size`` points, in inches."""
    adv = _advances(bold)
    return sum(adv.get(c, CHAR_WIDTH_EM) for c in text) * size / 72


def wrap(text: str, width_in: float, size: float, bold: bool = False) -> list[str]:
    """``text`` wrapped to lines that fit ``width_in`` inches at ``size`` points (measured advances)."""
    adv = _advances(bold)
    limit = width_in * 72 / size  # in ems
    space = adv[" "]
    lines = []
    for para in str(text).split("\n"):
        line, used = [], 0.0
        for word in para.split(" "):
            w = sum(adv.get(c, CHAR_WIDTH_EM) for c in word)
            if line and used + space + w > limit:
                lines.append(" ".join(line))
                line, used = [word], w
            else:
                used += (space if line else 0.0) + w
                line.append(word)
        lines.append(" ".join(line))
    return lines or [""]


def line_height(size: float, spacing: float = 1.3) -> float:
    """The height of one text line as a fraction of the page height."""
    return size * spacing / 72 / PAGE[1]


def text_lines(fig: plt.Figure, x: float, top: float, lines: Sequence[str], *, size: float, spacing: float = 1.2,
               **kwargs) -> list:
    """Lines of text from ``top`` (figure fraction: the top of the first line) down, ``row_pitch(size)``
    apart (``spacing`` is accepted for callers and ignored: lines use the face's own line height).

    Lines are drawn as one multi-line Text of "normal" spacing (every line gets the face's ascent and
    descent, so baselines are evenly spaced), except lines with an f-ligature pair, which get a Text of
    their own on the same baseline: a multi-line Text is shaped without the ligature switch, and a
    ligature glyph would cost a second font subset."""
    asc, desc, gap = _face_metrics()
    pitch = row_pitch(size) / 72 / PAGE[1]
    first = (asc + gap / 2) * size / 72 / PAGE[1]
    out = []
    run: list[str] = []

    def flush(end: int) -> None:  # the run of lines ending before line ``end``
        if not run:
            return
        start = end - len(run)
        if len(run) == 1:
            out.append(fig.text(x, top - first - start * pitch, run[0], fontsize=size, va="baseline", **kwargs))
        else:
            out.append(fig.text(x, top - start * pitch, "\n".join(run), fontsize=size, va="top", linespacing="normal",
                                **kwargs))
        run.clear()

    for i, line in enumerate(lines):
        if _LIGATURE.search(line):
            flush(i)
            out.append(fig.text(x, top - first - i * pitch, line, fontsize=size, va="baseline", **kwargs))
        elif line:
            run.append(line)
        else:
            flush(i)
    flush(len(lines))
    return out


class Flow:
    """Paragraphs laid out top-down in a column of the page (figure fractions), one Text per line.

    ``x``/``width`` in body fractions; ``y`` is the current top (body fraction, 1 = top of the body).
    """

    def __init__(self, fig: plt.Figure, x: float, width: float, top: float = 1.0):
        self.fig = fig
        self.x, self.y0, self.w, self.h = body_box((x, 0, width, 1))
        self.top = self.y0 + top * self.h
        self.width_in = self.w * PAGE[0]

    @property
    def y(self) -> float:
        """The current top as a body fraction."""
        return (self.top - self.y0) / self.h

    def skip(self, lines: float = 0.6, size: float = 9) -> None:
        self.top -= lines * line_height(size)

    def para(self, text: str, *, size: float = 9, weight: str = "normal", color: str = INK, indent: float = 0.0,
             spacing: float = 1.3, after: float = 0.35, bullet: bool = False) -> list:
        """A wrapped paragraph (``bullet`` hangs in the margin of the first line). Returns the artists."""
        if not text:
            return []
        indent_in = indent + (0.16 if bullet else 0.0)
        lines = wrap(plain(text), self.width_in - indent_in, size, bold=weight == "bold")
        x = self.x + indent_in / PAGE[0]
        artists = text_lines(self.fig, x, self.top, lines, size=size, spacing=spacing, fontweight=weight,
                             color=color)
        if bullet:  # a drawn dot, not a glyph (U+2022 would cost a second font subset)
            y = self.top - 0.55 * row_pitch(size) / 72 / PAGE[1]
            artists.append(self.fig.add_artist(plt.Line2D([self.x + (indent + 0.05) / PAGE[0]], [y], marker="o",
                                                          ms=size * 0.28, color=color, lw=0)))
        self.top -= len(lines) * row_pitch(size) / 72 / PAGE[1] + after * line_height(size)
        return artists

    def heading(self, text: str, size: float = 10.5) -> list:
        return self.para(text, size=size, weight="bold", after=0.25)

    def advance(self, body_fraction: float, gap_lines: float = 0.0, size: float = 9) -> None:
        """Move down by ``body_fraction`` of the body band (and ``gap_lines`` text lines)."""
        self.top -= body_fraction * (BODY_TOP - BODY_BOTTOM) + gap_lines * line_height(size)

    def table(self, header, rows, *, size: float = 7.5, header_lines: int = 1, x: float | None = None,
              width: float | None = None, after: float = 0.8, **kwargs) -> list:
        """A :func:`grid_table` at the current position (``x``/``width`` in body fractions, default the
        column's), then move below it."""
        span_w = 1 - 2 * MARGIN
        x = (self.x - MARGIN) / span_w if x is None else x
        width = self.w / span_w if width is None else width
        n = len(header)
        widths = kwargs.get("widths") or [1 / n] * n
        header_lines = header_lines_of(header, widths, width * span_w * PAGE[0], size, header_lines)
        h = table_height(len(rows), size, header_lines)
        artists = grid_table(Region(self.fig, body_box((x, self.y - h, width, h))), header, rows, size=size,
                             header_lines=header_lines, **kwargs)
        self.advance(h, after)
        return artists


def shorten_to(text: str, width_in: float, size: float, bold: bool = False) -> str:
    """``text`` cut at a word boundary (with '...') so that it fits ``width_in`` inches at ``size``."""
    text = str(text)
    if text_width(text, size, bold) <= width_in:
        return text
    words = text.split(" ")
    while len(words) > 1 and text_width(" ".join(words) + "...", size, bold) > width_in:
        words.pop()
    out = " ".join(words).rstrip(",;:-")
    while len(out) > 1 and text_width(out + "...", size, bold) > width_in:
        out = out[:-1]
    return out + "..."


PAD_IN = 0.05  # space inside each table cell, inches


def _header_cells(header, widths, width_in: float, size: float) -> list[list[str]]:
    """Header cells as lines: explicit newlines kept, otherwise wrapped to the column."""
    cell_in = [max(w * width_in - 2 * PAD_IN, 0.1) for w in widths]
    return [plain(h).split("\n") if "\n" in str(h) else wrap(plain(h), cell_in[c], size, bold=True) if str(h) else []
            for c, h in enumerate(header)]


def header_lines_of(header, widths, width_in: float, size: float, minimum: int = 1) -> int:
    """How many lines the header of a :func:`grid_table` ``width_in`` inches wide takes (0: no header)."""
    heads = _header_cells(header, widths, width_in, size)
    return max([len(h) for h in heads] + [minimum]) if any(heads) else 0


class Region:
    """A rectangle of a figure (``rect`` = left, bottom, width, height in figure fractions) to draw into
    in its own 0..1 coordinates, without the cost of an Axes (a table needs no ticks)."""

    def __init__(self, fig: plt.Figure, rect: tuple[float, float, float, float]):
        self.fig, self.rect = fig, rect
        self.transform = BboxTransformTo(TransformedBbox(Bbox.from_bounds(*rect), fig.transFigure))
        self.width_in, self.height_in = rect[2] * fig.get_figwidth(), rect[3] * fig.get_figheight()

    @classmethod
    def of(cls, target) -> Region:
        if isinstance(target, Region):
            return target
        target.axis("off")  # an Axes: draw in its rectangle
        return cls(target.figure, tuple(target.get_position().bounds))

    def text(self, x: float, y: float, s: str, **kwargs):
        return self.fig.text(x, y, s, transform=self.transform, **kwargs)

    def add(self, artist):
        artist.set_transform(self.transform)
        return self.fig.add_artist(artist)


def grid_table(target, header: Sequence[str], rows: Sequence[Sequence[str]], *,
               widths: Sequence[float] | None = None, aligns: Sequence[str] | None = None, size: float = 7.5,
               bold: set[tuple[int, int]] = frozenset(), colors: dict[tuple[int, int], str] | None = None,
               header_lines: int = 1, rules_every: int = 0, row_shade: Sequence[int] = (), fit: bool = True) -> list:
    """A light table in ``target`` (a :class:`Region`, or an Axes that is turned off): a header, rows of
    already formatted strings, rules.

    ``widths`` are column widths as fractions of the target (default equal); ``aligns`` "left"/"right"
    per column (default: first left, others right); ``bold``/``colors`` are keyed (row, column), row -1 =
    the header; header cells wrap to their column (at least ``header_lines`` lines; an all-empty header
    is left out); ``row_shade`` rows get a grey band; ``fit`` cuts cells that would overrun their column.
    Each column is drawn as one multi-line Text per style, rows ``row_pitch(size)`` apart, so a table
    costs a few artists, not one per cell. Returns the artists.
    """
    reg = Region.of(target)
    n_cols = len(header)
    widths = list(widths) if widths is not None else [1 / n_cols] * n_cols
    aligns = list(aligns) if aligns is not None else ["left"] + ["right"] * (n_cols - 1)
    colors = colors or {}
    width_in, height_in = reg.width_in, reg.height_in
    rh = row_pitch(size) / 72 / height_in  # fraction of the region per row
    pad = PAD_IN / width_in
    cell_in = [max(w * width_in - 2 * PAD_IN, 0.1) for w in widths]
    heads = _header_cells(header, widths, width_in, size)
    n_head = max([len(h) for h in heads] + [header_lines]) if any(heads) else 0
    hh = (n_head * 1.15 * size / 72 / height_in + 0.25 * rh) if n_head else 0.0
    lefts = np.concatenate([[0], np.cumsum(widths)[:-1]])
    artists = []
    right_edge = float(sum(widths))

    def x_of(c: int) -> float:
        return lefts[c] + pad if aligns[c] == "left" else lefts[c] + widths[c] - pad

    asc, desc, gap = _face_metrics()
    head_pitch = 1.15 * size / 72 / height_in
    for c, lines in enumerate(heads):  # header cells bottom-aligned above the rule, one Text per line
        for j, line in enumerate(lines):
            y = 1 - hh + rh * 0.12 + (len(lines) - 1 - j) * head_pitch + desc * size / 72 / height_in
            artists.append(reg.text(x_of(c), y, line, ha=aligns[c], va="baseline", fontsize=size, fontweight="bold",
                                    color=colors.get((-1, c), INK)))
    top = 1 - hh
    first_baseline = (gap / 2 + asc) * size / 72 / height_in
    for c in range(n_cols):
        styles: dict[tuple[str, str], list[str]] = {}
        for r, row in enumerate(rows):
            weight = "bold" if (r, c) in bold else "normal"
            text = plain(row[c]) if c < len(row) else ""
            if fit and text:
                text = shorten_to(text, cell_in[c], size, weight == "bold")
            if _LIGATURE.search(text):  # its own Text (on the row's baseline), shaped without ligatures
                artists.append(reg.text(x_of(c), top - first_baseline - r * rh, text, ha=aligns[c], va="baseline",
                                        fontsize=size, fontweight=weight, color=colors.get((r, c), INK)))
                text = ""
            styles.setdefault((colors.get((r, c), INK), weight), [""] * len(rows))[r] = text
        for (color, weight), lines in styles.items():
            if any(lines):  # "normal" spacing: every line gets the face's ascent and descent, so rows align
                artists.append(reg.text(x_of(c), top, "\n".join(lines), ha=aligns[c], va="top", fontsize=size,
                                        fontweight=weight, color=color, linespacing="normal",
                                        multialignment=aligns[c]))
    if row_shade:
        boxes = [[(0, top - (r + 1) * rh), (right_edge, top - (r + 1) * rh), (right_edge, top - r * rh),
                  (0, top - r * rh)] for r in row_shade]
        artists.append(reg.add(PolyCollection(boxes, facecolors="#f0f0f0", edgecolors="none", zorder=0)))
    segments = [[(0, top), (right_edge, top)]] if n_head else []
    if rules_every:
        segments += [[(0, top - r * rh), (right_edge, top - r * rh)]
                     for r in range(rules_every, len(rows), rules_every)]
    bottom = top - len(rows) * rh
    segments.append([(0, bottom), (right_edge, bottom)])
    artists.append(reg.add(LineCollection(segments, colors="#999999", linewidths=0.5)))
    return artists


def table_at(fig: plt.Figure, x: float, top: float, width: float, header, rows, *, size: float = 7.5,
             header_lines: int = 1, **kwargs) -> float:
    """A :func:`grid_table` whose top-left corner is at (``x``, ``top``) in body fractions, ``width`` wide
    and as tall as it needs; returns that height (body fraction)."""
    n = len(header)
    widths = kwargs.get("widths") or [1 / n] * n
    lines = header_lines_of(header, widths, width * (1 - 2 * MARGIN) * PAGE[0], size, header_lines)
    h = table_height(len(rows), size, lines)
    grid_table(Region(fig, body_box((x, top - h, width, h))), header, rows, size=size, header_lines=lines, **kwargs)
    return h


@functools.cache
def _face_metrics() -> tuple[float, float, float]:
    """(ascender, descender, line gap) in ems: what matplotlib spaces lines of "normal" spacing by."""
    from matplotlib.font_manager import FontProperties, findfont, get_font

    font = get_font(findfont(FontProperties(family=STYLE["font.sans-serif"])))
    upem = font.get_sfnt_table("head")["unitsPerEm"]
    t = font.get_sfnt_table("OS/2")
    if t:
        return t["sTypoAscender"] / upem, -t["sTypoDescender"] / upem, t["sTypoLineGap"] / upem
    t = font.get_sfnt_table("hhea")
    return t["ascent"] / upem, -t["descent"] / upem, t["lineGap"] / upem


def row_pitch(size: float) -> float:
    """The distance (points) between the lines of a multi-line text of "normal" spacing at ``size``."""
    a, d, gap = _face_metrics()
    return (a + d + gap) * size


def table_height(n_rows: int, size: float = 7.5, header_lines: int = 1) -> float:
    """The height (body fraction) a :func:`grid_table` of ``n_rows`` rows needs (with a header of
    ``header_lines`` lines; 0 for none)."""
    head = header_lines * 1.15 * size + 0.25 * row_pitch(size) if header_lines else 0.0
    return (head + (n_rows + 0.3) * row_pitch(size)) / 72 / ((BODY_TOP - BODY_BOTTOM) * PAGE[1])


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


def page_texts(fig: plt.Figure) -> list:
    """The Text artists a page holds before it is drawn (figure texts, axes texts, titles, labels, legends),
    found without creating tick labels (``findobj`` would make every axis build its ticks)."""
    out = list(fig.texts)
    for legend in fig.legends:
        out += legend.texts
    for ax in fig.axes:
        out += list(ax.texts) + [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label]
        legend = ax.get_legend()
        if legend is not None:
            out += legend.texts
    return out


class ReportBuilder:
    """Collect pages, then write them to one PDF with page furniture and metadata."""

    def __init__(self, title: str, subject: str, keywords: str, run_id: str, model: str):
        self.title, self.subject, self.keywords = title, subject, keywords
        self.run_id, self.model = run_id, model
        self.pages: list[Page] = []

    def add(self, heading: str, draw: Callable[[plt.Figure], None], caption: str = "") -> None:
        self.pages.append(Page(heading, draw, caption))

    def add_text_pages(self, heading: str, lines: list[str], *, per_page: int = 48, size: float = 7.5) -> None:
        """Long text (config, versions) split over as many pages as needed."""
        chunks = [lines[i:i + per_page] for i in range(0, max(len(lines), 1), per_page)]
        for i, chunk in enumerate(chunks):
            suffix = f" ({i + 1}/{len(chunks)})" if len(chunks) > 1 else ""
            self.add(heading + suffix, lambda fig, c=chunk: text_block(fig, c, size=size, spacing=1.25))

    def _furniture(self, fig: plt.Figure, page: Page, number: int, total: int) -> None:
        fig.text(MARGIN, 0.935, plain(page.heading), fontsize=15, fontweight="bold", va="bottom", color=INK)
        fig.add_artist(plt.Line2D([MARGIN, 1 - MARGIN], [0.925, 0.925], color="#888888", lw=0.6))
        if page.caption:
            lines = wrap(plain(page.caption), (1 - 2 * MARGIN) * PAGE[0], 9)
            text_lines(fig, MARGIN, 0.912, lines[:2], size=9, spacing=1.25, color=MUTED)
        fig.add_artist(plt.Line2D([MARGIN, 1 - MARGIN], [0.055, 0.055], color="#bbbbbb", lw=0.4))
        fig.text(MARGIN, 0.03, plain(f"run {self.run_id}  ·  model {self.model}"), fontsize=7,
                 color=MUTED)
        fig.text(1 - MARGIN, 0.03, f"page {number}/{total}", fontsize=7, color=MUTED, ha="right")

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
                    for text in page_texts(fig):  # ligature glyphs would need a second font subset
                        text.set_fontfeatures(NO_LIGATURES)
                    pdf.savefig(fig)
                finally:
                    plt.close(fig)
        return buffer.getvalue()

    def save(self, path: str | Path) -> Path:
        """Render and write atomically (a killed run never leaves a half-written PDF)."""
        return atomic_write_bytes(path, self.render())
