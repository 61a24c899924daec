"""The webhook relay against a real local HTTP receiver, with transitions made by the
rules in the shared PostgreSQL."""

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import pytest

from hub import HubConfig
from hub.notify import verify
from hub.storage.webhooks import rotate_secret
from tests.harness import MqttEndpoint
from tests.hub.conftest import running_hub
from tests.hub.notify.support import (
    FAST,
    Received,
    panic,
    receiving,
    register,
    relay,
    silent_port,
    transitions,
    webhooks_config,
)
from tests.hub.support import SITE, client, dump, event, eventually, rows
from wire import Kind

pytestmark = pytest.mark.integration


def _document(got: Received) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(got.body)
    return document


def _count(
    items: list[Received], where: Callable[[Received], bool] = lambda _: True
) -> Callable[[], Awaitable[int]]:
    """A probe: how many of `items` satisfy `where` now."""

    async def probe() -> int:
        return sum(1 for item in items if where(item))

    return probe


async def _written(url: str) -> int:
    """How many transitions the rules wrote (each is one message per matching endpoint)."""
    count: int = (await rows(url, "SELECT count(*) FROM alert_outbox"))[0][0]
    return count


async def _states(url: str) -> list[tuple[Any, ...]]:
    return await rows(url, "SELECT revision, state, attempts FROM webhook_messages ORDER BY id")


