-- 0006: hourly event counts on plain PostgreSQL, kept by the database in the transaction
-- that inserts or deletes the events.
--
-- Counting a site's month from `events` (0005's index-only scan) still sorts ~470,000
-- index entries per query: p95 ~300 ms on a 20-million-event district month. This table
-- holds one row per (site, hour, kind, type): the same question reads ~720 rows per type.
-- Statement-level triggers with transition tables add what an INSERT really inserted
-- (ON CONFLICT DO NOTHING leaves resent events out of `new_rows`) and take away what a
-- DELETE removed (retention), so the counts equal a count over `events`.
--
-- With TimescaleDB the continuous aggregates of 0004 do this job, and hypertables do not
-- support transition tables: the table is created (empty) and no trigger is.
CREATE TABLE event_counts_hourly (
    bucket timestamptz NOT NULL,
    site   text        NOT NULL,
    kind   text        NOT NULL,
    type   text        NOT NULL,
    count  bigint      NOT NULL CHECK (count > 0),
    PRIMARY KEY (site, bucket, kind, type)
);
CREATE INDEX event_counts_hourly_bucket ON event_counts_hourly (bucket);

-- Hours start at UTC midnight (date_bin from 2000-01-01), like time_bucket's. Rows go in
-- key order so that two transactions adding to the same hours lock them in one order.
CREATE FUNCTION event_counts_hourly_add() RETURNS trigger
LANGUAGE plpgsql AS $add$
BEGIN
    INSERT INTO event_counts_hourly AS c (bucket, site, kind, type, count)
    SELECT date_bin(INTERVAL '1 hour', at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS b,
           site, kind, type, count(*)
    FROM new_rows
    GROUP BY site, b, kind, type
    ORDER BY site, b, kind, type
    ON CONFLICT (site, bucket, kind, type) DO UPDATE SET count = c.count + EXCLUDED.count;
    RETURN NULL;
END
$add$;

CREATE FUNCTION event_counts_hourly_remove() RETURNS trigger
LANGUAGE plpgsql AS $remove$
BEGIN
    WITH gone AS (
        SELECT date_bin(INTERVAL '1 hour', at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS b,
               site, kind, type, count(*) AS n
        FROM old_rows
        GROUP BY site, b, kind, type
    ), lowered AS (
        UPDATE event_counts_hourly AS c SET count = c.count - gone.n
        FROM gone
        WHERE c.site = gone.site AND c.bucket = gone.b AND c.kind = gone.kind
          AND c.type = gone.type AND c.count > gone.n
        RETURNING c.site
    )
    DELETE FROM event_counts_hourly AS c
    USING gone
    WHERE c.site = gone.site AND c.bucket = gone.b AND c.kind = gone.kind
      AND c.type = gone.type AND c.count <= gone.n;
    RETURN NULL;
END
$remove$;

DO $counts$
BEGIN
    -- Two IFs: the view of hypertables exists only with the extension.
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        IF EXISTS (
            SELECT 1 FROM timescaledb_information.hypertables
            WHERE hypertable_schema = current_schema() AND hypertable_name = 'events'
        ) THEN
            RAISE NOTICE 'events is a hypertable: counts come from the continuous aggregates';
            RETURN;
        END IF;
    END IF;
    -- The events already stored (data-preserving): counted once, here.
    INSERT INTO event_counts_hourly (bucket, site, kind, type, count)
    SELECT date_bin(INTERVAL '1 hour', at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS b,
           site, kind, type, count(*)
    FROM events
    GROUP BY site, b, kind, type;
    CREATE TRIGGER events_count_inserted AFTER INSERT ON events
        REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION event_counts_hourly_add();
    CREATE TRIGGER events_count_deleted AFTER DELETE ON events
        REFERENCING OLD TABLE AS old_rows
        FOR EACH STATEMENT EXECUTE FUNCTION event_counts_hourly_remove();
END
$counts$;
