"""What the API tests share: the app behind an in-process client, tokens, stored events."""

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from hub.api import create_app
from hub.config import DatabaseConfig
from hub.runtime import migrate_database
from hub.storage import write_inbound
from hub.storage.tokens import Role, Scope, issue_token
from tests.hub.support import dump, event
from wire import Event, decode_event, format_time

BASE = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
SITES = ("room-01", "room-02")
TYPES = ("door.opened", "door.closed", "test.periodic")


@asynccontextmanager
async def api(
    url: str, token: str | None = None, **database: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The API app over `url`, its lifespan run, behind an in-process HTTP client that
    sends `token` as its bearer token (none if None)."""
    app = create_app(DatabaseConfig.model_validate({"url": url, **database}))
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://hub", headers=headers
        ) as http,
    ):
        yield http


async def token(url: str, role: Role = Role.VIEWER, sites: Iterable[str] | None = None) -> str:
    """A token issued as `hub token create` issues it: `role` over `sites` (None: all)."""
    scope = Scope(all_sites=True) if sites is None else Scope.of(sites)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return (await issue_token(conn, role, scope)).token


def events(count: int) -> list[Event]:
    """`count` events over two sites, three devices and three types; every third pair
    shares its `at`, so ties are broken by id."""
    made = []
    for n in range(count):
        at = format_time(BASE + timedelta(seconds=n // 3 * 3))
        payload = event(
            seq=n + 1,
            site=SITES[n % 2],
            device=f"door-{n % 3}",
            kind="door_lock",
            type=TYPES[n % 3],
            at=at,
        )
        made.append(decode_event(dump(payload)))
    return made


async def store(url: str, stored: list[Event]) -> None:
    """Migrate the database at `url` and write `stored` as ingest would."""
    await migrate_database(url, wait=False)
    async with await psycopg.AsyncConnection.connect(url) as conn, conn.cursor() as cur:
        await write_inbound(cur, stored)


async def all_pages(http: httpx.AsyncClient, path: str, key: str, **params: Any) -> list[Any]:
    """Every item of a listing, following `next_cursor` page by page."""
    items: list[Any] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await http.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body[key]) <= params["limit"]
        items += body[key]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
