"""The operator console in headless Chromium against a real hub: events published over
MQTT, alerts raised by the hub's rules, acted on through the page."""

import asyncio
import json
import time
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from hub.storage.tokens import Role
from tests.browser.conftest import ConsoleHub, sign_in
from tests.hub.support import eventually, rows

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ROW = "#queue tbody tr"


async def _note(page: Page, button: str, note: str) -> None:
    """Click `button` in the queue's first row, then submit `note` in the dialog."""
    await page.click(f"{ROW} button.{button}")
    await page.fill("#note-text", note)
    await page.click("#note-submit")


async def test_sign_in_shows_the_queue_in_chinese_then_english(
    chromium: Browser, console_hub: ConsoleHub
) -> None:
    """After signing in with a token the queue is in Simplified Chinese; the English link
    switches every page's text to English."""
    operator = await console_hub.token(Role.OPERATOR, ["room-01"])
    page = await sign_in(chromium, console_hub, operator)
    await expect(page.locator("h1")).to_contain_text("告警队列")
    await expect(page.locator("nav")).to_contain_text("站点总览")
    await expect(page.locator("#queue-empty")).to_have_text("没有未解决的告警。")
    await page.click("a[lang=en]")
    await expect(page.locator("h1")).to_contain_text("Alert queue")
    await expect(page.locator("nav")).to_contain_text("Site board")
    await expect(page.locator("#queue-empty")).to_have_text("No unresolved alerts.")
    assert "告警" not in await page.inner_text("main")
    await page.goto(console_hub.url + "/sites")
    await expect(page.locator("h1")).to_have_text("Site board")


async def test_a_panic_press_appears_live_and_is_acknowledged_then_resolved(
    chromium: Browser, console_hub: ConsoleHub
) -> None:
    """A panic press published over MQTT is in the queue within 2 s without a reload,
    flashing; acknowledging needs a note; resolving takes it off the queue; the alert's
    audit trail shows both steps with their notes and who took them."""
    operator = await console_hub.token(Role.OPERATOR, ["room-01"])
    page = await sign_in(chromium, console_hub, operator)
    await page.evaluate("window.notReloaded = true")
    pressed = time.monotonic()
    await console_hub.press_panic("room-01")
    await page.wait_for_selector(f"{ROW}.flash", timeout=2000)
    shown_s = time.monotonic() - pressed
    assert shown_s < 2.0
    assert await page.evaluate("window.notReloaded") is True
    row = page.locator(ROW)
    await expect(row).to_contain_text("110 panic alarm")
    await expect(row).to_contain_text("room-01")
    alert_id = await row.get_attribute("data-alert")

    await page.click(f"{ROW} button.ack")
    await page.click("#note-submit")  # no note: refused in the page
    await expect(page.locator("#note-error")).to_have_text("必须填写处理说明。")
    await page.fill("#note-text", "保安已出发")
    await page.click("#note-submit")
    await expect(row).to_have_attribute("data-state", "acknowledged")
    await expect(row).not_to_have_class("flash")

    await _note(page, "resolve", "店主误按已复位")
    await expect(page.locator(ROW)).to_have_count(0)

    await page.goto(f"{console_hub.url}/alerts/{alert_id}")
    audit = page.locator("#a-audit tbody")
    await expect(audit.locator("tr[data-transition=acknowledged]")).to_contain_text("保安已出发")
    await expect(audit.locator("tr[data-transition=resolved]")).to_contain_text("店主误按已复位")
    await expect(audit.locator("tr[data-transition=resolved]")).to_contain_text("token:")
    await expect(page.locator("#a-events tbody tr")).to_have_count(1)
    await expect(page.locator("#a-recent tbody")).to_contain_text("alarm.panic")

    await page.fill("#s-reason", "按钮维修")
    await page.click("#silence-form button[type=submit]")
    await expect(page.locator("#s-status")).to_contain_text("静默已创建")
    silences = await rows(console_hub.database, "SELECT site, device, rule, reason FROM silences")
    assert silences == [("room-01", "panic-01", "panic", "按钮维修")]


async def test_a_site_a_operator_never_sees_site_b(
    chromium: Browser, console_hub: ConsoleHub
) -> None:
    """With alarms at both sites, room-01's operator sees only room-01's alarm in the
    queue, only room-01's tile, and room-02 nowhere in the site filter."""
    await console_hub.agent_status("room-01", "online")
    await console_hub.agent_status("room-02", "online")
    try:
        operator = await console_hub.token(Role.OPERATOR, ["room-01"])
        page = await sign_in(chromium, console_hub, operator)
        await console_hub.press_panic("room-02")
        await console_hub.press_panic("room-01")
        await expect(page.locator(ROW)).to_have_count(1, timeout=5000)
        await page.wait_for_timeout(500)  # room-02's, published first, would be here now
        await expect(page.locator(ROW)).to_have_count(1)
        await expect(page.locator(ROW)).to_contain_text("room-01")
        assert await page.locator("#f-site option[value=room-02]").count() == 0
        assert "room-02" not in await page.inner_text("body")
        await page.goto(console_hub.url + "/sites")
        await expect(page.locator(".tile")).to_have_count(1)
        await expect(page.locator(".tile")).to_have_attribute("data-site", "room-01")
        assert "room-02" not in await page.inner_text("body")
    finally:
        await console_hub.clear_retained("room-01", "room-02")


