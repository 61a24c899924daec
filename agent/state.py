"""The state board: the latest state of each device, which the link publishes retained.

Drivers `update` a device's state whenever they read it; an update equal to the state
already held changes nothing (coalesced), so a door polled four times a second publishes
only when it changes. The board holds one state per device and at most `capacity`
devices (the configured device count): it never grows with time or traffic.

State is current, events are history: the board is best-effort and in memory, not in the
outbox. A state replaced before the link published it is simply never published; after
a reconnect the link publishes every state the board holds (`snapshot`).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import wire

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["StateBoard"]


class StateBoard:
    """The latest `wire.DeviceState` of each device of `site`, at most `capacity` of them."""

    def __init__(self, site: str, *, capacity: int) -> None:
        if capacity < 0:
            raise ValueError(f"capacity must be >= 0, got {capacity}")
        self._site = site
        self._capacity = capacity
        self._latest: dict[str, wire.DeviceState] = {}
        self._changed: dict[str, None] = {}  # an ordered set: devices not published yet
        self._grew = asyncio.Event()

    def __len__(self) -> int:
        return len(self._latest)

    def get(self, device: str) -> wire.DeviceState | None:
        """The latest state of `device`, if any."""
        return self._latest.get(device)

    def update(
        self,
        device: str,
        kind: wire.Kind,
        *,
        online: bool,
        state: Mapping[str, object],
        at: datetime | None = None,
    ) -> bool:
        """Set `device`'s state; True when it changed (and will be published).

        `at` (default now) is when this state became current; it is kept from the state
        held when only `at` would differ. Raises `ValueError` for a new device past the
        board's capacity.
        """
        held = self._latest.get(device)
        values = dict(state)
        if held is not None and held.online == online and held.state == values:
            return False
        if held is None and len(self._latest) >= self._capacity:
            message = f"state board full ({self._capacity} devices): no room for {device!r}"
            raise ValueError(message)
        self._latest[device] = wire.DeviceState(
            v=wire.VERSION,
            site=self._site,
            device=device,
            kind=kind,
            at=wire.format_time(at or datetime.now(UTC)),
            online=online,
            state=values,
        )
        self._changed[device] = None
        self._grew.set()
        return True

    def snapshot(self) -> list[wire.DeviceState]:
        """Every state held (and nothing left to publish): what a new connection sends."""
        self._changed.clear()
        self._grew.clear()
        return list(self._latest.values())

    def take_changed(self) -> list[wire.DeviceState]:
        """The states changed since the last take or snapshot, oldest change first."""
        devices, self._changed = list(self._changed), {}
        self._grew.clear()
        return [self._latest[device] for device in devices]

    async def changed(self) -> list[wire.DeviceState]:
        """Wait until some state changed; take the changed states."""
        while not self._changed:
            await self._grew.wait()
        return self.take_changed()
