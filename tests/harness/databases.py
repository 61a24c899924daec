"""Throwaway databases on a shared PostgreSQL server, one per test."""

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from tests.harness.services import database_url_for

__all__ = ["SCRATCH_PREFIX", "scratch_database"]

SCRATCH_PREFIX = "shouwang_test_"


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """Create an empty database with a unique name on `server_url`; yield its URL; drop it.

    The drop uses `WITH (FORCE)`, so sessions a test left open cannot keep it alive.
    """
    name = f"{SCRATCH_PREFIX}{secrets.token_hex(8)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield database_url_for(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
