-- 0002: TimescaleDB, when the server has it; otherwise nothing (events stays a plain
-- table). Columns, keys and queries are the same either way.
--
-- `events` becomes a hypertable on `at` with 1-hour chunks. At a district's ~1,000
-- events/s an hour is ~3.6 M rows, ~2 GB with its indexes: small enough that the chunk
-- being written stays in memory on a 16 GB server (Timescale's rule of thumb: the active
-- chunks and their indexes within ~25 % of RAM), large enough that a month is ~720
-- chunks, which the planner prunes cheaply. A burst of 30,000 events/s after an outage
-- lands in the chunks of the hours the events happened (`at`), not of their arrival.
--
-- The extension must be installed on the server and preloaded
-- (shared_preload_libraries = 'timescaledb'); the hub's role needs the right to create
-- it, or a superuser runs `CREATE EXTENSION timescaledb` beforehand. A database migrated
-- without TimescaleDB stays plain when the extension appears later: converting a full
-- events table is a planned operation (create_hypertable(..., migrate_data => true)).
DO $timescale$
BEGIN
    -- Preloaded: its loader then defines timescaledb.max_background_workers. Asked through
    -- pg_settings, which any role may read (shared_preload_libraries needs superuser or
    -- pg_read_all_settings) and which omits a bare placeholder set in postgresql.conf.
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
        AND EXISTS (SELECT 1 FROM pg_settings WHERE name = 'timescaledb.max_background_workers')
    THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
        -- events_at (0001) is the index create_hypertable would otherwise add.
        PERFORM create_hypertable(
            'events',
            by_range('at', INTERVAL '1 hour'),
            create_default_indexes => false,
            migrate_data => true
        );
    ELSE
        RAISE NOTICE 'timescaledb is not available: events stays a plain table';
    END IF;
END
$timescale$;
