"""What the suite's own benchmarks run on: a lean private broker, the hub, its figures.

`BenchMosquitto` is the harness's `PrivateMosquitto` with a benchmark's config: no
per-message debug log (the harness logs everything, two lines per message), persistence
off (an autosave of half a million queued messages every second would measure the disk,
and sessions live in memory while the broker runs anyway), and room for any preload:
`max_queued_messages 0` and `max_queued_bytes 0` (no limit), `set_tcp_nodelay true`
(docs/hub.md, "Broker settings for the hub"). The hub runs as a real `python -m hub run`
(`tests.faults.processes.HubProcess`) with the per-site rate cap lifted: the cap is a
protection against one agent, not the capacity measured here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import httpx
import psycopg

from tests.faults.processes import HubProcess
from tests.harness import PrivateMosquitto, PrivatePostgres

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from tests.harness import MqttEndpoint

__all__ = [
    "BenchMosquitto",
    "ProfiledHub",
    "Server",
    "bench_hub",
    "histogram_quantile",
    "hub_metrics",
    "mosquitto_sub",
    "postgres_pids",
    "run_quiet",
    "wait_hub_subscribed",
]

# Generated lines the benchmark broker leaves out (see the module docstring).
_DROPPED: Final = ("log_type all", "persistence true", "autosave_interval", "connection_messages")
BROKER_LINES: Final = (
    "persistence false",
    "max_queued_messages 0",
    "max_queued_bytes 0",
    "set_tcp_nodelay true",
    "log_type error",
    "log_type warning",
)
NO_CAP: Final = {"site_rate_per_s": 1_000_000, "site_burst": 10_000_000}


class BenchMosquitto(PrivateMosquitto):
    """A private Mosquitto configured for benchmarks (module docstring); `extra_config`
    lines are appended after the benchmark's own (e.g. `max_inflight_messages 100`)."""

    def __init__(self, *, extra_config: Sequence[str] = ()) -> None:
        super().__init__(extra_config=[*BROKER_LINES, *extra_config])

    def _write_config(self) -> Path:
        config = super()._write_config()
        lines = config.read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if not line.startswith(_DROPPED)]
        config.write_text("\n".join([*kept, ""]), encoding="utf-8")
        return config


def bench_hub(
    directory: Path,
    *,
    database_url: str,
    endpoint: MqttEndpoint,
    prefix: str,
    hub_id: str,
    ingest: Mapping[str, Any] | None = None,
    rules_path: Path | None = None,
    lift_cap: bool = True,
) -> HubProcess:
    """A hub process (not started) with the rate cap lifted (unless not `lift_cap`),
    `ingest` on top and, when given, the rules file `rules_path` instead of the defaults."""
    hub = HubProcess(
        directory,
        database_url=database_url,
        endpoint=endpoint,
        prefix=prefix,
        hub_id=hub_id,
        ingest={**(NO_CAP if lift_cap else {}), **(ingest or {})},
    )
    if rules_path is not None:
        config = json.loads(hub.config_path.read_text(encoding="utf-8"))
        config["rules"] = {"path": str(rules_path)}
        hub.config_path.write_text(json.dumps(config, indent=1), encoding="utf-8")
    return hub


def wait_hub_subscribed(hub: HubProcess, within_s: float = 30.0) -> None:
    """Poll the hub's /health until its broker link is up (connected and subscribed)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        with suppress(httpx.HTTPError, ValueError):
            if httpx.get(f"{hub.api}/health", timeout=2).json().get("mqtt_connected"):
                return
        time.sleep(0.05)
    raise TimeoutError(f"the hub did not subscribe within {within_s} s: {hub.log_path}")


def hub_metrics(hub: HubProcess) -> dict[str, float]:
    """Every unlabelled-or-labelled sample of the hub's /metrics, by its full name."""
    samples: dict[str, float] = {}
    for line in httpx.get(f"{hub.api}/metrics", timeout=10).text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            with suppress(ValueError):
                samples[name] = float(value)
    return samples


