"""The one-command demo, run as a newcomer runs it: a real process, stopped with Ctrl-C."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _processes_mentioning(text: str) -> list[int]:
    """Pids of live processes whose command line contains `text`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            pids.append(int(entry.name))
    return pids


@pytest.mark.parametrize("broker", ["mosquitto", "amqtt"])
def test_demo_turns_a_panic_press_into_an_alert_and_stops_cleanly(
    broker: str, tmp_path: Path, database: str
) -> None:
    """`simulators demo` shows panic → stored event + alert, then Ctrl-C leaves no process."""
    state = tmp_path / "demo"
    env = {**os.environ, "SHOUWANG_DATABASE_URL": database}
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulators",
            "demo",
            "--quiet-s",
            "2",
            "--state-dir",
            str(state),
            "--broker",
            broker,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    ) as demo:
        try:
            output = _read_until(demo, "press Ctrl-C", within_s=60)
            assert "ALERT  OPENED critical 'panic' at room-01/panic-01" in output, output
            assert "stored panic events for panic-01: 1" in output, output
            assert "door.opened" in output, output
            assert _processes_mentioning(str(state)) != []  # hub, agent and broker run

            demo.send_signal(signal.SIGINT)
            assert demo.wait(timeout=30) == 0
        finally:
            if demo.poll() is None:
                demo.send_signal(signal.SIGINT)
                demo.wait(timeout=30)
    assert _processes_mentioning(str(state)) == []


def _read_until(process: "subprocess.Popen[str]", marker: str, within_s: float) -> str:
    """The process's output up to the line containing `marker` (or its end, or the deadline)."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + within_s
    for line in process.stdout:
        lines.append(line)
        if marker in line or time.monotonic() > deadline:
            break
    return "".join(lines)
