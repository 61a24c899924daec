"""The outbox file's schema, by version, and the forward migrations between versions.

`PRAGMA user_version` is the version. A new file gets version 1's tables and then every
migration, so a fresh file and a migrated one are the same by construction. A file of a
newer version than this agent knows is refused, never misread.

- version 1: `meta` (epoch, site, last_seq, created_at) and `events`.
- version 2: `meta` gains the shed counters per lane and the time of the last shed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from agent.errors import OutboxError

if TYPE_CHECKING:
    import sqlite3
    from pathlib import Path

__all__ = ["SCHEMA_VERSION", "create_or_migrate"]

_VERSION_1: Final = (
    """CREATE TABLE meta (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        epoch TEXT NOT NULL,
        site TEXT NOT NULL,
        last_seq INTEGER NOT NULL CHECK (last_seq >= 0),
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE events (
        seq INTEGER PRIMARY KEY CHECK (seq >= 1),
        lane INTEGER NOT NULL,
        kind TEXT NOT NULL,
        device TEXT NOT NULL,
        id TEXT NOT NULL,
        payload BLOB NOT NULL
    )""",
    "CREATE INDEX events_by_lane ON events (lane, seq)",
)

# MIGRATIONS[n] takes a file from version n to version n + 1.
_MIGRATIONS: Final = {
    1: (
        "ALTER TABLE meta ADD COLUMN shed_p0 INTEGER NOT NULL DEFAULT 0 CHECK (shed_p0 >= 0)",
        "ALTER TABLE meta ADD COLUMN shed_p1 INTEGER NOT NULL DEFAULT 0 CHECK (shed_p1 >= 0)",
        "ALTER TABLE meta ADD COLUMN shed_p2 INTEGER NOT NULL DEFAULT 0 CHECK (shed_p2 >= 0)",
        "ALTER TABLE meta ADD COLUMN last_shed_at TEXT",
    ),
}

SCHEMA_VERSION: Final = 1 + len(_MIGRATIONS)


def create_or_migrate(
    db: sqlite3.Connection, path: Path, *, epoch: str, site: str, now: str
) -> int:
    """Bring the file to `SCHEMA_VERSION` inside the caller's transaction; the version found.

    A new file (version 0) gets the tables and its identity (`epoch`, `site`, `now`).
    """
    (found,) = db.execute("PRAGMA user_version").fetchone()
    if found > SCHEMA_VERSION:
        raise OutboxError(
            f"outbox {path} has schema version {found}; this agent knows version {SCHEMA_VERSION}"
        )
    version = found
    if version == 0:
        for statement in _VERSION_1:
            db.execute(statement)
        db.execute(
            "INSERT INTO meta (one, epoch, site, last_seq, created_at) VALUES (1, ?, ?, 0, ?)",
            (epoch, site, now),
        )
        version = 1
    while version < SCHEMA_VERSION:
        for statement in _MIGRATIONS[version]:
            db.execute(statement)
        version += 1
    if version != found:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return int(found)
