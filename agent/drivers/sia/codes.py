"""What Contact ID and SIA-DCS codes mean, as v1 event types: two tables, no if-chains.

Contact ID (``ADM-CID``) sends a qualifier and a three-digit event code: qualifier 1 is
a new event (or an opening), 3 a restore (or a closing), 6 a condition still present
(treated as new). Each row of `CONTACT_ID` gives the event type of the new event and of
its restore, and whether the three digits after the partition name a zone (a device of
its own, perhaps) or a user (then the event belongs to the panel).

SIA-DCS sends two-letter codes; each row of `SIA_DCS` is one code. A restore of an alarm
is `alarm.restore`; a restore of a fault keeps the fault's type and says ``restore`` in
the event's data (v1 has no "trouble cleared" type).

A code in neither table is not an error: the receiver acknowledges it and stores an
`unknown` event (P0: it might be an alarm).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from wire import EventType

__all__ = ["CONTACT_ID", "SIA_DCS", "Meaning", "Reading", "Subject", "contact_id", "sia_dcs"]

_T = EventType


class Subject(StrEnum):
    """What the number that comes with a code names."""

    ZONE = "zone"  # a zone: mapped to a device of its own when the config says so
    USER = "user"  # a user (arming, duress): the event belongs to the panel


@dataclass(frozen=True, slots=True)
class Meaning:
    """A Contact ID code: its type when new (qualifier 1 or 6) and when restored (3)."""

    new: EventType
    restore: EventType
    subject: Subject = Subject.ZONE


@dataclass(frozen=True, slots=True)
class Reading:
    """What one code of a message says: its type, what its number names, a restore or not."""

    type: EventType
    subject: Subject
    restore: bool


def _rows(codes: tuple[int, ...], meaning: Meaning) -> dict[int, Meaning]:
    return dict.fromkeys(codes, meaning)


_FIRE = Meaning(_T.ALARM_FIRE, _T.ALARM_RESTORE)
_PANIC = Meaning(_T.ALARM_PANIC, _T.ALARM_RESTORE)
_DURESS = Meaning(_T.ALARM_DURESS, _T.ALARM_RESTORE, Subject.USER)
_INTRUSION = Meaning(_T.ALARM_INTRUSION, _T.ALARM_RESTORE)
_TAMPER = Meaning(_T.ALARM_TAMPER, _T.ALARM_RESTORE)
_AC = Meaning(_T.POWER_AC_LOST, _T.POWER_AC_RESTORED)
_BATTERY = Meaning(_T.BATTERY_LOW, _T.BATTERY_OK)
_PRESENCE = Meaning(_T.DEVICE_OFFLINE, _T.DEVICE_ONLINE)
_TROUBLE = Meaning(_T.DEVICE_TROUBLE, _T.DEVICE_TROUBLE)
_ARMING = Meaning(_T.PANEL_DISARMED, _T.PANEL_ARMED, Subject.USER)  # 1 opening, 3 closing
_DENIED = Meaning(_T.ACCESS_DENIED, _T.ACCESS_DENIED)
_GRANTED = Meaning(_T.ACCESS_GRANTED, _T.ACCESS_GRANTED)
_FORCED = Meaning(_T.DOOR_FORCED, _T.DOOR_CLOSED)
_HELD = Meaning(_T.DOOR_HELD_OPEN, _T.DOOR_CLOSED)
_TEST = Meaning(_T.TEST_PERIODIC, _T.TEST_PERIODIC)

CONTACT_ID: Final = MappingProxyType(
    {
        **_rows((110, 111, 112, 113, 114, 115, 116, 117, 118), _FIRE),
        **_rows((120, 122, 123), _PANIC),
        121: _DURESS,
        **_rows((130, 131, 132, 133, 134, 135, 136, 138, 139), _INTRUSION),
        **_rows((137, 144, 145, 383), _TAMPER),
        301: _AC,
        **_rows((302, 309, 384), _BATTERY),
        **_rows((333, 381, 147), _PRESENCE),
        **_rows((350, 354), _TROUBLE),
        **_rows((401, 403, 407, 409, 441), _ARMING),
        **_rows((421, 424), _DENIED),
        **_rows((422, 425), _GRANTED),
        423: _FORCED,
        426: _HELD,
        **_rows((427, 428), _TROUBLE),
        **_rows((601, 602), _TEST),
    }
)
"""Contact ID event code → its meaning."""

_Z, _U = Subject.ZONE, Subject.USER
SIA_DCS: Final = MappingProxyType(
    {
        # code: (type, what its number names, is a restore)
        "BA": Reading(_T.ALARM_INTRUSION, _Z, restore=False),
        "BR": Reading(_T.ALARM_RESTORE, _Z, restore=True),
        "BH": Reading(_T.ALARM_RESTORE, _Z, restore=True),
        "PA": Reading(_T.ALARM_PANIC, _Z, restore=False),
        "PR": Reading(_T.ALARM_RESTORE, _Z, restore=True),
        "PH": Reading(_T.ALARM_RESTORE, _Z, restore=True),
        "HA": Reading(_T.ALARM_DURESS, _Z, restore=False),  # hold-up: "user under duress"
        "HR": Reading(_T.ALARM_RESTORE, _Z, restore=True),
        "HH": Reading(_T.ALARM_RESTORE, _Z, restore=True),
        "FA": Reading(_T.ALARM_FIRE, _Z, restore=False),
        "FR": Reading(_T.ALARM_RESTORE, _Z, restore=True),
        "FH": Reading(_T.ALARM_RESTORE, _Z, restore=True),
        "TA": Reading(_T.ALARM_TAMPER, _Z, restore=False),
        "TR": Reading(_T.ALARM_RESTORE, _Z, restore=True),
        "TH": Reading(_T.ALARM_RESTORE, _Z, restore=True),
        "AT": Reading(_T.POWER_AC_LOST, _Z, restore=False),
        "AR": Reading(_T.POWER_AC_RESTORED, _Z, restore=True),
        "YT": Reading(_T.BATTERY_LOW, _Z, restore=False),
        "YR": Reading(_T.BATTERY_OK, _Z, restore=True),
        "XT": Reading(_T.BATTERY_LOW, _Z, restore=False),
        "XR": Reading(_T.BATTERY_OK, _Z, restore=True),
        "OP": Reading(_T.PANEL_DISARMED, _U, restore=False),
        "OA": Reading(_T.PANEL_DISARMED, _U, restore=False),
        "OR": Reading(_T.PANEL_DISARMED, _U, restore=False),
        "CL": Reading(_T.PANEL_ARMED, _U, restore=False),
        "CA": Reading(_T.PANEL_ARMED, _U, restore=False),
        "DF": Reading(_T.DOOR_FORCED, _Z, restore=False),
        "DG": Reading(_T.ACCESS_GRANTED, _Z, restore=False),
        "DD": Reading(_T.ACCESS_DENIED, _Z, restore=False),
        "DN": Reading(_T.DOOR_HELD_OPEN, _Z, restore=False),
        "DH": Reading(_T.DOOR_CLOSED, _Z, restore=True),
        "DR": Reading(_T.DOOR_CLOSED, _Z, restore=True),
        "DT": Reading(_T.DEVICE_TROUBLE, _Z, restore=False),
        "BT": Reading(_T.DEVICE_TROUBLE, _Z, restore=False),
        "BJ": Reading(_T.DEVICE_TROUBLE, _Z, restore=True),
        "ET": Reading(_T.DEVICE_TROUBLE, _Z, restore=False),
        "ER": Reading(_T.DEVICE_TROUBLE, _Z, restore=True),
        "LT": Reading(_T.DEVICE_TROUBLE, _Z, restore=False),
        "LR": Reading(_T.DEVICE_TROUBLE, _Z, restore=True),
        "YC": Reading(_T.DEVICE_OFFLINE, _Z, restore=False),
        "YK": Reading(_T.DEVICE_ONLINE, _Z, restore=True),
        "EM": Reading(_T.DEVICE_OFFLINE, _Z, restore=False),
        "EN": Reading(_T.DEVICE_ONLINE, _Z, restore=True),
        "RP": Reading(_T.TEST_PERIODIC, _Z, restore=False),
        "RX": Reading(_T.TEST_PERIODIC, _Z, restore=False),
    }
)
"""SIA-DCS two-letter code → what it says."""


def contact_id(qualifier: int, code: int) -> Reading | None:
    """What a Contact ID qualifier and event code say; None if unmapped."""
    meaning = CONTACT_ID.get(code)
    if meaning is None:
        return None
    match qualifier:
        case 1 | 6:
            return Reading(meaning.new, meaning.subject, restore=False)
        case 3:
            return Reading(meaning.restore, meaning.subject, restore=True)
        case _:
            return None


def sia_dcs(code: str) -> Reading | None:
    """What a SIA-DCS two-letter code says; None if unmapped."""
    return SIA_DCS.get(code)
