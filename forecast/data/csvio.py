"""Strict CSV reading that remembers the physical line of every record."""
from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from pathlib import Path

from forecast.errors import ForecastInputError

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NEWLINE = re.compile(r"\r\n|\r|\n")
_NEWLINE_BYTES = re.compile(rb"\r\n|\r|\n")


def _line_at(prefix: bytes | str) -> int:
    """Physical line (1-based) of the position just after ``prefix``; counts \\n, \\r\\n and a lone
    \\r as line breaks, as the CSV reader does."""
    pattern = _NEWLINE_BYTES if isinstance(prefix, bytes) else _NEWLINE
    return len(pattern.findall(prefix)) + 1


def read_text(path: str | Path) -> tuple[str, str]:
    """Read a text file as UTF-8 (a UTF-8 or UTF-16 byte-order mark is honoured), once: returns the text
    and the SHA-256 of the bytes read (a pipe such as /dev/stdin cannot be read twice)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ForecastInputError("file not found", path=path,
                                 hint="check the path (data.events / data.triggers / data.official_counts)") from None
    except IsADirectoryError:
        raise ForecastInputError("is a folder, not a CSV file", path=path) from None
    digest = hashlib.sha256(raw).hexdigest()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), digest
        except UnicodeDecodeError as e:
            start = e.start - (e.start % 2)  # decode the valid prefix to find the line
            line = _line_at(raw[:start].decode("utf-16", errors="replace"))
            raise ForecastInputError(f"invalid UTF-16 text at byte {e.start}", path=path, line=line,
                                     hint="save the file as UTF-8") from None
    if b"\x00" in raw:
        line = _line_at(raw[: raw.index(b"\x00")])
        raise ForecastInputError("contains NUL bytes (binary or UTF-16 without BOM?)", path=path, line=line,
                                 hint="save the file as UTF-8 CSV")
    try:
        return raw.decode("utf-8-sig"), digest
    except UnicodeDecodeError as e:
        line = _line_at(raw[: e.start])
        raise ForecastInputError(f"not valid UTF-8 (byte 0x{raw[e.start]:02x})", path=path, line=line,
                                 hint="save the file as UTF-8") from None


def open_records(path: str | Path, required: list[str]) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]], str]:
    """Check the header of a CSV file now; return ``(header, records, sha256)`` with ``records`` a lazy
    iterator of ``(line, row)`` (see :func:`read_records`) and the SHA-256 of the bytes read. Blank lines
    before the header are skipped."""
    text, digest = read_text(path)
    if not text.strip():
        raise ForecastInputError("file is empty", path=path, line=1,
                                 hint=f"expected a header with columns {', '.join(required)}")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header_line = 1
    try:
        raw_header: list[str] = []
        for raw_header in reader:
            header_line = reader.line_num
            if raw_header and any(c.strip() for c in raw_header):
                break
        header = [h.strip() for h in raw_header]
    except csv.Error as e:
        raise ForecastInputError(f"malformed CSV header ({e})", path=path, line=header_line) from None
    missing = [c for c in required if c not in header]
    if missing:
        raise ForecastInputError(f"missing column(s) {', '.join(missing)}", path=path, line=header_line,
                                 column=missing[0], hint=f"the header must hold {', '.join(required)}")
    dup = sorted({h for h in header if h and header.count(h) > 1})
    if dup:
        raise ForecastInputError("duplicate column name", path=path, line=header_line, column=dup[0])

    def records() -> Iterator[tuple[int, dict[str, str]]]:
        start = reader.line_num + 1
        try:
            for row in reader:
                if not "".join(row).strip():
                    start = reader.line_num + 1
                    continue
                if len(row) > len(header):
                    raise ForecastInputError(f"{len(row)} fields but the header has {len(header)}", path=path,
                                             line=start, hint="quote fields that contain commas")
                row = row + [""] * (len(header) - len(row))
                yield start, {h: v.strip() for h, v in zip(header, row)}
                start = reader.line_num + 1
        except csv.Error as e:
            raise ForecastInputError(f"malformed CSV ({e})", path=path, line=start,
                                     hint="check quotes on this line") from None

    return header, records(), digest


def read_records(path: str | Path, required: list[str]) -> tuple[list[str], list[tuple[int, dict[str, str]]], str]:
    """Parse a CSV file into ``(header, [(line, row), ...], sha256)``, checking the required columns.

    ``line`` is the physical line on which the record starts (the header is line 1), so error
    messages point at the right place even when quoted fields hold newlines.
    """
    header, records, digest = open_records(path, required)
    return header, list(records), digest


def parse_date(value: str, *, path, line: int, column: str, fmt: str | None = None):
    """Parse an ISO date (or ``fmt``) strictly; impossible dates such as 2024-02-30 are errors."""
    import datetime as dt

    value = value.strip()
    if not value:
        raise ForecastInputError("empty date", path=path, line=line, column=column, hint="use YYYY-MM-DD")
    try:
        if fmt is not None:
            return dt.datetime.strptime(value, fmt).date()
        if not _ISO_DATE.match(value):
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ForecastInputError(f"'{value[:40]}' is not a valid calendar date", path=path, line=line,
                                 column=column, hint=f"use {'YYYY-MM-DD' if fmt is None else fmt}") from None


def parse_count(value: str, *, path, line: int, column: str, allow_blank: bool = False) -> int | None:
    """Parse a non-negative integer count ('3', '3.0'); blank allowed only when ``allow_blank``."""
    value = value.strip()
    if not value:
        if allow_blank:
            return None
        raise ForecastInputError("empty count", path=path, line=line, column=column)
    if value.isascii() and value.isdigit() and len(value) <= 7:  # fast path: a plain whole number
        number = int(value)
        if number <= 1_000_000:
            return number
    try:
        number = float(value)
    except ValueError:
        raise ForecastInputError(f"'{value[:40]}' is not a number", path=path, line=line, column=column) from None
    if not number == number or number in (float("inf"), float("-inf")):
        raise ForecastInputError(f"'{value[:40]}' is not a finite number", path=path, line=line, column=column)
    if number < 0:
        raise ForecastInputError(f"negative count {value}", path=path, line=line, column=column,
                                 hint="counts must be whole numbers >= 0")
    if number != int(number):
        raise ForecastInputError(f"fractional count {value}", path=path, line=line, column=column,
                                 hint="counts must be whole numbers >= 0")
    if number > 1e6:
        raise ForecastInputError(f"implausibly large count {value}", path=path, line=line, column=column,
                                 hint="counts above 1,000,000 per row are rejected")
    return int(number)
