"""The hub's Prometheus metrics, in a registry of its own (one per `Hub`, so tests can run
many hubs in one process), served as `/metrics` by the API.

Counted as ingest and the relay go (all `_total` counters start at 0 with the process):

- `shouwang_hub_messages_total`: messages committed (events, states, inventories,
  statuses, dead letters);
- `shouwang_hub_events_stored_total{site}`: new events stored; duplicates go to
  `shouwang_hub_events_duplicate_total`;
- `shouwang_hub_dead_letters_total{error}`: dead letters by error class (`PayloadInvalid`,
  `TopicMismatch`, `StorageRefused`, …: a fixed set, the `dead_letters.error` column);
- `shouwang_hub_batch_commit_seconds`: how long each committed batch's transaction took;
- `shouwang_hub_event_delay_seconds`: commit time minus the event's `at` (how far behind
  the agents' outboxes are; clock skew included);
- `shouwang_hub_ingest_retries_total`, `shouwang_hub_relay_delivered_total`;
- `shouwang_hub_ingest_capped_total{site}`: messages refused by the per-site rate cap
  (neither stored nor acked: the agent resends them).

Read at scrape time:

- `shouwang_hub_site_lag_seconds{site}`: seconds since this hub process last stored an
  event of the site (sites it has stored none for since it started are absent);
- `shouwang_hub_component_alive{component}` (ingest, rules, relay) and
  `shouwang_hub_mqtt_connected`: 1 or 0, as `/health` reports them.

`site` labels are bounded: after `MAX_SITE_LABELS` distinct sites, further ones count
under `site="_other"` (not a valid site id, so it cannot clash with one).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from wire import parse_time

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from prometheus_client.metrics_core import Metric

    from hub.api.probe import HubProbe
    from wire import Event

__all__ = ["MAX_SITE_LABELS", "OTHER_SITES", "HubMetrics"]

MAX_SITE_LABELS: Final = 1000
"""Most distinct `site` label values; a Prometheus series per site stays cheap below it."""

OTHER_SITES: Final = "_other"
"""The `site` label of every site past the first `MAX_SITE_LABELS`."""

_PREFIX: Final = "shouwang_hub"
_COMMIT_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# From "live" (tens of ms) to "an agent emptied a day-long outbox".
_DELAY_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 86400)


class HubMetrics:
    """The metrics of one hub; ingest and the relay record into it, `registry` serves it."""

    def __init__(self, probe: HubProbe, *, clock: Callable[[], float] = time.time) -> None:
        self.registry = CollectorRegistry()
        self._probe = probe
        self._clock = clock
        self._last_stored: dict[str, float] = {}
        r = self.registry
        self._messages = Counter(
            f"{_PREFIX}_messages", "Messages committed, of every kind.", registry=r
        )
        self._stored = Counter(
            f"{_PREFIX}_events_stored", "New events stored, by site.", ["site"], registry=r
        )
        self._duplicates = Counter(
            f"{_PREFIX}_events_duplicate", "Events received again (already stored).", registry=r
        )
        self._dead_letters = Counter(
            f"{_PREFIX}_dead_letters", "Dead letters, by error class.", ["error"], registry=r
        )
        self._commit = Histogram(
            f"{_PREFIX}_batch_commit_seconds",
            "Duration of each committed ingest transaction.",
            buckets=_COMMIT_BUCKETS,
            registry=r,
        )
        self._delay = Histogram(
            f"{_PREFIX}_event_delay_seconds",
            "Commit time minus the event's `at`, per new event.",
            buckets=_DELAY_BUCKETS,
            registry=r,
        )
        self._retries = Counter(
            f"{_PREFIX}_ingest_retries", "Batches retried after a database error.", registry=r
        )
        self._delivered = Counter(
            f"{_PREFIX}_relay_delivered", "Alert transitions the relay published.", registry=r
        )
        self._capped = Counter(
            f"{_PREFIX}_ingest_capped",
            "Messages refused by the per-site rate cap (the agent resends them), by site.",
            ["site"],
            registry=r,
        )
        r.register(self)

    def _site_label(self, site: str) -> str:
        if site in self._last_stored or len(self._last_stored) < MAX_SITE_LABELS:
            return site
        return OTHER_SITES

    def committed(
        self, *, seconds: float, messages: int, new_events: Sequence[Event], duplicates: int
    ) -> None:
        """A batch of `messages` committed in `seconds`, storing `new_events`."""
        now = self._clock()
        self._commit.observe(seconds)
        self._messages.inc(messages)
        self._duplicates.inc(duplicates)
        for event in new_events:
            site = self._site_label(event.site)
            self._stored.labels(site=site).inc()
            self._last_stored[site] = now
            self._delay.observe(max(0.0, now - parse_time(event.at).timestamp()))

    def dead_letter(self, error: str) -> None:
        """A dead letter of error class `error` was committed."""
        self._dead_letters.labels(error=error).inc()

    def retried(self) -> None:
        """A batch was not stored and will be retried."""
        self._retries.inc()

    def capped(self, site: str) -> None:
        """A message of `site` was refused by the rate cap."""
        self._capped.labels(site=self._site_label(site)).inc()

    def delivered(self, count: int) -> None:
        """The relay published `count` alert transitions."""
        self._delivered.inc(count)

    def collect(self) -> Iterable[Metric]:
        """The values read at scrape time (the registry calls this)."""
        now = self._clock()
        lag = GaugeMetricFamily(
            f"{_PREFIX}_site_lag_seconds",
            "Seconds since this hub last stored an event of the site.",
            labels=["site"],
        )
        for site, at in sorted(self._last_stored.items()):
            lag.add_metric([site], max(0.0, now - at))
        yield lag
        parts = self._probe.components()
        alive = GaugeMetricFamily(
            f"{_PREFIX}_component_alive",
            "1 if the hub loop beat recently, else 0.",
            labels=["component"],
        )
        for name, part in (
            ("ingest", parts.ingest),
            ("rules", parts.rules),
            ("relay", parts.relay),
        ):
            alive.add_metric([name], float(part.alive))
        yield alive
        yield GaugeMetricFamily(
            f"{_PREFIX}_mqtt_connected",
            "1 if the broker link is up, else 0.",
            value=float(self._probe.mqtt_connected()),
        )
