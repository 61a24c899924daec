"""Schema migrations: numbered SQL files, applied forward-only, each in its own transaction.

The files are `migrations/NNNN_name.sql`, numbered from 1 without gaps. `migrate` applies
the ones the database lacks, in order, and records each in `schema_migrations` with the
SHA-256 of its text. Every step runs under `pg_advisory_xact_lock`, so hubs starting
together take turns and each migration is applied once. The hub refuses to start
(`MigrationError`) when an applied migration's file has changed, or when the database
has migrations this code does not know (a newer hub migrated it).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any, Final

from hub.errors import MigrationError

if TYPE_CHECKING:
    from psycopg import AsyncConnection

__all__ = ["MIGRATION_LOCK", "Migration", "known_migrations", "migrate"]

logger = logging.getLogger(__name__)

MIGRATION_LOCK: Final = 0x5368_6F75_7761_6E67
"""The advisory lock key migrations hold: "Shouwang" in ASCII, as a bigint."""

_FILE_RE: Final = re.compile(r"\A(?P<version>[0-9]{4})_(?P<name>[a-z0-9_]+)\.sql\Z")

_CREATE_TABLE: Final = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file: its number, name, SQL and the SHA-256 of that SQL."""

    version: int
    name: str
    sql: str = field(repr=False)

    @property
    def checksum(self) -> str:
        """Hex SHA-256 of the file's text: any edit after it was applied is detected."""
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()

    @property
    def label(self) -> str:
        """`0001_initial`: the file's stem."""
        return f"{self.version:04d}_{self.name}"


@cache
def known_migrations() -> tuple[Migration, ...]:
    """Every migration shipped with this code, in order (numbered 1, 2, ... without gaps)."""
    found: list[Migration] = []
    for entry in files("hub.storage").joinpath("migrations").iterdir():
        match = _FILE_RE.match(entry.name)
        if match is None:
            continue
        sql = entry.read_text(encoding="utf-8")
        found.append(Migration(int(match["version"]), match["name"], sql))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migration files are not numbered 1..n without gaps: {versions}")
    return tuple(found)


def _check(applied: dict[int, tuple[str, str]], known: tuple[Migration, ...]) -> None:
    """Raise `MigrationError` unless `applied` (version → name, checksum) is a prefix of
    `known` with unchanged files."""
    by_version = {m.version: m for m in known}
    newest = known[-1].version if known else 0
    unknown = sorted(v for v in applied if v not in by_version)
    if unknown:
        version = unknown[-1]
        raise MigrationError(
            f"the database schema is at version {version} ({applied[version][0]}), newer "
            f"than this hub knows (up to {newest}): run a hub at least as new as the one "
            "that migrated it"
        )
    for version, (name, checksum) in sorted(applied.items()):
        migration = by_version[version]
        if checksum != migration.checksum:
            raise MigrationError(
                f"migration {migration.label} was changed after it was applied to this "
                f"database (recorded as {name} with checksum {checksum[:12]}…, the file now "
                f"has {migration.checksum[:12]}…); migrations are forward-only: restore the "
                "file and add a new migration instead"
            )
    if applied and max(applied) != len(applied):
        missing = sorted(set(range(1, max(applied) + 1)) - set(applied))
        raise MigrationError(
            f"the database has migration {max(applied)} but lacks {missing}: its "
            "schema_migrations table was edited by hand"
        )


async def _step(conn: AsyncConnection[Any], known: tuple[Migration, ...]) -> Migration | None:
    """Apply the first pending migration in one locked transaction; None if none is left."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
        await conn.execute(_CREATE_TABLE)
        cursor = await conn.execute("SELECT version, name, checksum FROM schema_migrations")
        applied = {version: (name, checksum) for version, name, checksum in await cursor.fetchall()}
        _check(applied, known)
        pending = [m for m in known if m.version not in applied]
        if not pending:
            return None
        migration = pending[0]
        # No parameters: psycopg sends the file with the simple query protocol, which
        # takes several statements at once.
        await conn.execute(migration.sql.encode("utf-8"))
        await conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
            [migration.version, migration.name, migration.checksum],
        )
    return migration


async def migrate(conn: AsyncConnection[Any]) -> tuple[Migration, ...]:
    """Bring the database to the newest known schema; return the migrations applied now.

    `conn` must be in autocommit mode (each migration opens its own transaction).
    """
    if not conn.autocommit:
        message = "migrate() needs a connection in autocommit mode"
        raise MigrationError(message)
    known = known_migrations()
    applied: list[Migration] = []
    while (migration := await _step(conn, known)) is not None:
        logger.info("applied migration %s", migration.label)
        applied.append(migration)
    return tuple(applied)