def histogram_quantile(samples: Mapping[str, float], metric: str, q: float) -> float | None:
    """The upper bound of the bucket holding quantile `q` of the histogram `metric`
    (Prometheus text samples), or None when it has no observation."""
    buckets = sorted(
        (float(name.split('le="', 1)[1].split('"', 1)[0]), count)
        for name, count in samples.items()
        if name.startswith(f"{metric}_bucket{{")
    )
    total = samples.get(f"{metric}_count", 0.0)
    if not total:
        return None
    for bound, count in buckets:
        if count >= q * total:
            return bound
    return None


def postgres_pids(server_url: str, database: str) -> list[int]:
    """The server processes working for `database`: its backends (autovacuum included) and
    the server's own helpers (checkpointer, WAL writer…), never the asking session."""
    query = (
        "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
        "AND (datname = %s OR backend_type <> 'client backend')"
    )
    with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
        return [int(row[0]) for row in conn.execute(query, (database,))]


def mosquitto_sub(endpoint: MqttEndpoint, client_id: str, topic: str, *args: str) -> list[str]:
    """The `mosquitto_sub` command line for a persistent QoS 1 session `client_id`."""
    return [
        "mosquitto_sub",
        "-h",
        endpoint.host,
        "-p",
        str(endpoint.port),
        "-i",
        client_id,
        "-c",
        "-q",
        "1",
        "-t",
        topic,
        *args,
    ]


def run_quiet(command: Sequence[str], timeout_s: float) -> float:
    """Run `command` with its output discarded; seconds it took. Raises on failure."""
    start = time.perf_counter()
    subprocess.run(  # noqa: S603 - the bench's own command lines
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True, timeout=timeout_s
    )
    return time.perf_counter() - start


@dataclass(frozen=True, slots=True)
class Server:
    """The PostgreSQL server benchmarks make their scratch databases on.

    With a private cluster (`private`), the `postgres` role is every process of it; on a
    shared server, the backends of the benchmark's database and the server's helpers.
    """

    url: str
    private: PrivatePostgres | None = None

    def role(self, database_url: str) -> Callable[[], list[int]]:
        """A function listing the server processes working for `database_url` now."""
        if self.private is not None:
            return self.private.server_pids
        name = database_url.rsplit("/", 1)[1].split("?", 1)[0]
        return lambda: postgres_pids(self.url, name)


class ProfiledHub(HubProcess):
    """A hub run under the CPU-time sampling profiler of `bench/_profile_hub.py`: its
    samples are written to `profile` when it stops (SIGTERM ends it normally)."""

    def __init__(self, directory: Path, *, profile: Path, **settings: Any) -> None:
        self.profile = profile
        hub = bench_hub(directory, **settings)
        self.__dict__.update(hub.__dict__)

    def start(self) -> None:
        """As `HubProcess.start`, under the profiler."""
        if self.alive:
            msg = "the hub is already running"
            raise RuntimeError(msg)
        launcher = Path(__file__).with_name("_profile_hub.py")
        command = [sys.executable, str(launcher), "run", "--config", str(self.config_path)]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={
                    **os.environ,
                    "PYTHONUNBUFFERED": "1",
                    "SHOUWANG_HUB_PROFILE": str(self.profile),
                    "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
                },
            )
        self.starts += 1
        wait_hub_healthy(self)


def wait_hub_healthy(hub: HubProcess, within_s: float = 60.0) -> None:
    """Poll /health until the hub says ok (its schema is there and ingest runs)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not hub.alive:
            raise RuntimeError(f"the hub exited; see {hub.log_path}")
        with suppress(httpx.HTTPError, ValueError):
            response = httpx.get(f"{hub.api}/health", timeout=1)
            if response.status_code == 200 and response.json().get("status") == "ok":
                return
        time.sleep(0.05)
    raise TimeoutError(f"the hub at {hub.api} was not healthy within {within_s} s")
