"""What the rule tests share: a rules file from text, ingest and clock rounds at a set time."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from hub.rules import RuleSet, parse_rules, run_rules, tick
from hub.storage import write_inbound
from tests.hub.storage.support import make_event, migrated
from tests.hub.support import rows
from wire import Event

T0 = datetime(2026, 3, 2, 14, 0, 0, tzinfo=UTC)

__all__ = ["T0", "Alert", "alerts", "clock", "ev", "ingest", "migrated", "rules", "transitions"]


def rules(text: str) -> RuleSet:
    """The rules of a YAML text, validated as a file would be."""
    return parse_rules(text, source="test-rules.yaml")


_SEQ = iter(range(1, 10**9))


def ev(type_: str, *, at: datetime, device: str = "dev-1", **kw: Any) -> Event:
    """An event of `type_` at `at` (kind from the type's family unless given)."""
    kind = kw.pop("kind", "door_lock" if type_.startswith(("door.", "access.")) else "shop_guard")
    return make_event(seq=next(_SEQ), at=at, device=device, kind=kind, type=type_, **kw)


async def ingest(url: str, ruleset: RuleSet, events: Sequence[Event], *, now: datetime) -> int:
    """Store `events` and run the rules on the new ones, in one transaction, at `now`."""
    async with await psycopg.AsyncConnection.connect(url) as conn, conn.cursor() as cur:
        new = await write_inbound(cur, events)
        written = await run_rules(cur, new, ruleset, now=now)
        await conn.commit()
        return written


async def clock(url: str, ruleset: RuleSet, *, now: datetime) -> int:
    """One round of the rule clock at `now`, committed."""
    async with await psycopg.AsyncConnection.connect(url) as conn, conn.cursor() as cur:
        written = await tick(cur, ruleset, now=now)
        await conn.commit()
        return written


@dataclass(frozen=True)
class Alert:
    """An alert row as the tests look at it."""

    rule: str
    site: str
    device: str | None
    state: str
    severity: str
    count: int
    revision: int
    muted: bool


async def alerts(url: str) -> list[Alert]:
    """Every alert, oldest first."""
    found = await rows(
        url,
        "SELECT rule, site, device, state, severity, count, revision, "
        "(silence_id IS NOT NULL OR inhibited_by IS NOT NULL) FROM alerts "
        "ORDER BY created_at, alert_id",
    )
    return [Alert(*row) for row in found]


async def transitions(url: str) -> list[tuple[str, str | None, str, bool]]:
    """Every audited transition: (rule, device, transition, notified), in order."""
    found = await rows(
        url,
        "SELECT a.rule, a.device, t.transition, t.notified FROM alert_audit t "
        "JOIN alerts a USING (alert_id) ORDER BY t.id",
    )
    return [(rule, device, transition, notified) for rule, device, transition, notified in found]


def minutes(n: float) -> timedelta:
    """`n` minutes."""
    return timedelta(minutes=n)
