"""A PostgreSQL cluster of a test's own, to kill, pause and restart without touching others.

PostgreSQL refuses to run as root, so when the tests run as root the cluster belongs to
the `postgres` user: its directory is chowned to it and initdb and postgres run under its
uid. The postmaster's children each call setsid(), so no process group holds the cluster;
the harness finds its processes by their working directory, which is the data directory.
"""

import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.harness import _cleanup
from tests.harness._process import signal_all
from tests.harness._service import PrivateService
from tests.harness.errors import ServiceStartError
from tests.harness.probes import postgres_answers

__all__ = ["PG_BINDIR_ENV", "PrivatePostgres", "find_postgres_bindir"]

PG_BINDIR_ENV = "SHOUWANG_TEST_PG_BINDIR"
_PREFERRED_MAJOR = "15"  # the version the machines run as their system server
_SERVER_USER = "postgres"
_STOP_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class _RunAs:
    """The uid, gid and supplementary groups a server binary runs with (None: ours)."""

    user: int | None
    group: int | None
    extra_groups: list[int] | None


def _has_server(bindir: Path) -> bool:
    """Whether `bindir` holds both initdb and postgres."""
    return all(os.access(bindir / name, os.X_OK) for name in ("initdb", "postgres"))


def _pg_config_bindir() -> Path | None:
    """What `pg_config --bindir` prints, or None without a pg_config."""
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    result = subprocess.run(
        [pg_config, "--bindir"], capture_output=True, text=True, check=False, timeout=10
    )
    return Path(result.stdout.strip()) if result.returncode == 0 else None


def find_postgres_bindir() -> Path:
    """The directory with initdb and postgres.

    Searched: `$SHOUWANG_TEST_PG_BINDIR`; else /usr/lib/postgresql/15/bin, `pg_config
    --bindir`, then other /usr/lib/postgresql/*/bin, newest first.
    Raises ServiceStartError naming every place searched.
    """
    override = os.environ.get(PG_BINDIR_ENV)
    if override:
        if _has_server(Path(override)):
            return Path(override)
        raise ServiceStartError(f"${PG_BINDIR_ENV}={override} holds no initdb and postgres")
    others = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates = [Path(f"/usr/lib/postgresql/{_PREFERRED_MAJOR}/bin"), _pg_config_bindir()]
    candidates += others
    for candidate in candidates:
        if candidate is not None and _has_server(candidate):
            return candidate
    searched = ", ".join(str(c) for c in candidates if c is not None)
    raise ServiceStartError(
        f"no PostgreSQL server binaries (initdb and postgres) in {searched or 'any place'}; "
        f"install them (`apt-get install postgresql-{_PREFERRED_MAJOR}`) or set "
        f"{PG_BINDIR_ENV} to their directory"
    )


def _cluster_pids(data_directory: Path) -> list[int]:
    """Live (non-zombie) processes whose working directory is `data_directory`."""
    target = str(data_directory)
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if str((entry / "cwd").readlink()) == target:
                pids.append(int(entry.name))
        except OSError:
            continue  # gone, a zombie (no cwd), or not ours to look at
    return pids


