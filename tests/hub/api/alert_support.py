"""What the alert tests share: alerts opened as the rules open them, in a migrated database."""

import uuid
from datetime import UTC, datetime

import psycopg

from hub.runtime import migrate_database
from hub.storage.alerts import Raise, raise_alert, record_transition
from wire import Transition

AT = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


async def open_alert(
    url: str,
    *,
    site: str = "room-01",
    device: str | None = "panic-1",
    rule: str = "panic",
    severity: str = "critical",
) -> uuid.UUID:
    """Open an alert as a rule does (row, audit and outbox in one transaction); its id.
    The database at `url` must be migrated (`migrated`)."""
    async with await psycopg.AsyncConnection.connect(url) as conn, conn.cursor() as cur:
        what = Raise(
            rule=rule,
            severity=severity,
            site=site,
            device=device,
            first_at=AT,
            last_at=AT,
            events=(uuid.uuid4(),),
            title=f"{rule} at {site}",
        )
        alert = await raise_alert(cur, what, now=AT)
        await record_transition(cur, alert, Transition.OPENED, actor=f"rule:{rule}")
        await conn.commit()
        return alert.alert_id


async def migrated(url: str) -> str:
    """Bring the database at `url` to the newest schema; `url` again."""
    await migrate_database(url, wait=False)
    return url
