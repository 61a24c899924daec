"""Where a panel's events go, and the drafts they make.

Each configured account has a panel device (its `device`, kind `panel` as a rule) and
maybe zone devices. A code whose number names a zone with a device of its own goes to
that device (the shop guard of zone 1, the panic button of zone 3); everything else —
other zones, codes about users (arming, duress), the panel's power and battery,
supervision — goes to the panel device. Frames of accounts not configured go to the
receiver's `unknown_device` as `unknown` events with the raw frame in `source`.

Code names and descriptions come from pysiaalarm's tables (`SIA_CODES`, `ADM_MAPPING`),
for people reading the events; the event types come from `codes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from pysiaalarm.data.adm_mapping import ADM_MAPPING
from pysiaalarm.data.sia_codes import SIA_CODES

from agent.drivers.sia.codes import Subject
from agent.drivers.sia.crypto import key_bytes
from agent.errors import DriverError
from agent.outbox import Draft
from wire import EventType

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from agent.config import DeviceConfig
    from agent.drivers.sia.config import SiaAccount, SiaConfig
    from agent.drivers.sia.framing import Header
    from agent.drivers.sia.messages import Content, Signal
    from agent.outbox import JsonScalar
    from wire import Kind

__all__ = ["DRIVER", "Route", "Routes", "Target", "presence_draft", "signal_drafts"]

DRIVER: Final = "sia"
MAX_RAW: Final = 4096  # a frame is at most 4,103 bytes; the event stays far below 64 KiB


@dataclass(frozen=True, slots=True)
class Target:
    """A device events go to: its id and its configured kind."""

    id: str
    kind: Kind


@dataclass(frozen=True, slots=True)
class Route:
    """A configured account: its settings, its AES key, its panel and its zone devices."""

    account: SiaAccount
    key: bytes | None = field(repr=False)  # never in a log line, even by accident
    panel: Target
    zones: Mapping[int, Target]

    def target(self, signal: Signal) -> Target:
        """The device a signal of this account belongs to."""
        if signal.reading is None or signal.reading.subject is Subject.USER:
            return self.panel
        if signal.number is None:
            return self.panel
        return self.zones.get(signal.number, self.panel)


class Routes:
    """Every configured account's route, and the device of unknown accounts."""

    def __init__(self, config: SiaConfig, devices: Sequence[DeviceConfig]) -> None:
        kinds = {device.id: device.kind for device in devices}

        def target(device: str) -> Target:
            if device not in kinds:  # AgentConfig checks this; a bare SiaConfig may not
                raise DriverError(f"sia: device {device!r} is not among the devices")
            return Target(device, kinds[device])

        self.unknown = target(config.unknown_device)
        self._routes = {
            account.account: Route(
                account=account,
                key=None if account.key is None else key_bytes(account.key, account.key_encoding),
                panel=target(account.device),
                zones=MappingProxyType({z: target(d) for z, d in account.zones.items()}),
            )
            for account in config.accounts
        }

    def __len__(self) -> int:
        return len(self._routes)

    def get(self, account: str | None) -> Route | None:
        """The route of `account`, or None when it is not configured."""
        return None if account is None else self._routes.get(account)


def _source(header: Header, **more: JsonScalar) -> dict[str, JsonScalar]:
    return {
        "driver": DRIVER,
        "protocol": header.token,
        "account": header.account,
        "receiver": header.receiver,
        "line": header.line,
        "seq": header.seq,
        **more,
    }


def _description(signal: Signal) -> str | None:
    code = signal.code
    if code.isdigit():  # Contact ID: qualifier and event code, via pysiaalarm's SIA mapping
        code = ADM_MAPPING.get(code[1:], {}).get(code[0], "")
    found = SIA_CODES.get(code)
    return None if found is None else found.description


def signal_drafts(
    routes: Routes,
    route: Route | None,
    header: Header,
    *,
    content: Content,
    signals: Sequence[Signal],
    raw: str,
) -> list[Draft]:
    """The drafts of a message's signals; one `unknown` draft when it has none we can read."""
    drafts = [
        _signal_draft(routes, route, header, content=content, signal=signal, raw=raw)
        for signal in signals
    ]
    if not drafts:  # data we could not read at all: kept, flagged, P0
        target = routes.unknown if route is None else route.panel
        drafts.append(
            Draft(
                device=target.id,
                kind=target.kind,
                type=EventType.UNKNOWN,
                source=_source(header, raw=raw[:MAX_RAW]),
                data={"data": content.data[:MAX_RAW]},
                device_time=content.timestamp,
            )
        )
    return drafts


def _signal_draft(
    routes: Routes,
    route: Route | None,
    header: Header,
    *,
    content: Content,
    signal: Signal,
    raw: str,
) -> Draft:
    # An account nobody configured is `unknown` whatever its code says: no device to route to.
    reading = None if route is None else signal.reading
    target = routes.unknown if route is None else route.target(signal)
    subject = Subject.ZONE if reading is None else reading.subject
    extra: dict[str, JsonScalar] = {"code": signal.code, subject.value: signal.number}
    if reading is None:
        extra["raw"] = raw[:MAX_RAW]
    return Draft(
        device=target.id,
        kind=target.kind,
        type=EventType.UNKNOWN if reading is None else reading.type,
        source=_source(header, **extra),
        data={
            "restore": reading is not None and reading.restore,
            "zone": signal.number if subject is Subject.ZONE else None,
            "user": signal.user if subject is Subject.ZONE else signal.number,
            "partition": signal.partition,
            "description": _description(signal),
        },
        device_time=content.timestamp,
    )


def presence_draft(route: Route, event_type: EventType, header: Header | None) -> Draft:
    """`device.offline` (missed supervision) or `device.online` of an account's panel."""
    source: dict[str, JsonScalar] = (
        {"driver": DRIVER, "account": route.account.account, "supervision": True}
        if header is None
        else _source(header, supervision=True)
    )
    return Draft(
        device=route.panel.id,
        kind=route.panel.kind,
        type=event_type,
        source=source,
        data={"supervision_s": route.account.supervision_s, "missed": route.account.missed},
    )
