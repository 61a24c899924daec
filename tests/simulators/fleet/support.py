"""What the fleet tests share: a real hub process with the fleet's rules (links included)."""

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from simulators.fleet.population import Room
from simulators.fleet.runner import write_rules
from tests.faults.processes import HubProcess
from tests.harness import MqttEndpoint


@contextmanager
def fleet_hub(
    directory: Path,
    *,
    database_url: str,
    endpoint: MqttEndpoint,
    prefix: str,
    rooms: Sequence[Room],
    ingest: dict[str, Any] | None = None,
) -> Iterator[HubProcess]:
    """`python -m hub run` on `database_url`, with the default rules plus the rooms' links."""
    rules = write_rules(directory / "rules.yaml", rooms)
    hub = HubProcess(
        directory,
        database_url=database_url,
        endpoint=endpoint,
        prefix=prefix,
        hub_id="fleet-hub",
        ingest={"batch_wait_ms": 20, **(ingest or {})},
    )
    config = json.loads(hub.config_path.read_text(encoding="utf-8"))
    config["rules"] = {"path": str(rules), "tick_s": 0.5}
    hub.config_path.write_text(json.dumps(config, indent=1), encoding="utf-8")
    with hub:
        yield hub
