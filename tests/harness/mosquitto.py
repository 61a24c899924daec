"""A Mosquitto broker of a test's own, to kill, pause and restart without touching others."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from tests.harness import _cleanup
from tests.harness._service import PrivateService
from tests.harness.errors import ServiceStartError
from tests.harness.probes import mqtt_connack
from tests.harness.services import MqttEndpoint

__all__ = ["MOSQUITTO_ENV", "PrivateMosquitto", "find_mosquitto"]

MOSQUITTO_ENV = "SHOUWANG_TEST_MOSQUITTO"
_STOP_TIMEOUT = 10.0


def find_mosquitto() -> Path:
    """The mosquitto binary: `$SHOUWANG_TEST_MOSQUITTO`, then PATH, then /usr/sbin.

    Raises ServiceStartError naming the places searched.
    """
    override = os.environ.get(MOSQUITTO_ENV)
    candidates = [override] if override else [shutil.which("mosquitto"), "/usr/sbin/mosquitto"]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    searched = f"${MOSQUITTO_ENV}={override}" if override else "PATH and /usr/sbin"
    raise ServiceStartError(
        f"no mosquitto binary in {searched}; install it (`apt-get install mosquitto`) "
        f"or set {MOSQUITTO_ENV} to its path"
    )


class PrivateMosquitto(PrivateService):
    """A Mosquitto broker on its own loopback port, data directory and log.

    Persistence is on and autosaved every second, so retained messages and persistent
    sessions survive `kill()` once a save has happened (`wait_for_autosave()` waits for
    one). `restart()` reuses the port and the data. Use as a context manager: leaving it
    ends the process (whatever its state) and removes the directory; an exit-time hook
    does the same for instances nobody closed.

    `directory` holds mosquitto.conf, mosquitto.log and mosquitto.db; `host`, `port`,
    `alive`, `pid`, `log_tail()`, `pause()`, `resume()`, `restart()` and `close()` come
    from `PrivateService`, the broker process being the main (and only) one.

    `extra_config` lines are appended to the generated mosquitto.conf, e.g.
    `password_file /path`, `acl_file /path`, `max_packet_size 4096`; a line that
    replaces a generated setting (such as `allow_anonymous false`) wins, being later.
    """

    _name = "mosquitto"
    _not_ready = "gave no CONNACK"
    _poll_interval = 0.02

    def __init__(
        self,
        *,
        extra_config: Sequence[str] = (),
        ready_timeout: float = 10.0,
        port: int | None = None,
    ) -> None:
        self._binary = find_mosquitto()
        self._extra_config = tuple(extra_config)
        super().__init__(ready_timeout=ready_timeout, port=port)

    @property
    def url(self) -> str:
        """`mqtt://127.0.0.1:PORT`."""
        return f"mqtt://{self.host}:{self._port}"

    @property
    def endpoint(self) -> MqttEndpoint:
        """Host and port as the `MqttEndpoint` the shared-broker fixture also yields."""
        return MqttEndpoint(host=self.host, port=self._port)

    @property
    def log_path(self) -> Path:
        """The broker's log (stdout and stderr, all log types), appended across restarts."""
        return self.directory / "mosquitto.log"

    def _write_config(self) -> Path:
        """Create the directory on first start and (re)write mosquitto.conf in it."""
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix="shouwang-mqtt-"))
            _cleanup.remember(self)
        lines = [
            f"listener {self._port} {self.host}",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self._directory}/",
            "autosave_interval 1",
            "log_dest stderr",
            "log_type all",
            "connection_messages true",
        ]
        if os.geteuid() == 0:
            # As root, mosquitto drops to user `mosquitto`, which can neither write our
            # 0700 temp directory nor read a test's password or ACL file under tmp_path.
            lines.append("user root")
        config = self._directory / "mosquitto.conf"
        config.write_text("\n".join([*lines, *self._extra_config, ""]), encoding="utf-8")
        return config

    def start(self) -> None:
        """Start the broker and return once it answers an MQTT CONNECT.

        Raises ServiceStartError with the log's tail if it exits or stays silent for
        `ready_timeout` seconds (the process is then killed).
        """
        self._refuse_if_running()
        config = self._write_config()
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [str(self._binary), "-c", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a terminal's Ctrl-C reaches pytest, not the broker
            )
        self._paused = False
        self._wait_ready()

    def _probe(self) -> str | None:
        """One MQTT CONNECT: None once a CONNACK arrives, else the error it met."""
        try:
            mqtt_connack(self.host, self._port, timeout=0.5)
        except OSError as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    def kill(self) -> None:
        """SIGKILL the broker and reap it: no goodbye, no final save (a crash)."""
        if self._process is None:
            return
        self._signal(signal.SIGKILL)
        self._process.wait(timeout=_STOP_TIMEOUT)
        self._paused = False

    def stop(self) -> None:
        """SIGTERM the broker (it saves its database) and wait; SIGKILL after 10 s."""
        if self._process is None:
            return
        self._signal(signal.SIGTERM)
        if self._paused:
            self._signal(signal.SIGCONT)  # a stopped process acts on SIGTERM only once resumed
        try:
            self._process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
        self._paused = False

    def wait_for_autosave(self, timeout: float = 5.0) -> None:
        """Block until the broker writes mosquitto.db after this call.

        Mosquitto handles packets and saves on one thread and each save replaces the file,
        so a new file seen after a message was acknowledged holds that message.
        Raises ServiceStartError when no save happens within `timeout` seconds.
        """
        database = self.directory / "mosquitto.db"

        def identity() -> tuple[int, int] | None:
            try:
                stat = database.stat()
            except FileNotFoundError:
                return None
            return stat.st_ino, stat.st_mtime_ns

        before = identity()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = identity()
            if now is not None and now != before:
                return
            time.sleep(0.05)
        raise ServiceStartError(f"mosquitto wrote no {database} within {timeout} s")
