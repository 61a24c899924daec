"""The edge agent of a monitoring-room box.

It reads the room's devices through drivers (SIA DC-09, Modbus TCP, cameras, HTTP push),
normalises what they say into v1 events, keeps them in a durable outbox and publishes
them over MQTT until the hub acknowledges them. It imports `wire` and nothing of `hub`.

The public surface is re-exported here; `agent.errors` draws the exception tree.
"""

from agent._version import VERSION
from agent.config import (
    AgentConfig,
    CanaryConfig,
    DeliveryConfig,
    DeviceConfig,
    HttpPushConfig,
    MqttConfig,
    OutboxConfig,
    load_config,
)
from agent.drivers.http import HttpPushServer
from agent.errors import (
    AgentError,
    ConfigError,
    ConfigProblem,
    DriverError,
    EventShed,
    OutboxError,
)
from agent.link import Link, client_id_for
from agent.outbox import Bounds, Draft, Entry, Outbox
from agent.runtime import Agent, run_agent

__all__ = [
    "VERSION",
    "Agent",
    "AgentConfig",
    "AgentError",
    "Bounds",
    "CanaryConfig",
    "ConfigError",
    "ConfigProblem",
    "DeliveryConfig",
    "DeviceConfig",
    "Draft",
    "DriverError",
    "Entry",
    "EventShed",
    "HttpPushConfig",
    "HttpPushServer",
    "Link",
    "MqttConfig",
    "Outbox",
    "OutboxConfig",
    "OutboxError",
    "client_id_for",
    "load_config",
    "run_agent",
]
