"""The benchmark rig: histogram quantiles from /metrics and the lean broker's config."""

from bench._rig import BROKER_LINES, BenchMosquitto, histogram_quantile

SAMPLES = {
    'shouwang_hub_event_delay_seconds_bucket{le="0.1"}': 90.0,
    'shouwang_hub_event_delay_seconds_bucket{le="1.0"}': 99.0,
    'shouwang_hub_event_delay_seconds_bucket{le="10.0"}': 100.0,
    'shouwang_hub_event_delay_seconds_bucket{le="+Inf"}': 100.0,
    "shouwang_hub_event_delay_seconds_count": 100.0,
}


def test_histogram_quantile_is_the_bucket_bound_holding_it() -> None:
    """p50 falls in the first bucket, p99 in the second, p100 in the third."""
    metric = "shouwang_hub_event_delay_seconds"
    assert histogram_quantile(SAMPLES, metric, 0.5) == 0.1
    assert histogram_quantile(SAMPLES, metric, 0.99) == 1.0
    assert histogram_quantile(SAMPLES, metric, 1.0) == 10.0
    assert histogram_quantile({}, metric, 0.99) is None


def test_bench_broker_config_drops_debug_log_and_persistence() -> None:
    """The generated config holds any preload and neither logs every message nor saves."""
    broker = BenchMosquitto(extra_config=["max_inflight_messages 100"])
    try:
        lines = broker._write_config().read_text(encoding="utf-8").splitlines()
    finally:
        broker.close()
    assert "log_type all" not in lines
    assert "persistence true" not in lines
    assert not any(line.startswith("autosave_interval") for line in lines)
    assert set(BROKER_LINES) <= set(lines)
    assert lines[-1] == "max_inflight_messages 100"
