"""Run `python -m hub …` under a CPU-time sampling profiler; write its samples at exit.

`signal.setitimer(ITIMER_PROF)` raises SIGPROF after every `interval` of CPU the process
uses (user + system, all threads), and the handler records the main thread's Python stack
at that moment. So the samples measure CPU, not wall time: on a shared, busy machine a
wall-clock profiler (cProfile's default timer) charges the hub for the time it waited for
a core, and a CPU-time cProfile (`time.process_time` per call) costs a system call per
function call. The hub's work (asyncio loop, paho's socket I/O through aiomqtt, psycopg)
runs on the main thread. Stacks are written as `frame;frame;… count` lines (the
"collapsed" format flame-graph tools read) to `$SHOUWANG_HUB_PROFILE` when the hub exits
(SIGTERM ends it normally).

Run: `SHOUWANG_HUB_PROFILE=out.txt python bench/_profile_hub.py run --config hub.yaml`;
summarise with `python bench/_profile_hub.py --summary out.txt`.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import FrameType

INTERVAL_S = 0.001
# Inclusive CPU of these functions (a sample counts once for each that is on its stack).
PARTS = {
    "MQTT receive (paho read + aiomqtt message)": "client.py:loop_read",
    "MQTT PUBACK (paho ack)": "mqtt.py:ack",
    "classify (wire decode, topic parse)": "inbound.py:classify",
    "storage writes (COPY, devices, states)": "writes.py:write_inbound",
    "rules on new events": "engine.py:run_rules",
    "metrics per batch": "metrics.py:committed",
    "agent acks (build, publish)": "ingest.py:_send_acks",
    "rule clock (tick)": "engine.py:tick",
    "API and /metrics (uvicorn)": "h11_impl.py:",
}


def _stack(frame: FrameType | None) -> str:
    names = []
    while frame is not None:
        code = frame.f_code
        names.append(f"{Path(code.co_filename).name}:{code.co_name}")
        frame = frame.f_back
    return ";".join(reversed(names))


def main() -> None:
    """Sample the hub's command line in `sys.argv[1:]`."""
    samples: Counter[str] = Counter()

    def sample(_signum: int, frame: FrameType | None) -> None:
        samples[_stack(frame)] += 1

    signal.signal(signal.SIGPROF, sample)
    signal.setitimer(signal.ITIMER_PROF, INTERVAL_S, INTERVAL_S)
    sys.argv = ["hub", *sys.argv[1:]]
    try:
        runpy.run_module("hub", run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        lines = (f"{stack} {count}" for stack, count in samples.most_common())
        Path(os.environ["SHOUWANG_HUB_PROFILE"]).write_text("\n".join(lines) + "\n")


def summary(path: Path) -> dict[str, float]:
    """The share of CPU samples (0-1) inside each of `PARTS`, and `samples` (the total)."""
    counts: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        for part, marker in PARTS.items():
            if marker in stack:
                counts[part] += int(count)
    shares = {part: round(counts[part] / max(total, 1), 3) for part in PARTS}
    return {**shares, "samples": total}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--summary"]:
        for name, value in summary(Path(sys.argv[2])).items():
            print(f"{value:8}  {name}")
    else:
        main()
