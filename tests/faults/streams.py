"""A stream of events from several real agents, with a fault injected as it progresses."""

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path

from tests.faults.processes import AgentProcess
from tests.harness import MqttEndpoint

# The hub's session must hold what arrives while it or the broker restarts (docs/hub.md).
HUB_BROKER_CONFIG = [
    "max_queued_messages 200000",
    "max_queued_bytes 0",
    "persistent_client_expiration 7d",
]


def start_agents(
    stack: ExitStack,
    directory: Path,
    *,
    count: int,
    devices: Mapping[str, str],
    endpoint: MqttEndpoint,
    prefix: str,
) -> list[AgentProcess]:
    """`count` running agents for sites room-00, room-01, …; stopped when `stack` closes."""
    return [
        stack.enter_context(
            AgentProcess(
                directory / f"agent-{i}",
                site=f"room-{i:02d}",
                devices=devices,
                endpoint=endpoint,
                prefix=prefix,
            )
        )
        for i in range(count)
    ]


def _push_all(
    agent: AgentProcess,
    pattern: Sequence[tuple[str, str]],
    count: int,
    sent: list[str],
    failures: list[str],
) -> None:
    """Post `count` events cycling through `pattern`, recording the ids answered 201."""
    with agent.pusher() as pusher:
        for n in range(count):
            device, type_ = pattern[n % len(pattern)]
            status = pusher.push(device, type_, {"n": n})
            if status != 201:
                failures.append(f"{agent.site} event {n}: HTTP {status}")
            else:
                sent.append(pusher.stored[-1])


def stream_with_faults(
    agents: Sequence[AgentProcess],
    *,
    pattern: Sequence[tuple[str, str]],
    events_per_agent: int,
    faults: int,
    fault: Callable[[], None],
) -> set[str]:
    """Push from every agent at once, calling `fault()` `faults` times at evenly spaced
    points of the stream's progress (not on a timer); return the ids answered 201.

    Fails if any push was refused or the stream stalls.
    """
    sent: list[list[str]] = [[] for _ in agents]
    failures: list[str] = []
    threads = [
        threading.Thread(
            target=_push_all, args=(agent, pattern, events_per_agent, ids, failures), daemon=True
        )
        for agent, ids in zip(agents, sent, strict=True)
    ]
    for thread in threads:
        thread.start()
    total = len(agents) * events_per_agent
    try:
        for k in range(1, faults + 1):
            mark = total * k // (faults + 1)
            deadline = time.monotonic() + 60
            while sum(map(len, sent)) < mark and any(t.is_alive() for t in threads):
                assert time.monotonic() < deadline, f"stream stalled before fault {k}"
                time.sleep(0.02)
            fault()
    finally:
        for thread in threads:
            thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "pushers did not finish"
    assert failures == []
    expected = {event_id for ids in sent for event_id in ids}
    assert len(expected) == total
    return expected