async def test_a_transition_arrives_signed_with_the_alert_transition_as_body(
    database: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A panic's `opened` transition is POSTed once, signed, with Standard Webhooks
    headers; the secret appears in no log line."""
    caplog.set_level(logging.DEBUG)
    async with receiving() as receiver:
        _, secret = await register(database, receiver.url)
        async with relay(database):
            await transitions(database, panic(1))
            await eventually(lambda: _states(database), until=lambda r: r == [(1, "delivered", 1)])
        got, *repeats = receiver.received
    assert repeats == []
    verify(secret, got.headers, got.body)
    body = _document(got)
    assert (body["transition"], body["rule"], body["revision"]) == ("opened", "panic", 1)
    assert got.headers["webhook-id"] == f"msg_{body['alert_id'].replace('-', '')}_1"
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 10
    assert got.headers["Content-Type"] == "application/json"
    outbox = await rows(database, "SELECT payload FROM alert_outbox")
    assert got.body == bytes(outbox[0][0])
    assert any(got.headers["webhook-id"] in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if secret in r.getMessage()]


async def test_a_receiver_down_for_a_while_gets_everything_once_and_in_order(
    database: str,
) -> None:
    """Transitions made while the receiver is down all arrive once it is back: each
    webhook-id at least once (repeats identical), each alert's revisions in order."""
    async with receiving() as receiver:
        _, secret = await register(database, receiver.url)
        await receiver.stop()
        async with relay(database):
            await transitions(database, panic(1, device="panic-a"), panic(2, device="panic-a"))
            await transitions(database, panic(3, device="panic-b"))
            await transitions(database, panic(4, device="panic-a"))
            await eventually(
                lambda: rows(database, "SELECT count(*) FROM webhook_attempts WHERE error <> ''"),
                until=lambda r: r[0][0] >= 4,
                what="failed attempts while the receiver is down",
            )
            assert receiver.received == []
            await receiver.start()
            await eventually(
                lambda: rows(
                    database,
                    "SELECT count(*) FILTER (WHERE state = 'delivered'), "
                    "(SELECT count(*) FROM alert_outbox) FROM webhook_messages",
                ),
                until=lambda r: r[0][0] == r[0][1] >= 3,
                what="every transition delivered",
            )
    written = await rows(database, "SELECT alert_id, revision FROM alert_outbox ORDER BY id")
    by_id: dict[str, set[bytes]] = {}
    arrived: dict[str, list[int]] = {}
    for got in receiver.received:
        verify(secret, got.headers, got.body)
        by_id.setdefault(got.headers["webhook-id"], set()).add(got.body)
        body = _document(got)
        arrived.setdefault(body["alert_id"], []).append(body["revision"])
    assert sorted(by_id) == sorted(f"msg_{alert.hex}_{revision}" for alert, revision in written)
    assert all(len(bodies) == 1 for bodies in by_id.values())
    for alert, revisions in arrived.items():
        assert revisions == sorted(revisions), alert
        assert sorted(set(revisions)) == [r for a, r in written if str(a) == alert]


async def test_an_alerts_later_transition_waits_while_other_alerts_flow(database: str) -> None:
    """While revision 1 of alert A keeps failing, its revision 2 is held back, and alert B
    is delivered meanwhile; once A's first goes through, its second follows."""
    held = True

    def answer(got: Received) -> int:
        return 503 if held and _document(got)["device"] == "panic-a" else 200

    async with receiving(answer) as receiver:
        await register(database, receiver.url)
        async with relay(database):
            await transitions(database, panic(1, device="panic-a"))
            await transitions(database, panic(2, device="panic-a"), panic(3, device="panic-b"))
            await eventually(
                _count(receiver.received, lambda g: _document(g)["device"] == "panic-b")
            )
            await eventually(
                _count(receiver.received, lambda g: _document(g)["device"] == "panic-a"),
                until=lambda n: n >= 3,
                what="alert A's first transition retried",
            )
            assert {
                _document(g)["revision"]
                for g in receiver.received
                if _document(g)["device"] == "panic-a"
            } == {1}
            held = False
            written = await _written(database)
            await eventually(
                lambda: rows(
                    database, "SELECT count(*) FROM webhook_messages WHERE state = 'delivered'"
                ),
                until=lambda r: r == [(written,)],
            )
    revisions = [
        _document(g)["revision"] for g in receiver.received if _document(g)["device"] == "panic-a"
    ]
    assert revisions[-1] == 2
    assert revisions[:-1] == [1] * (len(revisions) - 1)


async def test_a_hung_endpoint_does_not_hold_up_another(database: str) -> None:
    """With one endpoint never answering, another gets its transitions before the hung
    one's first attempt times out; that attempt is then logged as a timeout."""
    async with silent_port() as port, receiving() as receiver:
        hung, _ = await register(database, f"http://127.0.0.1:{port}/hook")
        await register(database, receiver.url)
        config = webhooks_config(
            read_timeout_s=3.0, total_timeout_s=3.0, max_in_flight=2, max_in_flight_per_endpoint=1
        )
        async with relay(database, config):
            started = time.monotonic()
            await transitions(database, *(panic(n, device=f"panic-{n}") for n in range(1, 4)))
            written = await _written(database)
            await eventually(_count(receiver.received), until=lambda n: n == written, within_s=2.5)
            assert time.monotonic() - started < 3.0
            logged = await eventually(
                lambda: rows(
                    database, "SELECT error FROM webhook_attempts WHERE endpoint_id = %s", [hung]
                ),
                within_s=4.0,
            )
    assert logged[0][0] in {"timeout: ReadTimeout", "no answer within 3 s"}


async def test_redirects_are_not_followed_and_answers_are_cut_to_4_kib(database: str) -> None:
    """A 307 is retried, never followed to its Location; only 4 KiB of an answer are kept."""
    async with receiving() as elsewhere, receiving(lambda _: 307) as receiver:
        receiver.headers["Location"] = elsewhere.url
        receiver.reply = "x" * 10_000
        await register(database, receiver.url)
        async with relay(database):
            await transitions(database, panic(1))
            log = await eventually(
                lambda: rows(
                    database, "SELECT status_code, response_excerpt FROM webhook_attempts"
                ),
                until=lambda r: len(r) >= 2,
            )
    assert elsewhere.received == []
    assert all(code == 307 and excerpt == "x" * 4096 for code, excerpt in log)
    assert (await _states(database))[0][1] == "pending"


async def test_a_410_disables_the_endpoint_and_stops_delivery(database: str) -> None:
    """`410 Gone` disables the endpoint with the reason; later transitions are not sent."""
    async with receiving(lambda _: 410) as receiver:
        endpoint, _ = await register(database, receiver.url)
        async with relay(database) as loop:
            await transitions(database, panic(1))
            await eventually(
                lambda: rows(database, "SELECT enabled, disabled_reason FROM webhook_endpoints"),
                until=lambda r: r == [(False, "the receiver answered 410 Gone")],
            )
            await transitions(database, panic(2, device="panic-other"))
            await eventually(
                lambda: rows(
                    database, "SELECT count(*) FROM alert_outbox WHERE webhooks_at IS NULL"
                ),
                until=lambda r: r == [(0,)],
            )
            await asyncio.sleep(5 * FAST["poll_s"])
            assert loop.attempts == 1
    assert len(receiver.received) == 1
    assert await _states(database) == [(1, "pending", 1)]
    log = await rows(
        database, "SELECT endpoint_id, attempt, status_code, response_excerpt FROM webhook_attempts"
    )
    assert log == [(endpoint, 1, 410, "thanks")]


async def test_rotation_signs_with_both_secrets_until_the_overlap_ends(database: str) -> None:
    """After a rotation two signatures go out, each verifying with its own secret; with
    the overlap over, only the new secret signs."""
    async with receiving() as receiver:
        endpoint, old = await register(database, receiver.url)
        new = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="
        async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
            await rotate_secret(conn, endpoint, None, new, 3600)
        async with relay(database):
            await transitions(database, panic(1))
            await eventually(_count(receiver.received), until=lambda n: n == 1)
            newest = "whsec_" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
            async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
                await rotate_secret(conn, endpoint, None, newest, 0)
            await transitions(database, panic(2, device="panic-other"))
            written = await _written(database)
            await eventually(_count(receiver.received), until=lambda n: n == written)
    during, *after = receiver.received
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    verify(new, during.headers, during.body)
    verify(old, during.headers, during.body)
    assert after
    for got in after:
        assert len(got.headers["webhook-signature"].split(" ")) == 1
        verify(newest, got.headers, got.body)


async def test_a_message_past_its_retry_window_fails_and_unblocks_the_alert(
    database: str,
) -> None:
    """A receiver that keeps answering 500 gets retries with backoff until the window
    ends; the message is then failed, the log keeps each attempt, and later ones go on."""
    failing = True
    async with receiving(lambda _: 500 if failing else 200) as receiver:
        await register(database, receiver.url)
        async with relay(database, webhooks_config(retry_window_s=0.6)):
            await transitions(database, panic(1))
            await eventually(
                lambda: _states(database), until=lambda r: bool(r) and r[0][1] == "failed"
            )
            failing = False
            await transitions(database, panic(2))
            await eventually(
                lambda: _states(database), until=lambda r: len(r) == 2 and r[1][1] == "delivered"
            )
    log = await rows(
        database, "SELECT attempt, status_code, response_excerpt FROM webhook_attempts ORDER BY id"
    )
    assert len(log) >= 3
    assert [attempt for attempt, *_ in log[:-1]] == list(range(1, len(log)))
    assert all(code == 500 and excerpt == "thanks" for _, code, excerpt in log[:-1])


async def test_the_destination_is_checked_again_before_each_attempt(database: str) -> None:
    """A stored loopback URL is refused at attempt time when the hub no longer allows it."""
    async with receiving() as receiver:
        await register(database, receiver.url)
        async with relay(database, webhooks_config(allow_networks=[])):
            await transitions(database, panic(1))
            found = await eventually(
                lambda: rows(database, "SELECT error FROM webhook_attempts"),
                until=lambda r: len(r) >= 1,
            )
    assert found[0][0] == "destination refused: 127.0.0.1 is a loopback address"
    assert receiver.received == []


async def test_endpoints_get_only_their_sites(database: str) -> None:
    """An endpoint limited to another site gets nothing; one for the alert's site gets it."""
    async with receiving() as mine, receiving() as other:
        await register(database, mine.url, sites=[SITE], min_severity="critical")
        await register(database, other.url, sites=["room-99"])
        async with relay(database):
            await transitions(database, panic(1))
            await eventually(_count(mine.received), until=lambda n: n == 1)
    assert other.received == []
    assert len(await _states(database)) == await _written(database)


async def test_the_hub_delivers_an_ingested_panic_to_a_webhook(
    hub_config: HubConfig, mqtt_endpoint: MqttEndpoint, database: str
) -> None:
    """End to end: a panic published by an agent reaches a webhook through a running hub."""
    config = hub_config.model_copy(update={"webhooks": webhooks_config(poll_s=5.0)})
    async with receiving() as receiver:
        _, secret = await register(database, receiver.url)
        async with running_hub(config, mqtt_endpoint) as hub, client(mqtt_endpoint) as agent:
            topic = hub.space.events(SITE, Kind.PANIC_ALARM, "panic-0031")
            await agent.publish(topic, dump(event(seq=1, device="panic-0031")), qos=1)
            await eventually(_count(receiver.received), until=lambda n: n == 1, within_s=4.0)
    verify(secret, receiver.received[0].headers, receiver.received[0].body)
    assert uuid.UUID(_document(receiver.received[0])["alert_id"])
