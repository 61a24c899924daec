"""The drain benchmark's batch figures: sizes and commit cycles from the stored rows."""

import math

from bench.bench_ingest_drain import batch_figures, nearest_rank


def test_batch_figures_from_transaction_starts() -> None:
    """Three batches 100 ms then 300 ms apart give their sizes and cycles."""
    figures = batch_figures([(10.0, 500), (10.1, 500), (10.4, 200)])
    assert figures["batches"] == 3
    assert figures["rows_per_batch_mean"] == 400.0
    assert figures["rows_per_batch_max"] == 500
    assert figures["commit_cycle_ms_p50"] == 100.0
    assert figures["commit_cycle_ms_p99"] == 300.0


def test_nearest_rank_of_nothing_is_nan() -> None:
    """An empty series has no quantile (nan), never an error."""
    assert math.isnan(nearest_rank([], 0.99))
    assert nearest_rank([3.0, 1.0, 2.0], 0.5) == 2.0
