"""The ingestion hub.

It takes every site's events from the broker, stores them in PostgreSQL/TimescaleDB,
acknowledges them to the agents, turns them (and their absence) into alerts and delivers
those to operators and consumers. It imports `wire` and nothing of `agent`.

The public surface: `Hub` (a running hub), `HubConfig` and `load_config`, `create_app`
(the HTTP API alone), `migrate` (the schema), and the errors. docs/hub.md is the guide.
"""

from hub.api import create_app
from hub.config import HubConfig, load_config, parse_config
from hub.errors import BrokerUnavailable, ConfigError, HubError, ListenError, MigrationError
from hub.runtime import Hub, run_hub
from hub.storage import migrate

__all__ = [
    "BrokerUnavailable",
    "ConfigError",
    "Hub",
    "HubConfig",
    "HubError",
    "ListenError",
    "MigrationError",
    "create_app",
    "load_config",
    "migrate",
    "parse_config",
    "run_hub",
]
