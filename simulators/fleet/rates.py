"""How often devices do things: per-device rates and the day/night curve.

Rates are per device per hour at full activity; `activity(hour)` scales the ones people
cause (door passages, contacts, camera motion) by the hour of the simulated day, from
0.05 at 3 am to 1.0 at the 8 am and 6 pm peaks. Heartbeats (`test.periodic` at each
device's check-in interval) and faults do not follow the curve.

At these defaults a whole district (`--scale 1.0`) generates about 50 events/s by day at
`--speed 1` and about 10 by night; `--speed N` multiplies both (docs/fleet.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

__all__ = ["HOURLY_ACTIVITY", "Rates", "activity"]

HOURLY_ACTIVITY: Final = (
    0.10, 0.07, 0.05, 0.05, 0.06, 0.12, 0.35, 0.80, 1.00, 0.75, 0.60, 0.62,
    0.70, 0.62, 0.58, 0.60, 0.70, 0.90, 1.00, 0.85, 0.60, 0.40, 0.25, 0.15,
)  # fmt: skip
"""Activity at the start of each hour of the day (0-23), interpolated in between."""


def activity(hour: float) -> float:
    """The share of peak activity at `hour` of the day (any real; taken modulo 24)."""
    hour %= 24.0
    low = math.floor(hour)
    high = (low + 1) % 24
    frac = hour - low
    return HOURLY_ACTIVITY[low] * (1 - frac) + HOURLY_ACTIVITY[high] * frac


@dataclass(frozen=True, slots=True, kw_only=True)
class Rates:
    """Per-device rates. `per_hour` rates follow the day curve; `per_day` ones do not."""

    door_passages_per_hour: float = 4.0
    """A passage: access.granted, door.unlocked, door.opened, door.closed, door.locked."""
    held_open_share: float = 0.01
    """Passages where the door is held open (door.held_open, closed a minute later)."""
    contact_openings_per_hour: float = 0.5
    """A window or door opened, then closed after 30 s to 10 min."""
    camera_motion_per_hour: float = 12.0
    """motion.started, then motion.stopped 5-60 s later."""
    intrusion_per_day: float = 0.05
    """Per shop guard: alarm.intrusion, then alarm.restore 1-5 min later (mostly false)."""
    panic_per_day: float = 0.002
    """Per panic button: alarm.panic (a person resolves it)."""
    tamper_per_day: float = 0.002
    """Per contact: alarm.tamper, then alarm.restore."""
    battery_low_per_day: float = 0.002
    """Per contact: battery.low, then battery.ok an hour later."""
    camera_offline_per_day: float = 0.01
    """Per camera: device.offline, then device.online 1-10 min later."""
    heartbeats: bool = True
    """test.periodic from every device at its check-in interval."""

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if not isinstance(value, bool) and not 0 <= value <= 1e6:
                raise ValueError(f"rate {name} must be between 0 and 1e6, not {value}")
        if self.held_open_share > 1:
            raise ValueError(f"held_open_share must be at most 1, not {self.held_open_share}")
