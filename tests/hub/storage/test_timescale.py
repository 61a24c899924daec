"""TimescaleDB: policies and continuous aggregates after migrate, late inserts into
compressed chunks, counts from the aggregates. Run on a private cluster that preloads
the extension; skipped, with the reason, where it cannot be loaded."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from hub.config import StorageConfig
from hub.storage import apply_policies, event_counts, has_aggregates, is_hypertable
from tests.harness import PrivatePostgres, ServiceStartError, scratch_database
from tests.hub.storage.support import direct, make_event, migrated, spread, store
from tests.hub.support import rows

pytestmark = pytest.mark.integration

_SETTINGS = {"shared_preload_libraries": "timescaledb", "timescaledb.telemetry_level": "off"}
_JOBS = (
    "SELECT proc_name, coalesce(config ->> 'compress_after', config ->> 'drop_after') "
    "FROM timescaledb_information.jobs WHERE hypertable_name = 'events' ORDER BY proc_name"
)


@pytest.fixture(scope="module")
def timescale_server() -> Iterator[PrivatePostgres]:
    """A private cluster with TimescaleDB preloaded, shared by this module's tests."""
    server = PrivatePostgres(settings=_SETTINGS)
    try:
        server.start()
    except ServiceStartError as exc:
        server.close()
        pytest.skip(f"TimescaleDB cannot be preloaded on this machine: {exc}")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def timescale(timescale_server: PrivatePostgres) -> Iterator[str]:
    """URL of an empty database of this test's own on the TimescaleDB cluster."""
    with scratch_database(timescale_server.url) as url:
        yield url


def _hour_ago(hours: int) -> datetime:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now - timedelta(hours=hours)


async def test_migrate_creates_hypertable_policies_and_aggregates(timescale: str) -> None:
    """After migrate: a compressed-by-site hypertable, both policies, two refreshed caggs."""
    await migrated(timescale)
    async with await psycopg.AsyncConnection.connect(timescale) as conn:
        assert await is_hypertable(conn)
        assert await has_aggregates(conn)
    assert await rows(
        timescale,
        "SELECT compression_enabled FROM timescaledb_information.hypertables "
        "WHERE hypertable_name = 'events'",
    ) == [(True,)]
    assert await rows(
        timescale,
        "SELECT attname, segmentby_column_index FROM timescaledb_information.compression_settings"
        " WHERE hypertable_name = 'events' AND segmentby_column_index IS NOT NULL",
    ) == [("site", 1)]
    assert await rows(timescale, _JOBS) == [
        ("policy_compression", "7 days"),
        ("policy_retention", "180 days"),
    ]
    assert await rows(
        timescale,
        "SELECT c.view_name, c.materialized_only, j.schedule_interval FROM "
        "timescaledb_information.continuous_aggregates c JOIN timescaledb_information.jobs j "
        "ON j.hypertable_name = c.view_name "
        "AND j.proc_name = 'policy_refresh_continuous_aggregate' ORDER BY c.view_name",
    ) == [
        ("events_per_hour", False, timedelta(hours=1)),
        ("events_per_minute", False, timedelta(minutes=1)),
    ]
    # 0006's hourly-count triggers are plain PostgreSQL's: none on the hypertable.
    triggers = await rows(
        timescale, "SELECT tgname FROM pg_trigger WHERE tgrelid = 'events'::regclass"
    )
    assert not [name for (name,) in triggers if name.startswith("events_count")]


async def test_configured_intervals_replace_the_defaults(timescale: str) -> None:
    """`apply_policies` resets policies whose interval differs from the configuration."""
    await migrated(timescale)
    async with await psycopg.AsyncConnection.connect(timescale) as conn:
        assert await apply_policies(conn, StorageConfig(retention_days=90, compress_after_days=3))
        assert await apply_policies(conn, StorageConfig(retention_days=90, compress_after_days=3))
    assert await rows(timescale, _JOBS) == [
        ("policy_compression", "3 days"),
        ("policy_retention", "90 days"),
    ]


async def test_late_events_into_a_compressed_chunk(timescale: str) -> None:
    """A compressed chunk takes a late new event; a resent one is ignored."""
    await migrated(timescale)
    # The test compresses the chunk itself: the policy's job would race it for the chunk.
    await rows(timescale, "SELECT remove_compression_policy('events')")
    hour = _hour_ago(10 * 24)
    first = make_event(seq=1, at=hour + timedelta(minutes=5))
    assert await store(timescale, [first]) == [first]
    compressed = await rows(
        timescale,
        "SELECT compress_chunk(c, if_not_compressed => true)::text "
        "FROM show_chunks('events', older_than => %s::timestamptz) c",
        [hour + timedelta(hours=1)],
    )
    assert len(compressed) == 1
    assert await rows(
        timescale,
        "SELECT is_compressed FROM timescaledb_information.chunks WHERE hypertable_name = 'events'",
    ) == [(True,)]
    late = make_event(seq=2, at=hour + timedelta(minutes=30))
    assert await store(timescale, [late, first]) == [late]
    assert await store(timescale, [first, late]) == []
    assert await rows(timescale, "SELECT seq FROM events ORDER BY seq") == [(1,), (2,)]


async def test_counts_from_aggregates_equal_a_direct_count(timescale: str) -> None:
    """After a refresh, minute, hour and day counts from the caggs equal direct counts."""
    await migrated(timescale)
    t0 = _hour_ago(72) + timedelta(minutes=17, seconds=13)
    await store(timescale, spread(500, t0))
    async with await psycopg.AsyncConnection.connect(timescale, autocommit=True) as conn:
        for view in ("events_per_minute", "events_per_hour"):
            await conn.execute(f"CALL refresh_continuous_aggregate('{view}', NULL, NULL)")
        for bucket in ("1m", "1h", "1d"):
            result = await event_counts(
                conn, bucket=bucket, start=t0 - timedelta(days=2), end=t0 + timedelta(days=4)
            )
            assert result == await direct(timescale, bucket), bucket
            assert sum(c.count for c in result) == 500
        scoped = await event_counts(
            conn, bucket="1h", start=t0, end=t0 + timedelta(days=4), sites={"room-08"}
        )
        assert scoped == [
            c for c in await direct(timescale, "1h", "site = 'room-08'") if c.bucket_start >= t0
        ]
