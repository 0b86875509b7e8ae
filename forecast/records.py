"""Run records: atomic file writes, package versions, data hashes."""
from __future__ import annotations

import datetime
import json
import math
import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path

import pandas as pd

PACKAGES = ("forecast", "numpy", "pandas", "scipy", "statsmodels", "scikit-learn", "matplotlib", "hydra-core",
            "omegaconf", "tqdm")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open() would give: 0644 under the usual umask 022


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write to a temporary file in the same folder, then rename: readers never see a partial file.
    The file gets the process umask's mode (``mkstemp`` alone would make it 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def _json_safe(obj):
    if isinstance(obj, (pd.Timestamp, datetime.date)):
        return obj.strftime("%Y-%m-%d")
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(path: str | Path, obj) -> Path:
    return atomic_write_text(path, json.dumps(_json_safe(obj), indent=2, sort_keys=False) + "\n")


def write_csv(path: str | Path, frame: pd.DataFrame) -> Path:
    return atomic_write_text(path, frame.to_csv(index=False, float_format="%.6g", lineterminator="\n"))


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` safe to open in a spreadsheet (OWASP CSV injection).

    Text cells and column names starting with ``= + - @``, tab or carriage return get a leading ``'``;
    numbers are left as they are.
    """
    def escape(value):
        return "'" + value if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) else value

    return frame.map(escape).rename(columns=escape)


def resolved_yaml(cfg) -> str:
    """The run's config with every interpolation resolved (Hydra's own node left out)."""
    from omegaconf import OmegaConf

    keys = [k for k in cfg.keys() if k != "hydra"]
    return OmegaConf.to_yaml(OmegaConf.masked_copy(cfg, keys), resolve=True)


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


class RunRecord:
    """``metrics.json`` of one run: ``status`` is ``running`` until :meth:`finish` says ``ok``/``failed``."""

    def __init__(self, folder: str | Path, **fields):
        self.folder = Path(folder)
        if (self.folder / "metrics.json").exists():
            raise FileExistsError(f"{self.folder} already holds a run record; refusing to overwrite it")
        self.metrics = {"status": "running", "error": None, **fields}
        self.save()

    def save(self) -> None:
        write_json(self.folder / "metrics.json", self.metrics)

    def update(self, **fields) -> None:
        self.metrics.update(fields)
        self.save()

    def finish(self, error: str | None = None, status: str | None = None) -> None:
        """End the record: ``ok``, ``failed`` (with the error) or ``interrupted`` (SIGINT / SIGTERM)."""
        self.update(status=status or ("failed" if error else "ok"), error=error)
