"""Browser test fixtures: headless Chromium (Debian's, driven by Playwright) and a real
hub of the test's own on the shared broker and database, with helpers to publish as an
agent would and to sign in as an operator would.

Chromium comes from `scripts/test` (`ensure_browser`: Debian's `chromium` and
`fonts-noto-cjk`); Playwright never downloads a browser of its own.
"""

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, Final

import psycopg
import pytest
from playwright.async_api import Browser, Page, async_playwright
from psycopg import sql

from hub import Hub, HubConfig
from hub.storage.tokens import Role, Scope, issue_token
from tests.harness import MqttEndpoint, PrivatePostgres
from tests.hub.support import client, dump, event, forget_session
from wire import Kind, TopicSpace

CHROMIUM: Final = "/usr/bin/chromium"
CHROMIUM_ARGS: Final = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
AGENT_LANE: Final = {"depth": 0, "bytes": 0, "shed": 0}


@dataclass
class ConsoleHub:
    """A running hub and how to reach it: its console's URL, its database, its broker."""

    hub: Hub
    url: str
    database: str
    endpoint: MqttEndpoint
    space: TopicSpace
    seq: int = 0

    async def token(self, role: Role, sites: list[str] | None = None) -> str:
        """A token as `hub token create` issues it (every site when `sites` is None)."""
        scope = Scope(all_sites=True) if sites is None else Scope.of(sites)
        async with await psycopg.AsyncConnection.connect(self.database, autocommit=True) as conn:
            return (await issue_token(conn, role, scope, "browser test")).token

    async def revoke(self, token: str) -> None:
        """Revoke `token` as `hub token revoke` does."""
        async with await psycopg.AsyncConnection.connect(self.database, autocommit=True) as conn:
            await conn.execute(
                "UPDATE api_tokens SET revoked_at = now() WHERE id = %s", [token.split("_")[1]]
            )

    async def press_panic(self, site: str, device: str = "panic-01") -> None:
        """A 110 button's `alarm.panic`, published over MQTT as the site's agent would."""
        self.seq += 1
        payload = event(seq=self.seq, site=site, device=device)
        topic = self.space.events(site, Kind.PANIC_ALARM, device)
        async with client(self.endpoint) as agent:
            await agent.publish(topic, dump(payload), qos=1)

    async def agent_status(self, site: str, state: str) -> None:
        """The site's agent status (`online`, or `offline` as its LWT says), retained."""
        payload: dict[str, Any] = {
            "v": 1,
            "site": site,
            "state": state,
            "reason": None if state == "online" else "connection lost",
            "version": "0.1.0",
            "started_at": "2025-03-01T06:00:00.000000Z",
            "clock": "2025-03-01T08:15:30.000412Z",
            "epoch": str(uuid.uuid4()),
            "degraded": False,
            "lanes": {"p0": AGENT_LANE, "p1": AGENT_LANE, "p2": AGENT_LANE},
            "drivers": {"http": {"state": "ok", "detail": None}},
        }
        async with client(self.endpoint) as agent:
            await agent.publish(self.space.status(site), dump(payload), qos=1, retain=True)

    async def clear_retained(self, *sites: str) -> None:
        """Remove the retained statuses the test left on the shared broker."""
        async with client(self.endpoint) as agent:
            for site in sites:
                await agent.publish(self.space.status(site), b"", qos=1, retain=True)


@pytest.fixture(scope="module")
def browser_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of the module's own, so the console's 2-second check
    measures the console, not the load of others on a shared server. (It once also
    kept anyone's open transaction from holding up the live stream; the stream no
    longer waits for other transactions, `hub.storage.feed`.)"""
    with PrivatePostgres() as server:
        yield server


@pytest.fixture
async def browser_database(browser_postgres: PrivatePostgres) -> str:
    """An empty database of the test's own in the module's cluster; its URL."""
    name = f"console_{uuid.uuid4().hex[:16]}"
    async with await psycopg.AsyncConnection.connect(browser_postgres.url, autocommit=True) as conn:
        await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return browser_postgres.url.rpartition("/")[0] + "/" + name


@pytest.fixture
async def console_hub(
    browser_database: str, mqtt_endpoint: MqttEndpoint, topic_prefix: str
) -> AsyncIterator[ConsoleHub]:
    """A hub of this test's own (its database, topic prefix and client id; any port)."""
    database = browser_database
    config = HubConfig.model_validate(
        {
            "hub_id": f"browser-{uuid.uuid4().hex[:12]}",
            "database": {"url": database, "pool_min": 1, "pool_max": 4},
            "mqtt": {
                "host": mqtt_endpoint.host,
                "port": mqtt_endpoint.port,
                "username": mqtt_endpoint.username,
                "password": mqtt_endpoint.password,
                "topic_prefix": topic_prefix,
                "reconnect_max_s": 0.5,
                "timeout_s": 2.0,
            },
            "api": {"port": 0},
            "ingest": {"batch_wait_ms": 20},
        }
    )
    hub = Hub(config)
    try:
        async with hub:
            assert await hub.wait_connected(10.0), "the hub did not connect to the broker"
            yield ConsoleHub(
                hub=hub,
                url=f"http://127.0.0.1:{hub.api_port}",
                database=database,
                endpoint=mqtt_endpoint,
                space=hub.space,
            )
    finally:
        await forget_session(mqtt_endpoint, hub.client_id, hub.space)


@pytest.fixture
async def chromium(console_hub: ConsoleHub) -> AsyncIterator[Browser]:
    """Headless Chromium, closed after the test, before its hub stops (an open event
    stream would hold up the hub's shutdown)."""
    del console_hub  # requested for the order of teardown only
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


async def sign_in(browser: Browser, hub: ConsoleHub, token: str) -> Page:
    """A fresh browser context signed in with `token` through the form, on the queue,
    with its live stream open."""
    context = await browser.new_context(timezone_id="Europe/Berlin")
    page = await context.new_page()
    await page.goto(hub.url + "/login")
    await page.fill("#token", token)
    await page.click("button[type=submit]")
    await page.wait_for_url(hub.url + "/")
    await page.wait_for_selector("body[data-stream=open]", timeout=5000)
    return page


def words(page_json: str) -> dict[str, str]:
    """The words table a page carries."""
    table: dict[str, str] = json.loads(page_json)
    return table
