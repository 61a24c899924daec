"""Writing one batch of inbound messages, inside the caller's transaction.

Events are copied (COPY) into a temporary staging table, then moved into `events` with
`ON CONFLICT (id, at) DO NOTHING`; only the events new to the database update devices
and reach the rules, so a resent event changes nothing. Every other statement takes the
whole batch as arrays (`unnest`), so a batch costs a handful of round trips whatever its
size. Rows are sorted by key before upserts so that two hubs
writing the same devices lock them in the same order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from hub.inbound import DeadLetter, Inbound, Snapshot
from hub.storage.snapshots import insert_snapshots
from wire import AgentStatus, DeviceState, Event, EventType, Inventory, encode

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from psycopg import AsyncCursor

__all__ = ["ONLINE_AFTER", "write_inbound"]

ONLINE_AFTER: Final = MappingProxyType(
    {EventType.DEVICE_OFFLINE: False, EventType.DEVICE_ONLINE: True}
)
"""Whether a device answers after an event of this type; any other event says it does."""

# One staging table per connection, created on its first batch. ON COMMIT DELETE ROWS
# empties it at the end of every transaction, committed or not, and the move below
# empties it within one (the one-message-at-a-time retry writes several batches per
# transaction). Rolled back with a savepoint, it is simply created again.
_CREATE_STAGING: Final = """
CREATE TEMP TABLE IF NOT EXISTS events_staging (
    id uuid, at timestamptz, site text, device text, kind text, type text, lane smallint,
    epoch uuid, seq bigint, source jsonb, data jsonb
) ON COMMIT DELETE ROWS
"""

_COPY_STAGING: Final = """
COPY events_staging (id, at, site, device, kind, type, lane, epoch, seq, source, data)
FROM STDIN
"""

_MOVE_STAGED: Final = """
WITH staged AS (DELETE FROM events_staging RETURNING *)
INSERT INTO events (id, at, site, device, kind, type, lane, epoch, seq, source, data)
SELECT id, at, site, device, kind, type, lane, epoch, seq, source, data FROM staged
ON CONFLICT (id, at) DO NOTHING
RETURNING id
"""

_INSERT_DEAD_LETTERS: Final = """
INSERT INTO dead_letters (topic, site, error, reason, error_path, epoch, seq, payload, size)
SELECT * FROM unnest(
    %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::uuid[], %s::bigint[],
    %s::bytea[], %s::integer[]
)
"""

_TOUCH_SITES: Final = """
INSERT INTO sites (site) SELECT unnest(%s::text[]) ON CONFLICT (site) DO NOTHING
"""

# Newer information wins, whatever order it arrives in: each group of columns keeps the
# time it describes (last_seen, state_at, online_at) and only moves forward.
_UPSERT_DEVICES_FROM_EVENTS: Final = """
INSERT INTO devices AS d (
    site, device, kind, first_seen, last_seen, last_event_id, last_type, online, online_at
)
SELECT s, dv, k, f, l, e, t, o, l FROM unnest(
    %s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[], %s::uuid[],
    %s::text[], %s::boolean[]
) AS u(s, dv, k, f, l, e, t, o)
ON CONFLICT (site, device) DO UPDATE SET
    first_seen = LEAST(d.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(d.last_seen, EXCLUDED.last_seen),
    last_event_id = CASE WHEN d.last_seen IS NULL OR EXCLUDED.last_seen >= d.last_seen
        THEN EXCLUDED.last_event_id ELSE d.last_event_id END,
    last_type = CASE WHEN d.last_seen IS NULL OR EXCLUDED.last_seen >= d.last_seen
        THEN EXCLUDED.last_type ELSE d.last_type END,
    online = CASE WHEN d.online_at IS NULL OR EXCLUDED.online_at >= d.online_at
        THEN EXCLUDED.online ELSE d.online END,
    online_at = GREATEST(d.online_at, EXCLUDED.online_at),
    updated_at = now()
"""

_UPSERT_DEVICES_FROM_STATES: Final = """
INSERT INTO devices AS d (site, device, kind, last_state, state_at, online, online_at)
SELECT s, dv, k, st, a, o, a FROM unnest(
    %s::text[], %s::text[], %s::text[], %s::jsonb[], %s::timestamptz[], %s::boolean[]
) AS u(s, dv, k, st, a, o)
ON CONFLICT (site, device) DO UPDATE SET
    kind = EXCLUDED.kind,
    last_state = CASE WHEN d.state_at IS NULL OR EXCLUDED.state_at >= d.state_at
        THEN EXCLUDED.last_state ELSE d.last_state END,
    state_at = GREATEST(d.state_at, EXCLUDED.state_at),
    online = CASE WHEN d.online_at IS NULL OR EXCLUDED.online_at >= d.online_at
        THEN EXCLUDED.online ELSE d.online END,
    online_at = GREATEST(d.online_at, EXCLUDED.online_at),
    updated_at = now()
"""

# An inventory replaces the previous one whole, unless it is older (a retained copy
# replayed after a newer one was applied): then the site row is not updated, no row comes
# back, and the devices are left alone.
_CLAIM_INVENTORY: Final = """
INSERT INTO sites AS s (site, inventory_at, inventory_count) VALUES (%s, %s, %s)
ON CONFLICT (site) DO UPDATE SET
    inventory_at = EXCLUDED.inventory_at, inventory_count = EXCLUDED.inventory_count
WHERE s.inventory_at IS NULL OR EXCLUDED.inventory_at >= s.inventory_at
RETURNING site
"""

_UPSERT_INVENTORIED: Final = """
INSERT INTO devices AS d (site, device, kind, label, checkin_s, inventoried, inventoried_at)
SELECT %s, dv, k, lb, c, true, now() FROM unnest(
    %s::text[], %s::text[], %s::text[], %s::integer[]
) AS u(dv, k, lb, c)
ON CONFLICT (site, device) DO UPDATE SET
    kind = EXCLUDED.kind, label = EXCLUDED.label, checkin_s = EXCLUDED.checkin_s,
    inventoried = true, inventoried_at = COALESCE(d.inventoried_at, now()), updated_at = now()
"""

_UNLIST_OTHERS: Final = """
UPDATE devices SET inventoried = false, updated_at = now()
WHERE site = %s AND inventoried AND NOT (device = ANY(%s::text[]))
"""

_UPSERT_STATUS: Final = """
INSERT INTO sites AS s (site, state, status, last_status_at, epoch)
VALUES (%s, %s, %s::jsonb, now(), %s)
ON CONFLICT (site) DO UPDATE SET
    state = EXCLUDED.state, status = EXCLUDED.status,
    last_status_at = EXCLUDED.last_status_at, epoch = EXCLUDED.epoch
"""


def _json(value: object) -> str:
    """Compact JSON text for a jsonb parameter."""
    return json.dumps(value, separators=(",", ":"))


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows turned into one list per column, for `unnest`."""
    return [[row[i] for row in rows] for i in range(width)] if rows else [[]] * width


async def _insert_events(cur: AsyncCursor[Any], events: Sequence[Event]) -> list[Event]:
    """Insert `events`; the ones that were new, in batch order."""
    if not events:
        return []
    rows = [
        (
            e.id,
            e.at,
            e.site,
            e.device,
            e.kind.value,
            e.type.value,
            int(e.lane),
            e.epoch,
            e.seq,
            _json(e.source),
            _json(e.data),
        )
        for e in events
    ]
    await cur.execute(_CREATE_STAGING)
    async with cur.copy(_COPY_STAGING) as copy:
        for row in rows:
            await copy.write_row(row)
    await cur.execute(_MOVE_STAGED)
    inserted = {row[0] for row in await cur.fetchall()}
    new: list[Event] = []
    for event in events:
        # The same event twice in one batch: only its first copy is new.
        if event.id in inserted:
            inserted.discard(event.id)
            new.append(event)
    return new


async def _insert_dead_letters(cur: AsyncCursor[Any], letters: Sequence[DeadLetter]) -> None:
    if not letters:
        return
    rows = [
        (
            d.topic,
            d.site,
            d.error,
            d.reason,
            d.error_path,
            d.ack.epoch if d.ack else None,
            d.ack.seq if d.ack else None,
            d.payload,
            d.size,
        )
        for d in letters
    ]
    await cur.execute(_INSERT_DEAD_LETTERS, _columns(rows, 9))


async def _update_devices(cur: AsyncCursor[Any], events: Sequence[Event]) -> None:
    """Fold the new events into one row per device: first and last seen, last event."""
    first: dict[tuple[str, str], str] = {}
    last: dict[tuple[str, str], Event] = {}
    for e in events:
        key = (e.site, e.device)
        first[key] = min(first.get(key, e.at), e.at)
        previous = last.get(key)
        # Canonical times have a fixed width: string order is time order.
        if previous is None or (e.at, str(e.id)) >= (previous.at, str(previous.id)):
            last[key] = e
    if not last:
        return
    rows = [
        (
            site,
            device,
            e.kind.value,
            first[site, device],
            e.at,
            e.id,
            e.type.value,
            ONLINE_AFTER.get(e.type, True),
        )
        for (site, device), e in sorted(last.items())
    ]
    await cur.execute(_UPSERT_DEVICES_FROM_EVENTS, _columns(rows, 8))
    await cur.execute(_TOUCH_SITES, [sorted({site for site, _ in last})])


async def _update_states(cur: AsyncCursor[Any], states: Iterable[DeviceState]) -> None:
    newest: dict[tuple[str, str], DeviceState] = {}
    for s in states:
        key = (s.site, s.device)
        if key not in newest or s.at >= newest[key].at:
            newest[key] = s
    if not newest:
        return
    rows = [
        (s.site, s.device, s.kind.value, _json(s.state), s.at, s.online)
        for _, s in sorted(newest.items())
    ]
    await cur.execute(_UPSERT_DEVICES_FROM_STATES, _columns(rows, 6))


async def _apply_inventories(cur: AsyncCursor[Any], inventories: Iterable[Inventory]) -> None:
    newest: dict[str, Inventory] = {}
    for inventory in inventories:
        if inventory.site not in newest or inventory.at >= newest[inventory.site].at:
            newest[inventory.site] = inventory
    for site, inventory in sorted(newest.items()):
        await cur.execute(_CLAIM_INVENTORY, [site, inventory.at, len(inventory.devices)])
        if await cur.fetchone() is None:
            continue
        devices = sorted(inventory.devices, key=lambda d: d.id)
        rows = [(d.id, d.kind.value, d.label, d.checkin_s) for d in devices]
        await cur.execute(_UPSERT_INVENTORIED, [site, *_columns(rows, 4)])
        await cur.execute(_UNLIST_OTHERS, [site, [d.id for d in devices]])


async def _apply_statuses(cur: AsyncCursor[Any], statuses: Iterable[AgentStatus]) -> None:
    # The last one received wins: an LWT carries the clock of its connection, older
    # than the statuses published since, yet it is the newest news.
    latest = {status.site: status for status in statuses}
    for site, status in sorted(latest.items()):
        document = encode(status).decode("utf-8")
        await cur.execute(_UPSERT_STATUS, [site, status.state.value, document, status.epoch])


@dataclass(frozen=True, slots=True)
class _Sorted:
    """A batch split by what each message is."""

    events: list[Event]
    letters: list[DeadLetter]
    states: list[DeviceState]
    inventories: list[Inventory]
    statuses: list[AgentStatus]
    snapshots: list[Snapshot]


def _split(items: Iterable[Inbound]) -> _Sorted:
    split = _Sorted([], [], [], [], [], [])
    for item in items:
        match item:
            case Event():
                split.events.append(item)
            case DeadLetter():
                split.letters.append(item)
            case DeviceState():
                split.states.append(item)
            case Inventory():
                split.inventories.append(item)
            case AgentStatus():
                split.statuses.append(item)
            case Snapshot():
                split.snapshots.append(item)
            case _:
                pass  # Ignored: nothing to store
    return split


async def write_inbound(cur: AsyncCursor[Any], items: Iterable[Inbound]) -> list[Event]:
    """Store a batch in the caller's transaction; the events that were new, in order."""
    split = _split(items)
    new = await _insert_events(cur, split.events)
    await _insert_dead_letters(cur, split.letters)
    await _update_devices(cur, new)
    await _update_states(cur, split.states)
    await _apply_inventories(cur, split.inventories)
    await _apply_statuses(cur, split.statuses)
    await insert_snapshots(cur, split.snapshots)
    return new