class PrivatePostgres(PrivateService):
    """A fresh PostgreSQL cluster on its own loopback port and directory.

    initdb runs on first start (trust auth, superuser `postgres`, UTF8, C locale,
    `--no-sync`); the server runs with fsync on, so committed rows survive `kill()` as
    they would a crash. The Unix socket lives in the instance's directory, never in
    /var/run/postgresql. Use as a context manager: leaving it ends every process of the
    cluster and removes the directory; an exit-time hook does the same for instances
    nobody closed. `settings` become `-c name=value` server options.

    `directory` holds data/, postgres.log and the Unix socket; `host`, `port`, `alive`,
    `pid`, `log_tail()`, `restart()` and `close()` come from `PrivateService`, the
    postmaster being the main process. `pause()` and `resume()` reach every process of
    the cluster.
    """

    _name = "postgres"
    _not_ready = "did not answer"
    _poll_interval = 0.05

    def __init__(
        self,
        *,
        settings: Mapping[str, str] | None = None,
        ready_timeout: float = 30.0,
        port: int | None = None,
    ) -> None:
        self._bindir = find_postgres_bindir()
        self._settings = dict(settings or {})
        super().__init__(ready_timeout=ready_timeout, port=port)

    @property
    def url(self) -> str:
        """`postgresql://postgres@127.0.0.1:PORT/postgres`."""
        return f"postgresql://{_SERVER_USER}@{self.host}:{self._port}/postgres"

    @property
    def data_directory(self) -> Path:
        """The cluster's data directory (PGDATA)."""
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        """The server's stderr log, appended across restarts."""
        return self.directory / "postgres.log"

    def server_pids(self) -> list[int]:
        """Every live process of this cluster: the postmaster, its backends and helpers."""
        return _cluster_pids(self.data_directory) if self._directory is not None else []

    def _other_pids(self) -> list[int]:
        """Every process of the cluster, for `pause()` and `resume()`."""
        return self.server_pids()

    def _end_leftovers(self) -> None:
        """SIGKILL every process of the cluster still there and wait until none is left."""
        signal_all(self.server_pids(), signal.SIGKILL)
        self._wait_for_no_server_processes()

    def _run_as(self) -> _RunAs:
        """Whom to run server binaries as: `postgres` when we are root, else ourselves."""
        if os.geteuid() != 0:
            return _RunAs(user=None, group=None, extra_groups=None)
        account = pwd.getpwnam(_SERVER_USER)
        return _RunAs(user=account.pw_uid, group=account.pw_gid, extra_groups=[])

    def _environment(self) -> dict[str, str]:
        """Our environment less PG* variables, which would redirect initdb or postgres."""
        return {key: value for key, value in os.environ.items() if not key.startswith("PG")}

    def _make_directory(self) -> Path:
        """Create the instance directory, owned by the server's user and reachable by it."""
        base = Path(tempfile.mkdtemp(prefix="shouwang-pg-"))
        _cleanup.remember(self)
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam(_SERVER_USER)
            except KeyError as exc:
                raise ServiceStartError(
                    f"running as root needs a {_SERVER_USER!r} user to own a private cluster"
                ) from exc
            os.chown(base, account.pw_uid, account.pw_gid)
            for parent in base.parents:
                if not parent.stat().st_mode & stat.S_IXOTH:
                    raise ServiceStartError(
                        f"{parent} is not searchable by others, so {_SERVER_USER!r} cannot "
                        f"reach {base}; point TMPDIR at a directory like /tmp"
                    )
        return base

    def _initdb(self) -> None:
        """Create the cluster in data/ (fast: no fsync of the fresh files)."""
        command = [
            str(self._bindir / "initdb"),
            "--pgdata",
            str(self.data_directory),
            "--username",
            _SERVER_USER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            "--no-sync",
        ]
        run_as = self._run_as()
        with self.log_path.open("ab") as log:
            result = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                env=self._environment(),
                check=False,
                timeout=120,
                user=run_as.user,
                group=run_as.group,
                extra_groups=run_as.extra_groups,
            )
        if result.returncode != 0:
            raise ServiceStartError(
                f"initdb failed with {result.returncode}; log {self.log_path}:\n{self.log_tail()}"
            )

    def start(self) -> None:
        """Start the server (running initdb the first time) and return once it answers.

        Waits for processes a `kill()` left behind to go first, since a new postmaster
        refuses a data directory whose shared memory is still attached.
        Raises ServiceStartError with the log's tail if it exits or does not answer
        within `ready_timeout` seconds (its processes are then killed).
        """
        self._refuse_if_running()
        if self._directory is None:
            self._directory = self._make_directory()
            self._initdb()
        self._wait_for_no_server_processes()
        options = {
            "listen_addresses": self.host,
            "port": str(self._port),
            "unix_socket_directories": str(self.directory),
            "fsync": "on",  # tests rely on committed rows surviving kill -9
            "logging_collector": "off",
            **self._settings,
        }
        command = [str(self._bindir / "postgres"), "-D", str(self.data_directory)]
        for name, value in options.items():
            command += ["-c", f"{name}={value}"]
        run_as = self._run_as()
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                env=self._environment(),
                start_new_session=True,  # a terminal's Ctrl-C reaches pytest, not the server
                user=run_as.user,
                group=run_as.group,
                extra_groups=run_as.extra_groups,
            )
        self._paused = False
        self._wait_ready()

    def _probe(self) -> str | None:
        """One connection: None once it runs a query, else the server's complaint."""
        try:
            postgres_answers(self.url, timeout=2)
        except psycopg.Error as exc:
            return str(exc).strip()
        return None

    def _wait_for_no_server_processes(self, timeout: float = _STOP_TIMEOUT) -> None:
        """Block until no process of this cluster is left; SIGKILL stragglers halfway."""
        deadline = time.monotonic() + timeout
        nudged = False
        while pids := self.server_pids():
            if time.monotonic() >= deadline:
                raise ServiceStartError(
                    f"processes {pids} of the cluster in {self.data_directory} outlived "
                    f"SIGKILL for {timeout} s"
                )
            if not nudged and time.monotonic() >= deadline - timeout / 2:
                signal_all(pids, signal.SIGKILL)
                nudged = True
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL the postmaster and every process of the cluster (a crash of the host).

        Killing the postmaster alone leaves backends running for a moment, attached to
        shared memory that a new postmaster refuses to reuse; killing them all makes
        `restart()` deterministic. Returns once none is left.
        """
        if self._process is None:
            return
        if self._process.poll() is None:
            # Stop the postmaster first so it forks no backend between listing and killing.
            self._process.send_signal(signal.SIGSTOP)
            signal_all(self.server_pids(), signal.SIGKILL)
            self._process.send_signal(signal.SIGKILL)
        self._process.wait(timeout=_STOP_TIMEOUT)
        self._paused = False
        self._end_leftovers()

    def stop(self) -> None:
        """Fast shutdown (SIGINT, as `pg_ctl stop -m fast`): sessions are ended, a
        checkpoint written. Falls back to `kill()` after 30 s."""
        if self._process is None:
            return
        if self._paused:
            self.resume()
        self._signal(signal.SIGINT)
        try:
            self._process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
        self._wait_for_no_server_processes()
