"""The demo's processes, its scenario and its live printout.

The hub and the agent run as their own processes (`python -m hub run`, `python -m agent
run`) from generated configs, exactly as they would on a server and a monitoring-room
box; the demo talks to them only through HTTP push, MQTT and the hub's API.
"""

import asyncio
import contextlib
import logging
import secrets
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import aiomqtt

import wire
from simulators.demo.services import (
    Broker,
    DemoServiceError,
    child_process,
    demo_broker,
    demo_database,
    free_port,
    wait_for_port,
)
from simulators.http_device import HttpDevice

__all__ = ["DemoOptions", "run_demo"]

logger = logging.getLogger(__name__)

SITE = "room-01"
PANIC = "panic-01"
LOCK = "lock-01"
# The lock's routine during the quiet minute: a resident coming home, then leaving.
DOOR_ROUTINE = (
    wire.EventType.ACCESS_GRANTED,
    wire.EventType.DOOR_UNLOCKED,
    wire.EventType.DOOR_OPENED,
    wire.EventType.DOOR_CLOSED,
    wire.EventType.DOOR_LOCKED,
)


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """How the demo runs: where it keeps its state, how long it stays quiet, when it ends."""

    state_dir: Path
    quiet_s: float = 60.0
    stay: bool = True  # keep running after the scenario until Ctrl-C
    broker: str = "auto"  # "auto", "mosquitto" or "amqtt"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)  # the configs hold device tokens
    return path


def _hub_config(directory: Path, broker: Broker, database_url: str, api_port: int) -> Path:
    return _write(
        directory / "hub.yaml",
        "hub_id: demo-hub\n"
        "status_interval_s: 30\n"
        f"database:\n  url: '{database_url}'\n"
        f"mqtt:\n  host: {broker.host}\n  port: {broker.port}\n  protocol: '{broker.protocol}'\n"
        f"api:\n  host: 127.0.0.1\n  port: {api_port}\n",
    )


def _agent_config(directory: Path, broker: Broker, http_port: int, tokens: dict[str, str]) -> Path:
    return _write(
        directory / "agent.yaml",
        f"site: {SITE}\n"
        f"mqtt:\n  host: {broker.host}\n  port: {broker.port}\n  protocol: '{broker.protocol}'\n"
        f"outbox:\n  path: {directory / 'outbox.sqlite3'}\n"
        f"http:\n  host: 127.0.0.1\n  port: {http_port}\n"
        "devices:\n"
        f"  - {{id: {PANIC}, kind: panic_alarm, driver: http, token: {tokens[PANIC]},"
        " checkin_s: 3600, label: 'Pharmacy, 110 button'}\n"
        f"  - {{id: {LOCK}, kind: door_lock, driver: http, token: {tokens[LOCK]},"
        " checkin_s: 300, label: 'Block 3 entrance'}\n",
    )


@contextlib.contextmanager
def _child(name: str, argv: list[str], log_path: Path, port: int) -> Iterator[None]:
    """A Shouwang process, ready once it listens on `port`; its log names why if it is not."""
    with child_process(argv, log_path) as process:
        try:
            wait_for_port(port, 30, process)
        except DemoServiceError as exc:
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise DemoServiceError(f"{name} did not start: {exc}\n{tail}") from exc
        yield


def _say(kind: str, text: str) -> None:
    stamp = datetime.now(UTC).astimezone().strftime("%H:%M:%S.%f")[:-3]
    print(f"{stamp}  {kind:<6} {text}", flush=True)  # noqa: T201 - the demo's output


class _Watcher:
    """Prints every event and alert of the demo's broker; notes when the first alert came."""

    def __init__(self) -> None:
        self.alert_seen = asyncio.Event()

    async def watch(self, client: aiomqtt.Client) -> None:
        await client.subscribe(wire.DEFAULT_TOPICS.all_events(), qos=1)
        await client.subscribe(wire.DEFAULT_TOPICS.all_alerts(), qos=1)
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            try:
                _, decoded = wire.decode(str(message.topic), payload)
            except wire.WireError as exc:
                _say("??", f"{message.topic}: {exc}")
                continue
            match decoded:
                case wire.Event():
                    _say(
                        "event",
                        f"{decoded.site}/{decoded.device:<8} {decoded.type:<16} "
                        f"lane {decoded.lane.label}  seq {decoded.seq}",
                    )
                case wire.AlertTransition():
                    _say(
                        "ALERT",
                        f"{decoded.transition.upper()} {decoded.severity} "
                        f"'{decoded.rule}' at {decoded.site}/{decoded.device} "
                        f"(count {decoded.count}, revision {decoded.revision})",
                    )
                    self.alert_seen.set()


