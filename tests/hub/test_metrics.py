"""Prometheus metrics: what ingest records, bounded site labels, and `/metrics` on a hub."""

import socket

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hub import Hub, HubConfig, ListenError
from hub.config import DATABASE_URL_ENV, parse_config
from hub.errors import ConfigError
from hub.metrics import MAX_SITE_LABELS, OTHER_SITES, HubMetrics
from tests.harness import MqttEndpoint
from tests.hub.conftest import running_hub
from tests.hub.support import SITE, client, dump, event, eventually
from wire import ComponentHealth, Event, HubComponents, Kind, decode_event

_ALIVE = ComponentHealth(alive=True)
_DEAD = ComponentHealth(alive=False, detail="stuck")


class _Probe:
    """A hub whose broker link is up and whose relay has stopped beating."""

    def mqtt_connected(self) -> bool:
        return True

    def components(self) -> HubComponents:
        return HubComponents(ingest=_ALIVE, rules=_ALIVE, relay=_DEAD)


class _Clock:
    def __init__(self) -> None:
        self.now = 1_740_816_000.0  # 2025-03-01T08:00:00Z

    def __call__(self) -> float:
        return self.now


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _event(site: str, seq: int, at: str = "2025-03-01T07:59:58.000000Z") -> Event:
    return decode_event(dump(event(seq=seq, site=site, at=at)))


def test_recorded_batches_show_in_the_registry() -> None:
    """Counters, the commit histogram, per-site lag and liveness read as recorded."""
    clock = _Clock()
    metrics = HubMetrics(_Probe(), clock=clock)
    metrics.committed(
        seconds=0.004, messages=4, new_events=[_event("a", 1), _event("b", 2)], duplicates=1
    )
    metrics.dead_letter("PayloadInvalid")
    metrics.delivered(3)
    clock.now += 12.5
    samples = _samples(generate_latest(metrics.registry).decode())
    assert _value(samples, "shouwang_hub_messages_total") == 4
    assert _value(samples, "shouwang_hub_events_stored_total", site="a") == 1
    assert _value(samples, "shouwang_hub_events_duplicate_total") == 1
    assert _value(samples, "shouwang_hub_dead_letters_total", error="PayloadInvalid") == 1
    assert _value(samples, "shouwang_hub_relay_delivered_total") == 3
    assert _value(samples, "shouwang_hub_batch_commit_seconds_count") == 1
    assert _value(samples, "shouwang_hub_batch_commit_seconds_bucket", le="0.005") == 1
    # Both events were 2 s old when committed.
    assert _value(samples, "shouwang_hub_event_delay_seconds_sum") == pytest.approx(4.0)
    assert _value(samples, "shouwang_hub_site_lag_seconds", site="b") == pytest.approx(12.5)
    assert _value(samples, "shouwang_hub_component_alive", component="ingest") == 1
    assert _value(samples, "shouwang_hub_component_alive", component="relay") == 0
    assert _value(samples, "shouwang_hub_mqtt_connected") == 1


def test_site_labels_stop_at_the_bound() -> None:
    """Past MAX_SITE_LABELS sites, new sites count under `_other`; known ones keep theirs."""
    metrics = HubMetrics(_Probe())
    first = [_event(f"s{n}", n + 1) for n in range(MAX_SITE_LABELS)]
    metrics.committed(seconds=0.1, messages=len(first), new_events=first, duplicates=0)
    later = [_event("late-1", 1), _event("late-2", 2), _event("s0", 3)]
    metrics.committed(seconds=0.1, messages=3, new_events=later, duplicates=0)
    samples = _samples(generate_latest(metrics.registry).decode())
    stored = {
        dict(labels)["site"]
        for name, labels in samples
        if name == "shouwang_hub_events_stored_total"
    }
    assert len(stored) == MAX_SITE_LABELS + 1
    assert _value(samples, "shouwang_hub_events_stored_total", site=OTHER_SITES) == 2
    assert _value(samples, "shouwang_hub_events_stored_total", site="s0") == 2


def test_two_hubs_in_one_process_keep_separate_registries() -> None:
    """Each HubMetrics has its own registry: no duplicate-series error, no shared counts."""
    one, two = HubMetrics(_Probe()), HubMetrics(_Probe())
    one.delivered(1)
    samples = _samples(generate_latest(two.registry).decode())
    assert _value(samples, "shouwang_hub_relay_delivered_total") == 0


