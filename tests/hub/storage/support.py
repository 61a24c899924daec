"""What the storage tests share: events built through the contract, a migrated database."""

import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg

from hub.inbound import classify
from hub.storage import Bucket, EventCount, migrate, write_inbound
from tests.hub.support import dump, event, rows
from wire import Event, Kind, TopicSpace, format_time

SPACE = TopicSpace("test/storage/")


def make_event(
    *,
    seq: int,
    at: datetime,
    site: str = "room-07",
    device: str = "panic-0031",
    kind: str = "panic_alarm",
    type: str = "alarm.panic",  # noqa: A002 - the envelope's field name
    event_id: uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    """A valid event, parsed by the contract as the hub parses what it receives."""
    payload = event(
        seq=seq,
        site=site,
        device=device,
        kind=kind,
        type=type,
        at=format_time(at),
        event_id=event_id,
        data=data,
    )
    topic = SPACE.events(site, Kind(kind), payload["device"])
    parsed = classify(SPACE, topic, dump(payload))
    assert isinstance(parsed, Event), parsed
    return parsed


async def migrated(url: str) -> None:
    """Bring the database at `url` to the newest schema."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await migrate(conn)


async def store(url: str, events: Sequence[Event]) -> list[Event]:
    """Write `events` in one transaction through the hub's write path; the new ones."""
    async with await psycopg.AsyncConnection.connect(url) as conn, conn.cursor() as cur:
        new = await write_inbound(cur, events)
        await conn.commit()
        return new


_TRUNC = {"1m": "minute", "1h": "hour", "1d": "day"}
_MIX = (
    ("room-07", "panic_alarm", "alarm.panic"),
    ("room-07", "door_lock", "door.opened"),
    ("room-08", "door_lock", "door.opened"),
    ("room-09", "contact", "alarm.intrusion"),
)


def spread(count: int, t0: datetime) -> list[Event]:
    """`count` events over the 2 days from `t0`, across sites, kinds and types."""
    rng = random.Random(7)
    events = []
    for seq in range(1, count + 1):
        site, kind, type_ = rng.choice(_MIX)
        at = t0 + timedelta(seconds=rng.randrange(0, 2 * 86_400))
        events.append(make_event(seq=seq, at=at, site=site, kind=kind, type=type_))
    return events


async def direct(
    url: str, bucket: Bucket, where: str = "true", params: Any = ()
) -> list[EventCount]:
    """The counts computed another way: date_trunc in UTC, over the raw rows."""
    unit = _TRUNC[bucket]
    found = await rows(
        url,
        f"SELECT date_trunc('{unit}', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS b, "
        f"site, kind, type, count(*) FROM events WHERE {where} "
        "GROUP BY b, site, kind, type ORDER BY b, site, kind, type",
        params,
    )
    return [EventCount(*row) for row in found]
