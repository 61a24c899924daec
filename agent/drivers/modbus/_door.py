"""One door's state machine: samples of its inputs in, transitions (v1 event types) out.

Pure: time comes in as a monotonic reading, nothing here does I/O. The rules:

- The first sample only establishes the state: no transition comes out of it.
- `position` changing gives `door.opened` / `door.closed`; `lock` gives `door.locked` /
  `door.unlocked`; `tamper` rising gives `alarm.tamper`, falling `alarm.restore`.
- `door.forced` comes from the controller's `forced` input rising, or from the door
  opening while the lock reads locked without a grant: an exit request (REX) active
  within the last `grant_s` seconds, or an unlock within them. At most one `door.forced`
  per opening (a forced input rising with the forced opening gives one event).
- `door.held_open` once per opening, when the door has been open `held_open_s`.
- After the controller was unreachable (`lost`), the first sample reports what changed
  meanwhile, but never infers "opened while locked": the exit requests and unlocks of
  the gap were not seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from wire import EventType

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["DoorInputs", "DoorMachine", "Transition"]

_T = EventType
FORCED_INPUT: Final = "forced_input"
OPENED_WHILE_LOCKED: Final = "opened_while_locked"


@dataclass(frozen=True, slots=True)
class DoorInputs:
    """One sample of a door's inputs; an input the door does not have is None."""

    open: bool
    locked: bool
    forced: bool | None = None
    tamper: bool | None = None
    exit_request: bool | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    """An event to report: its type, the input that caused it, and its `data`."""

    type: EventType
    input: str
    data: Mapping[str, object] = field(default_factory=dict)


class DoorMachine:
    """The state of one door between polls, and the transitions each sample makes."""

    def __init__(self, *, held_open_s: float, grant_s: float) -> None:
        self._held_open_s = held_open_s
        self._grant_s = grant_s
        self._last: DoorInputs | None = None
        self._opened_at: float | None = None
        self._granted_at: float | None = None
        self._held_reported = False
        self._forced_reported = False
        self._blind = False

    @property
    def inputs(self) -> DoorInputs | None:
        """The last sample, or None before the first."""
        return self._last

    def state(self) -> dict[str, object]:
        """The door's current values for its retained state (empty before the first sample)."""
        last = self._last
        if last is None:
            return {}
        values: dict[str, object] = {
            "door": "open" if last.open else "closed",
            "locked": last.locked,
            "held_open": self._held_reported,
        }
        for name in ("forced", "tamper", "exit_request"):
            value = getattr(last, name)
            if value is not None:
                values[name] = value
        return values

    def lost(self) -> None:
        """The controller stopped answering: the next sample cannot judge grants."""
        self._blind = self._last is not None

    def step(self, now: float, sample: DoorInputs) -> list[Transition]:
        """Take one sample read at monotonic time `now`; the transitions it makes."""
        last, self._last = self._last, sample
        if sample.exit_request:
            self._granted_at = now
        if last is None:
            self._opened_at = now if sample.open else None
            self._forced_reported = bool(sample.forced)
            return []
        blind, self._blind = self._blind, False
        out: list[Transition] = []
        self._lock(last, sample, now, out)
        self._position(last, sample, now, out)
        self._forced(last, sample, now, out, blind=blind)
        self._tamper(last, sample, out)
        self._held(sample, now, out)
        return out

    def _lock(
        self, last: DoorInputs, sample: DoorInputs, now: float, out: list[Transition]
    ) -> None:
        if sample.locked == last.locked:
            return
        if not sample.locked:
            self._granted_at = now
        kind = _T.DOOR_LOCKED if sample.locked else _T.DOOR_UNLOCKED
        out.append(Transition(kind, "lock", {"locked": sample.locked, "door": _door(sample)}))

    def _position(
        self, last: DoorInputs, sample: DoorInputs, now: float, out: list[Transition]
    ) -> None:
        if sample.open == last.open:
            return
        if sample.open:
            self._opened_at = now
            self._held_reported = self._forced_reported = False
            out.append(Transition(_T.DOOR_OPENED, "position", _door_data(sample)))
        else:
            self._opened_at = None
            out.append(Transition(_T.DOOR_CLOSED, "position", _door_data(sample)))

    def _forced(
        self,
        last: DoorInputs,
        sample: DoorInputs,
        now: float,
        out: list[Transition],
        *,
        blind: bool,
    ) -> None:
        if sample.forced and not last.forced and not self._forced_reported:
            self._forced_reported = True
            out.append(Transition(_T.DOOR_FORCED, "forced", _forced_data(sample, FORCED_INPUT)))
        elif last.forced and not sample.forced and not sample.open:
            self._forced_reported = False
        opened = sample.open and not last.open
        granted = self._granted_at is not None and now - self._granted_at <= self._grant_s
        if opened and sample.locked and not (blind or granted or self._forced_reported):
            self._forced_reported = True
            data = _forced_data(sample, OPENED_WHILE_LOCKED)
            out.append(Transition(_T.DOOR_FORCED, "position", data))

    def _tamper(self, last: DoorInputs, sample: DoorInputs, out: list[Transition]) -> None:
        if bool(sample.tamper) == bool(last.tamper):
            return
        if sample.tamper:
            out.append(Transition(_T.ALARM_TAMPER, "tamper", {"tamper": True}))
        else:
            out.append(Transition(_T.ALARM_RESTORE, "tamper", {"tamper": False, "alarm": "tamper"}))

    def _held(self, sample: DoorInputs, now: float, out: list[Transition]) -> None:
        opened_at = self._opened_at
        if not sample.open or opened_at is None or self._held_reported:
            return
        open_s = now - opened_at
        if open_s >= self._held_open_s:
            self._held_reported = True
            data = {"door": "open", "open_s": round(open_s, 3), "limit_s": self._held_open_s}
            out.append(Transition(_T.DOOR_HELD_OPEN, "position", data))


def _door(sample: DoorInputs) -> str:
    return "open" if sample.open else "closed"


def _door_data(sample: DoorInputs) -> dict[str, object]:
    return {"door": _door(sample), "locked": sample.locked}


def _forced_data(sample: DoorInputs, reason: str) -> dict[str, object]:
    return {"reason": reason, "door": _door(sample), "locked": sample.locked}
