"""Exposure: how many US/coalition sites had US forces (or US diplomats) present on each day.

The shipped ``data/sites.csv`` gives, for each site, the stretch(es) of time US forces were there (see
``load_sites``); ``exposure`` turns them into a daily series a model can use as an offset or covariate
(fewer sites, fewer targets), and ``resolve_sites`` maps the ``location`` of events onto site names.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd


def exposure(sites: pd.DataFrame | None, index: pd.DatetimeIndex, *,
             site_types: Sequence[str] | None = None) -> pd.Series:
    """Number of sites with US presence on each day of ``index`` (int64 Series named ``exposure``).

    A site counts on day d when one of its rows has ``us_present_from <= d <= us_present_to``; a blank
    (NaT) ``from`` means present since before the data begin, a blank ``to`` present through the latest
    reporting (and so through any forecast days). A site left on day d counts on d and no longer after.
    ``site_types`` keeps rows whose ``site_type`` is listed (None keeps all), e.g. ``["us_military"]``
    for the sites behind the default series. ``sites=None`` gives zeros.
    """
    index = pd.DatetimeIndex(index)
    days = index.to_numpy().astype("datetime64[D]")
    out = np.zeros(len(index), dtype=np.int64)
    if sites is not None and len(sites):
        keep = sites if site_types is None else sites[sites["site_type"].isin(list(site_types))]
        lo = keep["us_present_from"].to_numpy().astype("datetime64[D]")
        hi = keep["us_present_to"].to_numpy().astype("datetime64[D]")
        for start, end in zip(lo, hi):
            present = np.ones(len(days), dtype=bool)
            if not np.isnat(start):
                present &= days >= start
            if not np.isnat(end):
                present &= days <= end
            out += present
    return pd.Series(out, index=index, name="exposure")


def site_names(sites: pd.DataFrame) -> dict[str, str]:
    """Lower-case site name or alias -> site name."""
    out: dict[str, str] = {}
    aliases = sites["aliases"] if "aliases" in sites else pd.Series("", index=sites.index)
    for site, more in zip(sites["site"], aliases.fillna("")):
        for name in [site, *str(more).split("|")]:
            if name.strip():
                out.setdefault(name.strip().lower(), site)
    return out


def resolve_sites(locations: Iterable[str], sites: pd.DataFrame) -> pd.Series:
    """The site each location names (matched case-insensitively on site names and aliases), or None.

    ``"unknown"`` and places that are not in the sites file (e.g. a village near a base) give None.
    """
    index = locations.index if isinstance(locations, pd.Series) else None
    names = site_names(sites)
    found = [names.get(str(loc).strip().lower()) for loc in locations]
    return pd.Series(found, index=index, dtype=object, name="site")
