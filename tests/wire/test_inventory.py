"""The inventory: a site's configured devices."""

from typing import Any

import pytest

import wire
from tests.wire import samples
from tests.wire.samples import dump


def test_a_valid_inventory_decodes() -> None:
    """Devices come out in order, labels optional."""
    inventory = wire.decode_inventory(dump(samples.inventory()))
    assert [device.id for device in inventory.devices] == [samples.DEVICE, "panic-01", "cam-01"]
    assert inventory.devices[0].checkin_s == 300
    assert inventory.devices[0].label == "Block 3 entrance"
    assert inventory.devices[2].label is None
    assert inventory.devices[1].kind is wire.Kind.PANIC_ALARM


def test_an_empty_inventory_is_valid() -> None:
    """A site with nothing configured says so."""
    payload = samples.inventory()
    payload["devices"] = []
    assert wire.decode_inventory(dump(payload)).devices == ()


def test_duplicate_device_ids_are_refused_by_name() -> None:
    """Device ids are unique per site; the error names the repeated id."""
    payload = samples.inventory()
    payload["devices"].append({"id": "panic-01", "kind": "camera", "checkin_s": 60})
    with pytest.raises(wire.PayloadInvalid, match=r"devices\[3\].*'panic-01'"):
        wire.decode_inventory(dump(payload))


def test_the_largest_inventory_fits() -> None:
    """20,000 devices with short labels decode within the size limit."""
    payload = samples.inventory()
    payload["devices"] = [
        {"id": f"contact-{n:05d}", "kind": "contact", "checkin_s": 86_400, "label": f"flat {n}"}
        for n in range(wire.MAX_INVENTORY)
    ]
    assert len(wire.decode_inventory(dump(payload)).devices) == wire.MAX_INVENTORY


def test_one_device_too_many_is_refused() -> None:
    """The device count is bounded."""
    payload = samples.inventory()
    payload["devices"] = [
        {"id": f"c{n}", "kind": "contact", "checkin_s": 60} for n in range(wire.MAX_INVENTORY + 1)
    ]
    with pytest.raises(wire.PayloadInvalid, match=r"\$\.devices"):
        wire.decode_inventory(dump(payload))


@pytest.mark.parametrize(
    ("device", "message"),
    [
        ({"id": "x", "kind": "camera", "checkin_s": 0}, r"\$\.devices\[3\]\.checkin_s"),
        ({"id": "x", "kind": "camera", "checkin_s": -60}, r"checkin_s"),
        ({"id": "x", "kind": "camera", "checkin_s": 604_801}, r"checkin_s"),
        ({"id": "x", "kind": "camera", "checkin_s": 1.5}, r"checkin_s"),
        ({"id": "x", "kind": "camera"}, r"missing required field `checkin_s`"),
        ({"id": "X", "kind": "camera", "checkin_s": 60}, r"\$\.devices\[3\]\.id"),
        ({"id": "x", "kind": "lamp", "checkin_s": 60}, r"\$\.devices\[3\]\.kind"),
        ({"id": "x", "kind": "camera", "checkin_s": 60, "label": "l" * 201}, "label"),
        ({"id": "x", "kind": "camera", "checkin_s": 60, "zone": 1}, "unknown field `zone`"),
    ],
)
def test_bad_devices_are_refused_with_their_index(device: dict[str, Any], message: str) -> None:
    """A bad device entry is reported at its position in the list."""
    payload = samples.inventory()
    payload["devices"].append(device)
    with pytest.raises(wire.PayloadInvalid, match=message):
        wire.decode_inventory(dump(payload))
