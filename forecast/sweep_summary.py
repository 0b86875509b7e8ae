"""A Hydra callback that ends a multirun with what to do next: the sweep folder, its jobs' statuses and
the ``forecast-compare`` command that ranks them."""
from __future__ import annotations

import json
import shlex
from collections import Counter
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class SweepSummary(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        folder = Path(str(config.hydra.sweep.dir)).resolve()
        statuses = Counter()
        for metrics in sorted(folder.glob("*/metrics.json")):
            try:
                statuses[json.loads(metrics.read_text(encoding="utf-8")).get("status", "unknown")] += 1
            except (OSError, ValueError):
                statuses["unreadable"] += 1
        print(f"sweep: {folder} ({', '.join(f'{n} {s}' for s, n in sorted(statuses.items())) or 'no jobs'})")
        print(f"next: forecast-compare {shlex.quote(str(folder))}")
