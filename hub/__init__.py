"""The ingestion hub.

It takes every site's events from the broker, stores them in PostgreSQL/TimescaleDB,
acknowledges them to the agents, turns them (and their absence) into alerts and delivers
those to operators and consumers. It imports `wire` and nothing of `agent`.
"""