async def test_a_blind_site_tile_turns_within_the_grace_period(
    chromium: Browser, console_hub: ConsoleHub
) -> None:
    """A site whose agent goes offline (its LWT) turns its tile to blind, with the time
    since when, well within the 30 s offline grace; an online site stays ok."""
    await console_hub.agent_status("room-01", "online")
    await console_hub.agent_status("room-03", "online")
    try:
        viewer = await console_hub.token(Role.VIEWER)
        page = await sign_in(chromium, console_hub, viewer)
        await page.goto(console_hub.url + "/sites")
        tile = page.locator(".tile[data-site=room-03]")
        await expect(tile).to_have_attribute("data-state", "ok", timeout=5000)
        went = time.monotonic()
        await console_hub.agent_status("room-03", "offline")
        await expect(tile).to_have_attribute("data-state", "blind", timeout=10_000)
        assert time.monotonic() - went < 30
        await expect(tile).to_contain_text("失联")
        await expect(tile.locator("time")).to_have_count(1)
        await expect(page.locator(".tile[data-site=room-01]")).to_have_attribute("data-state", "ok")
    finally:
        await console_hub.clear_retained("room-01", "room-03")


async def test_a_stale_or_missing_session_cannot_act(
    chromium: Browser, console_hub: ConsoleHub
) -> None:
    """A request without the CSRF token is refused (403); once the session's token is
    revoked, acknowledging fails on the page and the alert stays open; a browser
    without a session is sent to the sign-in page."""
    operator = await console_hub.token(Role.OPERATOR, ["room-01"])
    page = await sign_in(chromium, console_hub, operator)
    await console_hub.press_panic("room-01")
    row = page.locator(ROW)
    await expect(row).to_have_count(1, timeout=5000)
    alert_id = await row.get_attribute("data-alert")

    status = await page.evaluate(
        """async (id) => (await fetch(`/api/v1/alerts/${id}/ack`, {method: "POST",
            headers: {"Content-Type": "application/json"},
            body: JSON.stringify({note: "forged"})})).status""",
        alert_id,
    )
    assert status == 403

    await console_hub.revoke(operator)
    await _note(page, "ack", "too late")
    await expect(page.locator("#note-error")).to_be_visible()
    await expect(page.locator("#banner")).to_contain_text("会话已结束")
    state = await rows(console_hub.database, "SELECT state FROM alerts")
    assert state == [("open",)]

    stranger = await chromium.new_page()
    await stranger.goto(console_hub.url + "/")
    assert stranger.url == console_hub.url + "/login"
    await expect(stranger.locator("h1")).to_have_text("值班员登录")


async def test_devices_and_history_show_what_the_hub_stored(
    chromium: Browser, console_hub: ConsoleHub
) -> None:
    """The devices page lists a device that reported with its kind and last time, and
    filters it out as never-reported; the history lists its events, draws the per-hour
    chart and exports them as CSV."""
    await console_hub.press_panic("room-01")
    await eventually(
        lambda: rows(console_hub.database, "SELECT 1 FROM devices"), what="the device stored"
    )
    viewer = await console_hub.token(Role.VIEWER)
    page = await sign_in(chromium, console_hub, viewer)
    await page.goto(console_hub.url + "/devices")
    device = page.locator("#devices tbody tr[data-device=panic-01]")
    await expect(device).to_contain_text("panic_alarm")
    await expect(device.locator("time")).to_have_count(1)
    await page.check("#f-never")
    await page.click("#filters button[type=submit]")
    await expect(page.locator("#devices tbody tr")).to_have_count(0)
    await expect(page.locator("#devices-empty")).to_be_visible()

    await page.goto(console_hub.url + "/history")
    await expect(page.locator("#events tbody tr")).to_have_count(1)
    await expect(page.locator("#events tbody")).to_contain_text("alarm.panic")
    await expect(page.locator("#chart svg rect")).not_to_have_count(0)
    await expect(page.locator("#chart svg")).to_contain_text("alarm.panic")
    async with page.expect_download() as waiting:
        await page.click("#csv")
    download = await waiting.value
    saved = Path(await download.path())
    text = await asyncio.to_thread(saved.read_text, encoding="utf-8")
    header, *lines = text.strip().splitlines()
    assert "type" in header
    assert len(lines) == 1
    assert "alarm.panic" in lines[0]


async def test_the_banner_says_when_the_hub_is_unreachable_or_reports_a_stall(
    chromium: Browser, console_hub: ConsoleHub
) -> None:
    """The banner names a stalled component when `/health` reports one, says the hub is
    unreachable when `/health` does not answer, and goes away when all is well again."""
    viewer = await console_hub.token(Role.VIEWER)
    page = await sign_in(chromium, console_hub, viewer)
    banner = page.locator("#banner")
    await expect(banner).to_be_hidden()
    stalled = json.dumps(
        {
            "status": "degraded",
            "database": True,
            "database_detail": None,
            "mqtt_connected": True,
            "components": {
                "ingest": {"alive": True, "detail": None},
                "rules": {"alive": True, "detail": None},
                "relay": {"alive": False, "detail": "no round for 31 s"},
            },
        }
    )
    await page.route(
        "**/health",
        lambda route: route.fulfill(status=503, body=stalled, content_type="application/json"),
    )
    await page.evaluate("SW.checkHealth()")  # as the page does every 5 s
    await expect(banner).to_contain_text("中心服务器报告组件停滞")
    await expect(banner).to_contain_text("relay (no round for 31 s)")
    await page.unroute("**/health")
    await page.route("**/health", lambda route: route.abort())
    await page.evaluate("SW.checkHealth()")
    await expect(banner).to_contain_text("无法连接中心服务器")
    await page.unroute("**/health")
    await page.evaluate("SW.checkHealth()")
    await expect(banner).to_be_hidden()
