"""Forecasting models: each a small estimator whose ``forecast`` returns a CountForecast."""
from forecast.models.arima import Arima
from forecast.models.base import (
           CountForecast,
           FitSummary,
           Forecaster,
           IndependentCountForecast,
           MixtureCountForecast,
           SampleCountForecast,
)
from forecast.models.baselines import Climatology, NaivePoisson, NBWindow
from forecast.models.ensemble import Ensemble, PooledCountForecast
from forecast.models.glm import NegBinGLM, PoissonGLM
from forecast.models.hawkes import Hawkes
from forecast.models.hawkes_continuous import HawkesContinuous
from forecast.models.regime import RegimeHMM

__all__ = ["Forecaster", "CountForecast", "IndependentCountForecast", "SampleCountForecast", "FitSummary",
           "Climatology", "NaivePoisson", "NBWindow", "PoissonGLM", "NegBinGLM", "Hawkes", "HawkesContinuous", "Arima",
           "RegimeHMM", "Ensemble", "PooledCountForecast", "MixtureCountForecast"]
