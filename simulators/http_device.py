"""An HTTP push device (a "110" panic button or a smart lock) that posts to an agent.

It speaks the agent's HTTP push API (`docs/agent.md`) exactly as a real device would:
`POST /v1/devices/{device}/events` with its bearer token and a JSON body. It follows a
script of `(delay, type)` steps, or presses at random with a mean interval, and reports
every answer it gets.
"""

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Self

import aiohttp

import wire

__all__ = ["HttpDevice", "PushResult", "Step", "parse_script"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Step:
    """Wait `delay_s` seconds, then report an event of `type`."""

    delay_s: float
    type: wire.EventType
    data: dict[str, str | int | float | bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PushResult:
    """What the agent answered to one push: the HTTP status and the JSON body's fields."""

    status: int
    body: dict[str, object]

    @property
    def accepted(self) -> bool:
        """True when the agent stored the event durably (2xx)."""
        return 200 <= self.status < 300


def parse_script(text: str) -> list[Step]:
    """Steps from `"60:alarm.panic,5:alarm.restore"` (seconds after the previous step)."""
    steps = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        delay, sep, type_name = item.partition(":")
        if not sep:
            raise ValueError(f"script step {item!r} is not DELAY:TYPE")
        try:
            steps.append(Step(float(delay), wire.EventType(type_name)))
        except ValueError as exc:
            raise ValueError(f"script step {item!r}: {exc}") from exc
    return steps


class HttpDevice:
    """One device posting to one agent; use as an async context manager."""

    def __init__(self, agent_url: str, device: str, token: str, *, timeout_s: float = 10) -> None:
        if not wire.is_valid_id(device):
            raise ValueError(f"device id {device!r} does not match {wire.ID_PATTERN}")
        self.agent_url = agent_url.rstrip("/")
        self.device = device
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def push(
        self,
        type_: wire.EventType,
        data: dict[str, str | int | float | bool] | None = None,
        *,
        at: datetime | None = None,
    ) -> PushResult:
        """Report one event now (or with the device's own clock reading `at`)."""
        if self._session is None:
            message = "HttpDevice is not open: use `async with`"
            raise RuntimeError(message)
        body = {
            "type": str(type_),
            "at": wire.format_time(at or datetime.now(UTC)),
            "data": data or {},
        }
        headers = {"Authorization": f"Bearer {self._token}"}
        async with self._session.post(
            f"{self.agent_url}/v1/devices/{self.device}/events", json=body, headers=headers
        ) as response:
            answer = await response.json(content_type=None)
            result = PushResult(response.status, answer if isinstance(answer, dict) else {})
        logger.info("device=%s type=%s answered %s", self.device, type_, result.status)
        return result

    async def run_script(self, steps: Sequence[Step]) -> AsyncIterator[PushResult]:
        """Play `steps` in order, yielding each answer."""
        for step in steps:
            await asyncio.sleep(step.delay_s)
            yield await self.push(step.type, step.data)

    async def run_random(
        self, types: Sequence[wire.EventType], mean_interval_s: float, rng: random.Random
    ) -> AsyncIterator[PushResult]:
        """Push a random type of `types` after exponentially distributed pauses, forever."""
        while True:
            await asyncio.sleep(rng.expovariate(1 / mean_interval_s))
            yield await self.push(rng.choice(types))
