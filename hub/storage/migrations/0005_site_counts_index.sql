-- 0005: per-site counts (`hub.storage.stats.event_counts` on plain PostgreSQL, the API's
-- /stats/events) read only the index. On a 20-million-event district month, one site's
-- hourly counts over 30 days fetched its ~380,000 rows from ~280,000 heap pages (its rows
-- are interleaved with 54 other sites'): p95 ~2 s. An index on (site, at) that carries
-- kind and type answers the same query by an index-only scan (~0.28 s measured with an
-- index of this shape, bench/bench_storage.py, docs/storage.md). It replaces
-- events_site_at (same key), so writes keep the same number of indexes.
CREATE INDEX events_site_at_kind_type ON events (site, at DESC) INCLUDE (kind, type);
DROP INDEX events_site_at;
