"""Rolling-origin backtests and proper scores."""
from forecast.evaluate.backtest import backtest_origins, run_backtest, skill, summarise_scores
from forecast.evaluate.scores import brier, diebold_mariano, log_score, randomized_pit, rps

__all__ = ["backtest_origins", "run_backtest", "summarise_scores", "skill", "log_score", "rps", "brier",
           "randomized_pit", "diebold_mariano"]
