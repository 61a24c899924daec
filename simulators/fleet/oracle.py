"""The oracle: after a run, SQL on the hub's documented schema (docs/schema.md) says
whether every event the fleet generated arrived exactly once, and whether the alerts
raised are exactly the ones expected.

    verdict = check(database_url, records, expectations, epochs=..., sites=..., since=...)
    print(verdict.summary()); assert verdict.ok

Events are compared by id among the rows of the fleet's epochs (`events.epoch`): an id
the fleet made and no row has is *missing*, one with more than one row is *duplicated*,
a row of those epochs with an id the fleet never made is a *stray*. Alerts are compared
as (rule, site, device) keys among the `alerts` rows of the fleet's sites created, or
gathering events, since the run started: a required key without a row is a *missing
alert*, a row whose key is neither required nor allowed is an *unexpected alert*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import psycopg

from simulators.fleet.expect import AlertKey

if TYPE_CHECKING:
    import uuid
    from collections.abc import Collection, Iterable
    from datetime import datetime

    from simulators.fleet.agent import Record
    from simulators.fleet.expect import Expectations

__all__ = ["OracleError", "Verdict", "check"]

_SHOW: Final = 10  # ids and keys listed in a summary

_EVENTS: Final = """
SELECT id, count(*) FROM events WHERE epoch = ANY(%(epochs)s) GROUP BY id
"""
_ALERTS: Final = """
SELECT DISTINCT rule, site, device FROM alerts
WHERE site = ANY(%(sites)s) AND (created_at >= %(since)s OR last_at >= %(since)s)
"""


class OracleError(Exception):
    """The database could not be read (the verdict is unknown, not failed)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the oracle found. `ok` when nothing is missing, duplicated, stray or unexpected."""

    events: int
    """Events the fleet generated."""
    stored: int
    """Distinct ids of those events found in `events`."""
    missing: tuple[uuid.UUID, ...]
    duplicated: tuple[uuid.UUID, ...]
    strays: tuple[uuid.UUID, ...]
    raised: tuple[AlertKey, ...]
    missing_alerts: tuple[AlertKey, ...]
    unexpected_alerts: tuple[AlertKey, ...]
    required: tuple[AlertKey, ...] = field(default=())
    allowed: tuple[AlertKey, ...] = field(default=())

    @property
    def delivery_ok(self) -> bool:
        """Every event exactly once, nothing else under the fleet's epochs."""
        return not (self.missing or self.duplicated or self.strays)

    @property
    def alerts_ok(self) -> bool:
        """Every required alert raised and no unexpected one."""
        return not (self.missing_alerts or self.unexpected_alerts)

    @property
    def ok(self) -> bool:
        """Delivery and alerts both as expected."""
        return self.delivery_ok and self.alerts_ok

    def summary(self) -> str:
        """A few lines for people: the counts, then the first offenders of each kind."""
        lines = [
            (
                f"oracle: {'PASS' if self.ok else 'FAIL'}: {self.stored}/{self.events} events "
                f"stored exactly once; {len(self.missing)} missing, {len(self.duplicated)} "
                f"duplicated, {len(self.strays)} strays; alerts: {len(self.raised)} raised, "
                f"{len(self.required)} required, {len(self.missing_alerts)} missing, "
                f"{len(self.unexpected_alerts)} unexpected"
            )
        ]
        for label, items in (
            ("missing events", self.missing),
            ("duplicated events", self.duplicated),
            ("stray events", self.strays),
            ("missing alerts", self.missing_alerts),
            ("unexpected alerts", self.unexpected_alerts),
        ):
            if items:
                shown = ", ".join(str(item) for item in items[:_SHOW])
                more = f" (+{len(items) - _SHOW} more)" if len(items) > _SHOW else ""
                lines.append(f"  {label}: {shown}{more}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (ids and keys as strings)."""
        return {
            "ok": self.ok,
            "events": self.events,
            "stored": self.stored,
            "missing": [str(i) for i in self.missing],
            "duplicated": [str(i) for i in self.duplicated],
            "strays": [str(i) for i in self.strays],
            "raised": [str(k) for k in self.raised],
            "required": [str(k) for k in self.required],
            "allowed": [str(k) for k in self.allowed],
            "missing_alerts": [str(k) for k in self.missing_alerts],
            "unexpected_alerts": [str(k) for k in self.unexpected_alerts],
        }


def check(
    database_url: str,
    records: Iterable[Record],
    expectations: Expectations,
    *,
    epochs: Collection[uuid.UUID],
    sites: Collection[str],
    since: datetime,
) -> Verdict:
    """Judge a run: `records` are the events the fleet generated under `epochs` at
    `sites`; `expectations` the alerts it must (and may) raise; `since` when it began.

    `OracleError` if the database cannot be read.
    """
    made = {record.id for record in records}
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            counts: dict[uuid.UUID, int] = dict(
                conn.execute(_EVENTS, {"epochs": list(epochs)}).fetchall()
            )
            rows = conn.execute(_ALERTS, {"sites": list(sites), "since": since}).fetchall()
    except psycopg.Error as exc:
        raise OracleError(f"cannot read the hub's database: {exc}") from exc
    raised = {AlertKey(rule, site, device) for rule, site, device in rows}
    required, allowed = expectations.required, expectations.allowed
    return Verdict(
        events=len(made),
        stored=sum(1 for i in made if i in counts),
        missing=tuple(sorted(i for i in made if i not in counts)),
        duplicated=tuple(sorted(i for i, n in counts.items() if n > 1 and i in made)),
        strays=tuple(sorted(i for i in counts if i not in made)),
        raised=tuple(sorted(raised)),
        missing_alerts=tuple(sorted(required - raised)),
        unexpected_alerts=tuple(sorted(raised - required - allowed)),
        required=tuple(sorted(required)),
        allowed=tuple(sorted(allowed)),
    )
