"""Migrations: applied once, in order, under a lock; changed or unknown ones refused."""

import asyncio
from typing import Any

import psycopg
import pytest

from hub.errors import MigrationError
from hub.storage import known_migrations, migrate
from tests.hub.support import rows

pytestmark = pytest.mark.integration


async def _migrate(url: str) -> tuple[Any, ...]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await migrate(conn)


async def test_empty_database_gets_every_migration_once(database: str) -> None:
    """An empty database gets every migration; a second run is a no-op."""
    applied = await _migrate(database)
    assert [m.version for m in applied] == [m.version for m in known_migrations()]
    recorded = await rows(database, "SELECT version, name, checksum FROM schema_migrations")
    assert sorted(recorded) == [(m.version, m.name, m.checksum) for m in known_migrations()]
    assert await _migrate(database) == ()
    assert len(await rows(database, "SELECT * FROM schema_migrations")) == len(applied)


async def test_concurrent_migrators_do_not_race(database: str) -> None:
    """Four hubs migrating one empty database at once apply each migration exactly once."""
    results = await asyncio.gather(*(_migrate(database) for _ in range(4)))
    applied = [m.version for result in results for m in result]
    assert sorted(applied) == [m.version for m in known_migrations()]
    versions = await rows(database, "SELECT version FROM schema_migrations ORDER BY version")
    assert [v for (v,) in versions] == [m.version for m in known_migrations()]


async def test_changed_migration_is_refused(database: str) -> None:
    """A migration whose recorded checksum differs from the file's stops the hub."""
    await _migrate(database)
    await rows(
        database, "UPDATE schema_migrations SET checksum = 'f00d' WHERE version = 1 RETURNING 1"
    )
    with pytest.raises(MigrationError, match="0001_initial was changed after it was applied"):
        await _migrate(database)


async def test_database_newer_than_the_code_is_refused(database: str) -> None:
    """A database migrated by a newer hub (an unknown version) stops this one."""
    await _migrate(database)
    await rows(
        database,
        "INSERT INTO schema_migrations (version, name, checksum) "
        "VALUES (9999, 'from_the_future', 'x') RETURNING 1",
    )
    with pytest.raises(MigrationError, match=r"version 9999 .* newer than this hub knows"):
        await _migrate(database)


async def test_migrate_needs_autocommit(database: str) -> None:
    """`migrate` runs its own transactions: a connection inside one is refused."""
    async with await psycopg.AsyncConnection.connect(database) as conn:
        with pytest.raises(MigrationError, match="autocommit"):
            await migrate(conn)


async def test_events_key_and_not_null_columns(database: str) -> None:
    """`events` has the primary key (id, at) and every column NOT NULL."""
    await _migrate(database)
    key = await rows(
        database,
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'events'::regclass AND i.indisprimary "
        "ORDER BY array_position(i.indkey::int2[], a.attnum)",
    )
    assert [k for (k,) in key] == ["id", "at"]
    columns = await rows(
        database,
        "SELECT column_name, is_nullable FROM information_schema.columns "
        "WHERE table_name = 'events' ORDER BY ordinal_position",
    )
    assert [c for c, _ in columns] == [
        "id",
        "at",
        "received_at",
        "site",
        "device",
        "kind",
        "type",
        "lane",
        "epoch",
        "seq",
        "source",
        "data",
    ]
    assert {nullable for _, nullable in columns} == {"NO"}


async def test_one_unresolved_alert_per_rule_site_device(database: str) -> None:
    """The partial unique index refuses a second open alert for the same key, NULLs included."""
    await _migrate(database)
    insert = (
        "INSERT INTO alerts (alert_id, rule, severity, site, device, state, revision, count, "
        "first_at, last_at, event_ids) VALUES (gen_random_uuid(), 'r', 'high', 's', %s, %s, "
        "1, 1, now(), now(), '{}') RETURNING 1"
    )
    for device in ("d", None):
        await rows(database, insert, [device, "resolved"])
        await rows(database, insert, [device, "open"])
        with pytest.raises(psycopg.errors.UniqueViolation):
            await rows(database, insert, [device, "acknowledged"])
