"""Forecasting models: each a small estimator returning a CountForecast."""
from forecast.models.arima import Arima
from forecast.models.base import CountForecast, FitSummary, Forecaster, IndependentCountForecast, \
    SampleCountForecast
from forecast.models.baselines import Climatology, NaivePoisson
from forecast.models.glm import NegBinGLM, PoissonGLM
from forecast.models.hawkes import Hawkes

__all__ = ["Forecaster", "CountForecast", "IndependentCountForecast", "SampleCountForecast", "FitSummary",
           "Climatology", "NaivePoisson", "PoissonGLM", "NegBinGLM", "Hawkes", "HawkesContinuous", "Arima"]


def __getattr__(name):  # HawkesContinuous is imported lazily
    if name == "HawkesContinuous":
        from forecast.models.hawkes_continuous import HawkesContinuous

        return HawkesContinuous
    raise AttributeError(name)