@pytest.mark.integration
async def test_metrics_of_a_running_hub_move_with_ingest(
    hub_config: HubConfig, mqtt_endpoint: MqttEndpoint
) -> None:
    """/metrics needs no token; after three events and a bad message its counters moved."""
    async with (
        running_hub(hub_config, mqtt_endpoint) as hub,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{hub.api_port}") as http,
        client(mqtt_endpoint) as agent,
    ):

        async def scrape() -> Samples:
            response = await http.get("/metrics")
            assert response.status_code == 200, response.text
            assert response.headers["content-type"].startswith("text/plain")
            return _samples(response.text)

        before = await scrape()
        assert _value(before, "shouwang_hub_events_stored_total", site=SITE) == 0
        assert _value(before, "shouwang_hub_mqtt_connected") == 1
        topic = hub.space.events(SITE, Kind.PANIC_ALARM, "panic-0031")
        for seq in (1, 2, 3):
            await agent.publish(topic, dump(event(seq=seq)), qos=1)
        await agent.publish(topic, b"{not json", qos=1)

        def moved(samples: Samples) -> bool:
            dead = sum(v for (n, _), v in samples.items() if n == "shouwang_hub_dead_letters_total")
            stored = _value(samples, "shouwang_hub_events_stored_total", site=SITE)
            return stored == 3 and dead == 1

        after = await eventually(scrape, until=moved, what="the ingest metrics")
    # The hub's own retained status is a message too (ignored, but committed).
    assert _value(after, "shouwang_hub_messages_total") >= 4
    assert _value(after, "shouwang_hub_batch_commit_seconds_count") >= 1
    assert _value(after, "shouwang_hub_site_lag_seconds", site=SITE) >= 0
    assert ("shouwang_hub_site_lag_seconds", frozenset({("site", SITE)})) in after
    assert _value(after, "shouwang_hub_component_alive", component="ingest") == 1


@pytest.mark.parametrize(
    ("api", "message"),
    [
        ("metrics_host: 0.0.0.0", "metrics_host is set but metrics_port is not"),
        ("metrics_port: 9100", "metrics_port is set but metrics_host is not"),
        (
            "port: 9100\n  metrics_host: 127.0.0.1\n  metrics_port: 9100",
            "metrics_host/metrics_port is the API's own",
        ),
    ],
)
def test_metrics_address_needs_host_and_port(api: str, message: str) -> None:
    """One of metrics_host/metrics_port without the other, or the API's own address, is
    refused, naming the keys."""
    with pytest.raises(ConfigError, match=rf"<config>:\d+: api: {message}"):
        parse_config(f"api:\n  {api}\n", environ={DATABASE_URL_ENV: "postgresql://hub@db/x"})


def test_metrics_address_is_optional() -> None:
    """Neither key: /metrics stays on the API; both: its own address."""
    environ = {DATABASE_URL_ENV: "postgresql://hub@db/x"}
    assert parse_config("", environ=environ).api.metrics_port is None
    config = parse_config("api:\n  metrics_host: 0.0.0.0\n  metrics_port: 0\n", environ=environ)
    assert (config.api.metrics_host, config.api.metrics_port) == ("0.0.0.0", 0)


def _with_metrics_port(config: HubConfig, port: int) -> HubConfig:
    api = config.api.model_copy(update={"metrics_host": "127.0.0.1", "metrics_port": port})
    return config.model_copy(update={"api": api})


@pytest.mark.integration
async def test_metrics_on_an_address_of_their_own(
    hub_config: HubConfig, mqtt_endpoint: MqttEndpoint
) -> None:
    """With metrics_port set, /metrics answers there only; the API answers 404 for it."""
    config = _with_metrics_port(hub_config, 0)
    async with (
        running_hub(config, mqtt_endpoint) as hub,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{hub.api_port}") as api,
    ):
        assert hub.metrics_port is not None
        assert hub.metrics_port not in (0, hub.api_port)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{hub.metrics_port}") as scraper:
            response = await scraper.get("/metrics")
            assert response.status_code == 200, response.text
            assert response.headers["content-type"].startswith("text/plain")
            samples = _samples(response.text)
            assert _value(samples, "shouwang_hub_mqtt_connected") == 1
            # Nothing else lives on the metrics address.
            assert (await scraper.get("/health")).status_code == 404
            assert (await scraper.get("/openapi.json")).status_code == 404
        assert (await api.get("/metrics")).status_code == 404
        assert (await api.get("/health")).status_code == 200


@pytest.mark.integration
async def test_taken_metrics_port_stops_the_start_clearly(hub_config: HubConfig) -> None:
    """A metrics port already in use is a ListenError naming it, before any task runs."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = _with_metrics_port(hub_config, port)
        with pytest.raises(
            ListenError, match=f"metrics listener cannot listen on 127.0.0.1:{port}"
        ):
            async with Hub(config):
                pass
