"""The test harness: shared services, private services to break, and a fault proxy.

Shared services (`services`) are found once per run from the environment or the local
machine; private ones (`PrivateMosquitto`, `PrivatePostgres`) belong to one test, which
may kill, pause and restart them; `FaultProxy` breaks the link between two real peers.
docs/testing.md tells how the pieces fit and which pytest fixtures expose them.
"""

from tests.harness.databases import scratch_database
from tests.harness.errors import (
    HarnessError,
    ServiceStartError,
    ServiceUnavailable,
    ServiceUrlError,
)
from tests.harness.faultproxy import FaultProxy, FaultProxyFactory, ProxyMode, ProxyStats
from tests.harness.mosquitto import PrivateMosquitto
from tests.harness.ports import free_port
from tests.harness.postgres import PrivatePostgres
from tests.harness.probes import mqtt_connack, postgres_answers
from tests.harness.services import (
    DATABASE_URL_ENV,
    MQTT_URL_ENV,
    MqttEndpoint,
    database_url_for,
    parse_mqtt_url,
    redact_url,
    resolve_database,
    resolve_mqtt,
)

__all__ = [
    "DATABASE_URL_ENV",
    "MQTT_URL_ENV",
    "FaultProxy",
    "FaultProxyFactory",
    "HarnessError",
    "MqttEndpoint",
    "PrivateMosquitto",
    "PrivatePostgres",
    "ProxyMode",
    "ProxyStats",
    "ServiceStartError",
    "ServiceUnavailable",
    "ServiceUrlError",
    "database_url_for",
    "free_port",
    "mqtt_connack",
    "parse_mqtt_url",
    "postgres_answers",
    "redact_url",
    "resolve_database",
    "resolve_mqtt",
    "scratch_database",
]
