"""Fixtures every test package shares: services, per-test isolation, fault injection.

Shared services are looked up lazily, once per run, by the first test that asks; a test
that asks and cannot have them FAILS with a message saying what is missing and how to
provide it. Nothing here ever skips. docs/testing.md is the guide.
"""

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from tests.harness import (
    FaultProxy,
    FaultProxyFactory,
    MqttEndpoint,
    PrivateMosquitto,
    PrivatePostgres,
    ServiceUnavailable,
    resolve_database,
    resolve_mqtt,
    scratch_database,
)

pytest_plugins = ["pytester"]

# Requesting any of these (directly or through another fixture) makes a test an
# integration test; requesting the fault proxy makes it a faults test. Tests should still
# carry their markers explicitly: this only keeps `-m "not integration"` honest.
INTEGRATION_FIXTURES = frozenset(
    {
        "mqtt_endpoint",
        "mqtt_url",
        "database_url",
        "database",
        "private_mosquitto",
        "private_postgres",
    }
)
FAULT_FIXTURES = frozenset({"fault_proxy"})


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by the service fixtures they use, before `-m` selects among them."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & INTEGRATION_FIXTURES and item.get_closest_marker("integration") is None:
            item.add_marker(pytest.mark.integration)
        if used & FAULT_FIXTURES and item.get_closest_marker("faults") is None:
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="session")
def mqtt_endpoint() -> MqttEndpoint:
    """The shared MQTT broker (`SHOUWANG_TEST_MQTT_URL`, else local Mosquitto); fails if none."""
    try:
        return resolve_mqtt(os.environ)
    except ServiceUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def mqtt_url(mqtt_endpoint: MqttEndpoint) -> str:
    """The shared MQTT broker as an mqtt:// URL (credentials included)."""
    return mqtt_endpoint.url


@pytest.fixture(scope="session")
def database_url() -> str:
    """The shared PostgreSQL server (`SHOUWANG_TEST_DATABASE_URL`, else local); fails if none."""
    try:
        return resolve_database(os.environ)
    except ServiceUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def database(database_url: str) -> Iterator[str]:
    """URL of an empty database of this test's own on the shared server, dropped afterwards."""
    with scratch_database(database_url) as url:
        yield url


@pytest.fixture
def topic_prefix() -> str:
    """A topic namespace of this test's own, `test/<32 hex>/`, for the shared broker."""
    return f"test/{uuid.uuid4().hex}/"


@pytest.fixture
def private_mosquitto() -> Iterator[PrivateMosquitto]:
    """A started Mosquitto of this test's own, ended and removed afterwards."""
    with PrivateMosquitto() as broker:
        yield broker


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started PostgreSQL cluster of this test's own, ended and removed afterwards."""
    with PrivatePostgres() as server:
        yield server


@pytest.fixture
def fault_proxy() -> Iterator[FaultProxyFactory]:
    """`make(host, port)` → a started `FaultProxy` to host:port; all closed afterwards."""
    with ExitStack() as stack:

        def make(upstream_host: str, upstream_port: int) -> FaultProxy:
            return stack.enter_context(FaultProxy(upstream_host, upstream_port))

        yield make