async def _hub_command(python: str, hub_yaml: Path, *arguments: str) -> str:
    """Run `python -m hub ARGUMENTS --config HUB_YAML`; its standard output."""
    process = await asyncio.create_subprocess_exec(
        python,
        "-m",
        "hub",
        *arguments,
        "--config",
        str(hub_yaml),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        command = " ".join(arguments)
        raise DemoServiceError(f"`hub {command}` failed: {err.decode(errors='replace')}")
    return out.decode().strip()


async def _viewer_token(python: str, hub_yaml: Path) -> str:
    """A viewer token for the demo's site, issued as an operator would issue one."""
    await _hub_command(python, hub_yaml, "migrate")
    return await _hub_command(
        python, hub_yaml, "token", "create", "--role", "viewer", "--site", SITE
    )


async def _operator_token(python: str, hub_yaml: Path) -> str:
    """An operator token for the demo's site: what the console's sign-in asks for."""
    return await _hub_command(
        python,
        hub_yaml,
        "token",
        "create",
        "--role",
        "operator",
        "--site",
        SITE,
        "--label",
        "demo operator",
    )


async def _stored_panic(api: str, api_token: str) -> int:
    """How many panic events the hub's API lists for the demo's button."""
    query = {"site": SITE, "device": PANIC, "type": "alarm.panic"}
    bearer = {"Authorization": f"Bearer {api_token}"}
    async with (
        aiohttp.ClientSession(headers=bearer) as session,
        session.get(f"{api}/api/v1/events", params=query) as response,
    ):
        body = await response.json()
        return len(body.get("items", body.get("events", [])))


async def _scenario(
    agent_url: str,
    api: tuple[str, str],
    tokens: dict[str, str],
    options: DemoOptions,
    watcher: _Watcher,
) -> None:
    async with (
        HttpDevice(agent_url, LOCK, tokens[LOCK]) as lock,
        HttpDevice(agent_url, PANIC, tokens[PANIC]) as button,
    ):
        _say("demo", f"a quiet {options.quiet_s:g} s: residents come and go at {LOCK}")
        end = time.monotonic() + options.quiet_s
        step = 0
        while time.monotonic() < end:
            await lock.push(DOOR_ROUTINE[step % len(DOOR_ROUTINE)])
            step += 1
            await asyncio.sleep(min(max(options.quiet_s / 12, 0.2), max(end - time.monotonic(), 0)))
        _say("demo", f"someone presses the 110 panic button {PANIC}")
        pressed = time.monotonic()
        answer = await button.push(wire.EventType.ALARM_PANIC, {"zone": 1})
        if not answer.accepted:
            raise DemoServiceError(f"the agent refused the panic press: {answer.body}")
        await asyncio.wait_for(watcher.alert_seen.wait(), timeout=10)
        latency_ms = (time.monotonic() - pressed) * 1000
        stored = await _stored_panic(*api)
        _say(
            "demo",
            f"panic press → alert on the alerts topic in {latency_ms:.0f} ms; "
            f"stored panic events for {PANIC}: {stored}",
        )


@contextlib.asynccontextmanager
async def _mqtt(broker: Broker) -> AsyncIterator[aiomqtt.Client]:
    protocol = (
        aiomqtt.ProtocolVersion.V5 if broker.protocol == "5" else aiomqtt.ProtocolVersion.V311
    )
    async with aiomqtt.Client(
        broker.host,
        broker.port,
        protocol=protocol,
        identifier=f"shouwang-demo-watch-{secrets.token_hex(4)}",
    ) as client:
        yield client


async def run_demo(options: DemoOptions) -> None:
    """Run the whole system and the scenario; returns when done (or cancelled by Ctrl-C)."""
    directory = options.state_dir
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "outbox.sqlite3").unlink(missing_ok=True)  # a fresh run, like the database
    tokens = {device: secrets.token_urlsafe(24) for device in (PANIC, LOCK)}
    api_port, http_port = free_port(), free_port()
    with (
        demo_broker(directory, options.broker) as broker,
        demo_database(directory) as (database_url, where),
    ):
        _say(
            "demo", f"broker: {broker.name} on {broker.host}:{broker.port} (MQTT {broker.protocol})"
        )
        _say("demo", f"database: {where}")
        hub_yaml = _hub_config(directory, broker, database_url, api_port)
        agent_yaml = _agent_config(directory, broker, http_port, tokens)
        python = sys.executable
        api_token = await _viewer_token(python, hub_yaml)
        operator_token = await _operator_token(python, hub_yaml)
        with (
            _child(
                "hub",
                [python, "-m", "hub", "run", "--config", str(hub_yaml)],
                directory / "hub.log",
                api_port,
            ),
            _child(
                "agent",
                [python, "-m", "agent", "run", "--config", str(agent_yaml)],
                directory / "agent.log",
                http_port,
            ),
        ):
            api = f"http://127.0.0.1:{api_port}"
            _say("demo", f"hub API: {api}/api/v1/events  {api}/api/v1/alerts")
            _say("demo", f"API token (viewer, {SITE}): {api_token}")
            _say("demo", f"  curl -H 'Authorization: Bearer {api_token}' {api}/api/v1/events")
            _say("demo", f"operator console: {api}/  (open it in a browser and sign in with:)")
            _say("demo", f"  operator token ({SITE}): {operator_token}")
            _say("demo", f"logs: {directory}/hub.log, {directory}/agent.log")
            watcher = _Watcher()
            async with _mqtt(broker) as client, asyncio.TaskGroup() as tasks:
                watching = tasks.create_task(watcher.watch(client), name="watch")
                await _scenario(
                    f"http://127.0.0.1:{http_port}", (api, api_token), tokens, options, watcher
                )
                if options.stay:
                    _say("demo", "the system keeps running; press Ctrl-C to stop it")
                    await asyncio.Event().wait()
                watching.cancel()
