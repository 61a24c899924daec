-- 0004: TimescaleDB policies and continuous aggregates, when `events` is a hypertable
-- (0002); otherwise nothing, and the hub computes statistics with date_bin and deletes
-- expired events itself (hub/storage/stats.py, hub/storage/retention.py).
--
-- These are the defaults; the hub re-applies the compression and retention policies at
-- start when its configuration (storage.compress_after_days, storage.retention_days)
-- differs. docs/storage.md explains each choice.
DO $policies$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        RAISE NOTICE 'timescaledb is not installed: no policies, no continuous aggregates';
        RETURN;
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM timescaledb_information.hypertables
        WHERE hypertable_schema = current_schema() AND hypertable_name = 'events'
    ) THEN
        RAISE NOTICE 'events is not a hypertable: no policies, no continuous aggregates';
        RETURN;
    END IF;

    -- Compressed chunks still take late inserts (ON CONFLICT checks them too). One
    -- segment per site: the console reads one site's events in time order.
    ALTER TABLE events SET (
        timescaledb.compress,
        timescaledb.compress_segmentby = 'site',
        timescaledb.compress_orderby = 'at DESC, id'
    );
    -- After the longest time an agent may buffer events: most late events land in
    -- chunks not yet compressed.
    PERFORM add_compression_policy('events', INTERVAL '7 days');
    PERFORM add_retention_policy('events', INTERVAL '180 days');

    -- Counts per site, kind and type; WITH NO DATA so that this runs inside the
    -- migration's transaction (the policies fill them). Not materialized-only: a query
    -- adds the events newer than the last refresh, so counts are never behind.
    EXECUTE $view$
        CREATE MATERIALIZED VIEW events_per_minute
        WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
        SELECT time_bucket(INTERVAL '1 minute', at) AS bucket, site, kind, type,
               count(*) AS count
        FROM events
        GROUP BY bucket, site, kind, type
        WITH NO DATA
    $view$;
    EXECUTE $view$
        CREATE MATERIALIZED VIEW events_per_hour
        WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
        SELECT time_bucket(INTERVAL '1 hour', at) AS bucket, site, kind, type,
               count(*) AS count
        FROM events
        GROUP BY bucket, site, kind, type
        WITH NO DATA
    $view$;
    -- Each refresh re-reads the last 7 days (what changed there: late events) up to
    -- one bucket ago; the open bucket is computed at query time.
    PERFORM add_continuous_aggregate_policy('events_per_minute',
        start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 minute',
        schedule_interval => INTERVAL '1 minute');
    PERFORM add_continuous_aggregate_policy('events_per_hour',
        start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 hour',
        schedule_interval => INTERVAL '1 hour');
END
$policies$;
