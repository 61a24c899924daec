"""Valid payloads of every kind, as JSON-ready dicts, for tests to take apart.

Each function returns a fresh dict; tests change one thing and check what the decoder
says about it.
"""

import json
from typing import Any

SITE = "room-07"
DEVICE = "door-0042"
EVENT_ID = "0190f1f4-5a3b-7c4d-8e5f-6a7b8c9d0e1f"  # a UUIDv7
EPOCH = "6e513881-e401-4816-8dcb-32beab38d8b3"  # any UUID
AT = "2025-03-01T08:15:02.123456Z"
EVENT_TOPIC = f"shouwang/v1/{SITE}/events/door_lock/{DEVICE}"
STATE_TOPIC = f"shouwang/v1/{SITE}/state/door_lock/{DEVICE}"
SNAPSHOT_TOPIC = f"shouwang/v1/{SITE}/snapshots/camera/cam-01/{EVENT_ID}"
INVENTORY_TOPIC = f"shouwang/v1/{SITE}/inventory"
STATUS_TOPIC = f"shouwang/v1/{SITE}/status"
ACK_TOPIC = f"shouwang/v1/{SITE}/ack"
ALERTS_TOPIC = f"shouwang/v1/{SITE}/alerts"
HUB_STATUS_TOPIC = "shouwang/v1/_hub/status"


def dump(payload: object) -> bytes:
    """Compact JSON bytes, as a publisher would send them."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def event() -> dict[str, Any]:
    """A forced door, as an agent's Modbus driver reports it."""
    return {
        "v": 1,
        "id": EVENT_ID,
        "site": SITE,
        "device": DEVICE,
        "kind": "door_lock",
        "type": "door.forced",
        "at": AT,
        "epoch": EPOCH,
        "seq": 17,
        "source": {"driver": "modbus", "unit": 3, "address": 40012},
        "data": {"door": "open", "reader": None},
    }


def state() -> dict[str, Any]:
    """The current state of the same door."""
    return {
        "v": 1,
        "site": SITE,
        "device": DEVICE,
        "kind": "door_lock",
        "at": AT,
        "online": True,
        "state": {"door": "open", "locked": False, "battery": 0.81},
    }


def inventory() -> dict[str, Any]:
    """A small site: a door, a panic button and a camera."""
    return {
        "v": 1,
        "site": SITE,
        "at": AT,
        "devices": [
            {"id": DEVICE, "kind": "door_lock", "checkin_s": 300, "label": "Block 3 entrance"},
            {"id": "panic-01", "kind": "panic_alarm", "checkin_s": 3600, "label": None},
            {"id": "cam-01", "kind": "camera", "checkin_s": 60},
        ],
    }


def lane(depth: int = 0) -> dict[str, Any]:
    """One lane's outbox stats."""
    return {"depth": depth, "bytes": depth * 400, "shed": 0}


def status() -> dict[str, Any]:
    """A healthy agent with one degraded driver."""
    return {
        "v": 1,
        "site": SITE,
        "state": "online",
        "reason": None,
        "version": "0.1.0",
        "started_at": "2025-03-01T06:00:00.000000Z",
        "clock": AT,
        "epoch": EPOCH,
        "degraded": False,
        "lanes": {"p0": lane(), "p1": lane(2), "p2": lane(40)},
        "drivers": {
            "sia": {"state": "ok", "detail": None},
            "modbus": {"state": "degraded", "detail": "unit 4 timing out"},
        },
    }


def ack() -> dict[str, Any]:
    """An ack of seqs 1-16 and 18."""
    return {"v": 1, "epoch": EPOCH, "ranges": [[1, 16], [18, 18]]}


def alert() -> dict[str, Any]:
    """A forced-door alert, just opened."""
    return {
        "v": 1,
        "alert_id": "0190f1f4-5a3c-7000-8000-000000000001",
        "revision": 1,
        "transition": "opened",
        "rule": "door.forced",
        "severity": "critical",
        "site": SITE,
        "device": DEVICE,
        "count": 1,
        "first_at": AT,
        "last_at": AT,
        "event_ids": [EVENT_ID],
        "by": None,
        "note": None,
    }


def hub_status() -> dict[str, Any]:
    """A healthy hub."""
    return {
        "v": 1,
        "hub": "hub-a:4711",
        "state": "online",
        "reason": None,
        "version": "0.1.0",
        "started_at": "2025-03-01T06:00:00.000000Z",
        "clock": AT,
        "components": {
            "ingest": {"alive": True, "detail": None},
            "rules": {"alive": True, "detail": None},
            "relay": {"alive": True, "detail": "webhooks: 1 retrying"},
        },
    }


def jpeg(size: int = 1024) -> bytes:
    """Bytes that start and end like a JPEG, `size` long."""
    return b"\xff\xd8\xff\xe0" + b"\x00" * (size - 6) + b"\xff\xd9"
