"""The suite's results: the outcome's ratio, the JSON file and the markdown table."""

import json
from pathlib import Path
from typing import Any

import pytest

from bench._benchmarks import role_of
from bench._results import Outcome, render_markdown, write_results
from bench.suite import selected


def run_document(*outcomes: Outcome) -> dict[str, Any]:
    """A run as the suite records it, with fixed machine and versions."""
    return {
        "schema": 1,
        "started_at": "2026-11-27T01:00:00Z",
        "started_epoch": 1795741200.0,
        "commit": "abc1234",
        "dirty": False,
        "quick": True,
        "machine": {
            "cores": 2,
            "cpu": "Test CPU",
            "memory_gib": 4.0,
            "kernel": "6.1",
            "loadavg": [1.0, 1.0, 1.0],
        },
        "versions": {"python": "CPython 3.11", "mosquitto": "mosquitto 2.0", "postgres": "15"},
        "benchmarks": [o.as_dict() for o in outcomes],
    }


DRAIN = Outcome(
    name="ingest-drain",
    title="Hub ingest, drain",
    unit="events/s",
    figure=5000.0,
    baseline=50000.0,
    baseline_label="mosquitto_sub",
    target="≥ 20,000 events/s",
    target_met=False,
    processes={"hub": {"cpu_share": 0.95, "rss_mib_peak": 120.0}},
    notes="commit cycle p99 200 ms",
)


def test_ratio_is_figure_over_baseline() -> None:
    """The ratio divides the figure by the same run's baseline."""
    assert DRAIN.ratio == 0.1
    assert DRAIN.as_dict()["ratio"] == 0.1


def test_ratio_is_none_without_a_baseline() -> None:
    """No baseline, or a zero one, gives no ratio rather than a division error."""
    assert Outcome("x", "x", "ms", figure=3.0).ratio is None
    assert Outcome("x", "x", "ms", figure=3.0, baseline=0.0).ratio is None


def test_markdown_has_a_row_per_benchmark_with_its_figures() -> None:
    """Each benchmark is one table row: figure, baseline, ratio, verdict and processes."""
    failed = Outcome("district", "District run", "", status="failed", error="boom | bad\nline")
    text = render_markdown(run_document(DRAIN, failed))
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(rows) == 3  # the header and two benchmarks
    assert (
        "| Hub ingest, drain | 5,000 events/s | 50,000 events/s (mosquitto_sub) | 0.10x |"
        in (rows[1])
    )
    assert "✗" in rows[1]
    assert "hub 0.95 / 120 MiB" in rows[1]
    assert "failed: boom / bad line" in rows[2]
    assert "Commit `abc1234`" in text


def test_write_results_names_the_file_by_time_and_commit(tmp_path: Path) -> None:
    """The JSON file is named <UTC time>-<commit>.json and latest.md holds the table."""
    path, latest = write_results(run_document(DRAIN), tmp_path)
    assert path.name == "20261127T010000Z-abc1234.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["benchmarks"][0]["figure"] == 5000.0
    assert document["benchmarks"][0]["ratio"] == 0.1
    assert latest.name == "latest.md"
    assert "Hub ingest, drain" in latest.read_text(encoding="utf-8")


def test_processes_are_sorted_into_roles_by_command_line() -> None:
    """The hub, agent, broker and fleet are told apart by how they were started."""
    assert role_of(["/x/python", "-m", "hub", "run", "--config", "h.yaml"]) == "hub"
    assert role_of(["/x/python", "-m", "agent", "run"]) == "agent"
    assert role_of(["/usr/sbin/mosquitto", "-c", "m.conf"]) == "broker"
    assert role_of(["/x/python", "-m", "simulators", "fleet"]) == "fleet"
    assert role_of(["/x/python", "bench/bench_drain.py"]) == "bench"


def test_only_accepts_known_names_separated_by_commas() -> None:
    """`--only a,b --only c` selects those; no `--only` selects them all."""
    assert selected(["agent-sia,agent-modbus", "district"]) == [
        "agent-sia",
        "agent-modbus",
        "district",
    ]
    assert "ingest-drain" in selected([])
    with pytest.raises(SystemExit, match="unknown benchmark nope"):
        selected(["nope"])
