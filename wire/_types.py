"""The closed vocabularies of v1: device kinds, event types, lanes, and the lane table.

A value that is not listed here is not v1: the hub dead-letters an event whose `kind` or
`type` is unknown. New members mean a new contract version.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Final

__all__ = [
    "LANES",
    "SNAPSHOT_LANE",
    "DriverState",
    "EventType",
    "Kind",
    "Lane",
    "Presence",
    "Severity",
    "Transition",
]


class Kind(StrEnum):
    """What sort of device produced an event (the `{kind}` topic level)."""

    DOOR_LOCK = "door_lock"  # electronic anti-theft door of a residential block
    PANIC_ALARM = "panic_alarm"  # "110" one-key police alarm
    SHOP_GUARD = "shop_guard"  # shop intrusion alarm
    CONTACT = "contact"  # door/window magnetic contact
    CAMERA = "camera"
    PANEL = "panel"  # an alarm panel as a whole (arming, AC power, its battery)
    HTTP_DEVICE = "http_device"  # anything that pushes over HTTP, e.g. smart locks


class EventType(StrEnum):
    """What happened. `UNKNOWN` is an input the agent could not map: kept, flagged, P0."""

    ALARM_PANIC = "alarm.panic"
    ALARM_DURESS = "alarm.duress"
    ALARM_INTRUSION = "alarm.intrusion"
    ALARM_TAMPER = "alarm.tamper"
    ALARM_FIRE = "alarm.fire"
    ALARM_RESTORE = "alarm.restore"
    DOOR_OPENED = "door.opened"
    DOOR_CLOSED = "door.closed"
    DOOR_FORCED = "door.forced"
    DOOR_HELD_OPEN = "door.held_open"
    DOOR_LOCKED = "door.locked"
    DOOR_UNLOCKED = "door.unlocked"
    ACCESS_GRANTED = "access.granted"
    ACCESS_DENIED = "access.denied"
    MOTION_STARTED = "motion.started"
    MOTION_STOPPED = "motion.stopped"
    POWER_AC_LOST = "power.ac_lost"
    POWER_AC_RESTORED = "power.ac_restored"
    BATTERY_LOW = "battery.low"
    BATTERY_OK = "battery.ok"
    PANEL_ARMED = "panel.armed"
    PANEL_DISARMED = "panel.disarmed"
    DEVICE_ONLINE = "device.online"
    DEVICE_OFFLINE = "device.offline"
    DEVICE_TROUBLE = "device.trouble"
    TEST_PERIODIC = "test.periodic"
    UNKNOWN = "unknown"


class Lane(IntEnum):
    """Delivery priority. Smaller is more urgent: sort by lane to send P0 first."""

    P0 = 0  # alarms: never shed
    P1 = 1  # state changes and faults: shed after P2
    P2 = 2  # motion, snapshots, telemetry, periodic tests: shed first

    @property
    def label(self) -> str:
        """The lane's name as it appears on the wire (`p0`, `p1`, `p2`)."""
        return self.name.lower()


_T = EventType
LANES: Final = MappingProxyType(
    {
        # P0: alarms, a forced door, and anything unmapped (it might be an alarm).
        _T.ALARM_PANIC: Lane.P0,
        _T.ALARM_DURESS: Lane.P0,
        _T.ALARM_INTRUSION: Lane.P0,
        _T.ALARM_TAMPER: Lane.P0,
        _T.ALARM_FIRE: Lane.P0,
        _T.DOOR_FORCED: Lane.P0,
        _T.UNKNOWN: Lane.P0,
        # P1: state changes and faults.
        _T.ALARM_RESTORE: Lane.P1,
        _T.DOOR_OPENED: Lane.P1,
        _T.DOOR_CLOSED: Lane.P1,
        _T.DOOR_HELD_OPEN: Lane.P1,
        _T.DOOR_LOCKED: Lane.P1,
        _T.DOOR_UNLOCKED: Lane.P1,
        _T.ACCESS_GRANTED: Lane.P1,
        _T.ACCESS_DENIED: Lane.P1,
        _T.POWER_AC_LOST: Lane.P1,
        _T.POWER_AC_RESTORED: Lane.P1,
        _T.BATTERY_LOW: Lane.P1,
        _T.BATTERY_OK: Lane.P1,
        _T.PANEL_ARMED: Lane.P1,
        _T.PANEL_DISARMED: Lane.P1,
        _T.DEVICE_ONLINE: Lane.P1,
        _T.DEVICE_OFFLINE: Lane.P1,
        _T.DEVICE_TROUBLE: Lane.P1,
        # P2: motion and periodic tests.
        _T.MOTION_STARTED: Lane.P2,
        _T.MOTION_STOPPED: Lane.P2,
        _T.TEST_PERIODIC: Lane.P2,
    }
)
"""The lane of every event type: one row per `EventType`, no defaults."""

SNAPSHOT_LANE: Final = Lane.P2
"""Camera snapshots are bulky and never the only evidence of an alarm: shed first."""


class Severity(StrEnum):
    """How bad an alert is."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


class Transition(StrEnum):
    """The step in an alert's lifecycle that an alert transition reports."""

    OPENED = "opened"
    UPDATED = "updated"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Presence(StrEnum):
    """Whether an agent or a hub is up (`offline` is also what their LWT says)."""

    ONLINE = "online"
    OFFLINE = "offline"


class DriverState(StrEnum):
    """The health of one agent driver (SIA receiver, Modbus poller, camera, HTTP)."""

    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"
