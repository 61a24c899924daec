"""Supervision: a panel that stops reporting is `device.offline`; its next frame, `online`.

A supervised account (`supervision_s` set) must be heard from, by any frame (a NULL link
test, a periodic test, an event), at least every `supervision_s`. After `missed`
intervals of silence its panel device gets `device.offline`; the next frame from it
brings `device.online` first. Pure bookkeeping on a monotonic clock: the receiver
stores the events and only then calls `went_offline` / `came_online`.

The state is not kept across restarts: after a start every panel has a full
`missed x supervision_s` before it is reported offline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from agent.drivers.sia.config import SiaAccount

__all__ = ["Supervisor"]

_MIN_TICK_S: Final = 0.1
_MAX_TICK_S: Final = 10.0


@dataclass(slots=True)
class _Watch:
    limit_s: float  # supervision_s x missed
    heard_at: float
    offline: bool = False


class Supervisor:
    """When each supervised account was last heard, and which are reported offline."""

    def __init__(
        self, accounts: Iterable[SiaAccount], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        now = clock()
        self._watches = {
            account.account: _Watch(account.supervision_s * account.missed, now)
            for account in accounts
            if account.supervision_s is not None
        }
        shortest = min((w.limit_s for w in self._watches.values()), default=_MAX_TICK_S * 10)
        self.tick_s = min(max(shortest / 10, _MIN_TICK_S), _MAX_TICK_S)
        """How often the receiver should look for overdue accounts."""

    def heard(self, account: str) -> bool:
        """Note a frame from `account`; whether it is reported offline (then say online)."""
        watch = self._watches.get(account)
        if watch is None:
            return False
        watch.heard_at = self._clock()
        return watch.offline

    def came_online(self, account: str) -> None:
        """`device.online` of `account` is stored."""
        if (watch := self._watches.get(account)) is not None:
            watch.offline = False

    def overdue(self) -> list[str]:
        """Accounts silent past their limit and not yet reported offline."""
        now = self._clock()
        return [
            account
            for account, watch in self._watches.items()
            if not watch.offline and now - watch.heard_at > watch.limit_s
        ]

    def went_offline(self, account: str) -> None:
        """`device.offline` of `account` is stored."""
        if (watch := self._watches.get(account)) is not None:
            watch.offline = True

    def offline(self) -> list[str]:
        """Accounts reported offline now."""
        return [account for account, watch in self._watches.items() if watch.offline]
