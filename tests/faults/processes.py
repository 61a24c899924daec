"""Real hub and agent processes for the fault-injection suite, and the delivery oracle.

`HubProcess` and `AgentProcess` write a config (JSON, which is YAML), run
`python -m hub run` / `python -m agent run` as child processes, and can `kill()` them
with SIGKILL, `stop()` them with SIGTERM and `start()` them again on the same config and
data. `Pusher` is a device that posts to an agent; the oracle functions read the hub's
documented schema (docs/schema.md) over SQL.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import psycopg

from tests.harness import MqttEndpoint, free_port

READY_S = 30.0


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Block until something accepts on 127.0.0.1:`port`; fail with the log if it died."""
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"{process.args!r} exited with {process.returncode}:\n{tail}")
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise AssertionError(f"nothing listens on {port} after {READY_S} s: {log}")


class _Child:
    """A `python -m <module> run --config FILE` child, restartable on the same files."""

    module: str

    def __init__(self, directory: Path, config: Mapping[str, Any], port: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.port = port
        self.config_path = directory / f"{self.module}.yaml"
        self.config_path.write_text(json.dumps(config, indent=1), encoding="utf-8")
        self.log_path = directory / f"{self.module}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        """Start the process and wait until it listens on its port."""
        if self.alive:
            raise AssertionError(f"{self.module} is already running")
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", self.module, "run", "--config", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.starts += 1
        _wait_listening(self.port, self._process, self.log_path)
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Block until the process serves, beyond listening; listening is enough by default."""

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        """The running process's pid."""
        if self._process is None:
            raise AssertionError(f"{self.module} was never started")
        return self._process.pid

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=10)

    def stop(self) -> int:
        """SIGTERM, then wait; returns the exit code."""
        if self._process is None:
            return 0
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        return self._process.returncode

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _mqtt_section(endpoint: MqttEndpoint, prefix: str, client_id: str) -> dict[str, Any]:
    return {
        "host": endpoint.host,
        "port": endpoint.port,
        "username": endpoint.username,
        "password": endpoint.password,
        "topic_prefix": prefix,
        "client_id": client_id,
    }


class HubProcess(_Child):
    """`python -m hub run` on `database_url` and the broker at `endpoint`."""

    module = "hub"

    def __init__(
        self,
        directory: Path,
        *,
        database_url: str,
        endpoint: MqttEndpoint,
        prefix: str,
        hub_id: str = "fault-hub",
        ingest: Mapping[str, Any] | None = None,
    ) -> None:
        port = free_port()
        mqtt = {
            **_mqtt_section(endpoint, prefix, f"{hub_id}-{prefix.strip('/').replace('/', '-')}"),
            "reconnect_max_s": 1,
        }
        config = {
            "hub_id": hub_id,
            "database": {"url": database_url},
            "mqtt": mqtt,
            "api": {"host": "127.0.0.1", "port": port},
            "ingest": dict(ingest or {}),
        }
        super().__init__(directory, config, port)

    @property
    def api(self) -> str:
        """The hub's API base URL."""
        return f"http://127.0.0.1:{self.port}"

    def _wait_ready(self) -> None:
        # The hub binds its API port first, then migrates and starts its loops, and only
        # then serves HTTP: /health saying ok means its schema is there and ingest runs.
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            with suppress(httpx.TransportError):
                response = httpx.get(f"{self.api}/health", timeout=1)
                if response.status_code == 200 and response.json().get("status") == "ok":
                    return
            time.sleep(0.05)
        raise AssertionError(f"the hub at {self.api} was not healthy within {READY_S} s")


class AgentProcess(_Child):
    """`python -m agent run` for `site`, with HTTP devices of the given kinds."""

    module = "agent"

    def __init__(
        self,
        directory: Path,
        *,
        site: str,
        devices: Mapping[str, str],
        endpoint: MqttEndpoint,
        prefix: str,
        delivery: Mapping[str, Any] | None = None,
        outbox: Mapping[str, Any] | None = None,
        protocol: str = "3.1.1",
    ) -> None:
        port = free_port()
        self.site = site
        self.tokens = {device: f"token-{site}-{device}-0123456789" for device in devices}
        mqtt = {
            **_mqtt_section(
                endpoint, prefix, f"agent-{site}-{prefix.strip('/').replace('/', '-')}"
            ),
            "protocol": protocol,
            "reconnect_min_s": 0.05,
            "reconnect_max_s": 1,
            "timeout_s": 2,
            "keepalive_s": 5,
        }
        config = {
            "site": site,
            "mqtt": mqtt,
            "outbox": {"path": str(directory / "outbox.sqlite3"), **(outbox or {})},
            "delivery": {"resend_initial_s": 2, "resend_max_s": 5, **(delivery or {})},
            "http": {"host": "127.0.0.1", "port": port},
            "status_interval_s": 5,
            "devices": [
                {
                    "id": device,
                    "kind": kind,
                    "driver": "http",
                    "token": self.tokens[device],
                    "checkin_s": 300,
                }
                for device, kind in devices.items()
            ],
        }
        super().__init__(directory, config, port)

    @contextmanager
    def pusher(self) -> Iterator["Pusher"]:
        """A device-side HTTP client for this agent."""
        with httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10) as client:
            yield Pusher(client, self.tokens)


class Pusher:
    """Posts events to an agent as its devices; remembers what the agent stored (201)."""

    def __init__(self, client: httpx.Client, tokens: Mapping[str, str]) -> None:
        self._client = client
        self._tokens = tokens
        self.stored: list[str] = []  # event ids the agent answered 201 for

    def push(self, device: str, type_: str, data: Mapping[str, Any] | None = None) -> int:
        """POST one event; returns the HTTP status (or 0 when the agent did not answer)."""
        try:
            response = self._client.post(
                f"/v1/devices/{device}/events",
                json={"type": type_, "data": dict(data or {})},
                headers={"Authorization": f"Bearer {self._tokens[device]}"},
            )
        except httpx.TransportError:
            return 0
        if response.status_code == 201:
            self.stored.append(response.json()["id"])
        return response.status_code


def stored_ids(database_url: str, site: str | None = None) -> list[str]:
    """Every event id in `events` (of `site`), one entry per row: duplicates show."""
    query = "SELECT id::text FROM events" + (" WHERE site = %s" if site else "")
    with psycopg.connect(database_url) as conn:
        return [row[0] for row in conn.execute(query, (site,) if site else ())]


def wait_for_ids(
    database_url: str, expected: set[str], *, within_s: float, site: str | None = None
) -> list[str]:
    """Poll until every id of `expected` is stored; return all stored ids (with repeats)."""
    deadline = time.monotonic() + within_s
    while True:
        ids = stored_ids(database_url, site)
        if expected <= set(ids) or time.monotonic() > deadline:
            return ids
        time.sleep(0.2)
