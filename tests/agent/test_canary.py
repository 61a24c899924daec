"""The agent's canary: a test.periodic event from device `canary`, every interval, in P2."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from agent.canary import Canary
from agent.config import CanaryConfig
from agent.outbox import Outbox
from wire import EventType, Kind, Lane, decode_event

if TYPE_CHECKING:
    from pathlib import Path


async def test_the_canary_is_stored_every_interval(tmp_path: Path) -> None:
    """With a 1 s interval, ~3 canaries in 3.5 s, each a P2 test.periodic from `canary`."""
    config = CanaryConfig(interval_s=1.0)
    async with Outbox(tmp_path / "outbox.sqlite3", site="room-07") as outbox:
        async with Canary(config, outbox) as canary:
            await asyncio.sleep(3.5)
        entries = await outbox.pending()
    assert canary.sent == len(entries) == 3
    for entry in entries:
        event = decode_event(entry.payload)
        assert (event.device, event.kind, event.type) == (
            "canary",
            Kind.PANEL,
            EventType.TEST_PERIODIC,
        )
        assert entry.lane is Lane.P2
        assert event.source == {"driver": "canary"}


async def test_a_closed_outbox_does_not_stop_the_canary(tmp_path: Path) -> None:
    """An append that fails is logged and skipped; the canary keeps its rhythm."""
    config = CanaryConfig(interval_s=1.0)
    outbox = Outbox(tmp_path / "outbox.sqlite3", site="room-07")
    async with Canary(config, outbox) as canary:  # never opened: every append fails
        await asyncio.sleep(2.5)
    assert (canary.sent, canary.failed) == (0, 2)
