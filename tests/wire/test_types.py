"""The closed vocabularies of v1 and the lane table, row by row."""

import pytest

import wire
from wire import EventType, Lane

EXPECTED_LANE = {
    "alarm.panic": Lane.P0,
    "alarm.duress": Lane.P0,
    "alarm.intrusion": Lane.P0,
    "alarm.tamper": Lane.P0,
    "alarm.fire": Lane.P0,
    "door.forced": Lane.P0,
    "unknown": Lane.P0,
    "alarm.restore": Lane.P1,
    "door.opened": Lane.P1,
    "door.closed": Lane.P1,
    "door.held_open": Lane.P1,
    "door.locked": Lane.P1,
    "door.unlocked": Lane.P1,
    "access.granted": Lane.P1,
    "access.denied": Lane.P1,
    "power.ac_lost": Lane.P1,
    "power.ac_restored": Lane.P1,
    "battery.low": Lane.P1,
    "battery.ok": Lane.P1,
    "panel.armed": Lane.P1,
    "panel.disarmed": Lane.P1,
    "device.online": Lane.P1,
    "device.offline": Lane.P1,
    "device.trouble": Lane.P1,
    "motion.started": Lane.P2,
    "motion.stopped": Lane.P2,
    "test.periodic": Lane.P2,
}


def test_event_types_are_exactly_the_contract_list() -> None:
    """v1 has these 27 event types and no others."""
    assert {member.value for member in EventType} == set(EXPECTED_LANE)


def test_kinds_are_exactly_the_contract_list() -> None:
    """v1 has these seven device kinds and no others."""
    assert [kind.value for kind in wire.Kind] == [
        "door_lock",
        "panic_alarm",
        "shop_guard",
        "contact",
        "camera",
        "panel",
        "http_device",
    ]


def test_every_event_type_has_a_lane_row() -> None:
    """The lane table is exhaustive: no type falls through to a default."""
    assert set(wire.LANES) == set(EventType)


@pytest.mark.parametrize(("event_type", "lane"), sorted(EXPECTED_LANE.items()))
def test_lane_row(event_type: str, lane: Lane) -> None:
    """Each type sits in the lane the contract gives it."""
    assert wire.LANES[EventType(event_type)] is lane


def test_every_alarm_but_restore_is_p0() -> None:
    """`alarm.*` is P0 except `alarm.restore`, which is a state change."""
    for event_type in EventType:
        if event_type.startswith("alarm.") and event_type is not EventType.ALARM_RESTORE:
            assert wire.LANES[event_type] is Lane.P0


def test_snapshots_ride_p2() -> None:
    """Camera snapshots are shed first."""
    assert wire.SNAPSHOT_LANE is Lane.P2


def test_lanes_sort_most_urgent_first() -> None:
    """Sorting by lane puts P0 first, then P1, then P2."""
    assert sorted([Lane.P2, Lane.P0, Lane.P1]) == [Lane.P0, Lane.P1, Lane.P2]


def test_lane_labels_match_status_fields() -> None:
    """A lane's label is its field name in the agent status (`p0`, `p1`, `p2`)."""
    assert [lane.label for lane in Lane] == ["p0", "p1", "p2"]


def test_the_lane_table_cannot_be_changed() -> None:
    """The table is read-only: no code path can re-route a type at run time."""
    with pytest.raises(TypeError):
        wire.LANES[EventType.UNKNOWN] = Lane.P2  # type: ignore[index]


@pytest.mark.parametrize(
    ("vocabulary", "values"),
    [
        (wire.Severity, ["critical", "high", "medium", "low", "info"]),
        (wire.Transition, ["opened", "updated", "escalated", "acknowledged", "resolved"]),
        (wire.Presence, ["online", "offline"]),
        (wire.DriverState, ["ok", "degraded", "down"]),
    ],
)
def test_small_vocabularies(vocabulary: type[wire.Severity], values: list[str]) -> None:
    """Severities, transitions, presence and driver states are the contract's lists."""
    assert [member.value for member in vocabulary] == values
