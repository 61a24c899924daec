"""The shared-service resolution and the per-test isolation fixtures."""

import re
from contextlib import ExitStack, closing

import psycopg
import pytest

from tests.harness import (
    DATABASE_URL_ENV,
    MQTT_URL_ENV,
    MqttEndpoint,
    ServiceUnavailable,
    ServiceUrlError,
    database_url_for,
    free_port,
    parse_mqtt_url,
    redact_url,
    resolve_database,
    resolve_mqtt,
    scratch_database,
)

_seen_prefixes: set[str] = set()


def test_mqtt_url_parses_host_port_and_credentials() -> None:
    """An mqtt:// URL yields host, port and percent-decoded credentials, and round-trips."""
    endpoint = parse_mqtt_url("mqtt://agent%40site:p%3Ass@broker.example:8883")
    assert endpoint == MqttEndpoint("broker.example", 8883, "agent@site", "p:ss")
    assert parse_mqtt_url(endpoint.url) == endpoint
    assert "p:ss" not in repr(endpoint)
    assert endpoint.redacted_url == "mqtt://agent%40site:***@broker.example:8883"


def test_mqtt_url_defaults_port_and_brackets_ipv6() -> None:
    """The port defaults to 1883 and an IPv6 host is bracketed again in `url`."""
    assert parse_mqtt_url("mqtt://[::1]").url == "mqtt://[::1]:1883"


@pytest.mark.parametrize(
    "url",
    ["mqtts://host:8883", "http://host", "mqtt://", "mqtt://host:99999", "mqtt://host/topic"],
)
def test_mqtt_url_rejects_what_the_harness_cannot_use(url: str) -> None:
    """TLS, other schemes, a missing host, a bad port or a path are errors naming the URL."""
    with pytest.raises(ServiceUrlError, match=re.escape(url.split("//", maxsplit=1)[0])):
        parse_mqtt_url(url)


def test_redact_url_hides_only_the_password() -> None:
    """A password in a URL becomes *** and everything else is kept."""
    assert redact_url("postgresql://u:secret@h:5/db") == "postgresql://u:***@h:5/db"
    assert redact_url("postgresql://u@h:5/db") == "postgresql://u@h:5/db"


def test_database_url_for_swaps_only_the_database_name() -> None:
    """User, host, port and query survive; the path names the new database."""
    url = database_url_for("postgresql://u@h:5432/postgres?sslmode=disable", "t_1")
    assert url == "postgresql://u@h:5432/t_1?sslmode=disable"


def test_mqtt_env_pointing_at_a_dead_port_fails_naming_it() -> None:
    """A dead broker named by the environment is an error naming the variable and URL."""
    dead = f"mqtt://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceUnavailable) as caught:
        resolve_mqtt({MQTT_URL_ENV: dead})
    assert f"{MQTT_URL_ENV}={dead}" in str(caught.value)
    assert "ConnectionRefusedError" in str(caught.value)


def test_database_env_pointing_at_a_dead_port_fails_naming_it() -> None:
    """A dead PostgreSQL named by the environment is an error naming the variable and URL."""
    dead = f"postgresql://postgres:pw@127.0.0.1:{free_port()}/postgres"
    with pytest.raises(ServiceUnavailable) as caught:
        resolve_database({DATABASE_URL_ENV: dead})
    message = str(caught.value)
    assert f"{DATABASE_URL_ENV}={redact_url(dead)}" in message
    assert ":pw@" not in message


def test_malformed_env_url_fails_naming_the_variable() -> None:
    """A malformed URL in the environment is reported as that variable's fault."""
    with pytest.raises(ServiceUnavailable, match=MQTT_URL_ENV):
        resolve_mqtt({MQTT_URL_ENV: "tcp://nowhere"})


def test_fixture_fails_rather_than_skips_without_a_broker(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test requesting `mqtt_url` with a dead broker configured errors; it is not skipped."""
    dead = f"mqtt://127.0.0.1:{free_port()}"
    monkeypatch.setenv(MQTT_URL_ENV, dead)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest("from tests.conftest import mqtt_endpoint, mqtt_url\n")
    pytester.makepyfile("def test_needs_broker(mqtt_url):\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*{MQTT_URL_ENV}={dead} names no working MQTT broker*"])


def test_service_fixtures_mark_their_tests(pytester: pytest.Pytester) -> None:
    """Requesting a service or the fault proxy marks a test, so `-m` can leave it out."""
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest(
        "from tests.conftest import (\n"
        "    pytest_collection_modifyitems, database, database_url, fault_proxy, topic_prefix\n"
        ")\n"
    )
    pytester.makepyfile(
        "def test_db(database): pass\n"
        "def test_link(fault_proxy): pass\n"
        "def test_plain(topic_prefix): pass\n"
    )
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--collect-only", "-q", "-m", "not integration and not faults"
    )
    result.stdout.fnmatch_lines(["*::test_plain", "*1/3 tests collected (2 deselected)*"])


@pytest.mark.integration
def test_shared_broker_accepts_a_connection(mqtt_endpoint: MqttEndpoint) -> None:
    """The resolved shared broker is one that answers with CONNACK 0."""
    assert resolve_mqtt({MQTT_URL_ENV: mqtt_endpoint.url}) == mqtt_endpoint


@pytest.mark.integration
def test_database_fixture_is_fresh_and_its_own(database: str, database_url: str) -> None:
    """The per-test database is empty, is not the server's default one, and takes writes."""
    assert database != database_url
    with psycopg.connect(database) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE scratch (id int)")


@pytest.mark.integration
def test_scratch_database_is_dropped_afterwards_even_with_open_sessions(
    database_url: str,
) -> None:
    """Leaving `scratch_database` drops the database although a session still holds it."""
    with ExitStack() as stack:
        with scratch_database(database_url) as url:
            name = url.rsplit("/", 1)[1]
            stack.enter_context(closing(psycopg.connect(url)))  # open past the drop
            with psycopg.connect(database_url) as admin:
                present = admin.execute(
                    "SELECT count(*) FROM pg_database WHERE datname = %s", (name,)
                ).fetchone()
            assert present == (1,)
        with psycopg.connect(database_url) as admin:
            gone = admin.execute(
                "SELECT count(*) FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
    assert gone == (0,)


@pytest.mark.parametrize("attempt", range(3))
def test_topic_prefix_is_unique_per_test(topic_prefix: str, attempt: int) -> None:
    """Each test gets its own `test/<hex>/` prefix, never one another test had."""
    assert re.fullmatch(r"test/[0-9a-f]{32}/", topic_prefix)
    assert topic_prefix not in _seen_prefixes
    _seen_prefixes.add(topic_prefix)
