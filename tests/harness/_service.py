"""The lifecycle the private services share: one process tree, one port, one directory."""

import shutil
import signal
import time
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, ClassVar, Self

from tests.harness import _cleanup
from tests.harness._process import log_tail, signal_all
from tests.harness.errors import ServiceStartError
from tests.harness.ports import free_port

if TYPE_CHECKING:
    import subprocess

__all__ = ["PrivateService"]


class PrivateService(ABC):
    """A server of a test's own on a loopback port, with a directory and a log.

    Subclasses create the directory (and `_cleanup.remember` themselves) on first start,
    launch the main process into `_process`, and say how to stop, kill and probe it. Use
    as a context manager: entering starts the service (closing it again if the start
    fails), leaving closes it.
    """

    _name: ClassVar[str]
    """What error messages call the service, e.g. `mosquitto`."""
    _not_ready: ClassVar[str]
    """How the readiness timeout reads, e.g. `did not answer`."""
    _poll_interval: ClassVar[float]
    """Seconds between readiness probes."""

    def __init__(self, *, ready_timeout: float, port: int | None) -> None:
        self._ready_timeout = ready_timeout
        self._port = free_port() if port is None else port
        self._directory: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._paused = False

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()  # __exit__ will not run: leave no process or directory behind
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def host(self) -> str:
        """The loopback address the service listens on."""
        return "127.0.0.1"

    @property
    def port(self) -> int:
        """The service's TCP port, the same across restarts."""
        return self._port

    @property
    def directory(self) -> Path:
        """The instance's directory; raises ServiceStartError before the first start."""
        if self._directory is None:
            msg = f"this {type(self).__name__} has not been started"
            raise ServiceStartError(msg)
        return self._directory

    @property
    @abstractmethod
    def log_path(self) -> Path:
        """The service's log in its directory, appended across restarts."""

    @property
    def alive(self) -> bool:
        """Whether the main process exists (it may be paused)."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The main process's id while alive."""
        return self._process.pid if self.alive and self._process is not None else None

    def log_tail(self, lines: int = 20) -> str:
        """The last `lines` lines of the service's log."""
        return log_tail(self.log_path, lines)

    @abstractmethod
    def start(self) -> None:
        """Start the service and return once it answers (see `_wait_ready`)."""

    @abstractmethod
    def kill(self) -> None:
        """End the service abruptly, as a crash would, and reap it."""

    @abstractmethod
    def stop(self) -> None:
        """End the service gracefully, killing it if it takes too long."""

    @abstractmethod
    def _probe(self) -> str | None:
        """One readiness check: None once the service answers, else what went wrong."""

    def _refuse_if_running(self) -> None:
        """Raise ServiceStartError if the main process is alive (start() guards with it)."""
        if self.alive:
            raise ServiceStartError(f"{self._name} on port {self._port} is already running")

    def _wait_ready(self) -> None:
        """Probe until the service answers, the main process dies or time is up.

        Raises ServiceStartError with the log's tail in the last two cases, after
        killing the service when time is up.
        """
        deadline = time.monotonic() + self._ready_timeout
        last_error = "no attempt yet"
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                code = None if self._process is None else self._process.returncode
                raise ServiceStartError(
                    f"{self._name} on port {self._port} exited with {code} while starting; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            failure = self._probe()
            if failure is None:
                return
            last_error = failure
            time.sleep(self._poll_interval)
        self.kill()
        raise ServiceStartError(
            f"{self._name} on port {self._port} {self._not_ready} within {self._ready_timeout} s "
            f"(last: {last_error}); log {self.log_path}:\n{self.log_tail()}"
        )

    def _signal(self, signum: signal.Signals) -> None:
        """Send `signum` to the main process if it is alive."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signum)

    def _other_pids(self) -> list[int]:
        """Further processes that `pause()` and `resume()` must reach; none by default."""
        return []

    def _end_leftovers(self) -> None:
        """Kill what outlives the main process before the directory goes; nothing by default."""
        return

    def restart(self) -> None:
        """Stop the service if it runs, then start it again on the same port and data."""
        if self.alive:
            self.stop()
        self.start()

    def pause(self) -> None:
        """SIGSTOP the main process, then the others: open connections stay open but
        nothing is read or answered, and new ones complete the TCP handshake and then
        hear nothing, until `resume()`."""
        if not self.alive or self._process is None:
            return
        self._process.send_signal(signal.SIGSTOP)  # first, so it starts no new process
        signal_all(self._other_pids(), signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """SIGCONT every process of a paused service."""
        self._signal(signal.SIGCONT)
        signal_all(self._other_pids(), signal.SIGCONT)
        self._paused = False

    def close(self) -> None:
        """End the service (gracefully if it runs) and remove its directory."""
        if self.alive:
            self.stop()
        if self._directory is not None:
            self._end_leftovers()
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None
        _cleanup.forget(self)
