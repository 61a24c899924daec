"""How many events/s the outbox stores: one appender at a time vs many at once.

Every append is durable when it returns (WAL, `synchronous=FULL`). Sequential appends
pay one transaction (one fsync) each; concurrent appends share transactions (group
commit), so the second figure shows what a burst of devices gets.

Run: `.venv/bin/python bench/bench_outbox_append.py [--events N] [--appenders K]`.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from agent import Draft, Outbox
from wire import EventType, Kind


def draft() -> Draft:
    """A typical HTTP-pushed door event."""
    return Draft(
        device="door-0042",
        kind=Kind.DOOR_LOCK,
        type=EventType.DOOR_OPENED,
        source={"driver": "http", "remote": "192.168.1.40"},
        data={"door": 2},
    )


async def sequential(path: Path, events: int) -> float:
    """Events/s with one appender awaiting each append."""
    async with Outbox(path, site="room-07") as outbox:
        start = time.perf_counter()
        for _ in range(events):
            await outbox.append(draft())
        return events / (time.perf_counter() - start)


async def concurrent(path: Path, events: int, appenders: int) -> tuple[float, int]:
    """Events/s with `appenders` tasks appending at once; and the transactions used."""
    async with Outbox(path, site="room-07") as outbox:

        async def appender(count: int) -> None:
            for _ in range(count):
                await outbox.append(draft())

        start = time.perf_counter()
        async with asyncio.TaskGroup() as tasks:
            for _ in range(appenders):
                tasks.create_task(appender(events // appenders))
        elapsed = time.perf_counter() - start
        return (events // appenders) * appenders / elapsed, outbox.append_transactions


async def main() -> None:
    """Run both variants in a fresh directory and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--appenders", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as directory:
        one = await sequential(Path(directory) / "a.sqlite3", args.events)
        many, transactions = await concurrent(
            Path(directory) / "b.sqlite3", args.events, args.appenders
        )
    print(f"sequential (1 appender):   {one:10,.0f} events/s")
    print(
        f"concurrent ({args.appenders} appenders): {many:10,.0f} events/s"
        f"  ({transactions} transactions for {args.events} events)"
    )
    print(f"ratio: {many / one:.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
