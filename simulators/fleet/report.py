"""What a fleet run reports: counts, rates, the fleet's own CPU, and the oracle's verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from simulators.fleet.oracle import Verdict, check

if TYPE_CHECKING:
    import uuid

    from simulators.fleet.expect import Expectations
    from simulators.fleet.outbox import Outage, Record

__all__ = ["FleetReport"]


@dataclass(frozen=True, slots=True)
class FleetReport:
    """What a run did, how fast, at what CPU, and the oracle's verdict."""

    scenario: str
    description: str
    rooms: int
    devices: dict[str, int]
    generated: int
    published: int
    resent: int
    republished: int
    acked: int
    unacked: int
    """Events still not acked by the hub when the fleet stopped waiting."""
    run_s: float
    """Real seconds of traffic."""
    drain_s: float
    """Real seconds from the end of traffic until every event was acked (or timeout)."""
    cpu_s: float
    max_rss_kib: int
    types: dict[str, int]
    expectations: Expectations
    verdict: Verdict | None
    records: tuple[Record, ...] = field(repr=False, default=())
    """Every event the fleet generated (what the oracle compares)."""
    outages: tuple[Outage, ...] = field(repr=False, default=())
    epochs: tuple[uuid.UUID, ...] = field(repr=False, default=())
    sites: tuple[str, ...] = field(repr=False, default=())
    since: datetime = field(repr=False, default=datetime.min.replace(tzinfo=UTC))

    def judge(self, database_url: str, expectations: Expectations | None = None) -> Verdict:
        """Run the oracle (again) on this run's events, with other expectations if given."""
        return check(
            database_url,
            self.records,
            expectations or self.expectations,
            epochs=self.epochs,
            sites=self.sites,
            since=self.since,
        )

    @property
    def send_rate_per_s(self) -> float:
        """Event publishes (first sends, resends, republishes) per second of traffic."""
        return self.published / self.run_s if self.run_s > 0 else 0.0

    @property
    def generated_per_s(self) -> float:
        """Events generated per real second of traffic."""
        return self.generated / self.run_s if self.run_s > 0 else 0.0

    @property
    def cpu_share(self) -> float:
        """The fleet's CPU per wall second of traffic and drain (1.0 = one core)."""
        wall = self.run_s + self.drain_s
        return self.cpu_s / wall if wall > 0 else 0.0

    @property
    def ok(self) -> bool:
        """Everything acked and, with an oracle, its verdict passed."""
        return self.unacked == 0 and (self.verdict is None or self.verdict.ok)

    def summary(self) -> str:
        """A few lines for people."""
        lines = [
            f"fleet {self.scenario}: {self.description}",
            (
                f"  {self.rooms} rooms, {self.devices.get('total', 0)} devices; generated "
                f"{self.generated} events in {self.run_s:.1f} s ({self.generated_per_s:,.0f}/s),"
                f" published {self.published} ({self.send_rate_per_s:,.0f}/s; {self.resent} "
                f"resent, {self.republished} on reconnect), acked {self.acked}, unacked "
                f"{self.unacked} after {self.drain_s:.1f} s of drain"
            ),
            (
                f"  fleet CPU {self.cpu_s:.2f} s ({self.cpu_share:.0%} of a core), max RSS "
                f"{self.max_rss_kib / 1024:.0f} MiB"
            ),
        ]
        if self.verdict is not None:
            lines.append(self.verdict.summary())
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "scenario": self.scenario,
            "description": self.description,
            "rooms": self.rooms,
            "devices": self.devices,
            "generated": self.generated,
            "published": self.published,
            "resent": self.resent,
            "republished": self.republished,
            "acked": self.acked,
            "unacked": self.unacked,
            "run_s": round(self.run_s, 3),
            "drain_s": round(self.drain_s, 3),
            "generated_per_s": round(self.generated_per_s, 1),
            "send_rate_per_s": round(self.send_rate_per_s, 1),
            "cpu_s": round(self.cpu_s, 3),
            "cpu_share": round(self.cpu_share, 3),
            "max_rss_kib": self.max_rss_kib,
            "types": self.types,
            "required_alerts": sorted(str(k) for k in self.expectations.required),
            "allowed_alerts": sorted(str(k) for k in self.expectations.allowed),
            "verdict": None if self.verdict is None else self.verdict.as_dict(),
            "ok": self.ok,
        }
