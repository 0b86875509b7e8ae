"""Degenerate data: every model either fits and forecasts a valid distribution, or fails with a
ModelFitError (or ForecastInputError) whose message says why; never anything else."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from forecast.errors import ForecastInputError, ModelFitError
from tests.conftest import registered_models

pytestmark = pytest.mark.usefixtures("single_blas_thread")
MODELS = [cls(**kwargs, **({"random_state": 0} if "random_state" in cls().get_params() else {}))
          for _, cls, kwargs in registered_models(n_paths=200)]


def series(values) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=np.int64),
                     index=pd.date_range("2024-01-01", periods=len(values), freq="D", name="date"), name="count")


CASES = {
    "no events": series(np.zeros(60)),
    "single event": series(np.r_[np.zeros(30), 1, np.zeros(29)]),
    "attacks every day": series(np.full(60, 2)),
    "window shorter than horizon": series([0, 1, 0, 2, 1]),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
def test_fits_or_fails_with_a_reason(model, case):
    counts = CASES[case]
    est = clone(model)
    try:
        est.fit(counts)
        fc = est.forecast(14)
    except (ModelFitError, ForecastInputError) as e:
        assert len(str(e)) > 10 and "\n" not in str(e)
        return
    total = fc.total_pmf(14)
    assert np.isclose(total.sum(), 1.0) and np.all(total >= 0)
    assert np.all(np.isfinite(fc.predicted_mean)) and 0 <= fc.prob_at_least(1, 7) <= 1


@pytest.mark.parametrize("model", [m for m in MODELS if not getattr(m, "is_baseline", False)],
                         ids=lambda m: type(m).__name__)
def test_no_events_is_a_clear_failure_for_fitted_models(model):
    with pytest.raises(ModelFitError, match="no attacks|no events|constant|nothing to fit"):
        clone(model).fit(CASES["no events"])
