"""Rolling-origin backtests, the score registry and paired tests."""
from forecast.evaluate.backtest import (
           BacktestInfo,
           RefitPolicy,
           backtest_origins,
           paired_tests,
           run_backtest,
           skill,
           summarise_scores,
)
from forecast.evaluate.scores import SCORES, Score, brier, diebold_mariano, log_score, randomized_pit, rps, scores_for

__all__ = ["backtest_origins", "run_backtest", "RefitPolicy", "BacktestInfo", "summarise_scores", "skill",
           "paired_tests", "Score", "SCORES", "scores_for", "log_score", "rps", "brier", "randomized_pit",
           "diebold_mariano"]
