"""Device populations per room, shaped like the district."""

from pathlib import Path

import pytest

from simulators.fleet.population import (
    DISTRICT_FILE,
    build_population,
    load_district,
    summarise,
)
from wire import Kind, is_valid_id


def test_the_district_file_is_the_reference() -> None:
    """The packaged district file reads as 55 rooms and the five kinds' counts."""
    district = load_district(DISTRICT_FILE)
    assert district.rooms == 55
    assert district.devices[Kind.CONTACT] == 20_000
    assert district.devices[Kind.DOOR_LOCK] == 6_000
    assert district.total == 28_360


def test_the_packaged_copy_matches_the_shared_reference_when_present() -> None:
    """The shipped copy says what `../shared/district.yaml` says (when a checkout has it)."""
    shared = Path(__file__).resolve().parents[4] / "shared" / "district.yaml"
    if not shared.exists():
        pytest.skip(f"no shared reference at {shared} (a clone outside the workspace)")
    assert load_district(shared) == load_district(DISTRICT_FILE)


def test_a_whole_district_has_about_its_devices() -> None:
    """55 rooms at scale 1.0 carry the district's ~28,000 devices, each kind within 5 %."""
    counts = summarise(build_population(55, 1.0, 1))
    district = load_district()
    for kind, total in district.devices.items():
        assert abs(counts[kind.value] - total) <= 0.05 * total, kind
    assert counts["panel"] >= (260 + 900) // 10


def test_the_same_seed_gives_the_same_rooms_and_another_differs() -> None:
    """Populations are reproducible from the seed; rooms vary with it."""
    assert build_population(5, 0.5, 3) == build_population(5, 0.5, 3)
    assert build_population(5, 0.5, 3) != build_population(5, 0.5, 4)


def test_every_room_has_every_kind_valid_ids_and_linked_doors() -> None:
    """Tiny scales keep a device of each kind, unique valid ids, and every door linked."""
    for room in build_population(4, 0.001, 1):
        assert is_valid_id(room.site)
        ids = [device.id for device in room.devices]
        assert len(ids) == len(set(ids))
        assert all(is_valid_id(i) for i in ids)
        for kind in (Kind.DOOR_LOCK, Kind.CAMERA, Kind.SHOP_GUARD, Kind.PANEL, Kind.CONTACT):
            assert room.count(kind) >= 1
        cameras = {device.id for device in room.of_kind(Kind.CAMERA)}
        assert set(room.links) == {device.id for device in room.of_kind(Kind.DOOR_LOCK)}
        assert set(room.links.values()) <= cameras


@pytest.mark.parametrize(("rooms", "scale"), [(0, 1.0), (100, 1.0), (3, 0.0), (3, 11.0)])
def test_bad_sizes_are_refused(rooms: int, scale: float) -> None:
    """Rooms outside 1-99 and scales outside (0, 10] are refused with the value."""
    with pytest.raises(ValueError, match="must be"):
        build_population(rooms, scale, 1)


def test_a_broken_district_file_names_itself(tmp_path: Path) -> None:
    """A district file without the expected keys is refused, naming the file."""
    path = tmp_path / "district.yaml"
    path.write_text("district: {monitoring_rooms: 5}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"district\.yaml"):
        load_district(path)
